"""What each model family accepts as modelInput and returns as modelOutput, as Bedrock batch writes it."""

import hashlib
import re
from dataclasses import dataclass
from typing import Any

from bedrock_emulator import text

INVOKE_MODEL = "InvokeModel"
CONVERSE = "Converse"
_REGION_PREFIXES = ("us.", "eu.", "apac.", "jp.", "au.", "ca.", "us-gov.", "global.")


# What Bedrock answers an account that may not use a model yet (texts as AWS words them).
ACCESS_REFUSALS = {
    "access": ("AccessDeniedException", "You don't have access to the model with the specified model ID."),
    "marketplace": (
        "AccessDeniedException",
        "Model access is denied due to IAM user or service role is not authorized to perform the required AWS "
        "Marketplace actions (aws-marketplace:ViewSubscriptions, aws-marketplace:Subscribe) to enable access to "
        "this model. Refer to the Amazon Bedrock documentation for further details. Your AWS Marketplace "
        "subscription for this model cannot be completed at this time. If you recently fixed this issue, try "
        "again after 15 minutes.",
    ),
    "use-case-form": (
        "ResourceNotFoundException",
        "Model use case details have not been submitted for this account. Fill out the Anthropic use case "
        "details form before using the model. If you have already filled out the form, try again in 15 minutes.",
    ),
}
# Model families with batch inference ("Supported Regions and models for batch inference"): Claude 3 and later,
# Nova text models, Titan text embeddings, Llama 3 and later, Mistral Large and Small, OpenAI gpt-oss; Cohere
# Embed (v3, v4) as the issue that added it asks (its request body: model-parameters-embed-v3/-v4). Claude 2 and
# Instant, Llama 2 and the other Mistral models have no batch quota, so Bedrock refuses them.
_FAMILIES = (
    ("anthropic", re.compile(r"anthropic\.claude-(3|(opus|sonnet|haiku)-\d)")),
    ("nova", re.compile(r"amazon\.nova-(micro|lite|pro|premier)")),
    ("titan-embed", re.compile(r"amazon\.titan-embed-text")),
    ("cohere-embed", re.compile(r"cohere\.embed-(english-v3|multilingual-v3|v4)")),
    ("llama", re.compile(r"meta\.llama[34]")),
    ("mistral", re.compile(r"mistral\.mistral-(large|small)")),
    ("openai", re.compile(r"openai\.gpt-oss-(20b|120b)")),
)
_EMBEDDINGS = frozenset({"titan-embed", "cohere-embed"})


class RecordError(Exception):
    """The record's modelInput does not fit the model: Bedrock writes an error line, the job goes on."""


@dataclass(frozen=True)
class Invocation:
    output: dict[str, Any]
    input_tokens: int
    output_tokens: int


def base_model(model_id: str) -> str:
    """The foundation model behind an id, a foundation-model ARN or a cross-Region inference profile id."""
    name = model_id.rsplit("/", 1)[-1] if model_id.startswith("arn:") else model_id
    for prefix in _REGION_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def family(model_id: str) -> str | None:
    """The model family that serves this id, or None for a model without batch inference."""
    name = base_model(model_id)
    return next((fam for fam, rule in _FAMILIES if rule.match(name)), None)


def supports(model_id: str, invocation_type: str) -> bool:
    fam = family(model_id)
    if fam is None:
        return False
    return invocation_type == INVOKE_MODEL or fam not in _EMBEDDINGS


# CountTokens, per "Monitor your token usage by counting tokens before running inference" (Amazon Bedrock User Guide,
# count-tokens.html): "The following foundation models support the Count tokens API": Anthropic Claude 3.5 Haiku,
# Claude 3.5 Sonnet v2, Claude 3.5 Sonnet, Claude 3.7 Sonnet, Claude Opus 4, Claude Sonnet 4, each by its foundation
# model id (modelId is a FoundationModelVersionIdentifier in botocore's model; the guide notes some Claude models
# reached only through cross-Region inference do not support it on bedrock-runtime). Others answer
# ValidationException.
COUNTS_TOKENS = re.compile(r"anthropic\.claude-(3-5-haiku|3-5-sonnet|3-7-sonnet|opus-4|sonnet-4)-\d{8}-")


def counts_tokens(model_id: str) -> bool:
    return model_id.startswith("anthropic.") and bool(COUNTS_TOKENS.match(model_id))


def invoke(model_id: str, invocation_type: str, model_input: Any) -> Invocation:
    if not isinstance(model_input, dict):
        raise RecordError("Malformed input request: #: expected type: JSONObject, please reformat your input")
    if invocation_type == CONVERSE:
        return _converse(model_input)
    serve = {
        "anthropic": _anthropic,
        "nova": _nova,
        "llama": _llama,
        "mistral": _mistral,
        "openai": _openai,
        "cohere-embed": _cohere_embed,
    }.get(family(model_id) or "", _titan_embed)
    return serve(model_id, model_input)


def _reply(prompt: str, max_tokens: int) -> tuple[str, int, bool]:
    reply, cut = text.truncate_tokens(text.summarize(prompt) or "(no text to summarize)", max_tokens)
    return reply, text.count_tokens(reply), cut


def _require(model_input: dict[str, Any], key: str, kind: type) -> Any:
    value = model_input.get(key)
    if value is None:
        raise RecordError(f"Malformed input request: #: required key [{key}] not found, please reformat your input")
    if not isinstance(value, kind) or isinstance(value, bool):
        raise RecordError(f"Malformed input request: #/{key}: expected type: {kind.__name__}")
    return value


def _texts(content: Any, block_type: str | None) -> list[str]:
    """The text parts of a message's content (a string, or a list of content blocks)."""
    if isinstance(content, str):
        return [content]
    if not isinstance(content, list):
        raise RecordError("Malformed input request: #/messages/content: expected type: JSONArray")
    parts = []
    for block in content:
        if not isinstance(block, dict):
            raise RecordError("Malformed input request: #/messages/content: expected type: JSONObject")
        if (block_type is None or block.get("type") == block_type) and isinstance(block.get("text"), str):
            parts.append(block["text"])
    return parts


def _conversation(model_input: dict[str, Any], block_type: str | None) -> str:
    messages = _require(model_input, "messages", list)
    if not messages:
        raise RecordError("Malformed input request: #/messages: expected minimum item count: 1")
    parts: list[str] = []
    for message in messages:
        if not isinstance(message, dict) or message.get("role") not in {"user", "assistant"}:
            raise RecordError("Malformed input request: #/messages: each message needs role user or assistant")
        parts.extend(_texts(message.get("content", []), block_type))
    return "\n".join(parts)


def _system_text(model_input: dict[str, Any]) -> str:
    system = model_input.get("system", "")
    return system if isinstance(system, str) else "\n".join(_texts(system, None))


def _message_id(prompt: str) -> str:
    return hashlib.sha256(prompt.encode()).hexdigest()[:24]


def _anthropic(model_id: str, model_input: dict[str, Any]) -> Invocation:
    _require(model_input, "anthropic_version", str)
    max_tokens = _require(model_input, "max_tokens", int)
    prompt = _conversation(model_input, "text")
    input_tokens = text.count_tokens(_system_text(model_input)) + text.count_tokens(prompt)
    reply, output_tokens, cut = _reply(prompt, max_tokens)
    output = {
        "id": f"msg_bdrk_{_message_id(prompt)}",
        "type": "message",
        "role": "assistant",
        "model": base_model(model_id).removeprefix("anthropic.").split(":")[0],
        "content": [{"type": "text", "text": reply}],
        "stop_reason": "max_tokens" if cut else "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }
    return Invocation(output, input_tokens, output_tokens)


def _max_tokens(model_input: dict[str, Any], default: int) -> int:
    config = model_input.get("inferenceConfig", {})
    value = config.get("maxTokens", default) if isinstance(config, dict) else default
    if not isinstance(value, int) or value < 1:
        raise RecordError("Malformed input request: #/inferenceConfig/maxTokens: expected a positive integer")
    return value


def _message_reply(model_input: dict[str, Any], default_max: int) -> tuple[dict[str, Any], int, int]:
    """The response body Nova and Converse share: output message, stop reason and usage."""
    prompt = _conversation(model_input, None)
    input_tokens = text.count_tokens(_system_text(model_input)) + text.count_tokens(prompt)
    reply, output_tokens, cut = _reply(prompt, _max_tokens(model_input, default_max))
    body = {
        "output": {"message": {"role": "assistant", "content": [{"text": reply}]}},
        "stopReason": "max_tokens" if cut else "end_turn",
        "usage": {
            "inputTokens": input_tokens,
            "outputTokens": output_tokens,
            "totalTokens": input_tokens + output_tokens,
        },
    }
    return body, input_tokens, output_tokens


def _nova(model_id: str, model_input: dict[str, Any]) -> Invocation:
    body, input_tokens, output_tokens = _message_reply(model_input, 5000)
    body["usage"].update(cacheReadInputTokenCount=0, cacheWriteInputTokenCount=0)
    return Invocation(body, input_tokens, output_tokens)


def _converse(model_input: dict[str, Any]) -> Invocation:
    body, input_tokens, output_tokens = _message_reply(model_input, 4096)
    body["metrics"] = {"latencyMs": 200 + 3 * output_tokens}
    return Invocation(body, input_tokens, output_tokens)


def _titan_embed(model_id: str, model_input: dict[str, Any]) -> Invocation:
    input_text = _require(model_input, "inputText", str)
    dimensions = model_input.get("dimensions", 1024)
    if dimensions not in (256, 512, 1024):
        raise RecordError("Malformed input request: #/dimensions: 256, 512 or 1024 expected")
    normalize = model_input.get("normalize", True)
    if not isinstance(normalize, bool):
        raise RecordError("Malformed input request: #/normalize: expected type: Boolean")
    tokens = text.count_tokens(input_text)
    output = {"embedding": text.embedding(input_text, dimensions, normalize), "inputTextTokenCount": tokens}
    return Invocation(output, tokens, 0)


def _stop(cut: bool, stopped: str, limited: str) -> str:
    return limited if cut else stopped


def _llama(model_id: str, model_input: dict[str, Any]) -> Invocation:
    """Meta Llama's native body: prompt and max_gen_len in; generation, token counts and stop_reason out."""
    prompt = _require(model_input, "prompt", str)
    max_gen_len = model_input.get("max_gen_len", 512)
    if not isinstance(max_gen_len, int) or isinstance(max_gen_len, bool) or max_gen_len < 1:
        raise RecordError("Malformed input request: #/max_gen_len: expected a positive integer")
    input_tokens = text.count_tokens(prompt)
    reply, output_tokens, cut = _reply(prompt, max_gen_len)
    output = {
        "generation": reply,
        "prompt_token_count": input_tokens,
        "generation_token_count": output_tokens,
        "stop_reason": _stop(cut, "stop", "length"),
    }
    return Invocation(output, input_tokens, output_tokens)


def _mistral(model_id: str, model_input: dict[str, Any]) -> Invocation:
    """Mistral's native bodies: a chat request (messages) gets choices; a text completion (prompt) gets outputs."""
    max_tokens = model_input.get("max_tokens", 8192)
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise RecordError("Malformed input request: #/max_tokens: expected a positive integer")
    if "messages" not in model_input:
        prompt = _require(model_input, "prompt", str)
        reply, output_tokens, cut = _reply(prompt, max_tokens)
        output: dict[str, Any] = {"outputs": [{"text": reply, "stop_reason": _stop(cut, "stop", "length")}]}
        return Invocation(output, text.count_tokens(prompt), output_tokens)
    # The chat body's roles are system, user, assistant and tool (model-parameters-mistral-chat-completion).
    messages = _require(model_input, "messages", list)
    if any(not isinstance(m, dict) or m.get("role") not in {"system", "user", "assistant", "tool"} for m in messages):
        raise RecordError(
            "Malformed input request: #/messages: each message needs role system, user, assistant or tool"
        )
    system = [m for m in messages if m["role"] == "system"]
    prompt = _conversation({"messages": [m for m in messages if m["role"] in {"user", "assistant"}]}, None)
    input_tokens = text.count_tokens(prompt) + sum(
        text.count_tokens("".join(_texts(m.get("content"), None))) for m in system
    )
    header = {"id": _message_id(prompt), "model": base_model(model_id).removeprefix("mistral.")}
    return _chat_completion(header, prompt, input_tokens, max_tokens)


def _chat_completion(header: dict[str, Any], prompt: str, input_tokens: int, max_tokens: int) -> Invocation:
    """The chat.completion object Mistral's chat body and OpenAI's both answer with: ``header`` (id, model, ...),
    one choice, and usage."""
    reply, output_tokens, cut = _reply(prompt, max_tokens)
    choice = {
        "index": 0,
        "message": {"role": "assistant", "content": reply},
        "finish_reason": _stop(cut, "stop", "length"),
    }
    output = {
        "id": header.pop("id"),
        "object": "chat.completion",
        **header,
        "choices": [choice],
        "usage": {
            "prompt_tokens": input_tokens,
            "completion_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
        },
    }
    return Invocation(output, input_tokens, output_tokens)


def _openai(model_id: str, model_input: dict[str, Any]) -> Invocation:
    """OpenAI's Chat Completions body (model-parameters-openai): messages in, a chat.completion object out.
    ``stream`` must be false for InvokeModel; ``model``, if given, must match the model invoked."""
    if model_input.get("stream") not in (None, False):
        raise RecordError("Malformed input request: #/stream: must be false for InvokeModel")
    model = model_input.get("model")
    if model is not None and model != base_model(model_id):
        raise RecordError(f"Malformed input request: #/model: {model!r} does not match the model invoked")
    messages = _require(model_input, "messages", list)
    if not messages:
        raise RecordError("Malformed input request: #/messages: expected minimum item count: 1")
    prompt_parts: list[str] = []
    system_parts: list[str] = []
    for message in messages:
        role = message.get("role") if isinstance(message, dict) else None
        if role not in {"system", "developer", "user", "assistant"}:
            raise RecordError(
                "Malformed input request: #/messages: each message needs a role: system, developer, user or assistant"
            )
        parts = _texts(message.get("content", ""), "text")
        (system_parts if role in {"system", "developer"} else prompt_parts).extend(parts)
    max_tokens = model_input.get("max_completion_tokens", model_input.get("max_tokens", 4096))
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise RecordError("Malformed input request: #/max_completion_tokens: expected a positive integer")
    prompt = "\n".join(prompt_parts)
    input_tokens = text.count_tokens("\n".join(system_parts)) + text.count_tokens(prompt)
    header = {"id": f"chatcmpl-{_message_id(prompt)}", "created": 0, "model": base_model(model_id)}
    return _chat_completion(header, prompt, input_tokens, max_tokens)


_COHERE_INPUT_TYPES = {"search_document", "search_query", "classification", "clustering"}


def _cohere_embed(model_id: str, model_input: dict[str, Any]) -> Invocation:
    """Cohere Embed's body (model-parameters-embed-v3/-v4): texts (at most 96, each at most 2,048 characters),
    input_type required, truncate NONE|START|END; v4 takes output_dimension 256/512/1024/1536."""
    texts = _require(model_input, "texts", list)
    if not 1 <= len(texts) <= 96 or not all(isinstance(t, str) for t in texts):
        raise RecordError("Malformed input request: #/texts: 1 to 96 strings expected")
    if any(len(t) > 2048 for t in texts):
        raise RecordError("Malformed input request: #/texts: each text may have at most 2048 characters")
    if _require(model_input, "input_type", str) not in _COHERE_INPUT_TYPES:
        raise RecordError(
            "Malformed input request: #/input_type: search_document, search_query, classification "
            "or clustering expected"
        )
    if model_input.get("truncate", "NONE") not in ("NONE", "START", "END"):
        raise RecordError("Malformed input request: #/truncate: NONE, START or END expected")
    dimensions = 1024
    if "output_dimension" in model_input:
        if "embed-v4" not in model_id or model_input["output_dimension"] not in (256, 512, 1024, 1536):
            raise RecordError("Malformed input request: #/output_dimension: not supported for this model or value")
        dimensions = model_input["output_dimension"]
    elif "embed-v4" in model_id:
        dimensions = 1536
    tokens = sum(text.count_tokens(t) for t in texts)
    output = {
        "embeddings": [text.embedding(t, dimensions, True) for t in texts],
        "id": _message_id("\n".join(texts)),
        "response_type": "embeddings_floats",
        "texts": texts,
    }
    return Invocation(output, tokens, 0)
