"""What a record's ``modelOutput`` says, whatever the model family: its text (or embedding), why it stopped and
the tokens it used. Read from the body's shape, not the model id, so inference profiles and new versions of a
family need nothing here."""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Reading:
    text: str | None = None
    embedding: list[float] | None = None
    stop_reason: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0


def read(output: Any) -> Reading:
    if not isinstance(output, Mapping):
        return Reading()
    if "embedding" in output:  # Titan embeddings
        return Reading(embedding=output["embedding"], input_tokens=_int(output.get("inputTextTokenCount")))
    embeddings = output.get("embeddings")  # Cohere Embed: one vector per text (bbq sends one text a record)
    if isinstance(embeddings, Mapping):  # asked for by type: {"float": [[...]], ...}
        embeddings = embeddings.get("float")
    if isinstance(embeddings, list) and embeddings and isinstance(embeddings[0], list):
        return Reading(embedding=embeddings[0])
    usage: Mapping[str, Any] = output["usage"] if isinstance(output.get("usage"), Mapping) else {}
    if isinstance(output.get("output"), Mapping):  # Converse, and Nova's native body
        message = output["output"].get("message") or {}
        return Reading(
            text=_join(message.get("content")),
            stop_reason=output.get("stopReason"),
            input_tokens=_int(usage.get("inputTokens")),
            output_tokens=_int(usage.get("outputTokens")),
        )
    if "content" in output:  # Anthropic Messages
        return Reading(
            text=_join(output["content"]),
            stop_reason=output.get("stop_reason"),
            input_tokens=_int(usage.get("input_tokens")),
            output_tokens=_int(usage.get("output_tokens")),
        )
    if "generation" in output:  # Meta Llama
        return Reading(
            text=output["generation"],
            stop_reason=output.get("stop_reason"),
            input_tokens=_int(output.get("prompt_token_count")),
            output_tokens=_int(output.get("generation_token_count")),
        )
    if isinstance(output.get("choices"), list) and output["choices"]:  # chat completions (Mistral, OpenAI)
        choice = output["choices"][0]
        message = choice.get("message") or {}
        return Reading(
            text=message.get("content") if isinstance(message.get("content"), str) else _join(message.get("content")),
            stop_reason=choice.get("finish_reason"),
            input_tokens=_int(usage.get("prompt_tokens")),
            output_tokens=_int(usage.get("completion_tokens")),
        )
    if isinstance(output.get("outputs"), list) and output["outputs"]:  # Mistral text completion
        first = output["outputs"][0]
        return Reading(text=first.get("text"), stop_reason=first.get("stop_reason"))
    return Reading()


def _join(content: Any) -> str | None:
    """The text blocks of a message's content, joined (tool-use and other blocks are left out)."""
    if not isinstance(content, list):
        return None
    texts = [block["text"] for block in content if isinstance(block, Mapping) and isinstance(block.get("text"), str)]
    return "".join(texts) if texts else None


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0
