"""Helpers for the emulator's contract tests: requests, lifecycle driving and shape checks."""

import re
from datetime import datetime
from typing import Any, Protocol

import botocore.session
from bedrock_emulator import BedrockEmulator

from tests.conftest import CLAUDE, ROLE_ARN

BEDROCK_MODEL = botocore.session.get_session().get_service_model("bedrock")
# What GetModelInvocationJob can report as final: the model's statuses less those that hold a quota slot.
TERMINAL = set(BEDROCK_MODEL.shape_for("ModelInvocationJobStatus").enum) - {  # type: ignore[attr-defined]
    "Submitted",
    "Validating",
    "Scheduled",
    "InProgress",
    "Stopping",
}


def create_request(input_uri: str, name: str = "job-1", **overrides: Any) -> dict[str, Any]:
    return {
        "jobName": name,
        "roleArn": ROLE_ARN,
        "modelId": CLAUDE,
        "inputDataConfig": {"s3InputDataConfig": {"s3Uri": input_uri, "s3InputFormat": "JSONL"}},
        "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": "s3://data/out/"}},
        **overrides,
    }


def create(bedrock: Any, input_uri: str, name: str = "job-1", **overrides: Any) -> str:
    return bedrock.create_model_invocation_job(**create_request(input_uri, name, **overrides))["jobArn"]


class SteppedClock(Protocol):
    """A test's clock that moves when told (the emulator's tests use nothing of bbq's)."""

    def advance(self, seconds: float) -> datetime: ...


def run_to_end(bedrock: Any, clock: SteppedClock, arn: str, step: float = 15, limit: int = 10_000) -> list[str]:
    """Moves the clock until the job is terminal; the distinct statuses seen on the way."""
    seen: list[str] = []
    for _ in range(limit):
        status = bedrock.get_model_invocation_job(jobIdentifier=arn)["status"]
        if not seen or seen[-1] != status:
            seen.append(status)
        if status in TERMINAL:
            return seen
        clock.advance(step)
    raise AssertionError(f"job never finished; statuses seen {seen}")


def assert_matches_shape(value: Any, shape: Any, path: str = "") -> None:
    """Checks a parsed response against botocore's own shape: known members, right types, required present."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), path
        unknown = set(value) - set(shape.members) - {"ResponseMetadata"}
        assert not unknown, f"{path}: members not in the {shape.name} shape: {unknown}"
        missing = set(shape.required_members) - set(value)
        assert not missing, f"{path}: required members missing: {missing}"
        for name, member in value.items():
            if name != "ResponseMetadata":
                assert_matches_shape(member, shape.members[name], f"{path}.{name}")
    elif kind == "list":
        assert isinstance(value, list), path
        for i, item in enumerate(value):
            assert_matches_shape(item, shape.member, f"{path}[{i}]")
    elif kind == "timestamp":
        assert isinstance(value, datetime), path
    elif kind in {"integer", "long"}:
        assert isinstance(value, int), path
    elif kind == "string":
        assert isinstance(value, str), path
        if shape.enum:
            assert value in shape.enum, f"{path}: {value!r} not in {shape.enum}"
        pattern = shape.metadata.get("pattern")
        if pattern:  # botocore's patterns hold for the whole value, as the service validates them
            assert re.fullmatch(pattern, value), f"{path}: {value!r} fails {pattern}"
        assert shape.metadata.get("min", 0) <= len(value) <= shape.metadata.get("max", len(value)), path


def output_shape(operation: str) -> Any:
    return BEDROCK_MODEL.operation_model(operation).output_shape


def emulator_job_count(emulator: BedrockEmulator) -> int:
    return len(emulator.jobs())
