"""The estimate before a run: within 20% of the input tokens the emulator counts for the same records (its count
is words and punctuation, a stand-in for a BPE tokenizer), and output bounded by each record's max tokens."""

import pytest
from bedrock_emulator import models as emulated

from bbq.core.intake.estimate import estimate
from bbq.core.intake.templates import Renderer, parse_template
from bbq.core.model.prices import DEFAULT

TICKETS = [
    {"customer": f"customer {i}", "text": f"My router {i} blinks red since Tuesday; I restarted it twice. Please help!"}
    for i in range(200)
]


@pytest.mark.parametrize(
    "model_id", ["anthropic.claude-3-haiku-20240307-v1:0", "amazon.nova-lite-v1:0", "openai.gpt-oss-120b-1:0"]
)
def test_the_estimate_is_within_20_percent_of_the_tokens_the_model_reports(model_id: str) -> None:
    template = parse_template("---\nmax_tokens: 300\nsystem: Be brief.\n---\nSummarize for {{ customer }}: {{ text }}")
    renderer = Renderer(template, model_id)
    bodies = [renderer.record(row, n)["modelInput"] for n, row in enumerate(TICKETS, 1)]
    guess = estimate(model_id, bodies, DEFAULT)
    reported = sum(emulated.invoke(model_id, "InvokeModel", body).input_tokens for body in bodies)
    assert guess.records == 200 and guess.max_output_tokens == 200 * 300
    assert abs(guess.input_tokens - reported) / reported < 0.20, (guess.input_tokens, reported)
    if DEFAULT.price(model_id) is None:  # no published price in bbq's table: said, never made up
        assert guess.batch_input_usd is None
    else:
        assert guess.batch_input_usd and guess.on_demand_input_usd == pytest.approx(2 * guess.batch_input_usd)
