"""A prompt becomes the modelInput of the chosen model: each family's own request body (InvokeModel), or a
Converse request body for any model. Each shape is the one AWS documents for the family (Bedrock user guide,
"Inference request parameters and response fields for foundation models"):

- Anthropic Claude, Messages API: ``anthropic_version`` "bedrock-2023-05-31", ``max_tokens``, ``system``,
  ``messages`` of content blocks (model-parameters-anthropic-claude-messages-request-response).
- Amazon Nova: ``schemaVersion`` "messages-v1", ``system`` and ``messages`` of ``{"text"}`` blocks,
  ``inferenceConfig.maxTokens`` (nova "Complete request schema").
- Meta Llama 3 and later: one ``prompt`` in Llama 3's instruct format, ``max_gen_len`` (model-parameters-meta).
- Mistral: ``prompt`` in ``<s>[INST] ... [/INST]`` form and ``max_tokens`` (model-parameters-mistral-text-
  completion); Mistral Large 2 (24.07) takes a chat body, ``messages`` (model-parameters-mistral-chat-completion).
- OpenAI gpt-oss: an OpenAI Chat Completions body, ``messages`` with a ``developer`` role for the system prompt
  and ``max_completion_tokens`` (model-parameters-openai).
- Amazon Titan Text Embeddings V2: ``inputText``, ``dimensions`` (256, 512, 1024), ``normalize``.
- Cohere Embed v3 and v4: ``texts`` (one text a record), ``input_type``, ``truncate``; v4 also
  ``output_dimension`` (model-parameters-embed-v3, -v4).
- Converse (modelInvocationType Converse, any text model): ``messages``, ``system``, ``inferenceConfig``.
"""

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

# Cross-Region inference profile ids put a geography before the model id (Supported cross-Region inference
# profiles): the family is the model's.
_GEOGRAPHY = re.compile(r"^(?:us|eu|apac|jp|au|ca|us-gov|global)\.")
ANTHROPIC_VERSION = "bedrock-2023-05-31"


class Family(StrEnum):
    ANTHROPIC = "anthropic"
    NOVA = "nova"
    LLAMA = "llama"
    MISTRAL = "mistral"
    OPENAI = "openai"
    TITAN_EMBED = "titan-embed"
    COHERE_EMBED = "cohere-embed"


EMBEDDING_FAMILIES = frozenset({Family.TITAN_EMBED, Family.COHERE_EMBED})
_PREFIXES = (
    ("anthropic.claude", Family.ANTHROPIC),
    ("amazon.nova", Family.NOVA),
    ("meta.llama", Family.LLAMA),
    ("mistral.", Family.MISTRAL),
    ("openai.gpt-oss", Family.OPENAI),
    ("amazon.titan-embed-text", Family.TITAN_EMBED),
    ("cohere.embed", Family.COHERE_EMBED),
)


class BodyError(ValueError):
    """The options do not fit the model (an embedding dimension it does not offer, Converse for embeddings)."""


@dataclass(frozen=True)
class BodyOptions:
    system: str | None = None
    max_tokens: int = 1024
    temperature: float | None = None
    dimensions: int | None = None  # embeddings: Titan V2 256/512/1024; Cohere v4 256/512/1024/1536
    normalize: bool = True  # Titan embeddings
    input_type: str = "search_document"  # Cohere embeddings


def family_of(model_id: str) -> Family:
    """The family whose request body a model takes; a ValueError naming the families bbq renders for."""
    name = model_id.rsplit("/", 1)[-1] if model_id.startswith("arn:") else model_id
    name = _GEOGRAPHY.sub("", name)
    for prefix, family in _PREFIXES:
        if name.startswith(prefix):
            return family
    known = ", ".join(prefix.rstrip(".") + "*" for prefix, _ in _PREFIXES)
    raise BodyError(f"bbq has no request body for {model_id!r}: templates render for {known}; or use Converse")


def model_input(model_id: str, prompt: str, options: BodyOptions, *, converse: bool = False) -> dict[str, Any]:
    family = family_of(model_id)
    if converse:
        if family in EMBEDDING_FAMILIES:
            raise BodyError(f"{model_id} is an embedding model: Converse is for text models")
        return _converse(prompt, options)
    return _BODIES[family](model_id, prompt, options)


def _sampling(options: BodyOptions, **names: str) -> dict[str, Any]:
    return {} if options.temperature is None else {names.get("temperature", "temperature"): options.temperature}


def _anthropic(model_id: str, prompt: str, options: BodyOptions) -> dict[str, Any]:
    body: dict[str, Any] = {"anthropic_version": ANTHROPIC_VERSION, "max_tokens": options.max_tokens}
    if options.system:
        body["system"] = options.system
    body["messages"] = [{"role": "user", "content": [{"type": "text", "text": prompt}]}]
    return body | _sampling(options)


def _nova(model_id: str, prompt: str, options: BodyOptions) -> dict[str, Any]:
    body: dict[str, Any] = {"schemaVersion": "messages-v1"}
    if options.system:
        body["system"] = [{"text": options.system}]
    body["messages"] = [{"role": "user", "content": [{"text": prompt}]}]
    body["inferenceConfig"] = {"maxTokens": options.max_tokens} | _sampling(options)
    return body


def _llama(model_id: str, prompt: str, options: BodyOptions) -> dict[str, Any]:
    system = f"<|start_header_id|>system<|end_header_id|>\n\n{options.system}<|eot_id|>" if options.system else ""
    text = (
        f"<|begin_of_text|>{system}<|start_header_id|>user<|end_header_id|>\n\n{prompt}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )
    return {"prompt": text, "max_gen_len": options.max_tokens} | _sampling(options)


def _mistral(model_id: str, prompt: str, options: BodyOptions) -> dict[str, Any]:
    if "mistral-large-2407" in model_id:  # a chat model: its documented body is the chat completion one
        messages = [{"role": "system", "content": options.system}] if options.system else []
        messages.append({"role": "user", "content": prompt})
        return {"messages": messages, "max_tokens": options.max_tokens} | _sampling(options)
    text = f"{options.system}\n\n{prompt}" if options.system else prompt
    return {"prompt": f"<s>[INST] {text} [/INST]", "max_tokens": options.max_tokens} | _sampling(options)


def _openai(model_id: str, prompt: str, options: BodyOptions) -> dict[str, Any]:
    messages = [{"role": "developer", "content": options.system}] if options.system else []
    messages.append({"role": "user", "content": prompt})
    return {"messages": messages, "max_completion_tokens": options.max_tokens} | _sampling(options)


def _titan_embed(model_id: str, prompt: str, options: BodyOptions) -> dict[str, Any]:
    dimensions = options.dimensions or 1024
    if dimensions not in (256, 512, 1024):
        raise BodyError(f"Titan Text Embeddings V2 offers 256, 512 or 1024 dimensions, not {dimensions}")
    return {"inputText": prompt, "dimensions": dimensions, "normalize": options.normalize}


def _cohere_embed(model_id: str, prompt: str, options: BodyOptions) -> dict[str, Any]:
    body: dict[str, Any] = {"texts": [prompt], "input_type": options.input_type, "truncate": "END"}
    if options.dimensions is not None:
        if "embed-v4" not in model_id or options.dimensions not in (256, 512, 1024, 1536):
            raise BodyError("Cohere Embed v4 offers 256, 512, 1024 or 1536 dimensions; v3 has no dimensions option")
        body["output_dimension"] = options.dimensions
    return body


def _converse(prompt: str, options: BodyOptions) -> dict[str, Any]:
    body: dict[str, Any] = {"messages": [{"role": "user", "content": [{"text": prompt}]}]}
    if options.system:
        body["system"] = [{"text": options.system}]
    body["inferenceConfig"] = {"maxTokens": options.max_tokens} | _sampling(options)
    return body


_BODIES = {
    Family.ANTHROPIC: _anthropic,
    Family.NOVA: _nova,
    Family.LLAMA: _llama,
    Family.MISTRAL: _mistral,
    Family.OPENAI: _openai,
    Family.TITAN_EMBED: _titan_embed,
    Family.COHERE_EMBED: _cohere_embed,
}
