"""Structured output: a template with a JSON schema asked each record for one JSON object; here its text is
read back into the schema's properties. A text that does not parse, or lacks a required property, gets a
``parseError`` saying why, and the file goes on (the record succeeded: the model answered)."""

import re
from typing import Any

import orjson

_FENCED = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL)
_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def parse(text: str | None, schema: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """(the schema's properties read from the text, None) or ({}, why it could not be read)."""
    if not text:
        return {}, "the model returned no text"
    candidate = _json_part(text)
    try:
        value = orjson.loads(candidate)
    except orjson.JSONDecodeError as exc:
        return {}, f"the text is not JSON ({exc})"
    if not isinstance(value, dict):
        return {}, f"the text is a JSON {type(value).__name__}, not an object"
    declared = schema.get("properties")
    properties: dict[str, Any] = declared if isinstance(declared, dict) else {}
    missing = [name for name in schema.get("required", []) if name not in value]
    if missing:
        return {}, f"required {', '.join(map(repr, missing))} missing"
    for name, rule in properties.items():
        expected = _TYPES.get(str(rule.get("type"))) if isinstance(rule, dict) else None
        held = value.get(name)
        if expected and held is not None and (not isinstance(held, expected) or _bool_for_number(held, rule)):
            return {}, f"{name!r} is a {type(held).__name__}, the schema says {rule.get('type')}"
    names = list(properties) or list(value)
    return {name: value.get(name) for name in names}, None


def _json_part(text: str) -> str:
    """The JSON in a reply: inside a ```json fence if there is one, else from the first { to the last }."""
    fenced = _FENCED.search(text)
    if fenced:
        return fenced.group(1).strip()
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if 0 <= start < end else text.strip()


def _bool_for_number(value: Any, rule: dict[str, Any]) -> bool:
    return isinstance(value, bool) and rule.get("type") in ("integer", "number")
