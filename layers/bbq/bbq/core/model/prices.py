"""What tokens cost. Batch inference is billed at half the on-demand price; records run on demand (SmallWork
on-demand, retried leftovers) at the full price.

The table is AWS's published on-demand price in US dollars per million tokens (us-east-1) when this was written;
prices change and differ by Region, so a deployment sets its own with the ``ModelPrices`` parameter, which is
merged over it. A model that is in neither has no cost figure (only tokens), and says so.
"""

from collections.abc import Mapping
from dataclasses import dataclass

import orjson

BATCH_DISCOUNT = 0.5
BYTES_PER_TOKEN = 4  # a rough figure for English text and JSON: the estimate at ingest, not the bill
PER = 1_000_000  # prices are per million tokens


@dataclass(frozen=True)
class Price:
    input: float  # US dollars per million input tokens, on demand
    output: float


PUBLISHED: dict[str, Price] = {
    "anthropic.claude-3-haiku-20240307-v1:0": Price(0.25, 1.25),
    "anthropic.claude-3-5-haiku-20241022-v1:0": Price(0.80, 4.00),
    "anthropic.claude-3-5-sonnet-20240620-v1:0": Price(3.00, 15.00),
    "anthropic.claude-3-5-sonnet-20241022-v2:0": Price(3.00, 15.00),
    "anthropic.claude-3-7-sonnet-20250219-v1:0": Price(3.00, 15.00),
    "anthropic.claude-sonnet-4-20250514-v1:0": Price(3.00, 15.00),
    "anthropic.claude-sonnet-4-5-20250929-v1:0": Price(3.00, 15.00),
    "anthropic.claude-opus-4-20250514-v1:0": Price(15.00, 75.00),
    "amazon.nova-micro-v1:0": Price(0.035, 0.14),
    "amazon.nova-lite-v1:0": Price(0.06, 0.24),
    "amazon.nova-pro-v1:0": Price(0.80, 3.20),
    "amazon.titan-embed-text-v2:0": Price(0.02, 0.0),
    "meta.llama3-1-8b-instruct-v1:0": Price(0.22, 0.22),
    "meta.llama3-1-70b-instruct-v1:0": Price(0.72, 0.72),
    "mistral.mistral-large-2402-v1:0": Price(4.00, 12.00),
    "mistral.mistral-small-2402-v1:0": Price(1.00, 3.00),
}
# Inference profiles name a model with a geography in front: us.anthropic..., eu.amazon..., global.anthropic...
_PROFILE_PREFIXES = ("us.", "eu.", "apac.", "us-gov.", "ca.", "jp.", "au.", "global.")


@dataclass(frozen=True)
class PriceTable:
    prices: Mapping[str, Price]

    @classmethod
    def with_overrides(cls, overrides_json: str) -> "PriceTable":
        """The published table with the deployment's ``ModelPrices`` merged over it:
        ``{"<model id>": {"input": 0.25, "output": 1.25}}``, US dollars per million tokens on demand."""
        overrides = orjson.loads(overrides_json) if overrides_json.strip() else {}
        if not isinstance(overrides, dict):
            raise ValueError('ModelPrices is a JSON object: {"<model id>": {"input": 0.25, "output": 1.25}}')
        merged = dict(PUBLISHED)
        for model, price in overrides.items():
            merged[model] = Price(float(price["input"]), float(price["output"]))
        return cls(merged)

    def price(self, model_id: str) -> Price | None:
        if model_id in self.prices:
            return self.prices[model_id]
        base = model_id.rsplit("/", 1)[-1]  # an ARN's last segment
        for prefix in _PROFILE_PREFIXES:
            base = base.removeprefix(prefix)
        return self.prices.get(base)

    def cost(self, model_id: str, input_tokens: int, output_tokens: int, *, on_demand: bool = False) -> float | None:
        """US dollars for these tokens, at the batch price (or on demand); None when the model has no price."""
        price = self.price(model_id)
        if price is None:
            return None
        factor = 1.0 if on_demand else BATCH_DISCOUNT
        return (input_tokens * price.input + output_tokens * price.output) * factor / PER


DEFAULT = PriceTable(PUBLISHED)
