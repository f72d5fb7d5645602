"""The four calls over HTTP through boto3: shapes, errors, idempotency, quota, listing and pagination."""

from datetime import timedelta
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.retries.standard import ExponentialBackoff

from tests.conftest import CLAUDE, put_records
from tests.emulator.helpers import BEDROCK_MODEL, assert_matches_shape, create, output_shape, run_to_end


@pytest.fixture
def data(s3: Any) -> str:
    s3.create_bucket(Bucket="data")
    return put_records(s3, "data", "in/calls.jsonl", 150)


def error_of(call: Any) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


def expect_error(call: Any, code: str, operation: str) -> ClientError:
    exc = error_of(call)
    assert_error(exc, code, operation)
    return exc


def assert_error(exc: ClientError, code: str, operation: str) -> None:
    assert exc.response["Error"]["Code"] == code
    shape = next(s for s in BEDROCK_MODEL.operation_model(operation).error_shapes if s.name == code)
    assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == shape.metadata["error"]["httpStatusCode"]
    assert exc.response["Error"]["Message"]


def test_create_and_get_follow_the_service_model(bedrock: Any, data: str) -> None:
    arn = create(bedrock, data, tags=[{"key": "team", "value": "calls"}], timeoutDurationInHours=48)
    assert arn.startswith("arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/")
    job_id = arn.rsplit("/", 1)[1]
    assert len(job_id) == 12 and job_id.isalnum()

    by_arn = bedrock.get_model_invocation_job(jobIdentifier=arn)
    by_id = bedrock.get_model_invocation_job(jobIdentifier=job_id)
    assert_matches_shape(by_arn, output_shape("GetModelInvocationJob"))
    assert by_arn["jobArn"] == by_id["jobArn"] == arn
    assert by_arn["status"] == "Submitted"
    assert by_arn["timeoutDurationInHours"] == 48
    assert by_arn["jobExpirationTime"] - by_arn["submitTime"] == timedelta(hours=48)
    assert by_arn["modelInvocationType"] == "InvokeModel"
    assert by_arn["inputDataConfig"]["s3InputDataConfig"]["s3Uri"] == data


def test_list_and_stop_responses_follow_the_service_model(bedrock: Any, data: str) -> None:
    arn = create(bedrock, data)
    assert_matches_shape(bedrock.list_model_invocation_jobs(), output_shape("ListModelInvocationJobs"))
    assert_matches_shape(bedrock.stop_model_invocation_job(jobIdentifier=arn), output_shape("StopModelInvocationJob"))


@pytest.mark.parametrize(
    ("overrides", "fragment"),
    [
        ({"jobName": "has_underscore"}, "jobName"),
        ({"jobName": "x" * 64}, "jobName"),
        ({"timeoutDurationInHours": 23}, "timeoutDurationInHours"),
        ({"timeoutDurationInHours": 169}, "timeoutDurationInHours"),
        ({"roleArn": "arn:aws:iam::123456789012:user/someone"}, "roleArn"),
        ({"modelId": "meta.llama-nonexistent-v9"}, "model identifier"),
        ({"modelId": "amazon.titan-embed-text-v2:0", "modelInvocationType": "Converse"}, "Converse"),
        ({"outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "https://data/out/"}}}, "s3Uri"),
    ],
)
def test_create_validates_like_bedrock(emulator_url: str, data: str, overrides: dict[str, Any], fragment: str) -> None:
    # botocore checks lengths and ranges itself; switch that off so the request reaches the service's checks.
    unchecked = boto3.client(
        "bedrock",
        region_name="us-east-1",
        endpoint_url=emulator_url,
        config=Config(parameter_validation=False, retries={"total_max_attempts": 1}),
    )
    exc = error_of(lambda: create(unchecked, data, **overrides))
    assert_error(exc, "ValidationException", "CreateModelInvocationJob")
    assert fragment in exc.response["Error"]["Message"]


def test_job_names_are_unique_per_account(bedrock: Any, data: str) -> None:
    create(bedrock, data, name="same-name")
    exc = error_of(lambda: create(bedrock, data, name="same-name"))
    assert_error(exc, "ConflictException", "CreateModelInvocationJob")


def test_client_request_token_makes_create_idempotent(bedrock: Any, data: str) -> None:
    first = create(bedrock, data, name="idem", clientRequestToken="token-1")
    again = create(bedrock, data, name="idem", clientRequestToken="token-1")
    assert first == again
    assert len(bedrock.list_model_invocation_jobs()["invocationJobSummaries"]) == 1
    mismatch = error_of(
        lambda: create(bedrock, data, name="idem", clientRequestToken="token-1", timeoutDurationInHours=24)
    )
    assert_error(mismatch, "ConflictException", "CreateModelInvocationJob")


def test_quota_counts_every_slot_holding_status_per_model(bedrock: Any, data: str, emulator: Any, clock: Any) -> None:
    emulator.limits.set(CLAUDE, concurrent_jobs=2)
    first = create(bedrock, data, name="q1")
    clock.advance(40)  # first is Validating now; it still holds its slot
    create(bedrock, data, name="q2")
    exc = error_of(lambda: create(bedrock, data, name="q3"))
    assert_error(exc, "ServiceQuotaExceededException", "CreateModelInvocationJob")
    # the same model under another name shares the quota; another model has its own
    profile = error_of(lambda: create(bedrock, data, name="q3", modelId=f"us.{CLAUDE}"))
    assert_error(profile, "ServiceQuotaExceededException", "CreateModelInvocationJob")
    create(bedrock, data, name="nova1", modelId="amazon.nova-lite-v1:0")
    run_to_end(bedrock, clock, first)
    create(bedrock, data, name="q3")  # a finished job frees its slot


def test_unknown_jobs_are_not_found(bedrock: Any) -> None:
    expect_error(
        lambda: bedrock.get_model_invocation_job(jobIdentifier="abcdefabcdef"),
        "ResourceNotFoundException",
        "GetModelInvocationJob",
    )
    expect_error(
        lambda: bedrock.stop_model_invocation_job(jobIdentifier="abcdefabcdef"),
        "ResourceNotFoundException",
        "StopModelInvocationJob",
    )


def test_throttling_and_internal_errors_are_raised_as_botocore_errors(bedrock: Any, data: str, emulator: Any) -> None:
    emulator.faults.update({"throttle": {"ListModelInvocationJobs": 1.0}})
    expect_error(bedrock.list_model_invocation_jobs, "ThrottlingException", "ListModelInvocationJobs")
    emulator.faults.update({"throttle": {}, "internal_error": {"*": 1.0}})
    expect_error(lambda: create(bedrock, data), "InternalServerException", "CreateModelInvocationJob")


def test_botocore_retries_ride_out_throttling(
    emulator_url: str, data: str, emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)  # no real backoff sleeps
    emulator.faults.update({"throttle": {"GetModelInvocationJob": 0.5}})
    patient = boto3.client(
        "bedrock",
        region_name="us-east-1",
        endpoint_url=emulator_url,
        config=Config(retries={"mode": "standard", "max_attempts": 10}),
    )
    arn = create(patient, data)
    for _ in range(20):
        assert patient.get_model_invocation_job(jobIdentifier=arn)["jobArn"] == arn


def test_list_filters_sorts_and_paginates(bedrock: Any, data: str, clock: Any) -> None:
    arns = []
    for i in range(7):
        arns.append(create(bedrock, data, name=f"{'alpha' if i % 2 else 'beta'}-{i}"))
        clock.advance(1)
    bedrock.stop_model_invocation_job(jobIdentifier=arns[0])

    newest_first = bedrock.list_model_invocation_jobs()["invocationJobSummaries"]
    assert [j["jobArn"] for j in newest_first] == arns[::-1]
    oldest_first = bedrock.list_model_invocation_jobs(sortBy="CreationTime", sortOrder="Ascending")
    assert [j["jobArn"] for j in oldest_first["invocationJobSummaries"]] == arns

    alphas = bedrock.list_model_invocation_jobs(nameContains="alpha")["invocationJobSummaries"]
    assert {j["jobName"] for j in alphas} == {"alpha-1", "alpha-3", "alpha-5"}
    stopping = bedrock.list_model_invocation_jobs(statusEquals="Stopping")["invocationJobSummaries"]
    assert [j["jobArn"] for j in stopping] == [arns[0]]

    submit_times = [j["submitTime"] for j in oldest_first["invocationJobSummaries"]]
    window = bedrock.list_model_invocation_jobs(submitTimeAfter=submit_times[1], submitTimeBefore=submit_times[5])
    assert [j["jobArn"] for j in window["invocationJobSummaries"]] == arns[2:5][::-1]

    pages = list(bedrock.get_paginator("list_model_invocation_jobs").paginate(PaginationConfig={"PageSize": 3}))
    assert [len(p["invocationJobSummaries"]) for p in pages] == [3, 3, 1]
    assert [j["jobArn"] for p in pages for j in p["invocationJobSummaries"]] == arns[::-1]

    expect_error(
        lambda: bedrock.list_model_invocation_jobs(nextToken="not-a-token"),
        "ValidationException",
        "ListModelInvocationJobs",
    )
    expect_error(
        lambda: bedrock.list_model_invocation_jobs(statusEquals="Running"),
        "ValidationException",
        "ListModelInvocationJobs",
    )
