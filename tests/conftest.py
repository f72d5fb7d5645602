"""Shared fixtures: fake AWS credentials (nothing ever reaches AWS), moto, the emulator on a manual clock."""

import json
import os
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from bedrock_emulator import BedrockEmulator, EmulatorServer
from botocore.config import Config
from moto import mock_aws

from bbq import wiring
from bbq.core.model.clock import ManualClock
from bbq_local import AWS_VARIABLES_TO_CLEAR

# Set before any test module imports a handler: Powertools reads these when bbq.observability is imported.
os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "bbq")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "bbq-tests")
os.environ.setdefault("POWERTOOLS_TRACE_DISABLED", "true")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

REGION = "us-east-1"
ROLE_ARN = "arn:aws:iam::123456789012:role/bbq-batch"
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.fixture(autouse=True)
def aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in AWS_VARIABLES_TO_CLEAR:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "bbq-tests")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "bbq")
    wiring.reset()


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield
    wiring.reset()


@pytest.fixture
def s3(aws: None) -> Any:
    return boto3.client("s3", region_name=REGION)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def emulator(s3: Any, clock: ManualClock) -> BedrockEmulator:
    return BedrockEmulator(s3_client=s3, clock=clock, seed=7)


@pytest.fixture
def emulator_url(emulator: BedrockEmulator) -> Iterator[str]:
    with EmulatorServer(emulator) as server:
        yield server.url


@pytest.fixture
def bedrock(emulator_url: str) -> Any:
    """An unmodified boto3 Bedrock client talking HTTP to the emulator (no retries: tests see every error)."""
    return boto3.client(
        "bedrock", region_name=REGION, endpoint_url=emulator_url, config=Config(retries={"total_max_attempts": 1})
    )


def claude_record(index: int, text: str | None = None) -> dict[str, Any]:
    prompt = text or (
        f"Summarize this call. Customer {index} called about a late delivery of order {1000 + index}. "
        "The agent apologised for the delay. The agent issued a refund for the shipping fee. "
        "The customer thanked the agent and said the refund resolved the complaint."
    )
    return {
        "recordId": f"CALL{index:07d}",
        "modelInput": {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 200,
            "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}],
        },
    }


def jsonl(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def put_records(s3: Any, bucket: str, key: str, count: int, make: Any = claude_record) -> str:
    s3.put_object(Bucket=bucket, Key=key, Body=jsonl([make(i) for i in range(count)]))
    return f"s3://{bucket}/{key}"
