"""Service Quotas as the emulator serves it to an unmodified boto3 client: AWS's name shapes, the applied list
without the quotas that cannot be adjusted, AWS's defaults with every quota, pages, and the GB knob."""

from typing import Any

import boto3
import pytest
from bedrock_emulator import BedrockEmulator

from tests.conftest import REGION

BATCH = "batch inference"


@pytest.fixture
def quotas(emulator_url: str) -> Any:
    return boto3.client("service-quotas", region_name=REGION, endpoint_url=emulator_url)


def listed(client: Any, operation: str) -> dict[str, float]:
    pages = client.get_paginator(operation).paginate(ServiceCode="bedrock", PaginationConfig={"PageSize": 40})
    return {q["QuotaName"]: q["Value"] for page in pages for q in page["Quotas"]}


def test_applied_values_leave_out_what_cannot_be_adjusted_and_defaults_list_it(quotas: Any) -> None:
    applied, defaults = listed(quotas, "list_service_quotas"), listed(quotas, "list_aws_default_service_quotas")
    assert not [name for name in applied if name.startswith(("Minimum number", "Batch inference"))]
    assert set(applied) < set(defaults)
    assert defaults["Minimum number of records per batch inference job for Nova Lite V1"] == 100
    assert "Batch inference job size (in GB) for Claude 3 Haiku" in defaults
    assert "Batch inference job size for Qwen3 32B (in GB)" in defaults  # "(in GB)" after the name
    assert applied["Sum of in-progress and submitted batch inference jobs using a base model for Claude 3.5 Sonnet v2"]
    assert any(name.startswith("On-demand model inference tokens per minute") for name in applied)
    assert sum(BATCH in name for name in defaults) > sum(BATCH in name for name in applied)


def test_an_applied_value_is_the_accounts_and_a_default_is_awss(quotas: Any, emulator: BedrockEmulator) -> None:
    emulator.limits.set("amazon.nova-lite-v1:0", concurrent_jobs=3)
    name = "Sum of in-progress and submitted batch inference jobs using a base model for Nova Lite V1"
    assert listed(quotas, "list_service_quotas")[name] == 3
    assert listed(quotas, "list_aws_default_service_quotas")[name] == 10


@pytest.mark.parametrize("gb_bytes", [10**9, 2**30])
def test_sizes_in_gb_follow_the_knob(quotas: Any, emulator: BedrockEmulator, gb_bytes: int) -> None:
    emulator.faults.update({"quota_gb_bytes": gb_bytes})
    emulator.limits.set("anthropic.claude-3-haiku-20240307-v1:0", max_job_bytes=4 * gb_bytes)
    assert listed(quotas, "list_aws_default_service_quotas")["Batch inference job size (in GB) for Claude 3 Haiku"] == 4
    with pytest.raises(ValueError, match="quota_gb_bytes"):
        emulator.faults.update({"quota_gb_bytes": 1000})


def test_denied_is_access_denied_for_both(quotas: Any, emulator: BedrockEmulator) -> None:
    emulator.faults.update({"service_quotas_denied": True})
    for operation in ("list_service_quotas", "list_aws_default_service_quotas"):
        with pytest.raises(quotas.exceptions.AccessDeniedException):
            listed(quotas, operation)
