"""Builds the adapters a handler needs. boto3 clients are cached per process (Lambda reuses them between
invocations); tests clear the cache with ``reset()`` after switching moto or the emulator on."""

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from bbq.adapters.bedrock_batch import BedrockBatch
from bbq.adapters.bedrock_runtime import BedrockRuntime
from bbq.adapters.dynamodb import DynamoStore
from bbq.adapters.file_events import FileEvents
from bbq.adapters.inference_profiles import InferenceProfileQuotas
from bbq.adapters.join_queue import JoinQueue
from bbq.adapters.s3_objects import S3Objects
from bbq.adapters.service_quotas import ServiceQuotaLimits
from bbq.core.model.clock import Clock, SystemClock
from bbq.core.model.limits import FixedLimits
from bbq.core.model.ports import LimitsProvider
from bbq.settings import Settings

# botocore's standard retry mode: exponential backoff with jitter on throttling and 5xx.
# Bedrock creates are safe to retry because bbq always sends a deterministic clientRequestToken.
_RETRIES = Config(retries={"mode": "standard", "max_attempts": 5})


@cache
def client(service: str) -> Any:
    """The service's client, made when first used: a cold start builds only the clients its work needs (each
    costs tens of milliseconds of botocore loading its service model; bench/cold_start_bench.py)."""
    return _OnFirstUse(service)


@cache
def _made(service: str) -> Any:
    return boto3.client(service, config=_RETRIES)  # type: ignore[call-overload]


class _OnFirstUse:
    def __init__(self, service: str) -> None:
        self._service = service

    def __getattr__(self, name: str) -> Any:  # only for what the proxy itself lacks: everything of the client
        return getattr(_made(self._service), name)


def reset() -> None:
    client.cache_clear()
    _made.cache_clear()
    quotas.cache_clear()
    limits.cache_clear()


_clock: list[Clock] = [SystemClock()]


def clock() -> Clock:
    """Wall time in Lambda; the local pipeline swaps in its simulated clock so backoffs follow the emulator's."""
    return _clock[0]


def use_clock(replacement: Clock) -> None:
    _clock[0] = replacement


def store(settings: Settings) -> DynamoStore:
    return DynamoStore(client("dynamodb"), settings.jobs_table)


def objects() -> S3Objects:
    return S3Objects(client("s3"))


def batch(settings: Settings) -> BedrockBatch:
    return BedrockBatch(client("bedrock"), output_key_id=settings.kms_key_arn or None)


@cache
def quotas() -> InferenceProfileQuotas:
    """Kept for the process: which model each inference profile routes to does not change."""
    return InferenceProfileQuotas(client("bedrock"))


def file_events(settings: Settings) -> FileEvents:
    return FileEvents(client("events"), settings.stack_name)


def joins(settings: Settings) -> JoinQueue:
    return JoinQueue(client("sqs"), settings.join_queue_url)


def on_demand() -> BedrockRuntime:
    return BedrockRuntime(client("bedrock-runtime"))


@cache
def limits(settings: Settings) -> LimitsProvider:
    """Per process, so Service Quotas is asked once an hour, not on every invocation."""
    if not settings.use_service_quotas:
        return FixedLimits(settings.fallback_limits())
    return ServiceQuotaLimits(client("service-quotas"), settings.fallback_limits(), clock())
