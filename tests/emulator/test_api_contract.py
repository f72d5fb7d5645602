"""The four calls over HTTP through boto3: shapes, errors, idempotency, quota, listing and pagination."""

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
from bedrock_emulator import ApiError
from botocore.config import Config
from botocore.exceptions import ClientError
from botocore.retries.standard import ExponentialBackoff

from tests.conftest import CLAUDE, put_records
from tests.emulator.helpers import (
    BEDROCK_MODEL,
    assert_matches_shape,
    create,
    create_request,
    output_shape,
    run_to_end,
)


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
        ({"modelId": "meta.llama2-13b-chat-v1"}, "not supported for the requested model"),
        ({"modelId": "anthropic.claude-v2:1"}, "not supported for the requested model"),
        ({"modelId": "amazon.titan-embed-text-v2:0", "modelInvocationType": "Converse"}, "not supported"),
        ({"modelInvocationType": "Chat"}, "modelInvocationType"),
        ({"clientRequestToken": "under_score"}, "clientRequestToken"),
        ({"tags": [{"key": "bad\u0000key", "value": "v"}]}, "tags.1.member.key"),
        ({"outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "https://data/out/"}}}, "s3Uri"),
        # S3 stores these keys happily; Bedrock's S3Uri pattern refuses them
        ({"inputDataConfig": {"s3InputDataConfig": {"s3Uri": "s3://data/in/calls tuesday.jsonl"}}}, "s3Uri"),
        ({"inputDataConfig": {"s3InputDataConfig": {"s3Uri": "s3://data/in//calls.jsonl"}}}, "s3Uri"),
        ({"inputDataConfig": {"s3InputDataConfig": {"s3Uri": "s3://data/in/r\u00e9sum\u00e9.jsonl"}}}, "s3Uri"),
        ({"outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "s3://data/out/a+b=c,d/"}}}, "s3Uri"),
        ({"inputDataConfig": {"s3InputDataConfig": {"s3Uri": "s3://data/" + "a" * 1020}}}, "length"),
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


def test_every_constraint_the_service_model_states_is_enforced(emulator: Any, data: str) -> None:
    """Walks the input shapes of the four calls in botocore's model: each length, range, enum and pattern."""
    valid: dict[str, dict[str, Any]] = {
        "CreateModelInvocationJob": create_request(data, "valid"),
        "GetModelInvocationJob": {"jobIdentifier": "abcdefabcdef"},
        "ListModelInvocationJobs": {},
        "StopModelInvocationJob": {"jobIdentifier": "abcdefabcdef"},
    }
    calls = {
        "CreateModelInvocationJob": emulator.create_model_invocation_job,
        "GetModelInvocationJob": lambda body: emulator.get_model_invocation_job(body["jobIdentifier"]),
        "ListModelInvocationJobs": emulator.list_model_invocation_jobs,
        "StopModelInvocationJob": lambda body: emulator.stop_model_invocation_job(body["jobIdentifier"]),
    }
    checked = 0
    for operation, base in valid.items():
        for path, bad in violations(BEDROCK_MODEL.operation_model(operation).input_shape):
            request = json.loads(json.dumps(base))
            place_at(request, path, bad)
            with pytest.raises(ApiError) as caught:
                calls[operation](request)
            assert caught.value.code == "ValidationException", (operation, path)
            assert f"at '{'.'.join(path)}'" in caught.value.message, (operation, path, caught.value.message)
            checked += 1
    assert checked >= 25, "every constrained member of the four calls was tried"


def violations(shape: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """(path, value) pairs, each breaking one constraint the model states for a member reachable by structures."""
    if shape.type_name == "structure":
        for name, member in shape.members.items():
            yield from violations(member, (*path, name))
        return
    meta = shape.metadata
    if shape.type_name == "string":
        if "pattern" in meta:
            yield path, "\u0000 not allowed"
        if getattr(shape, "enum", None):
            yield path, "NotAnEnumValue"
        if "max" in meta:
            yield path, "a" * (meta["max"] + 1)
        if meta.get("min", 0) > 0:
            yield path, ""
    elif shape.type_name == "integer":
        if "max" in meta:
            yield path, meta["max"] + 1
        if "min" in meta:
            yield path, meta["min"] - 1
    elif shape.type_name == "list" and "max" in meta:
        yield path, [shape.member.metadata.get("min", 1) * "x"] * (meta["max"] + 1)


def place_at(request: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for name in path[:-1]:
        request = request.setdefault(name, {})
    request[path[-1]] = value


@pytest.mark.parametrize("answer", ["ConflictException", "ValidationException"])
def test_a_job_name_in_use_gets_the_error_the_knob_chooses(bedrock: Any, data: str, emulator: Any, answer: str) -> None:
    emulator.faults.update({"name_in_use_error": answer})
    create(bedrock, data, name="same-name")
    exc = error_of(lambda: create(bedrock, data, name="same-name"))
    assert_error(exc, answer, "CreateModelInvocationJob")


def test_a_repeated_token_returns_the_original_job_without_error(bedrock: Any, data: str) -> None:
    first = create(bedrock, data, name="idem", clientRequestToken="token-1")
    again = create(bedrock, data, name="idem", clientRequestToken="token-1")
    # The API reference: a matching token makes Bedrock ignore the request, without an error.
    ignored = create(bedrock, data, name="other-name", clientRequestToken="token-1", timeoutDurationInHours=24)
    assert first == again == ignored
    assert len(bedrock.list_model_invocation_jobs()["invocationJobSummaries"]) == 1


def test_tokens_can_be_set_to_expire(bedrock: Any, data: str, emulator: Any, clock: Any) -> None:
    emulator.faults.update({"token_ttl_seconds": 3600})
    first = create(bedrock, data, name="idem", clientRequestToken="token-1")
    clock.advance(3599)
    assert create(bedrock, data, name="idem", clientRequestToken="token-1") == first
    clock.advance(2)
    exc = error_of(lambda: create(bedrock, data, name="idem", clientRequestToken="token-1"))
    assert_error(exc, "ConflictException", "CreateModelInvocationJob")


@pytest.mark.parametrize(
    ("refusal", "code", "fragment"),
    [
        ("access", "AccessDeniedException", "don't have access to the model"),
        ("marketplace", "AccessDeniedException", "aws-marketplace:Subscribe"),
        ("use-case-form", "ResourceNotFoundException", "use case details"),
    ],
)
def test_models_the_account_may_not_use_yet_are_refused(
    bedrock: Any, data: str, emulator: Any, refusal: str, code: str, fragment: str
) -> None:
    emulator.faults.update({"denied_models": {CLAUDE: refusal}})
    for model in (CLAUDE, f"us.{CLAUDE}", f"arn:aws:bedrock:us-east-1::foundation-model/{CLAUDE}"):
        exc = expect_error(lambda m=model: create(bedrock, data, modelId=m), code, "CreateModelInvocationJob")
        assert fragment in exc.response["Error"]["Message"]
    create(bedrock, data, modelId="amazon.nova-lite-v1:0")  # other models are unaffected


@pytest.mark.parametrize(
    "model_id",
    [
        "us.anthropic.claude-3-5-haiku-20241022-v1:0",
        "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.anthropic.claude-3-7-sonnet-20250219-v1:0",
        "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0",
        "meta.llama3-1-70b-instruct-v1:0",
        "us.meta.llama4-maverick-17b-instruct-v1:0",
        "mistral.mistral-large-2407-v1:0",
        "amazon.titan-embed-text-v2:0",
    ],
)
def test_batch_models_are_served_by_id_profile_or_arn(bedrock: Any, data: str, model_id: str) -> None:
    arn = create(bedrock, data, modelId=model_id)
    assert bedrock.get_model_invocation_job(jobIdentifier=arn)["modelId"] == model_id


def test_a_malformed_job_identifier_is_a_validation_error_not_a_missing_job(bedrock: Any) -> None:
    for call in (bedrock.get_model_invocation_job, bedrock.stop_model_invocation_job):
        exc = error_of(lambda c=call: c(jobIdentifier="NOT-A-JOB-ID"))
        assert exc.response["Error"]["Code"] == "ValidationException"


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
