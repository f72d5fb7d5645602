"""Checks each line of an upload against Bedrock's batch input rules, so a bad line is refused in seconds with
its line number instead of failing a job hours later, and every good line runs.

A good line becomes the staged record Bedrock reads: ``{"recordId": <bbq's id>, "modelInput": {...}}``. bbq's
record id names the file and the line (``<10 hex of the file id>L<line>``), so it is unambiguous in a job that
packs several files and the results map back to each file and line; the user's own ``recordId``, if any, is
checked and stays in the original upload.
"""

import re
from array import array
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

import orjson

from bbq.core.intake import faithful
from bbq.core.model.lines import Line
from bbq.core.model.record_ids import record_id_prefix

# Bedrock accepts short alphanumeric record ids; a user's id is checked so results can be joined on it later
# (with fullmatch: "$" alone would let a final newline through).
RECORD_ID = re.compile(r"[A-Za-z0-9_\-]{1,64}")
# orjson reads arrays and objects nested up to 1,024 levels but writes only 254; the staged record puts the
# modelInput one level down, so a line may nest 254 levels in all (its own object included).
MAX_DEPTH = 254
# A row of a table that its template could not render (templates.py): refused with the reason it carries.
RENDER_ERROR = "renderError"
_NOT_JSON_NUMBERS = re.compile(rb"\b(?:NaN|-?Infinity)\b")


class Record(NamedTuple):
    line: int
    body: bytes  # the staged line, newline included
    record_id: str | None  # the user's, when the line had one
    max_output: int = 0  # the most output tokens its request allows (max_tokens and kin; 0: it does not say)


# Where a request body bounds its answer: Anthropic, Mistral and OpenAI's max_tokens (max_completion_tokens), Llama's
# max_gen_len, Nova's and Converse's inferenceConfig.maxTokens.
MAX_TOKEN_KEYS = ("max_tokens", "maxTokens", "max_gen_len", "max_completion_tokens")


def max_output_tokens(model_input: Mapping[str, object]) -> int:
    """The output tokens a record's request allows at most; 0 when it does not say."""
    config = model_input.get("inferenceConfig")
    for holder in (model_input, config) if isinstance(config, Mapping) else (model_input,):
        for key in MAX_TOKEN_KEYS:
            value = holder.get(key)
            if type(value) is int:
                return value
    return 0


@dataclass(frozen=True)
class Rejection:
    line: int
    reason: str  # never the line's content: it may be customer data
    record_id: str | None = None


class Fingerprints:
    """A set of 64-bit fingerprints in one flat array (open addressing, at most half full): 8 to 16 bytes per
    record id where a Python set of ids takes about 100, so a file of millions of records stays small."""

    def __init__(self) -> None:
        self._slots = array("Q", bytes(8 * 1024))
        self._mask = 1023
        self._count = 0

    def add(self, value: int) -> bool:
        """Adds a fingerprint; False if it was there already."""
        fingerprint = (value & 0xFFFFFFFFFFFFFFFF) | 1  # 0 marks an empty slot
        slots, mask = self._slots, self._mask
        index = fingerprint & mask
        while (held := slots[index]) != 0:
            if held == fingerprint:
                return False
            index = (index + 1) & mask
        slots[index] = fingerprint
        self._count += 1
        if self._count * 2 > mask:
            self._grow()
        return True

    def _grow(self) -> None:
        old, self._mask = self._slots, self._mask * 2 + 1
        self._slots, self._count = array("Q", bytes(8 * (self._mask + 1))), 0
        for fingerprint in old:
            if fingerprint:
                self.add(fingerprint)


class LineChecker:
    """Checks one file's lines in order; remembers record ids (as 64-bit fingerprints, to keep memory small) to
    refuse duplicates."""

    def __init__(self, file_id: str, max_line_bytes: int) -> None:
        self._tag = record_id_prefix(file_id)  # each line appends its number
        self._max_line_bytes = max_line_bytes
        self._seen = Fingerprints()

    def check(self, line: Line) -> Record | Rejection | None:
        """The staged record, why the line is refused, or None for a blank line (ignored)."""
        number, data, size = line
        if data is None:
            return Rejection(
                number,
                f"the line is {size} bytes; bbq takes lines of at most {self._max_line_bytes} bytes (MaxLineBytes)",
            )
        if not data or data.isspace():  # isspace stops at the first other byte: no copy of the line
            return None
        try:
            record = orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            return Rejection(number, _json_problem(data, str(exc)))
        if type(record) is not dict:
            return Rejection(number, f"the line is a JSON {type(record).__name__}, not an object")
        record_id = record.get("recordId")
        if record_id is not None and (type(record_id) is not str or not RECORD_ID.fullmatch(record_id)):
            return Rejection(number, '"recordId" must be a string of 1-64 letters, digits, "-" or "_"')
        model_input = record.get("modelInput")
        if model_input is None and type(reason := record.get(RENDER_ERROR)) is str:
            return Rejection(number, reason[:500], record_id)
        if type(model_input) is not dict:
            return Rejection(number, 'the line has no "modelInput" object', record_id)
        if record_id is not None and not self._seen.add(hash(record_id)):
            return Rejection(number, f'"recordId" {record_id!r} appears on an earlier line', record_id)
        try:
            staged = orjson.dumps({"recordId": f"{self._tag}{number}", "modelInput": model_input})
            faithful.check_numbers(data, model_input)
            faithful.check_keys(data, staged.count(b'"'), 0 if "recordId" in record else 4)
        except orjson.JSONEncodeError:
            return Rejection(number, f"the JSON is nested more than {MAX_DEPTH} levels deep", record_id)
        except faithful.Unfaithful as exc:
            return Rejection(number, str(exc), record_id)
        return Record(number, staged + b"\n", record_id, max_output_tokens(model_input))


def _json_problem(data: bytes, parser_message: str) -> str:
    """Why the line is not JSON, in the words of what most likely happened to the file (the parser's own text in
    brackets): a compressed or UTF-16 file, old Mac line endings, pretty-printed JSON, another encoding."""
    if data.startswith(b"\x1f\x8b"):
        return "the file is gzip-compressed: upload the uncompressed .jsonl (bbq does not read .gz)"
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in data[:64]:
        return "the file looks like UTF-16 (NUL bytes between the characters): save it as UTF-8"
    if b"\r" in data:
        return (
            "the line holds a carriage return: the file's lines end with CR alone (old Mac line endings); save it "
            "with LF or CRLF line endings"
        )
    if _pretty_printed(data):
        return (
            "the line is part of a JSON object spread over several lines (pretty-printed): write one object per line "
            f"(e.g. jq -c . input.json > input.jsonl) ({parser_message})"
        )
    if "UTF-8" in parser_message or "surrogates" in parser_message:
        return (
            "the line is not valid UTF-8 (it may be Latin-1 or Windows-1252): save the file as UTF-8 "
            f"({parser_message})"
        )
    if "recursion" in parser_message.lower():
        return f"the JSON is nested more than {MAX_DEPTH} levels deep"
    if "is infinity when parsed" in parser_message:
        return "a number is too large for a double (it would become infinity); write it as a string"
    if _NOT_JSON_NUMBERS.search(data):
        return "the line holds NaN or Infinity, which JSON does not allow"
    return f"the line is not valid JSON ({parser_message})"


def _pretty_printed(data: bytes) -> bool:
    """A line that only opens or closes an object or array, or holds one ``"key": value`` member of one."""
    line = data.strip()
    if line in (b"{", b"[", b"}", b"]", b"},", b"],"):
        return True
    return line.startswith(b'"') and b'":' in line[:200]
