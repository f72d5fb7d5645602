"""Reading a model's batch limits from Service Quotas' list for Bedrock. Quota codes are opaque and differ per
model, so quotas are matched by name: "<what> for <model name>" (for example "Minimum number of records per
batch inference job for Claude 3 Haiku"). A model name matches a model id when all of its words are in the id
("Claude 3.5 Sonnet V2" in anthropic.claude-3-5-sonnet-20241022-v2:0); the most specific name wins. Whatever is
not found keeps the fallback figure (the template's parameters)."""

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bbq.core.limits import ModelLimits

GB = 1024**3
_WORDS = re.compile(r"[a-z]+|\d+")


@dataclass(frozen=True)
class Quota:
    name: str
    value: float


# (field of ModelLimits, what the quota's name says before " for ", how a value converts); most specific first.
_KINDS = (
    ("min_records_per_job", re.compile(r"minimum number of records per batch inference job"), 1),
    ("max_records_per_file", re.compile(r"records per input file per batch inference job"), 1),
    ("max_records_per_job", re.compile(r"records per batch inference job"), 1),
    ("max_file_bytes", re.compile(r"batch inference input file size"), GB),
    ("max_job_bytes", re.compile(r"batch inference job size"), GB),
    ("concurrent_jobs", re.compile(r"(in-progress|submitted).*batch inference jobs(?!.*custom model)"), 1),
)


def limits_from_quotas(model_id: str, quotas: Iterable[Quota], fallback: ModelLimits) -> tuple[ModelLimits, set[str]]:
    """The model's limits, and the names of the fields Service Quotas supplied."""
    id_words = set(_WORDS.findall(model_id.rsplit("/", 1)[-1].lower()))
    best: dict[str, tuple[int, int]] = {}  # field -> (words matched, value)
    for quota in quotas:
        what, _, model_name = quota.name.lower().rpartition(" for ")
        kind = next(((field, scale) for field, rule, scale in _KINDS if rule.search(what)), None)
        words = set(_WORDS.findall(model_name))
        if kind is None or len(words) < 2 or not words <= id_words:
            continue
        field, scale = kind
        value = int(quota.value * scale)
        if value >= 1 and len(words) > best.get(field, (0, 0))[0]:
            best[field] = (len(words), value)
    found = {field: value for field, (_, value) in best.items()}
    try:
        return fallback.with_changes(**found), set(found)
    except ValueError:  # figures that contradict each other (min above max): trust none of them
        return fallback, set()
