"""The handlers with the sample events from events/, against the deployed stack in moto and the emulator."""

import json
from typing import Any

import boto3
import pytest

from bbq.settings import Settings, SettingsError
from bbq_local.pipeline import LocalPipeline
from bbq_local.stack import ROOT
from tests.conftest import claude_record, jsonl


def sample(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "events" / name).read_text())


def s3_event_for(pipeline: LocalPipeline, key: str, encoded_key: str, body: bytes) -> dict[str, Any]:
    put = pipeline.s3.put_object(Bucket=pipeline.bucket, Key=key, Body=body)
    event = sample("s3-put.json")
    record = event["Records"][0]["s3"]
    record["bucket"]["name"] = pipeline.bucket
    record["object"].update(key=encoded_key, eTag=put["ETag"].strip('"'), size=len(body), versionId=put["VersionId"])
    return event


def test_ingest_decodes_keys_and_queues_a_file(pipeline: LocalPipeline) -> None:
    event = sample("s3-put.json")
    key = "to-process/team a/call transcripts 2026-11.jsonl"
    assert event["Records"][0]["s3"]["object"]["key"] == "to-process/team+a/call+transcripts+2026-11.jsonl"
    event = s3_event_for(
        pipeline, key, event["Records"][0]["s3"]["object"]["key"], jsonl([claude_record(i) for i in range(120)])
    )
    (outcome,) = pipeline.ingest.invoke(event)["outcomes"]
    assert (outcome["key"], outcome["status"], outcome["created"], outcome["parts"]) == (key, "Queued", True, 1)
    (item,) = pipeline.items()
    assert item["SourceKey"] == key and item["RecordCount"] == 120
    (part,) = pipeline.items("part")
    # The first folder names the team (spaces become dashes): its own queue for the model.
    assert item["Team"] == part["Team"] == "team-a"
    assert part["Queue"] == f"parts#{item['ModelId']}#InvokeModel#team-a" and part["PartStatus"] == "Waiting"
    assert item["OutputUri"].startswith(f"s3://{pipeline.bucket}/processed/team-a/call-transcripts-2026-11-")
    assert pipeline.ingest.invoke(event)["outcomes"][0]["created"] is False


def test_ingest_rejects_a_bad_file_where_the_user_looks(pipeline: LocalPipeline) -> None:
    event = s3_event_for(pipeline, "to-process/bad.jsonl", "to-process%2Fbad.jsonl", b'{"recordId": "x"}\n' * 150)
    pipeline.ingest.invoke(event)
    (item,) = pipeline.items()
    assert item["Status"] == "Rejected" and item["RejectedLines"] == 150
    assert item["Message"].startswith(
        'no valid record in 150 lines: line 1 and 149 more refused (the line has no "modelInput"'
    )
    report = json.loads(
        pipeline.s3.get_object(Bucket=pipeline.bucket, Key="to-process/bad.jsonl.error.json")["Body"].read()
    )
    assert report["rejectedLineCount"] == 150 and report["status"] == "Rejected"
    assert report["rejectedLines"][1] == {"line": 2, "reason": 'the line has no "modelInput" object', "recordId": "x"}
    assert pipeline.s3.head_object(Bucket=pipeline.bucket, Key="to-process/bad.jsonl")  # the file is kept


@pytest.mark.parametrize("trigger", ["schedule.json", "bedrock-state-change.json"])
def test_either_trigger_runs_a_full_scheduler_pass(pipeline: LocalPipeline, trigger: str) -> None:
    pipeline.ingest.invoke(
        s3_event_for(
            pipeline, "to-process/a.jsonl", "to-process/a.jsonl", jsonl([claude_record(i) for i in range(100)])
        )
    )
    result = pipeline.scheduler.invoke(sample(trigger))
    assert (result["planned"], result["submitted"], result["pendingLeft"], result["partsRead"]) == (1, 1, 0, 1)
    (item,) = pipeline.items("job")
    assert item["Status"] == "Submitted" and item["JobArn"].startswith("arn:aws:bedrock:")
    assert item["JobName"].startswith(pipeline.ingest.variables["JOB_NAME_PREFIX"] + "-")
    assert pipeline.items()[0]["Status"] == "Running"
    (job,) = pipeline.emulator.jobs()
    assert job["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"] == pipeline.items()[0]["OutputUri"]
    assert pipeline.items()[0]["OutputUri"].startswith(f"s3://{pipeline.bucket}/processed/a/")
    assert job["roleArn"] == pipeline.stack.outputs["BatchRoleArn"]


def test_settings_name_what_is_missing() -> None:
    with pytest.raises(SettingsError) as caught:
        Settings.from_env({"JOBS_TABLE": "t", "MODEL_ID": "m", "BATCH_ROLE_ARN": "not-an-arn"})
    text = str(caught.value)
    assert "BATCH_ROLE_ARN" in text and "JOB_NAME_PREFIX" in text


def test_an_existing_role_replaces_the_stacks_batch_role(make_pipeline: Any) -> None:
    role = "arn:aws:iam::123456789012:role/team-bedrock-batch"
    pipeline = make_pipeline(parameters={"RoleArn": role})
    assert pipeline.stack.outputs["BatchRoleArn"] == role
    assert pipeline.scheduler.variables["BATCH_ROLE_ARN"] == role
    resources = boto3.client("cloudformation").list_stack_resources(StackName=pipeline.stack.name)
    assert "BatchRole" not in {r["LogicalResourceId"] for r in resources["StackResourceSummaries"]}
