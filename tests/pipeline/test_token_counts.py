"""The estimate before a run counts tokens with Bedrock's CountTokens where the model does (the adapter over boto3,
against the emulator, which answers for the models AWS lists), and keeps to its rule of thumb elsewhere."""

from typing import Any

import boto3
from bedrock_emulator import models as emulated

from bbq.adapters.bedrock_runtime import BedrockTokenCounter
from bbq.core.intake.estimate import SAMPLE, estimate
from bbq.core.intake.templates import Renderer, parse_template
from bbq.core.model.files import InvocationType
from bbq.core.model.prices import DEFAULT
from tests.conftest import REGION

SONNET = "anthropic.claude-3-5-sonnet-20240620-v1:0"  # counted (AWS's list)
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"  # not counted
TEMPLATE = parse_template("---\nmax_tokens: 50\nsystem: Be brief.\n---\nSummarize for {{ customer }}: {{ text }}")


def bodies(model_id: str, rows: int, converse: bool = False) -> list[dict[str, Any]]:
    renderer = Renderer(TEMPLATE.with_overrides(converse=converse or None), model_id)
    return [
        renderer.record({"customer": f"customer {i}", "text": "My router blinks red. " * (1 + i % 7)}, i)["modelInput"]
        for i in range(1, rows + 1)
    ]


def charged(model_id: str, inputs: list[dict[str, Any]], kind: str = "InvokeModel") -> int:
    return sum(emulated.invoke(model_id, kind, body).input_tokens for body in inputs)


def test_counted_tokens_are_exact_for_a_sample_and_scaled_beyond_it_and_the_rule_holds_where_nothing_counts(
    emulator_url: str,
) -> None:
    counter = BedrockTokenCounter(boto3.client("bedrock-runtime", region_name=REGION, endpoint_url=emulator_url))
    few = bodies(SONNET, SAMPLE)
    exact = estimate(SONNET, few, DEFAULT, counter)
    assert exact.input_tokens == charged(SONNET, few) and "CountTokens on every record" in exact.method
    many = bodies(SONNET, 500)
    scaled = estimate(SONNET, many, DEFAULT, counter)
    assert abs(scaled.input_tokens - charged(SONNET, many)) / charged(SONNET, many) < 0.05, "the sample scales"
    assert f"the first {SAMPLE} records" in scaled.method
    conversed = bodies(SONNET, 5, converse=True)
    assert estimate(SONNET, conversed, DEFAULT, counter, InvocationType.CONVERSE).input_tokens == charged(
        SONNET, conversed, "Converse"
    )
    unlisted = estimate(HAIKU, bodies(HAIKU, 30), DEFAULT, counter)
    assert unlisted.method.startswith("input: characters of the text the model reads / 4")
