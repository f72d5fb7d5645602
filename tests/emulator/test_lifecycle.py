"""Jobs move through Bedrock's statuses on the injected clock, validate their input and write outputs."""

import json
from typing import Any

import pytest

from tests.conftest import claude_record, jsonl, put_records
from tests.emulator.helpers import create, run_to_end


@pytest.fixture
def bucket(s3: Any) -> str:
    s3.create_bucket(Bucket="data")
    return "data"


def read_jsonl(s3: Any, key: str) -> list[dict[str, Any]]:
    body = s3.get_object(Bucket="data", Key=key)["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def output_keys(s3: Any, prefix: str = "out/") -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket="data", Prefix=prefix).get("Contents", []))


def test_a_job_runs_through_every_status_and_reports_progress(bedrock: Any, s3: Any, bucket: str, clock: Any) -> None:
    arn = create(bedrock, put_records(s3, bucket, "in/calls.jsonl", 150))
    job_id = arn.rsplit("/", 1)[1]
    seen: list[str] = []
    progress: list[int] = []
    while True:
        job = bedrock.get_model_invocation_job(jobIdentifier=arn)
        if not seen or seen[-1] != job["status"]:
            seen.append(job["status"])
        if job["status"] == "InProgress":
            progress.append(job["processedRecordCount"])
            assert job["totalRecordCount"] == 150
        if job["status"] == "Completed":
            break
        clock.advance(10)
    assert seen == ["Submitted", "Validating", "Scheduled", "InProgress", "Completed"]
    assert progress == sorted(progress) and progress[0] < progress[-1] < 150
    assert (job["processedRecordCount"], job["successRecordCount"], job["errorRecordCount"]) == (150, 150, 0)
    assert job["endTime"] == job["lastModifiedTime"] > job["submitTime"]
    assert output_keys(s3) == [f"out/{job_id}/calls.jsonl.out", f"out/{job_id}/manifest.json.out"]


def test_outputs_follow_bedrocks_layout_and_order_is_not_kept(bedrock: Any, s3: Any, bucket: str, clock: Any) -> None:
    records = [claude_record(i) for i in range(120)]
    for record in records[:5]:
        del record["recordId"]  # Bedrock adds ids to records that have none
    s3.put_object(Bucket=bucket, Key="in/batch/a.jsonl", Body=jsonl(records))
    put_records(s3, bucket, "in/batch/b.jsonl", 30)
    s3.put_object(Bucket=bucket, Key="in/batch/notes.txt", Body=b"not input")
    arn = create(bedrock, "s3://data/in/batch/")
    assert run_to_end(bedrock, clock, arn)[-1] == "Completed"
    job_id = arn.rsplit("/", 1)[1]
    assert output_keys(s3) == [
        f"out/{job_id}/a.jsonl.out",
        f"out/{job_id}/b.jsonl.out",
        f"out/{job_id}/manifest.json.out",
    ]

    lines = read_jsonl(s3, f"out/{job_id}/a.jsonl.out")
    assert len(lines) == 120
    ids = [line["recordId"] for line in lines]
    assert len(set(ids)) == 120
    assert ids != sorted(ids), "Bedrock does not keep input order; neither may the emulator"
    generated = set(ids) - {r["recordId"] for r in records[5:]}
    assert len(generated) == 5 and all(len(i) == 11 and i.isalnum() for i in generated)
    by_id = {r["recordId"]: r for r in records[5:]}
    for line in lines:
        assert set(line) == {"recordId", "modelInput", "modelOutput"}
        if line["recordId"] in by_id:
            assert line["modelInput"] == by_id[line["recordId"]]["modelInput"]

    manifest = json.loads(s3.get_object(Bucket="data", Key=f"out/{job_id}/manifest.json.out")["Body"].read())
    assert set(manifest) == {
        "totalRecordCount",
        "processedRecordCount",
        "successRecordCount",
        "errorRecordCount",
        "inputTokenCount",
        "outputTokenCount",
    }
    assert manifest["totalRecordCount"] == manifest["processedRecordCount"] == manifest["successRecordCount"] == 150
    all_lines = lines + read_jsonl(s3, f"out/{job_id}/b.jsonl.out")
    assert manifest["inputTokenCount"] == sum(line["modelOutput"]["usage"]["input_tokens"] for line in all_lines)
    assert manifest["outputTokenCount"] == sum(line["modelOutput"]["usage"]["output_tokens"] for line in all_lines)


def test_stop_keeps_the_partial_output(bedrock: Any, s3: Any, bucket: str, clock: Any) -> None:
    arn = create(bedrock, put_records(s3, bucket, "in/calls.jsonl", 400))
    while bedrock.get_model_invocation_job(jobIdentifier=arn)["status"] != "InProgress":
        clock.advance(10)
    clock.advance(60)  # 2 records a second: about 120 done
    bedrock.stop_model_invocation_job(jobIdentifier=arn)
    assert bedrock.get_model_invocation_job(jobIdentifier=arn)["status"] == "Stopping"
    assert run_to_end(bedrock, clock, arn, step=5) == ["Stopping", "Stopped"]
    job = bedrock.get_model_invocation_job(jobIdentifier=arn)
    job_id = arn.rsplit("/", 1)[1]
    lines = read_jsonl(s3, f"out/{job_id}/calls.jsonl.out")
    assert 0 < len(lines) == job["processedRecordCount"] < 400
    with pytest.raises(bedrock.exceptions.ValidationException):
        bedrock.stop_model_invocation_job(jobIdentifier=arn)


def test_stop_before_processing_writes_nothing(bedrock: Any, s3: Any, bucket: str, clock: Any) -> None:
    arn = create(bedrock, put_records(s3, bucket, "in/calls.jsonl", 100))
    bedrock.stop_model_invocation_job(jobIdentifier=arn)
    with pytest.raises(bedrock.exceptions.ConflictException):
        bedrock.stop_model_invocation_job(jobIdentifier=arn)
    assert run_to_end(bedrock, clock, arn)[-1] == "Stopped"
    assert output_keys(s3) == []


@pytest.mark.parametrize(
    ("setup", "fragment"),
    [
        ("missing", "No .jsonl input files"),
        ("too_few", "below the minimum of 100"),
        ("too_many", "above the limit of 120 records per job"),
        ("malformed", "Invalid JSON on line 3"),
        ("no_model_input", "Line 1 of input file calls.jsonl has no modelInput"),
        ("too_big", "above the limit of 5000 bytes"),
        ("no_output_bucket", "Unable to write to the output S3 location"),
    ],
)
def test_validation_fails_the_job_with_bedrocks_message(
    bedrock: Any, s3: Any, bucket: str, clock: Any, emulator: Any, setup: str, fragment: str
) -> None:
    uri, output = "s3://data/in/calls.jsonl", "s3://data/out/"
    if setup == "too_few":
        put_records(s3, bucket, "in/calls.jsonl", 99)
    elif setup == "too_many":
        emulator.limits.set(None, max_records_per_job=120)
        put_records(s3, bucket, "in/calls.jsonl", 121)
    elif setup == "malformed":
        body = jsonl([claude_record(i) for i in range(150)]).splitlines(keepends=True)
        body[2] = b'{"recordId": "broken", \n'
        s3.put_object(Bucket=bucket, Key="in/calls.jsonl", Body=b"".join(body))
    elif setup == "no_model_input":
        s3.put_object(Bucket=bucket, Key="in/calls.jsonl", Body=jsonl([{"recordId": "r1"}] * 150))
    elif setup == "too_big":
        emulator.limits.set(None, max_file_bytes=5000)
        put_records(s3, bucket, "in/calls.jsonl", 150)
    elif setup == "no_output_bucket":
        put_records(s3, bucket, "in/calls.jsonl", 150)
        output = "s3://no-such-output-bucket/out/"
    arn = create(bedrock, uri, outputDataConfig={"s3OutputDataConfig": {"s3Uri": output}})
    assert run_to_end(bedrock, clock, arn) == ["Submitted", "Validating", "Failed"]
    job = bedrock.get_model_invocation_job(jobIdentifier=arn)
    assert fragment in job["message"]
    assert "endTime" in job


@pytest.mark.parametrize(
    ("slowdown", "statuses", "processed"),
    [
        # phases 150 s and processing 75 s, times the slowdown, against a 24 h (86,400 s) timeout
        (480.0, ["Submitted", "Validating", "Scheduled", "InProgress", "PartiallyCompleted"], 60),
        (1000.0, ["Submitted", "Validating", "Scheduled", "Expired"], None),
    ],
)
def test_the_timeout_ends_slow_jobs(
    bedrock: Any,
    s3: Any,
    bucket: str,
    clock: Any,
    emulator: Any,
    slowdown: float,
    statuses: list[str],
    processed: int | None,
) -> None:
    emulator.faults.update({"slowdown": slowdown})
    arn = create(bedrock, put_records(s3, bucket, "in/calls.jsonl", 150), timeoutDurationInHours=24)
    assert run_to_end(bedrock, clock, arn, step=600) == statuses
    job = bedrock.get_model_invocation_job(jobIdentifier=arn)
    assert job.get("processedRecordCount") == processed
    assert job["endTime"] == job["jobExpirationTime"]
