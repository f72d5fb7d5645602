"""Prompt templates: a row of a table (column -> value) becomes one Bedrock record.

A template is Jinja2 text (``{{ column }}``), rendered in Jinja2's sandboxed environment (a template cannot
reach Python's internals: it may come from anyone who can upload) with undefined names as errors, so a column
missing from a row refuses that row naming the column. Options go in an optional header between ``---`` lines,
one ``name: value`` a line (a value is read as JSON when it is JSON, else as text)::

    ---
    system: You are a careful analyst.
    max_tokens: 512
    temperature: 0.2
    schema: {"type": "object", "properties": {"sentiment": {"type": "string"}}}
    ---
    Classify the sentiment of this review: {{ review }}

Options: ``system``, ``max_tokens``, ``temperature``, ``dimensions`` and ``normalize`` (embeddings),
``input_type`` (Cohere embeddings), ``id_column``, ``converse`` (true: a Converse body for any text model) and
``schema``: a JSON schema for structured output: the prompt asks for one JSON object that fits it, and the
results parse each record's text into the schema's properties (a text that does not parse gets a parseError,
the file goes on).

The rendered line is ``{"recordId": <the id column's value, or the row's number>, "modelInput": {...},
"columns": {<the row's other columns>}}``; ``columns`` never goes to Bedrock and comes back beside each
record's output. A row that cannot be rendered becomes ``{"recordId": ..., "renderError": "..."}``, a line
that ingest refuses with that reason (in the error report, with its line number), while the other rows run.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import orjson

from bbq.core.intake.model_bodies import BodyError, BodyOptions, model_input
from bbq.core.intake.validation import RECORD_ID, RENDER_ERROR

_FENCE = "---"
_OPTIONS = {"system", "max_tokens", "temperature", "dimensions", "normalize", "input_type", "id_column",
            "converse", "schema"}  # fmt: skip
COLUMNS = "columns"
SCHEMA_INSTRUCTION = "\n\nAnswer with one JSON object and nothing else. It must match this JSON schema:\n{schema}"


class TemplateProblem(ValueError):
    """The template itself is wrong (its syntax, an option): nothing can be rendered with it."""


class RowError(ValueError):
    """This row cannot be rendered (a column the template names is missing, a value it cannot use)."""


@dataclass(frozen=True)
class PromptTemplate:
    text: str
    options: BodyOptions = field(default_factory=BodyOptions)
    id_column: str | None = None
    converse: bool = False
    schema: dict[str, Any] | None = None

    def with_overrides(self, **changes: Any) -> "PromptTemplate":
        """The template with options given elsewhere (the CLI's or the SDK's arguments) taking precedence."""
        body_changes = {k: v for k, v in changes.items() if k in BodyOptions.__dataclass_fields__ and v is not None}
        own = {k: v for k, v in changes.items() if k in ("id_column", "converse", "schema") and v is not None}
        return replace(self, options=replace(self.options, **body_changes), **own)


def parse_template(source: str) -> PromptTemplate:
    """A template file's text: its options header, if any, and its Jinja2 body."""
    text, options = source, {}
    lines = source.splitlines(keepends=True)
    if lines and lines[0].strip() == _FENCE:
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == _FENCE), None)
        if end is None:
            raise TemplateProblem("the options header opens with --- but never closes: end it with a --- line")
        for number, line in enumerate(lines[1:end], 2):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            name, sep, value = line.partition(":")
            name = name.strip()
            if not sep or name not in _OPTIONS:
                raise TemplateProblem(
                    f"line {number} of the template: {name!r} is not an option (options: {', '.join(sorted(_OPTIONS))})"
                )
            options[name] = _value(value.strip())
        text = "".join(lines[end + 1 :])
    if not text.strip():
        raise TemplateProblem("the template has no prompt text after its options")
    schema = options.pop("schema", None)
    if schema is not None and not isinstance(schema, dict):
        raise TemplateProblem("schema must be a JSON object (a JSON schema)")
    body = {k: options.pop(k) for k in list(options) if k in BodyOptions.__dataclass_fields__}
    try:
        template = PromptTemplate(
            text=text.rstrip("\n"),
            options=BodyOptions(**body),
            id_column=options.get("id_column"),
            converse=bool(options.get("converse", False)),
            schema=schema,
        )
    except TypeError as exc:
        raise TemplateProblem(f"an option has the wrong type: {exc}") from None
    _check_types(template.options)
    return template


def _value(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


def _check_types(options: BodyOptions) -> None:
    if not isinstance(options.max_tokens, int) or isinstance(options.max_tokens, bool) or options.max_tokens < 1:
        raise TemplateProblem(f"max_tokens must be a positive integer, not {options.max_tokens!r}")
    if options.temperature is not None and not isinstance(options.temperature, int | float):
        raise TemplateProblem(f"temperature must be a number, not {options.temperature!r}")
    if options.dimensions is not None and not isinstance(options.dimensions, int):
        raise TemplateProblem(f"dimensions must be an integer, not {options.dimensions!r}")


class Renderer:
    """A template compiled once for one model; renders rows into JSONL lines."""

    def __init__(self, template: PromptTemplate, model_id: str) -> None:
        # Jinja2 is loaded with the first template, not with ingest: most uploads are JSONL (a cold start's share).
        from jinja2 import StrictUndefined, TemplateError, UndefinedError
        from jinja2.sandbox import SandboxedEnvironment, SecurityError

        self._undefined, self._refused = UndefinedError, SecurityError
        self.template, self.model_id = template, model_id
        environment = SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
        try:
            self._compiled = environment.from_string(template.text)
        except TemplateError as exc:
            raise TemplateProblem(f"the template is not valid Jinja2: {exc}") from None
        self._suffix = ""
        if template.schema is not None:
            self._suffix = SCHEMA_INSTRUCTION.format(schema=orjson.dumps(template.schema).decode())
        try:  # a model or an option the template cannot serve fails now, not on every row
            model_input(model_id, "probe", template.options, converse=template.converse)
        except BodyError as exc:
            raise TemplateProblem(str(exc)) from None

    def record(self, row: Mapping[str, Any], number: int) -> dict[str, Any]:
        """Row ``number`` (1 for the first) as a record: its id, its modelInput and its other columns."""
        record_id = self._record_id(row, number)
        columns = {str(k): _plain(v) for k, v in row.items() if k != self.template.id_column}
        try:
            prompt = self._compiled.render(columns)
        except self._undefined as exc:
            raise RowError(f"{_undefined_name(exc)}; the row's columns are {', '.join(map(repr, row))}") from None
        except self._refused as exc:
            raise RowError(f"the template did something the sandbox refuses: {exc}") from None
        except Exception as exc:  # a filter or an operation that fails on this row's values
            raise RowError(f"the template failed on this row: {type(exc).__name__}: {exc}") from None
        body = model_input(self.model_id, prompt + self._suffix, self.template.options, converse=self.template.converse)
        return {"recordId": record_id, "modelInput": body, COLUMNS: columns}

    def line(self, row: Mapping[str, Any], number: int) -> bytes:
        """The JSONL line of a row, newline included; a renderError line when the row cannot be rendered."""
        try:
            record = self.record(row, number)
        except RowError as exc:
            record = {"recordId": self._safe_id(row, number), RENDER_ERROR: f"row {number}: {exc}"}
        return orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY, default=str) + b"\n"

    def _record_id(self, row: Mapping[str, Any], number: int) -> str:
        column = self.template.id_column
        if column is None:
            return str(number)
        if column not in row:
            raise RowError(f"the id column {column!r} is not in the row")
        value = row[column]
        text = str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)
        if not RECORD_ID.fullmatch(text):
            raise RowError(f'id column {column!r}: {text[:80]!r} is not 1-64 letters, digits, "-" or "_"')
        return text

    def _safe_id(self, row: Mapping[str, Any], number: int) -> str | None:
        try:
            return self._record_id(row, number)
        except RowError:
            return None


def _undefined_name(exc: Exception) -> str:
    message = str(exc)
    if message.startswith("'") and "' is undefined" in message:
        return f"the template names column {message.split(chr(39))[1]!r}, which this row does not have"
    return message


def _plain(value: Any) -> Any:
    """A value JSON can carry unchanged in meaning: NaN and missing become null, times ISO 8601 text."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    item = getattr(value, "item", None)  # a numpy or pandas scalar
    if callable(item):
        try:
            return _plain(item())
        except (TypeError, ValueError):
            pass
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if getattr(value, "tolist", None):  # an array
        return _plain(value.tolist())
    return None if str(value) in ("NaT", "<NA>", "nan") else str(value)
