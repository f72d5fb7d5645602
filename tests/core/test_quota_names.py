"""Matching Service Quotas' names to a model's limits: by words, the most specific name winning."""

from bbq.core.limits import ModelLimits
from bbq.core.quota_names import GB, Quota, limits_from_quotas

FALLBACK = ModelLimits(10, 100, 50_000, 50_000, GB, 5 * GB)
QUOTAS = [
    Quota("Sum of in-progress and submitted batch inference jobs using a base model for Claude 3.5 Sonnet", 20),
    Quota("Sum of in-progress and submitted batch inference jobs using a base model for Claude 3.5 Sonnet V2", 5),
    Quota("Sum of in-progress and submitted batch inference jobs using a custom model for Claude 3.5 Sonnet V2", 99),
    Quota("Minimum number of records per batch inference job for Claude 3.5 Sonnet V2", 1000),
    Quota("Records per batch inference job for Claude 3.5 Sonnet V2", 20_000),
    Quota("Records per input file per batch inference job for Claude 3.5 Sonnet V2", 10_000),
    Quota("Batch inference input file size (in GB) for Claude 3.5 Sonnet V2", 0.5),
    Quota("Batch inference job size (in GB) for Claude 3.5 Sonnet V2", 2),
    Quota("On-demand InvokeModel tokens per minute for Claude 3.5 Sonnet V2", 400_000),
    Quota("Records per batch inference job for Nova Pro", 7),
]


def test_each_limit_comes_from_the_quota_naming_the_model() -> None:
    limits, found = limits_from_quotas("anthropic.claude-3-5-sonnet-20241022-v2:0", QUOTAS, FALLBACK)
    assert limits == ModelLimits(5, 1000, 20_000, 10_000, GB // 2, 2 * GB)
    assert found == set(vars(limits))


def test_a_less_specific_name_and_the_fallback_fill_in() -> None:
    limits, found = limits_from_quotas("us.anthropic.claude-3-5-sonnet-20240620-v1:0", QUOTAS, FALLBACK)
    assert limits == FALLBACK.with_changes(concurrent_jobs=20) and found == {"concurrent_jobs"}
    assert limits_from_quotas("amazon.nova-lite-v1:0", QUOTAS, FALLBACK) == (FALLBACK, set())


def test_contradictory_figures_are_not_trusted() -> None:
    odd = [Quota("Minimum number of records per batch inference job for Nova Pro", 100_000)]
    assert limits_from_quotas("amazon.nova-pro-v1:0", odd, FALLBACK) == (FALLBACK, set())
