"""``results.parquet``: results.jsonl and errors.jsonl as one table in the upload's order, one row a record:
``line``, ``recordId``, the input's own columns (a table's other columns; one named like bbq's own gets
``_input`` after its name), then ``text`` or ``embedding``, the
structured output's fields (when the template had a schema) and ``parseError``, ``stopReason``, the tokens,
``onDemand``, ``errorCode``, ``errorMessage`` and ``attempts``. Read from the two files as streams, twice (the
first pass finds every column, so no row's column is left out), so memory is a batch of rows. Lines ingest
refused are rows too, with the reason as their errorMessage: the table has a row for every row of the input."""

import heapq
from collections.abc import Callable, Iterable, Iterator
from typing import Any

RESULTS_TABLE = "results.parquet"
_OUTPUT = ("text", "embedding")
_AFTER = ("parseError", "stopReason", "inputTokens", "outputTokens", "onDemand", "errorCode", "errorMessage",
          "attempts")  # fmt: skip

_RESERVED = frozenset({"line", "recordId", *_OUTPUT, *_AFTER})  # an input column by one of these names: <name>_input
Rows = Callable[[], Iterable[dict[str, Any]]]  # a fresh stream of a file's JSON lines each call


def table_rows(results: Rows, errors: Rows, refused: Rows = lambda: ()) -> Iterator[dict[str, Any]]:
    """The table's rows; ``refused`` are the lines ingest refused (in the error report), in their places."""
    columns, parsed, outputs = _columns(results, errors)
    shown = {name: f"{name}_input" if name in _RESERVED else name for name in columns}  # never dropped
    names = ["line", "recordId", *shown.values(), *outputs, *(_parsed_name(p, columns) for p in parsed), *_AFTER]
    for row in heapq.merge(results(), errors(), refused(), key=lambda row: row.get("line") or 0):
        inputs = row.get("columns") or {}
        fields = row.get("parsed") or {}
        out: dict[str, Any] = dict.fromkeys(names)
        out["line"], out["recordId"] = row.get("line"), row.get("recordId")
        for name, column in shown.items():
            out[column] = inputs.get(name)
        for name in outputs:
            out[name] = row.get(name)
        for name in parsed:
            out[_parsed_name(name, columns)] = fields.get(name)
        for name in _AFTER:
            out[name] = row.get(name)
        yield out


def _columns(results: Rows, errors: Rows) -> tuple[list[str], list[str], list[str]]:
    columns: dict[str, None] = {}
    parsed: dict[str, None] = {}
    outputs: dict[str, None] = {}
    for stream in (results(), errors()):
        for row in stream:
            columns.update(dict.fromkeys(row.get("columns") or {}))
            parsed.update(dict.fromkeys(row.get("parsed") or {}))
            outputs.update(dict.fromkeys(name for name in _OUTPUT if name in row))
    return list(columns), list(parsed), list(outputs) or ["text"]


def _parsed_name(name: str, columns: list[str]) -> str:
    """A field of the structured output, as a column: its own name, unless an input column has it."""
    return f"{name}_output" if name in columns or name in _RESERVED else name
