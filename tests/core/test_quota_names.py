"""Matching Service Quotas' names to a model's limits, table-driven over the real names in the facts file
(../shared/bedrock-batch-facts.md) and the look-alikes that sit beside them in AWS's catalogue."""

import pytest

from bbq.core.model.limits import ModelLimits
from bbq.core.model.quota_names import (
    GB,
    LimitSource,
    Quota,
    Source,
    derived_name,
    limits_from_quotas,
    quota_model_name,
)

FALLBACK = ModelLimits(10, 100, 50_000, 50_000, 10**9, 5 * 10**9)
CONCURRENT = "Sum of in-progress and submitted batch inference jobs using a base model for {}"

# (model id, a real quota name that is its concurrent-job limit)
REAL = [
    ("anthropic.claude-3-5-sonnet-20241022-v2:0", "Claude 3.5 Sonnet v2"),
    ("anthropic.claude-3-5-sonnet-20240620-v1:0", "Claude 3.5 Sonnet"),
    ("anthropic.claude-3-sonnet-20240229-v1:0", "Claude 3 Sonnet"),
    ("anthropic.claude-3-haiku-20240307-v1:0", "Claude 3 Haiku"),
    ("anthropic.claude-3-5-haiku-20241022-v1:0", "Claude 3.5 Haiku"),
    ("anthropic.claude-3-7-sonnet-20250219-v1:0", "Claude 3.7 Sonnet"),
    ("anthropic.claude-sonnet-4-20250514-v1:0", "Claude Sonnet 4"),
    ("amazon.nova-micro-v1:0", "Nova Micro V1"),
    ("amazon.nova-lite-v1:0", "Nova Lite V1"),
    ("amazon.nova-pro-v1:0", "Nova Pro V1"),
    ("amazon.titan-embed-text-v2:0", "Titan Text Embeddings V2"),
    ("amazon.titan-embed-image-v1", "Titan Multimodal Embeddings G1"),
    ("meta.llama3-1-8b-instruct-v1:0", "Llama 3.1 8B Instruct"),
    ("meta.llama3-2-11b-instruct-v1:0", "Llama 3.2 11B Instruct"),
    ("meta.llama3-1-70b-instruct-v1:0", "Llama 3.1 70B Instruct"),
    ("meta.llama3-3-70b-instruct-v1:0", "Llama 3.3 70B Instruct"),
    ("mistral.mistral-small-2402-v1:0", "Mistral Small"),
    ("mistral.mistral-large-2407-v1:0", "Mistral Large 2 (24.07)"),
    ("openai.gpt-oss-120b-1:0", "OpenAI GPT OSS 120b"),
    ("qwen.qwen3-32b-v1:0", "Qwen3 32B"),
    ("qwen.qwen3-235b-a22b-2507-v1:0", "Qwen3 235B"),
    ("qwen.qwen3-coder-480b-a35b-v1:0", "Qwen3 Coder 480B"),
    ("deepseek.v3-v1:0", "DeepSeek v3"),
]
NAMES = [name for _, name in REAL]
# Quotas of the same models that are never a batch limit of a base model.
LOOK_ALIKES = [
    "On-demand model inference tokens per minute for Anthropic Claude 3 Haiku",
    "Cross-region model inference requests per minute for Claude 3.5 Sonnet v2",
    "Global cross-region model inference tokens per minute for Claude Sonnet 4",
    "Model units per provisioned model for Nova Lite V1",
    "Model invocation max tokens per day for Llama 3.1 70B Instruct",
    "Sum of in-progress and submitted batch inference jobs using a custom model for Claude 3 Haiku",
]


def applied(*quotas: tuple[str, float]) -> list[Quota]:
    return [Quota(name, value) for name, value in quotas]


@pytest.mark.parametrize(("model_id", "name"), REAL, ids=[m for m, _ in REAL])
def test_each_model_takes_its_own_quota_and_no_sibling(model_id: str, name: str) -> None:
    """Every real name is offered at once, each with its own figure: the model takes exactly its own."""
    everyone = applied(*((CONCURRENT.format(n), float(i + 2)) for i, n in enumerate(NAMES)))
    limits, sources = limits_from_quotas(model_id, everyone, [], FALLBACK)
    assert limits.concurrent_jobs == NAMES.index(name) + 2
    assert sources["concurrent_jobs"] == LimitSource(Source.APPLIED, CONCURRENT.format(name))


@pytest.mark.parametrize("model_id", [m for m, _ in REAL])
def test_look_alikes_are_never_taken(model_id: str) -> None:
    quotas = applied(*((what, 7.0) for what in LOOK_ALIKES))
    limits, sources = limits_from_quotas(model_id, quotas, quotas, FALLBACK)
    assert limits == FALLBACK and set(sources.values()) == {LimitSource(Source.PARAMETER)}


def test_the_llama_3_70b_id_is_not_llama_3_1_nor_3_3() -> None:
    quotas = applied((CONCURRENT.format("Llama 3.1 70B Instruct"), 3), (CONCURRENT.format("Llama 3.3 70B Instruct"), 4))
    assert limits_from_quotas("meta.llama3-70b-instruct-v1:0", quotas, [], FALLBACK)[0] == FALLBACK
    quotas.append(Quota(CONCURRENT.format("Llama 3 70B Instruct"), 5))
    assert limits_from_quotas("meta.llama3-70b-instruct-v1:0", quotas, [], FALLBACK)[0].concurrent_jobs == 5


@pytest.mark.parametrize(
    ("model_id", "name"),
    [("qwen.qwen3-32b-v1:0", "Qwen3 32B"), ("anthropic.claude-3-haiku-20240307-v1:0", "Claude 3 Haiku")],
)
@pytest.mark.parametrize("gb_after_the_name", [True, False])
def test_in_gb_before_or_after_the_name_as_10_to_the_9_bytes(model_id: str, name: str, gb_after_the_name: bool) -> None:
    def size(what: str) -> str:
        return f"{what} for {name} (in GB)" if gb_after_the_name else f"{what} (in GB) for {name}"

    quotas = applied((size("Batch inference input file size"), 0.5), (size("Batch inference job size"), 2))
    limits, sources = limits_from_quotas(model_id, [], quotas, FALLBACK)
    assert (limits.max_file_bytes, limits.max_job_bytes) == (GB // 2, 2 * GB) == (500_000_000, 2_000_000_000)
    assert sources["max_file_bytes"].source == Source.AWS_DEFAULT


def test_a_size_whose_unit_is_not_stated_is_not_taken() -> None:
    quotas = applied(("Batch inference job size for Claude 3 Haiku", 2))
    assert limits_from_quotas("anthropic.claude-3-haiku-20240307-v1:0", quotas, [], FALLBACK)[0] == FALLBACK


def test_applied_values_then_aws_defaults_then_the_parameters() -> None:
    name = "Nova Lite V1"
    applied_values = applied((CONCURRENT.format(name), 25), (f"Records per batch inference job for {name}", 20_000))
    defaults = applied(
        (CONCURRENT.format(name), 10),
        (f"Records per batch inference job for {name}", 50_000),
        (f"Minimum number of records per batch inference job for {name}", 100),
        (f"Batch inference job size (in GB) for {name}", 100),
    )
    limits, sources = limits_from_quotas("us.amazon.nova-lite-v1:0", applied_values, defaults, FALLBACK)
    assert limits == FALLBACK.with_changes(
        concurrent_jobs=25, max_records_per_job=20_000, min_records_per_job=100, max_job_bytes=100 * GB
    )
    assert {field: s.source for field, s in sources.items()} == {
        "concurrent_jobs": Source.APPLIED,
        "max_records_per_job": Source.APPLIED,
        "min_records_per_job": Source.AWS_DEFAULT,
        "max_job_bytes": Source.AWS_DEFAULT,
        "max_records_per_file": Source.PARAMETER,
        "max_file_bytes": Source.PARAMETER,
    }


def test_contradictory_figures_are_not_trusted() -> None:
    odd = applied(("Minimum number of records per batch inference job for Nova Pro V1", 100_000))
    limits, sources = limits_from_quotas("amazon.nova-pro-v1:0", odd, [], FALLBACK)
    assert limits == FALLBACK and all(s.source == Source.PARAMETER for s in sources.values())


def test_ids_behind_arns_and_profiles_are_their_base_models() -> None:
    assert quota_model_name("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0") == "Nova Pro V1"
    assert quota_model_name("global.anthropic.claude-sonnet-4-20250514-v1:0") == "Claude Sonnet 4"
    assert quota_model_name("arn:aws:bedrock:us-east-1:1:inference-profile/eu.meta.llama3-3-70b-instruct-v1:0") == (
        "Llama 3.3 70B Instruct"
    )


@pytest.mark.parametrize(
    ("base_id", "derived", "quota_name"),
    [
        ("anthropic.claude-opus-4-1-20250805-v1:0", "claude opus 4.1", "Claude Opus 4.1"),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", "claude 3.5 sonnet v2", "Claude 3.5 Sonnet v2"),
        ("meta.llama4-scout-17b-instruct-v1:0", "llama4 scout 17b instruct", "Llama 4 Scout 17B Instruct"),
        ("openai.gpt-oss-20b-1:0", "gpt oss 20b", "OpenAI GPT OSS 20b"),
        ("amazon.nova-premier-v1:0", "nova premier", "Nova Premier V1"),
        ("mistral.mistral-large-2402-v1:0", "mistral large", "Mistral Large"),
    ],
)
def test_the_rule_for_ids_the_table_does_not_know(base_id: str, derived: str, quota_name: str) -> None:
    """Dates dropped, v1 dropped and later versions kept, "4-1" read as "4.1"; the quota's name then matches by
    its words (the provider's name and "V1" aside)."""
    assert derived_name(base_id) == derived
    limits, _ = limits_from_quotas(base_id, applied((CONCURRENT.format(quota_name), 4)), [], FALLBACK)
    assert limits.concurrent_jobs == 4
