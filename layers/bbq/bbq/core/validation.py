"""Checks each line of an upload against Bedrock's batch input rules, so a bad line is refused in seconds with
its line number instead of failing a job hours later, and every good line runs.

A good line becomes the staged record Bedrock reads: ``{"recordId": <bbq's id>, "modelInput": {...}}``. bbq's
record id names the file and the line (``<10 hex of the file id>L<line>``), so it is unambiguous in a job that
packs several files and the results map back to each file and line; the user's own ``recordId``, if any, is
checked and stays in the original upload.
"""

import re
from dataclasses import dataclass

import orjson

from bbq.core.lines import Line

# Bedrock accepts short alphanumeric record ids; a user's id is checked so results can be joined on it later.
RECORD_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
FILE_TAG_CHARS = 10
# orjson refuses arrays and objects nested deeper than this (the stdlib parser would hit RecursionError).
MAX_DEPTH = 1024
_NOT_JSON_NUMBERS = re.compile(rb"\b(?:NaN|-?Infinity)\b")


@dataclass(frozen=True)
class Record:
    line: int
    body: bytes  # the staged line, newline included
    record_id: str | None  # the user's, when the line had one


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str  # never the line's content: it may be customer data
    record_id: str | None = None


def staged_record_id(file_id: str, line: int) -> str:
    return f"{file_id[:FILE_TAG_CHARS]}L{line}"


class LineChecker:
    """Checks one file's lines in order; remembers record ids (as 64-bit hashes, to keep memory small) to
    refuse duplicates."""

    def __init__(self, file_id: str, max_line_bytes: int) -> None:
        self._file_id = file_id
        self._max_line_bytes = max_line_bytes
        self._seen: set[int] = set()

    def check(self, line: Line) -> Record | Rejection | None:
        """The staged record, why the line is refused, or None for a blank line (ignored)."""
        if line.data is None:
            return Rejection(
                line.number,
                f"the line is {line.size} bytes; bbq takes lines of at most "
                f"{self._max_line_bytes} bytes (MaxLineBytes)",
            )
        if not line.data.strip():
            return None
        try:
            record = orjson.loads(line.data)
        except orjson.JSONDecodeError as exc:
            return Rejection(line.number, _json_problem(line.data, str(exc)))
        if not isinstance(record, dict):
            return Rejection(line.number, f"the line is a JSON {type(record).__name__}, not an object")
        record_id = record.get("recordId")
        if record_id is not None and (not isinstance(record_id, str) or not RECORD_ID.match(record_id)):
            return Rejection(line.number, '"recordId" must be a string of 1-64 letters, digits, "-" or "_"')
        if not isinstance(record.get("modelInput"), dict):
            return Rejection(line.number, 'the line has no "modelInput" object', record_id)
        if record_id is not None:
            fingerprint = hash(record_id)
            if fingerprint in self._seen:
                return Rejection(line.number, f'"recordId" {record_id!r} appears on an earlier line', record_id)
            self._seen.add(fingerprint)
        body = {"recordId": staged_record_id(self._file_id, line.number), "modelInput": record["modelInput"]}
        return Record(line.number, orjson.dumps(body) + b"\n", record_id)


def _json_problem(data: bytes, parser_message: str) -> str:
    if "UTF-8" in parser_message:
        return f"the line is not valid UTF-8 ({parser_message})"
    if "recursion" in parser_message:
        return f"the JSON is nested more than {MAX_DEPTH} levels deep"
    if _NOT_JSON_NUMBERS.search(data):
        return "the line holds NaN or Infinity, which JSON does not allow"
    return f"the line is not valid JSON ({parser_message})"
