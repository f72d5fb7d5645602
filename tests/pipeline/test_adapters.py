"""The adapters against the deployed table and bucket in moto: round trips and error translation."""

from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError

from bbq.adapters import s3_objects
from bbq.adapters.bedrock_batch import BedrockBatch
from bbq.adapters.dynamodb import DynamoStore
from bbq.adapters.s3_objects import S3Objects
from bbq.core.model.errors import JobNotFound, ObjectMissing
from bbq.core.model.files import FileStatus, InputFile, InvocationType, Part
from bbq.core.model.jobs import Job, RecordCounts
from bbq.core.model.ports import ObjectRef
from bbq.core.model.states import JobStatus
from bbq_local.pipeline import LocalPipeline
from tests.conftest import CLAUDE

MOMENT = datetime(2026, 11, 22, 4, 15, 38, 123456, tzinfo=UTC)


def full_job(job_id: str, parts: tuple[str, ...], status: JobStatus = JobStatus.IN_PROGRESS) -> Job:
    return Job(
        job_id=job_id,
        status=status,
        model_id=CLAUDE,
        invocation_type=InvocationType.CONVERSE,
        part_ids=parts,
        input_uri="s3://b/staged/jobs/j1/",
        output_uri="s3://b/processed/_packed/j1/",
        record_count=150,
        size_bytes=4096,
        created_at=MOMENT,
        updated_at=MOMENT,
        message="a message",
        attempt=2,
        job_name="bbq-x-abc-a2",
        job_arn="arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abc",
        submitted_at=MOMENT,
        ended_at=MOMENT,
        counts=RecordCounts(150, 120, 118, 2),
        transient_errors=3,
        retry_at=MOMENT,
        queued_at=MOMENT,
    )


def a_file(file_id: str, parts: int) -> InputFile:
    return InputFile(
        file_id=file_id,
        bucket="b",
        key="to-process/a b.jsonl",
        version="v1",
        model_id=CLAUDE,
        invocation_type=InvocationType.INVOKE_MODEL,
        status=FileStatus.QUEUED,
        line_count=160,
        record_count=150,
        rejected_lines=10,
        size_bytes=4096,
        part_count=parts,
        output_uri="s3://b/processed/a-b-0123456789/",
        created_at=MOMENT,
        updated_at=MOMENT,
        report_uri="s3://b/to-process/a b.jsonl.error.json",
        message="line 3 and 9 more refused",
    )


def a_part(file_id: str, index: int, seconds: int = 0) -> Part:
    return Part(
        file_id=file_id,
        index=index,
        model_id=CLAUDE,
        invocation_type=InvocationType.INVOKE_MODEL,
        staged_uri=f"s3://b/staged/{file_id}/a-b-p{index:05d}.jsonl",
        part_count=2,
        output_uri="s3://b/processed/a-b-0123456789/",
        first_line=index * 100 - 99,
        last_line=index * 100,
        record_count=75,
        size_bytes=2048,
        queued_at=MOMENT.replace(second=seconds),
    )


QWEN = "qwen.qwen3-32b-v1:0"  # its size quotas say "(in GB)" after its name


def test_waiting_parts_are_read_lazily_oldest_first(pipeline: LocalPipeline) -> None:
    store = DynamoStore(boto3.client("dynamodb"), pipeline.table)
    for index in range(250):
        store.create_file(a_file(f"f{index:03d}", 1), [a_part(f"f{index:03d}", 1, seconds=59 - index % 60)])
    calls: list[str] = []
    client = boto3.client("dynamodb")
    client.meta.events.register("before-call.dynamodb.Query", lambda **_: calls.append("query"))
    lazy = DynamoStore(client, pipeline.table).waiting_parts(CLAUDE, InvocationType.INVOKE_MODEL)
    first = [next(lazy) for _ in range(3)]
    assert len(calls) == 1, "one page read for the first parts"
    assert [p.queued_at for p in first] == sorted(p.queued_at for p in first)


def test_reading_pins_the_upload_the_event_named(pipeline: LocalPipeline) -> None:
    objects = S3Objects(pipeline.s3)
    first = pipeline.s3.put_object(
        Bucket=pipeline.bucket, Key="to-process/a.jsonl", Body=b"one\ntwo\n", Metadata={"BBQ-Model": "m"}
    )
    ref = ObjectRef(pipeline.bucket, "to-process/a.jsonl", first["ETag"].strip('"'), 8)
    upload = objects.read(ref)
    assert b"".join(upload.chunks) == b"one\ntwo\n" and upload.metadata == {"bbq-model": "m"}
    pipeline.s3.put_object(Bucket=pipeline.bucket, Key="to-process/a.jsonl", Body=b"overwritten\n")
    with pytest.raises(ObjectMissing):
        objects.read(ref)
    with pytest.raises(ObjectMissing):
        objects.read(ObjectRef(pipeline.bucket, "to-process/gone.jsonl", "x", 0))


def test_writers_stream_large_objects_in_parts_and_leave_nothing_on_failure(
    pipeline: LocalPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(s3_objects, "WRITE_PART", 5 * 1024**2)  # S3's smallest part
    objects = S3Objects(pipeline.s3)
    with objects.writer(pipeline.bucket, "staged/big.jsonl") as writer:
        for _ in range(12):
            writer.write(b"x" * 1024**2)
    head = pipeline.s3.head_object(Bucket=pipeline.bucket, Key="staged/big.jsonl")
    assert head["ContentLength"] == 12 * 1024**2 and "-" in head["ETag"], "a multipart upload"
    with pytest.raises(RuntimeError), objects.writer(pipeline.bucket, "staged/broken.jsonl") as writer:
        writer.write(b"y" * 6 * 1024**2)
        raise RuntimeError("the stream broke")
    assert "Contents" not in pipeline.s3.list_objects_v2(Bucket=pipeline.bucket, Prefix="staged/broken")
    assert pipeline.s3.list_multipart_uploads(Bucket=pipeline.bucket).get("Uploads", []) == []
    with objects.writer(pipeline.bucket, "staged/small.jsonl") as writer:
        writer.write(b"small")
    assert pipeline.s3.get_object(Bucket=pipeline.bucket, Key="staged/small.jsonl")["Body"].read() == b"small"


def test_a_resumable_writer_goes_on_from_its_checkpoint_and_leaves_out_what_came_after(
    pipeline: LocalPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As a join across invocations uses it, on S3's real multipart rules (moto refuses parts under 5 MiB)."""
    monkeypatch.setattr(s3_objects, "WRITE_PART", 5 * 1024**2)
    objects, key = S3Objects(pipeline.s3), "processed/big/results.jsonl"
    rows = [f"row {n:07d}\n".encode() * 4_000 for n in range(40)]  # 48 KB a row, ~1.9 MB in all per 40
    first = objects.resumable_writer(pipeline.bucket, key, None)
    for row in rows * 3:  # 5.8 MB: one part uploaded, the rest pending
        first.write(row)
    state = first.checkpoint()
    for row in rows * 4:  # written, a part uploaded, then the invocation dies: none of it may stay
        first.write(b"lost " + row)
    # Its uploads land before the next invocation starts (the join queue shows the message again only after a
    # visibility timeout longer than the function's): without this wait the test raced its own threads.
    first.checkpoint()
    second = objects.resumable_writer(pipeline.bucket, key, state)
    for row in rows * 2:
        second.write(row)
    again = second.checkpoint()
    third = objects.resumable_writer(pipeline.bucket, key, again)
    third.write(b"the end\n")
    third.complete()
    body = pipeline.s3.get_object(Bucket=pipeline.bucket, Key=key)["Body"].read()
    assert body == b"".join(rows * 5) + b"the end\n"
    assert b"lost" not in body
    assert pipeline.s3.list_multipart_uploads(Bucket=pipeline.bucket).get("Uploads", []) == []
    small = objects.resumable_writer(pipeline.bucket, "processed/small/errors.jsonl", None)
    small.write(b"one line\n")
    resumed = objects.resumable_writer(pipeline.bucket, "processed/small/errors.jsonl", small.checkpoint())
    resumed.complete()
    assert pipeline.s3.get_object(Bucket=pipeline.bucket, Key="processed/small/errors.jsonl")["Body"].read() == (
        b"one line\n"
    )


def test_only_a_job_bedrock_cannot_find_by_arn_or_name_is_gone(pipeline: LocalPipeline) -> None:
    batch = BedrockBatch(boto3.client("bedrock", endpoint_url=pipeline.server.url))
    arn = "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdefabcdef"
    with pytest.raises(JobNotFound):
        batch.describe(arn, "bbq-never-made-a1")
    with pytest.raises(ClientError):  # a malformed identifier is not proof that a job is gone
        batch.describe("not-a-job", "bbq-never-made-a1")


def test_limits_come_from_service_quotas_and_fall_back_when_denied(pipeline: LocalPipeline) -> None:
    from bbq.adapters.service_quotas import CACHE_FOR, ServiceQuotaLimits
    from bbq.core.model.clock import ManualClock
    from bbq.core.model.limits import ModelLimits
    from bbq.core.model.quota_names import Source

    fallback = ModelLimits(7, 1, 2, 3, 4, 5)
    clock = ManualClock()
    client = boto3.client("service-quotas", endpoint_url=pipeline.server.url)
    pipeline.emulator.limits.set(CLAUDE, min_records_per_job=250, concurrent_jobs=4)
    limits = ServiceQuotaLimits(client, fallback, clock)
    # concurrent jobs and records are applied values; the minimum and the sizes (not adjustable) AWS's defaults
    assert limits.limits(CLAUDE) == ModelLimits(4, 250, 50_000, 50_000, 1024**3, 5 * 1024**3)
    _, sources = limits.describe(CLAUDE)
    assert sources["concurrent_jobs"].source == Source.APPLIED
    assert sources["min_records_per_job"].source == sources["max_job_bytes"].source == Source.AWS_DEFAULT
    assert limits.limits("anthropic.claude-v2") == fallback, "no quota names it: the template's figures"
    pipeline.emulator.faults.update({"service_quotas_denied": True})
    pipeline.emulator.limits.set(CLAUDE, concurrent_jobs=9)
    assert limits.limits(CLAUDE).concurrent_jobs == 4, "cached for an hour"
    clock.advance(CACHE_FOR.total_seconds() + 1)
    assert limits.limits(CLAUDE) == fallback, "denied: the template's figures"


@pytest.mark.parametrize("gb_bytes", [10**9, 2**30])
def test_sizes_read_from_quotas_never_exceed_what_bedrock_enforces(pipeline: LocalPipeline, gb_bytes: int) -> None:
    """Whether AWS's "GB" is 10^9 or 2^30 bytes is not documented: bbq reads 10^9, within Bedrock either way."""
    from bbq.adapters.service_quotas import ServiceQuotaLimits
    from bbq.core.model.clock import ManualClock
    from bbq.core.model.limits import ModelLimits

    pipeline.emulator.faults.update({"quota_gb_bytes": gb_bytes})
    pipeline.emulator.limits.set(QWEN, max_file_bytes=2 * gb_bytes, max_job_bytes=10 * gb_bytes)
    client = boto3.client("service-quotas", endpoint_url=pipeline.server.url)
    limits = ServiceQuotaLimits(client, ModelLimits(7, 1, 2, 3, 4, 5), ManualClock()).limits(QWEN)
    enforced = pipeline.emulator.limits.for_model(QWEN)
    assert (limits.max_file_bytes, limits.max_job_bytes) == (2 * 10**9, 10 * 10**9)
    assert limits.max_file_bytes <= enforced.max_file_bytes and limits.max_job_bytes <= enforced.max_job_bytes


def test_a_profile_counts_against_the_quota_of_the_model_it_routes_to(pipeline: LocalPipeline) -> None:
    from bbq.adapters.inference_profiles import InferenceProfileQuotas

    client = boto3.client("bedrock", endpoint_url=pipeline.server.url)
    calls: list[str] = []
    client.meta.events.register("before-call.bedrock.GetInferenceProfile", lambda **kw: calls.append("asked"))
    quotas = InferenceProfileQuotas(client)
    haiku = "anthropic.claude-3-haiku-20240307-v1:0"
    assert quotas.holder(f"us.{haiku}") == haiku and quotas.holder(f"us.{haiku}") == haiku
    assert calls == ["asked"], "asked once, then kept"
    assert (
        quotas.holder(haiku) == haiku and quotas.holder(f"arn:aws:bedrock:us-east-1::foundation-model/{haiku}") == haiku
    )
    assert len(calls) == 1, "a foundation model is its own quota holder: nothing to ask"
    pipeline.emulator.application_profiles["a1b2c3d4e5f6"] = "amazon.nova-lite-v1:0"
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3d4e5f6"
    assert quotas.holder(arn) == "amazon.nova-lite-v1:0"
    assert quotas.holder("us.meta.llama2-13b-chat-v1") == "us.meta.llama2-13b-chat-v1", "unknown: its own ledger"
