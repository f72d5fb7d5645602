"""Reading a model's batch limits from Service Quotas' lists for Bedrock.

Quota codes are opaque and differ per model, so quotas are matched by name: "<what> for <model name>", where
the model's name is not its id ("Titan Text Embeddings V2" for amazon.titan-embed-text-v2:0) and look-alikes
sit side by side ("Claude 3.5 Sonnet" and "Claude 3.5 Sonnet v2"; "Llama 3.1 70B Instruct" and "Llama 3.3 70B
Instruct"). A quota is taken only when its "<what>" is exactly one of the six batch limits of a base model and
its model name has exactly the model's words: never a sibling version, an on-demand, cross-Region or
provisioned quota, nor a custom model's. Size quotas say "(in GB)" before or after the model's name; a GB is
10^9 bytes (the smaller reading: right whichever AWS means, see the facts file).

Each limit comes from the first that has it: the account's applied value (ListServiceQuotas), AWS's default
(ListAWSDefaultServiceQuotas, which also lists the quotas that cannot be adjusted and so have no applied value),
then the stack's parameters.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from bbq.core.model.limits import ModelLimits

GB = 10**9

# What each batch limit's quota name says before " for " (compared without case), and the unit of its value.
_KINDS = {
    "sum of in-progress and submitted batch inference jobs using a base model": ("concurrent_jobs", 1),
    "minimum number of records per batch inference job": ("min_records_per_job", 1),
    "records per batch inference job": ("max_records_per_job", 1),
    "records per input file per batch inference job": ("max_records_per_file", 1),
    "batch inference input file size": ("max_file_bytes", GB),
    "batch inference job size": ("max_job_bytes", GB),
}
_IN_GB = re.compile(r"\s*\(in GB\)", re.IGNORECASE)

# The model's name in quota names, for the models bbq knows of (AWS's catalogue; see the facts file). Other ids
# go through ``derived_name``.
QUOTA_MODEL_NAMES = {
    "anthropic.claude-3-haiku-20240307-v1:0": "Claude 3 Haiku",
    "anthropic.claude-3-sonnet-20240229-v1:0": "Claude 3 Sonnet",
    "anthropic.claude-3-opus-20240229-v1:0": "Claude 3 Opus",
    "anthropic.claude-3-5-haiku-20241022-v1:0": "Claude 3.5 Haiku",
    "anthropic.claude-3-5-sonnet-20240620-v1:0": "Claude 3.5 Sonnet",
    "anthropic.claude-3-5-sonnet-20241022-v2:0": "Claude 3.5 Sonnet v2",
    "anthropic.claude-3-7-sonnet-20250219-v1:0": "Claude 3.7 Sonnet",
    "anthropic.claude-sonnet-4-20250514-v1:0": "Claude Sonnet 4",
    "amazon.nova-micro-v1:0": "Nova Micro V1",
    "amazon.nova-lite-v1:0": "Nova Lite V1",
    "amazon.nova-pro-v1:0": "Nova Pro V1",
    "amazon.titan-embed-text-v2:0": "Titan Text Embeddings V2",
    "amazon.titan-embed-image-v1": "Titan Multimodal Embeddings G1",
    "meta.llama3-1-8b-instruct-v1:0": "Llama 3.1 8B Instruct",
    "meta.llama3-1-70b-instruct-v1:0": "Llama 3.1 70B Instruct",
    "meta.llama3-2-11b-instruct-v1:0": "Llama 3.2 11B Instruct",
    "meta.llama3-3-70b-instruct-v1:0": "Llama 3.3 70B Instruct",
    "mistral.mistral-small-2402-v1:0": "Mistral Small",
    "mistral.mistral-large-2407-v1:0": "Mistral Large 2 (24.07)",
    "openai.gpt-oss-120b-1:0": "OpenAI GPT OSS 120b",
    "qwen.qwen3-32b-v1:0": "Qwen3 32B",
    "qwen.qwen3-235b-a22b-2507-v1:0": "Qwen3 235B",
    "qwen.qwen3-coder-480b-a35b-v1:0": "Qwen3 Coder 480B",
    "deepseek.v3-v1:0": "DeepSeek v3",
}
# First parts of cross-Region and global inference-profile ids ("us.anthropic...").
_GEOGRAPHIES = {"us", "eu", "apac", "jp", "au", "ca", "us-gov", "global"}


class Source(StrEnum):
    APPLIED = "applied quota"
    AWS_DEFAULT = "AWS default quota"
    PARAMETER = "stack parameter"


@dataclass(frozen=True)
class Quota:
    name: str
    value: float


@dataclass(frozen=True)
class LimitSource:
    """Where one limit's figure came from: which list, and the quota's name (None for a stack parameter)."""

    source: Source
    quota_name: str | None = None

    def __str__(self) -> str:
        return f"{self.source}: {self.quota_name}" if self.quota_name else str(self.source)


def base_model_id(model_id: str) -> str:
    """The foundation model's id behind an id, an ARN or a cross-Region profile ("us.anthropic.x" -> "anthropic.x")."""
    resource = model_id.rsplit("/", 1)[-1]
    first, _, rest = resource.partition(".")
    return rest if first in _GEOGRAPHIES and rest else resource


def quota_model_name(model_id: str) -> str:
    base = base_model_id(model_id)
    return QUOTA_MODEL_NAMES.get(base) or derived_name(base)


def derived_name(base_id: str) -> str:
    """The rule for ids the table does not know: the provider and dates dropped, "v1" dropped and a later
    version kept ("v2"), numbered parts read as a version ("3-5" -> "3.5"):
    anthropic.claude-opus-4-1-20250805-v1:0 -> "claude opus 4.1"."""
    provider, _, name = base_id.partition(".")
    version = re.search(r"-v(\d+)(?::\d+)?$", name)
    name = re.sub(r"(-v\d+|-\d+)?(:\d+)?$", "", name) if version is None else name[: version.start()]
    words: list[str] = []
    for part in name.split("-"):
        if re.fullmatch(r"\d{8}|\d{4}", part):  # a date: 20240307, or 2407 (July 2024)
            continue
        if words and re.fullmatch(r"\d{1,2}", part) and words[-1][-1].isdigit():
            words[-1] += f".{part}"
        else:
            words.append(part)
    if version and int(version.group(1)) > 1:
        words.append(f"v{version.group(1)}")
    return " ".join(words)


def _words(name: str, provider: str) -> frozenset[str]:
    """A name's words for comparison: no case, letters apart from digits ("Qwen3" as "qwen 3", "70B" as "70 b"),
    "V1" and the provider's name ("OpenAI GPT OSS 120b") left out, "Embeddings" as "embed"."""
    text = re.sub(r"\bv1\b", " ", name.lower())
    words = set(re.findall(r"[a-z]+|\d+(?:\.\d+)*", text)) - {provider}
    return frozenset("embed" if w == "embeddings" else w for w in words)


def _parse(quota_name: str) -> tuple[str, int, str] | None:
    """(field, unit, model name) of a batch limit's quota, or None for any other quota."""
    in_gb = bool(_IN_GB.search(quota_name))
    what, found, model = _IN_GB.sub("", quota_name).partition(" for ")
    kind = _KINDS.get(what.strip().lower()) if found else None
    if kind is None or (kind[1] == GB) != in_gb:  # a size in a unit not stated is not taken
        return None
    return kind[0], kind[1], model.strip()


def limits_from_quotas(
    model_id: str, applied: Iterable[Quota], defaults: Iterable[Quota], fallback: ModelLimits
) -> tuple[ModelLimits, dict[str, LimitSource]]:
    """The model's limits, and where each came from."""
    base = base_model_id(model_id)
    provider = base.partition(".")[0]
    wanted = _words(quota_model_name(base), provider)
    found: dict[str, tuple[int, LimitSource]] = {}
    for source, quotas in ((Source.APPLIED, applied), (Source.AWS_DEFAULT, defaults)):
        for quota in quotas:
            parsed = _parse(quota.name)
            if parsed is None or parsed[0] in found or _words(parsed[2], provider) != wanted:
                continue
            field, unit, _ = parsed
            value = int(quota.value * unit)
            if value >= 1:
                found[field] = (value, LimitSource(source, quota.name))
    parameters = {field: LimitSource(Source.PARAMETER) for field in vars(fallback)}
    try:
        limits = fallback.with_changes(**{field: value for field, (value, _) in found.items()})
    except ValueError:  # figures that contradict each other (min above max): trust none of them
        return fallback, parameters
    return limits, {**parameters, **{field: source for field, (_, source) in found.items()}}
