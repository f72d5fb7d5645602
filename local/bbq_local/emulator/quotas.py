"""Service Quotas' view of Bedrock's batch limits (ListServiceQuotas for ServiceCode "bedrock"), from the same
LimitTable the emulated jobs obey. Quotas are named "<what> for <model name>", as AWS names them (for example
"Minimum number of records per batch inference job for Claude 3 Haiku"); codes are opaque, as in AWS."""

import hashlib
from typing import Any

from bbq_local.emulator.api import ApiError
from bbq_local.emulator.limits import LimitTable

GB = 1024**3
# The models the emulator lists quotas for, with the names Bedrock's quotas use for them.
CATALOG = {
    "anthropic.claude-3-haiku-20240307-v1:0": "Claude 3 Haiku",
    "anthropic.claude-3-5-haiku-20241022-v1:0": "Claude 3.5 Haiku",
    "anthropic.claude-3-5-sonnet-20240620-v1:0": "Claude 3.5 Sonnet",
    "anthropic.claude-3-5-sonnet-20241022-v2:0": "Claude 3.5 Sonnet V2",
    "anthropic.claude-sonnet-4-20250514-v1:0": "Claude Sonnet 4",
    "amazon.nova-micro-v1:0": "Nova Micro",
    "amazon.nova-lite-v1:0": "Nova Lite",
    "amazon.nova-pro-v1:0": "Nova Pro",
    "amazon.titan-embed-text-v2:0": "Titan Text Embeddings V2",
    "meta.llama3-1-8b-instruct-v1:0": "Llama 3.1 8B Instruct",
    "meta.llama3-1-70b-instruct-v1:0": "Llama 3.1 70B Instruct",
    "mistral.mistral-large-2407-v1:0": "Mistral Large (24.07)",
}
_BATCH = (
    ("Sum of in-progress and submitted batch inference jobs using a base model", "concurrent_jobs", 1),
    ("Minimum number of records per batch inference job", "min_records_per_job", 1),
    ("Records per batch inference job", "max_records_per_job", 1),
    ("Records per input file per batch inference job", "max_records_per_file", 1),
    ("Batch inference input file size (in GB)", "max_file_bytes", GB),
    ("Batch inference job size (in GB)", "max_job_bytes", GB),
)
# Quotas with look-alike names that are not the batch limits of a base model.
_OTHERS = (
    ("Sum of in-progress and submitted batch inference jobs using a custom model", 3.0),
    ("On-demand InvokeModel tokens per minute", 200_000.0),
    ("On-demand InvokeModel requests per minute", 1_000.0),
)


def list_service_quotas(limits: LimitTable, body: dict[str, Any], denied: bool) -> dict[str, Any]:
    if denied:
        raise ApiError(
            "AccessDeniedException",
            "User is not authorized to perform: servicequotas:ListServiceQuotas",
        )
    if body.get("ServiceCode") != "bedrock":
        return {"Quotas": []}
    quotas = [
        _quota(f"{what} for {name}", getattr(limits.for_model(model), field) / scale)
        for model, name in CATALOG.items()
        for what, field, scale in _BATCH
    ]
    quotas += [_quota(f"{what} for {name}", value) for name in CATALOG.values() for what, value in _OTHERS]
    start = int(body.get("NextToken") or 0)
    size = int(body.get("MaxResults") or 100)
    page: dict[str, Any] = {"Quotas": quotas[start : start + size]}
    if start + size < len(quotas):
        page["NextToken"] = str(start + size)
    return page


def _quota(name: str, value: float) -> dict[str, Any]:
    code = "L-" + hashlib.sha256(name.encode()).hexdigest()[:8].upper()
    return {
        "ServiceCode": "bedrock",
        "ServiceName": "Amazon Bedrock",
        "QuotaArn": f"arn:aws:servicequotas:us-east-1:123456789012:bedrock/{code}",
        "QuotaCode": code,
        "QuotaName": name,
        "Value": float(value),
        "Unit": "None",
        "Adjustable": True,
        "GlobalQuota": False,
    }
