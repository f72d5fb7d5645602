"""The adapters against the deployed table and bucket in moto: round trips and error translation."""

from datetime import UTC, datetime

import boto3
import pytest
from botocore.exceptions import ClientError

from bbq.adapters.bedrock_batch import BedrockBatch
from bbq.adapters.dynamodb_jobs import DynamoJobs
from bbq.adapters.s3_objects import S3Objects
from bbq.core.errors import JobNotFound, ObjectMissing
from bbq.core.jobs import Job, RecordCounts
from bbq.core.ports import ObjectRef, Reservation
from bbq.core.states import JobStatus
from bbq_local.pipeline import LocalPipeline
from tests.conftest import CLAUDE

MOMENT = datetime(2026, 11, 22, 4, 15, 38, 123456, tzinfo=UTC)


def full_job(job_id: str, status: JobStatus = JobStatus.IN_PROGRESS) -> Job:
    return Job(
        job_id,
        status,
        CLAUDE,
        "s3://b/to-process/a b.jsonl",
        "s3://b/processed/a b/",
        "b",
        ("to-process/a b.jsonl",),
        150,
        4096,
        MOMENT,
        MOMENT,
        "a message",
        2,
        "bbq-x-abc-a2",
        "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abc",
        MOMENT,
        MOMENT,
        RecordCounts(150, 120, 118, 2),
        "s3://b/to-process/a b.jsonl.error.json",
        3,
        MOMENT,
    )


def test_a_job_survives_the_round_trip_and_writes_are_conditional(pipeline: LocalPipeline) -> None:
    jobs = DynamoJobs(boto3.client("dynamodb"), pipeline.table)
    job = full_job("j1")
    assert jobs.create(job) and not jobs.create(job)
    assert jobs.get("j1") == job and jobs.get("nope") is None
    sparse = Job("j0", JobStatus.PENDING, CLAUDE, "s3://b/k", "s3://b/o/", "b", ("k",), 100, 1, MOMENT, MOMENT)
    jobs.create(sparse)
    assert jobs.get("j0") == sparse
    assert [j.job_id for j in jobs.list_by_status([JobStatus.IN_PROGRESS, JobStatus.PENDING])] == ["j0", "j1"]
    done = job.with_changes(status=JobStatus.COMPLETED)
    assert jobs.save_transition(done, expected=JobStatus.IN_PROGRESS)
    assert not jobs.save_transition(job, expected=JobStatus.IN_PROGRESS), "another run moved it already"
    assert jobs.get("j1") == done


def test_reading_pins_the_upload_the_event_named(pipeline: LocalPipeline) -> None:
    objects = S3Objects(pipeline.s3)
    first = pipeline.s3.put_object(Bucket=pipeline.bucket, Key="to-process/a.jsonl", Body=b"one\ntwo\n")
    ref = ObjectRef(pipeline.bucket, "to-process/a.jsonl", first["ETag"].strip('"'), 8)
    assert list(objects.iter_lines(ref)) == [b"one\n", b"two\n"]
    pipeline.s3.put_object(Bucket=pipeline.bucket, Key="to-process/a.jsonl", Body=b"overwritten\n")
    with pytest.raises(ObjectMissing):
        list(objects.iter_lines(ref))
    with pytest.raises(ObjectMissing):
        list(objects.iter_lines(ObjectRef(pipeline.bucket, "to-process/gone.jsonl", "x", 0)))


def test_the_slot_ledger_reserves_atomically_and_heals(pipeline: LocalPipeline) -> None:
    jobs = DynamoJobs(boto3.client("dynamodb"), pipeline.table)
    assert jobs.slot_holders(CLAUDE) == {}
    assert jobs.reserve_slot(CLAUDE, "j1", 2, MOMENT) is Reservation.RESERVED
    assert jobs.reserve_slot(CLAUDE, "j1", 2, MOMENT) is Reservation.TAKEN
    assert jobs.reserve_slot(CLAUDE, "j2", 2, MOMENT) is Reservation.RESERVED
    assert jobs.reserve_slot(CLAUDE, "j3", 2, MOMENT) is Reservation.FULL
    jobs.release_slot(CLAUDE, "j1")
    jobs.hold_slot(CLAUDE, "j9", MOMENT)  # a job found active that the ledger lacked, whatever the count
    assert jobs.slot_holders(CLAUDE) == {"j2": MOMENT, "j9": MOMENT}
    assert jobs.list_by_status([JobStatus.PENDING]) == [], "the ledger is not a job"


def test_a_tagged_upload_is_staged_without_its_tags(pipeline: LocalPipeline) -> None:
    put = pipeline.s3.put_object(
        Bucket=pipeline.bucket, Key="to-process/t.jsonl", Body=b"{}\n", Tagging="team=calls&pii=yes"
    )
    calls: list[str] = []
    pipeline.s3.meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))
    S3Objects(pipeline.s3).copy(ObjectRef(pipeline.bucket, "to-process/t.jsonl", put["ETag"].strip('"'), 3), "staged/t")
    assert "GetObjectTagging" not in calls and "PutObjectTagging" not in calls, "no tagging permission is needed"
    assert pipeline.s3.get_object_tagging(Bucket=pipeline.bucket, Key="staged/t")["TagSet"] == []


def test_only_a_job_bedrock_cannot_find_by_arn_or_name_is_gone(pipeline: LocalPipeline) -> None:
    batch = BedrockBatch(boto3.client("bedrock", endpoint_url=pipeline.server.url))
    arn = "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdefabcdef"
    with pytest.raises(JobNotFound):
        batch.describe(arn, "bbq-never-made-a1")
    with pytest.raises(ClientError):  # a malformed identifier is not proof that a job is gone
        batch.describe("not-a-job", "bbq-never-made-a1")
