"""What a run will cost before it runs (``bbq estimate``, ``bbq submit --dry-run``, ``Client.estimate``): records,
input tokens and the batch and on-demand prices of them, from the records' model inputs.

Input tokens: where the model counts tokens (Bedrock's CountTokens, through the TokenCounter port: AWS lists the
models that do), the first SAMPLE records are counted exactly and the rest scaled by the characters of their text;
elsewhere, the characters of the text a model reads (prompts, system prompts, message and embedding texts; not the
JSON around them) over CHARS_PER_TOKEN, the common rule of thumb for English with BPE tokenizers (about 4
characters a token; AWS's pricing pages and Anthropic's docs use it). Output tokens cannot be known before the
model answers: the estimate gives the bound each record's max tokens sets, never a guess."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bbq.core.intake.validation import MAX_TOKEN_KEYS, max_output_tokens
from bbq.core.model.files import InvocationType
from bbq.core.model.ports import TokenCounter
from bbq.core.model.prices import PriceTable

CHARS_PER_TOKEN = 4
SAMPLE = 20  # records counted by CountTokens (free, but rate-limited: a call each)
_RULE = f"input: characters of the text the model reads / {CHARS_PER_TOKEN}"
_BOUND = "output: each record's max tokens (a bound, not a guess)"
# Keys whose values are settings, not text the model reads.
_NOT_TEXT = frozenset({"anthropic_version", "schemaVersion", "role", "type", "input_type", "truncate", "model"})


@dataclass(frozen=True)
class Estimate:
    model_id: str
    records: int
    input_tokens: int
    max_output_tokens: int  # the bound: every record answering with its max tokens
    batch_input_usd: float | None
    batch_max_output_usd: float | None
    on_demand_input_usd: float | None
    on_demand_max_output_usd: float | None
    method: str = f"{_RULE}; {_BOUND}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model_id,
            "records": self.records,
            "estimatedInputTokens": self.input_tokens,
            "maxOutputTokens": self.max_output_tokens,
            "batchUsd": {"input": self.batch_input_usd, "outputAtMost": self.batch_max_output_usd},
            "onDemandUsd": {"input": self.on_demand_input_usd, "outputAtMost": self.on_demand_max_output_usd},
            "method": self.method,
        }


def estimate(
    model_id: str,
    model_inputs: Iterable[Mapping[str, Any]],
    prices: PriceTable,
    counter: TokenCounter | None = None,
    invocation_type: InvocationType = InvocationType.INVOKE_MODEL,
) -> Estimate:
    records = input_chars = max_output = 0
    sample: list[tuple[Mapping[str, Any], int]] = []
    for model_input in model_inputs:
        records += 1
        chars = _text_chars(model_input)
        input_chars += chars
        max_output += max_output_tokens(model_input)
        if len(sample) < SAMPLE:
            sample.append((model_input, chars))
    tokens, method = -(-input_chars // CHARS_PER_TOKEN), f"{_RULE}; {_BOUND}"
    counted = _counted(counter, model_id, invocation_type, sample) if counter else None
    if counted is not None:
        sample_chars = sum(chars for _, chars in sample)
        exact = len(sample) == records
        tokens = counted if exact or not sample_chars else round(counted * input_chars / sample_chars)
        scope = "every record" if exact else f"the first {len(sample)} records, scaled to all by their characters"
        method = f"input: Bedrock's CountTokens on {scope}; {_BOUND}"

    def cost(input_tokens: int, output_tokens: int, on_demand: bool) -> float | None:
        value = prices.cost(model_id, input_tokens, output_tokens, on_demand=on_demand)
        return None if value is None else round(value, 6)

    return Estimate(
        model_id, records, tokens, max_output,
        cost(tokens, 0, False), cost(0, max_output, False), cost(tokens, 0, True), cost(0, max_output, True), method,
    )  # fmt: skip


def _counted(
    counter: TokenCounter, model_id: str, invocation_type: InvocationType, sample: list[tuple[Mapping[str, Any], int]]
) -> int | None:
    """The sample's tokens as the model counts them; None at the first record it will not count (the model does
    not count tokens, or the count cannot be had): the rule of thumb then holds for all."""
    total = 0
    for model_input, _ in sample:
        tokens = counter.count(model_id, invocation_type, model_input)
        if tokens is None:
            return None
        total += tokens
    return total if sample else None


def _text_chars(value: Any, key: str = "") -> int:
    if isinstance(value, str):
        return 0 if key in _NOT_TEXT else len(value)
    if isinstance(value, Mapping):
        return sum(_text_chars(v, k) for k, v in value.items() if k not in MAX_TOKEN_KEYS)
    if isinstance(value, list):
        return sum(_text_chars(v, key) for v in value)
    return 0
