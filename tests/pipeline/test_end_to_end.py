"""The real template deployed into moto, files dropped into S3, the scheduler ticking on a manual clock, the
emulator as Bedrock: every record of every good file ends up under processed/, within each model's quota."""

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.retries.standard import ExponentialBackoff

from bbq.core.states import TERMINAL
from bbq_local.pipeline import LocalPipeline
from tests.conftest import CLAUDE, claude_record, jsonl


def drop(pipeline: LocalPipeline, files: dict[str, int]) -> dict[str, set[str]]:
    """Uploads files of N records; the record ids of each key."""
    ids = {}
    for key, count in files.items():
        records = [claude_record(i) for i in range(count)]
        for record in records:
            record["recordId"] = f"{abs(hash(key)) % 10**6:06d}{record['recordId']}"
        pipeline.upload(key, jsonl(records))
        ids[key] = {r["recordId"] for r in records}
    return ids


def outputs_under(pipeline: LocalPipeline, prefix: str) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    pages = pipeline.s3.get_paginator("list_objects_v2").paginate(Bucket=pipeline.bucket, Prefix=prefix)
    for obj in (o for page in pages for o in page.get("Contents", [])):
        if obj["Key"].endswith(".jsonl.out"):
            body = pipeline.s3.get_object(Bucket=pipeline.bucket, Key=obj["Key"])["Body"].read().decode()
            lines.extend(json.loads(line) for line in body.splitlines())
    return lines


def test_every_record_of_every_file_is_processed_within_the_quota(pipeline: LocalPipeline) -> None:
    good = {
        "to-process/calls-1.jsonl": 150,
        "to-process/calls 2.jsonl": 300,
        "to-process/team/calls-3.jsonl": 120,
        "to-process/calls-4.jsonl": 200,
        "to-process/calls-5.jsonl": 100,
    }
    ids = drop(pipeline, good)
    drop(pipeline, {"to-process/too-small.jsonl": 20})
    pipeline.upload("to-process/notes.txt", b"ignored: not .jsonl")

    # S3 delivers events at least once: hand every event to ingest twice.
    assert pipeline.deliver_uploads(transform=lambda event: [event, event]) == 12
    items = pipeline.run_until_done(step_seconds=30)

    assert len(items) == 6, "one job per file, however often its event came"
    by_key = {item["SourceKeys"][0]: item for item in items}
    for key, record_ids in ids.items():
        item = by_key[key]
        assert (item["Status"], item["RecordCount"], item["ProcessedRecordCount"]) == (
            "Completed",
            good[key],
            good[key],
        )
        stem = key.removeprefix("to-process/").removesuffix(".jsonl")
        lines = outputs_under(pipeline, f"processed/{stem}/")
        assert {line["recordId"] for line in lines} == record_ids
        assert all("modelOutput" in line for line in lines)
    small = by_key["to-process/too-small.jsonl"]
    assert small["Status"] == "Invalid" and "at least 100" in small["Message"]
    assert pipeline.max_active_seen == {CLAUDE: 2}, "both slots were used and never exceeded"
    kept = {o["Key"] for o in pipeline.s3.list_objects_v2(Bucket=pipeline.bucket, Prefix="to-process/")["Contents"]}
    assert set(good) | {"to-process/too-small.jsonl", "to-process/too-small.jsonl.error.json"} <= kept
    assert all(item["Status"] in TERMINAL and "EndedAt" in item for item in items)


def test_lost_bedrock_events_only_delay_the_work(pipeline: LocalPipeline) -> None:
    pipeline.emulator.faults.update({"drop_event_rate": 1.0})
    drop(pipeline, {"to-process/a.jsonl": 100, "to-process/b.jsonl": 100, "to-process/c.jsonl": 100})
    items = pipeline.run_until_done(step_seconds=60)
    assert [i["Status"] for i in items] == ["Completed"] * 3
    assert pipeline.emulator.delivered_events == [] and pipeline.emulator.dropped_events


def test_jobs_submitted_outside_bbq_share_the_quota(pipeline: LocalPipeline) -> None:
    pipeline.s3.put_object(
        Bucket=pipeline.bucket, Key="elsewhere/other.jsonl", Body=jsonl([claude_record(i) for i in range(400)])
    )
    pipeline.emulator.create_model_invocation_job(
        {
            "jobName": "someone-else",
            "roleArn": "arn:aws:iam::123456789012:role/other",
            "modelId": CLAUDE,
            "inputDataConfig": {"s3InputDataConfig": {"s3Uri": f"s3://{pipeline.bucket}/elsewhere/other.jsonl"}},
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": f"s3://{pipeline.bucket}/elsewhere/out/"}},
        }
    )
    drop(pipeline, {"to-process/a.jsonl": 100, "to-process/b.jsonl": 100})
    items = pipeline.run_until_done(step_seconds=30)
    assert [i["Status"] for i in items] == ["Completed"] * 2
    assert pipeline.max_active_seen[CLAUDE] == 2, "Bedrock's quota was never exceeded, counting the outside job"


def test_a_model_bedrock_refuses_fails_the_job_with_bedrocks_message(
    make_pipeline: Callable[..., LocalPipeline],
) -> None:
    pipeline = make_pipeline(parameters={"ModelId": "meta.llama2-13b-chat-v1"})
    drop(pipeline, {"to-process/a.jsonl": 100})
    (item,) = pipeline.run_until_done()
    assert item["Status"] == "Failed"
    assert item["Message"].startswith("ValidationException: The provided model identifier meta.llama2-13b-chat-v1")


def test_throttling_and_server_errors_are_ridden_out(pipeline: LocalPipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    drop(pipeline, {f"to-process/f{i}.jsonl": 100 for i in range(4)})
    # First Bedrock refuses every create, past all of botocore's retries: the runs go on, the jobs wait.
    pipeline.emulator.faults.update({"throttle": {"CreateModelInvocationJob": 1.0}})
    runs: list[dict[str, Any]] = []
    for _ in range(12):
        runs.extend(pipeline.step(30))
    assert {i["Status"] for i in pipeline.items()} == {"Pending"} and pipeline.emulator.jobs() == []
    assert sum(run["deferred"] for run in runs) > 0
    # Then it is merely unreliable: retries ride most of it out, later runs the rest.
    pipeline.emulator.faults.update({"throttle": {"*": 0.5}, "internal_error": {"*": 0.2}})
    items = pipeline.run_until_done(step_seconds=30)
    assert [i["Status"] for i in items] == ["Completed"] * 4
    assert len(pipeline.emulator.jobs()) == 4, "retried creates made no extra jobs"


def test_a_job_created_earlier_under_the_same_name_is_adopted_not_failed(pipeline: LocalPipeline) -> None:
    """A create that went through while its answer was lost, retried after the token's window: same name."""
    drop(pipeline, {"to-process/a.jsonl": 100})
    pipeline.deliver_uploads()
    (item,) = pipeline.items()
    name = f"{pipeline.scheduler.variables['JOB_NAME_PREFIX']}-{item['JobId']}-a1"
    arn = pipeline.emulator.create_model_invocation_job(
        {
            "jobName": name,
            "clientRequestToken": "an-older-token",
            "roleArn": pipeline.stack.outputs["BatchRoleArn"],
            "modelId": CLAUDE,
            "inputDataConfig": {"s3InputDataConfig": {"s3Uri": item["InputUri"]}},
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": item["OutputUri"]}},
        }
    )["jobArn"]
    (item,) = pipeline.run_until_done()
    assert (item["Status"], item["JobArn"]) == ("Completed", arn)
    assert len(pipeline.emulator.jobs()) == 1


def test_an_overwrite_before_submission_cannot_change_what_runs(pipeline: LocalPipeline) -> None:
    key = "to-process/calls.jsonl"
    first = [claude_record(i) for i in range(100)]
    second = [claude_record(i) for i in range(500, 620)]
    pipeline.upload(key, jsonl(first))
    pipeline.deliver_uploads()
    pipeline.upload(key, jsonl(second))  # the same key again, before any slot was free
    items = pipeline.run_until_done()
    assert sorted(i["RecordCount"] for i in items) == [100, 120] and {i["Status"] for i in items} == {"Completed"}
    for item, records in zip(items, (first, second), strict=True):
        staged = item["InputUri"].removeprefix(f"s3://{pipeline.bucket}/")
        assert staged.startswith(f"staged/{item['JobId']}/")
        job_output = f"processed/calls/{item['JobArn'].rsplit('/', 1)[1]}/"
        assert {line["recordId"] for line in outputs_under(pipeline, job_output)} == {r["recordId"] for r in records}
