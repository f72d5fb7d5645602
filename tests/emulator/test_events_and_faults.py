"""State-change events (callback and EventBridge) and every fault knob."""

import json
from typing import Any

import boto3
import pytest
from bedrock_emulator import BedrockEmulator, EmulatorServer
from botocore.config import Config
from botocore.retries.standard import ExponentialBackoff

from tests.conftest import REGION, put_records
from tests.emulator.helpers import create, run_to_end


@pytest.fixture
def data(s3: Any) -> str:
    s3.create_bucket(Bucket="data")
    return put_records(s3, "data", "in/calls.jsonl", 150)


def test_every_transition_is_an_event_in_bedrocks_shape(bedrock: Any, data: str, clock: Any, emulator: Any) -> None:
    received: list[dict[str, Any]] = []
    emulator.subscribe(received.append)
    arn = create(bedrock, data, name="bbq-evt-1")
    run_to_end(bedrock, clock, arn)
    assert [e["detail"]["status"] for e in received] == [
        "Submitted",
        "Validating",
        "Scheduled",
        "InProgress",
        "Completed",
    ]
    event = received[-1]
    assert event["source"] == "aws.bedrock" and event["detail-type"] == "Batch Inference Job State Change"
    assert event["resources"] == [arn]
    assert set(event["detail"]) == {
        "version",
        "accountId",
        "batchJobName",
        "batchJobArn",
        "batchModelId",
        "status",
        "failureMessage",
        "creationTime",
    }
    assert event["detail"]["batchJobName"] == "bbq-evt-1" and event["detail"]["batchJobArn"] == arn


def test_events_reach_eventbridge_rules(s3: Any, clock: Any, data: str) -> None:
    events, sqs = boto3.client("events", region_name=REGION), boto3.client("sqs", region_name=REGION)
    queue = sqs.create_queue(QueueName="bedrock-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {
        "source": ["aws.bedrock"],
        "detail-type": ["Batch Inference Job State Change"],
        "detail": {"batchJobName": [{"prefix": "bbq-"}]},
    }
    events.put_rule(Name="bbq-jobs", EventPattern=json.dumps(pattern))
    events.put_targets(Rule="bbq-jobs", Targets=[{"Id": "q", "Arn": queue_arn}])
    emulator = BedrockEmulator(s3_client=s3, clock=clock, events_client=events)
    with EmulatorServer(emulator) as server:
        bedrock = boto3.client("bedrock", region_name=REGION, endpoint_url=server.url)
        mine = create(bedrock, data, name="bbq-mine")
        create(bedrock, data, name="other-team-job")
        run_to_end(bedrock, clock, mine)
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    bodies = [json.loads(m["Body"]) for m in messages]
    assert {b["detail"]["batchJobName"] for b in bodies} == {"bbq-mine"}
    assert [b["detail"]["status"] for b in bodies] == [
        "Submitted",
        "Validating",
        "Scheduled",
        "InProgress",
        "Completed",
    ]


def test_dropped_events_are_not_delivered(bedrock: Any, data: str, clock: Any, emulator: Any) -> None:
    emulator.faults.update({"drop_event_rate": 1.0})
    received: list[dict[str, Any]] = []
    emulator.subscribe(received.append)
    run_to_end(bedrock, clock, create(bedrock, data))
    assert received == [] and len(emulator.dropped_events) == 5


def test_record_errors_and_missing_records(bedrock: Any, data: str, clock: Any, emulator: Any, s3: Any) -> None:
    emulator.faults.update({"record_errors": {"ThrottlingException": 0.1, "ValidationException": 0.1}})
    errored = create(bedrock, data, name="errors")
    assert run_to_end(bedrock, clock, errored)[-1] == "Completed"
    job = bedrock.get_model_invocation_job(jobIdentifier=errored)
    assert 10 < job["errorRecordCount"] < 60 and job["successRecordCount"] + job["errorRecordCount"] == 150
    body = s3.get_object(Bucket="data", Key=f"out/{errored.rsplit('/', 1)[1]}/calls.jsonl.out")["Body"].read()
    codes = {json.loads(line).get("error", {}).get("errorCode") for line in body.splitlines()}
    assert codes == {None, 429, 400}, "each error's code is its HTTP status in botocore's bedrock-runtime model"

    emulator.faults.update({"record_errors": {}, "missing_record_rate": 0.1})
    missing = create(bedrock, data, name="missing")
    assert run_to_end(bedrock, clock, missing)[-1] == "PartiallyCompleted"
    job = bedrock.get_model_invocation_job(jobIdentifier=missing)
    assert job["processedRecordCount"] < job["totalRecordCount"] == 150
    body = s3.get_object(Bucket="data", Key=f"out/{missing.rsplit('/', 1)[1]}/calls.jsonl.out")["Body"].read()
    assert len(body.splitlines()) == job["processedRecordCount"]


def test_forced_failure_and_expiry(bedrock: Any, data: str, clock: Any, emulator: Any) -> None:
    emulator.faults.update({"fail_jobs_named": ["doomed"], "expire_next_jobs": 1})
    expired = create(bedrock, data, name="first")
    failed = create(bedrock, data, name="doomed-2")
    fine = create(bedrock, data, name="third")
    assert run_to_end(bedrock, clock, expired, step=3600) == ["Submitted", "Scheduled", "Expired"]
    assert bedrock.get_model_invocation_job(jobIdentifier=failed)["status"] == "Failed"
    assert "internal error" in bedrock.get_model_invocation_job(jobIdentifier=failed)["message"]
    assert bedrock.get_model_invocation_job(jobIdentifier=fine)["status"] == "Completed"


def test_slowdown_stretches_every_phase(bedrock: Any, data: str, clock: Any, emulator: Any) -> None:
    normal = create(bedrock, data, name="normal")
    emulator.faults.update({"slowdown": 4.0})
    slow = create(bedrock, data, name="slow")
    clock.advance(300)  # the normal job needs 225 s for 150 records
    assert bedrock.get_model_invocation_job(jobIdentifier=normal)["status"] == "Completed"
    assert bedrock.get_model_invocation_job(jobIdentifier=slow)["status"] == "Validating"


def test_a_lost_create_response_is_safe_to_retry_with_the_same_token(
    emulator_url: str, bedrock: Any, data: str, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    emulator.faults.update({"lose_next_create_responses": 1})
    with pytest.raises(bedrock.exceptions.InternalServerException):
        create(bedrock, data, name="lost", clientRequestToken="tok1")
    assert [j["jobName"] for j in emulator.jobs()] == ["lost"], "the job exists although the caller saw an error"

    emulator.faults.update({"lose_next_create_responses": 1})
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    retrying = boto3.client(
        "bedrock",
        region_name=REGION,
        endpoint_url=emulator_url,
        config=Config(retries={"mode": "standard", "max_attempts": 3}),
    )
    arn = create(retrying, data, name="lost-again", clientRequestToken="tok2")
    assert [j["jobArn"] for j in emulator.jobs() if j["jobName"] == "lost-again"] == [arn]


def test_fault_knobs_over_http(emulator_url: str, emulator: Any) -> None:
    import urllib.request

    request = urllib.request.Request(
        f"{emulator_url}/_emulator/faults", method="POST", data=json.dumps({"throttle": {"*": 0.5}}).encode()
    )
    with urllib.request.urlopen(request) as response:
        assert json.loads(response.read())["throttle"] == {"*": 0.5}
    assert emulator.faults.throttle == {"*": 0.5}
    with pytest.raises(ValueError, match="unknown fault knob"):
        emulator.faults.update({"no_such_knob": 1})
