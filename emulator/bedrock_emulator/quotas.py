"""Service Quotas' view of Bedrock's batch limits, from the same LimitTable the emulated jobs obey, in the shapes
AWS's catalogue uses (../shared/bedrock-batch-facts.md): "<what> for <model name>", where the model's name is
not its id; size quotas say "(in GB)" before the model's name for most models and after it for some; codes are
opaque. ListServiceQuotas lists only quotas with an applied value (botocore's service-quotas model: "If the
applied quota value is not available for a quota, the quota is not retrieved"): here the adjustable ones.
ListAWSDefaultServiceQuotas lists every quota at AWS's default. Whether "GB" means 10^9 or 2^30 bytes is not
documented: a knob (Faults.quota_gb_bytes)."""

import hashlib
from typing import Any

from bedrock_emulator.api import ApiError
from bedrock_emulator.limits import LimitTable, ModelLimits

# The models the emulator lists quotas for, with the names AWS's quotas use for them.
CATALOG = {
    "anthropic.claude-3-haiku-20240307-v1:0": "Claude 3 Haiku",
    "anthropic.claude-3-5-haiku-20241022-v1:0": "Claude 3.5 Haiku",
    "anthropic.claude-3-5-sonnet-20240620-v1:0": "Claude 3.5 Sonnet",
    "anthropic.claude-3-5-sonnet-20241022-v2:0": "Claude 3.5 Sonnet v2",
    "anthropic.claude-3-7-sonnet-20250219-v1:0": "Claude 3.7 Sonnet",
    "anthropic.claude-sonnet-4-20250514-v1:0": "Claude Sonnet 4",
    "amazon.nova-micro-v1:0": "Nova Micro V1",
    "amazon.nova-lite-v1:0": "Nova Lite V1",
    "amazon.nova-pro-v1:0": "Nova Pro V1",
    "amazon.titan-embed-text-v2:0": "Titan Text Embeddings V2",
    "meta.llama3-1-8b-instruct-v1:0": "Llama 3.1 8B Instruct",
    "meta.llama3-1-70b-instruct-v1:0": "Llama 3.1 70B Instruct",
    "meta.llama3-3-70b-instruct-v1:0": "Llama 3.3 70B Instruct",
    "mistral.mistral-large-2407-v1:0": "Mistral Large 2 (24.07)",
    "openai.gpt-oss-120b-1:0": "OpenAI GPT OSS 120b",
    "qwen.qwen3-32b-v1:0": "Qwen3 32B",
}
# Models whose size quotas say "(in GB)" after the model's name ("Batch inference job size for Qwen3 32B (in GB)").
GB_AFTER_NAME = {"qwen.qwen3-32b-v1:0", "amazon.titan-embed-text-v2:0"}
# (what the name says, the limit, adjustable): only adjustable quotas have an applied value.
_BATCH = (
    ("Sum of in-progress and submitted batch inference jobs using a base model", "concurrent_jobs", True),
    ("Records per batch inference job", "max_records_per_job", True),
    ("Records per input file per batch inference job", "max_records_per_file", True),
    ("Minimum number of records per batch inference job", "min_records_per_job", False),
    ("Batch inference input file size", "max_file_bytes", False),
    ("Batch inference job size", "max_job_bytes", False),
)
# Quotas with look-alike names that are not the batch limits of a base model.
_OTHERS = (
    ("Sum of in-progress and submitted batch inference jobs using a custom model for {}", 3.0),
    ("On-demand model inference tokens per minute for Anthropic {}", 200_000.0),
    ("Cross-region model inference requests per minute for {}", 1_000.0),
    ("Global cross-region model inference tokens per minute for {}", 400_000.0),
    ("Model units per provisioned model for {}", 1.0),
    ("Model invocation max tokens per day for {}", 720_000_000.0),
)


def list_service_quotas(
    limits: LimitTable, body: dict[str, Any], *, denied: bool, gb_bytes: int, defaults: bool = False
) -> dict[str, Any]:
    """One page of ListServiceQuotas (the applied values), or of ListAWSDefaultServiceQuotas with ``defaults``."""
    operation = "ListAWSDefaultServiceQuotas" if defaults else "ListServiceQuotas"
    if denied:
        raise ApiError("AccessDeniedException", f"User is not authorized to perform: servicequotas:{operation}")
    if body.get("ServiceCode") != "bedrock":
        return {"Quotas": []}
    aws_default = ModelLimits()
    quotas = []
    for model, name in CATALOG.items():
        applied = limits.for_model(model)
        for what, field, adjustable in _BATCH:
            if not (adjustable or defaults):
                continue
            # an adjustable quota's default is AWS's; one that cannot be adjusted is what the jobs obey
            value = getattr(aws_default if defaults and adjustable else applied, field)
            if field.endswith("_bytes"):
                quota_name = f"{what} for {name} (in GB)" if model in GB_AFTER_NAME else f"{what} (in GB) for {name}"
                quotas.append(_quota(quota_name, value / gb_bytes, adjustable))
            else:
                quotas.append(_quota(f"{what} for {name}", value, adjustable))
        quotas += [_quota(what.format(name), value, True) for what, value in _OTHERS]
    start = int(body.get("NextToken") or 0)
    size = int(body.get("MaxResults") or 100)
    page: dict[str, Any] = {"Quotas": quotas[start : start + size]}
    if start + size < len(quotas):
        page["NextToken"] = str(start + size)
    return page


def _quota(name: str, value: float, adjustable: bool) -> dict[str, Any]:
    code = "L-" + hashlib.sha256(name.encode()).hexdigest()[:8].upper()
    return {
        "ServiceCode": "bedrock",
        "ServiceName": "Amazon Bedrock",
        "QuotaArn": f"arn:aws:servicequotas:us-east-1:123456789012:bedrock/{code}",
        "QuotaCode": code,
        "QuotaName": name,
        "Value": float(value),
        "Unit": "None",
        "Adjustable": adjustable,
        "GlobalQuota": False,
    }
