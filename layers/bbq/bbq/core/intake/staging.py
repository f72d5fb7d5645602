"""Streaming an upload into parts: every valid line goes to a staged part (a new part whenever one is full), every
refused line to the error report. Memory stays flat whatever the size of the file or of a line."""

import logging
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import orjson

from bbq.core.intake.validation import LineChecker, Record, Rejection
from bbq.core.model import naming
from bbq.core.model.lines import split_lines
from bbq.core.model.ports import ObjectRef, ObjectStore, ObjectWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StagedPart:
    index: int
    key: str
    first_line: int
    last_line: int
    record_count: int
    size_bytes: int
    max_output_tokens: int = 0  # the sum of its records' bounds on output (0 when any record does not say)


@dataclass
class StagingResult:
    parts: list[StagedPart] = field(default_factory=list)
    line_count: int = 0
    record_count: int = 0
    rejected: int = 0
    first_rejection: Rejection | None = None
    report_key: str | None = None  # set once a line was refused: the report holds every refused line


def stage_lines(
    ref: ObjectRef,
    file_id: str,
    chunks: Iterable[bytes],
    *,
    part_records: int,
    part_bytes: int,
    max_line_bytes: int,
    objects: ObjectStore,
) -> tuple[StagingResult, "ReportWriter | None"]:
    """Stages the valid lines; returns what was staged and the report writer, still open, if any line was
    refused (the caller adds the file's outcome and closes it)."""
    result = StagingResult()
    checker = LineChecker(file_id, max_line_bytes)
    part: _OpenPart | None = None
    report: ReportWriter | None = None
    check = checker.check
    line = None
    try:
        for line in split_lines(chunks, max_line_bytes):
            outcome = check(line)
            if outcome is None:
                continue
            if type(outcome) is Rejection:
                result.rejected += 1
                if report is None:
                    result.first_rejection = outcome
                    result.report_key = naming.error_report_key(ref.key)
                    report = ReportWriter(objects.writer(ref.bucket, result.report_key), ref)
                report.add(outcome)
            else:
                assert type(outcome) is Record
                if part and (part.records >= part_records or part.size + len(outcome.body) > part_bytes):
                    result.parts.append(part.close())
                    part = None
                if part is None:
                    index = len(result.parts) + 1
                    part = _OpenPart(objects, ref.bucket, naming.part_key(file_id, ref.key, index), index)
                part.add(outcome)
                result.record_count += 1
        result.line_count = line.number if line else 0
        if part:
            result.parts.append(part.close())
            part = None
    except BaseException as exc:
        for writer in (part, report):
            if writer:
                writer.abort(exc)
        _delete_closed(objects, ref.bucket, result.parts)
        raise
    return result, report


def _delete_closed(objects: ObjectStore, bucket: str, parts: list[StagedPart]) -> None:
    """Parts staged before the read failed: nothing names them yet (the file item comes after), so nothing would
    ever expire them. A retried event stages them again under the same keys."""
    for closed in parts:
        try:
            objects.delete(bucket, closed.key)
        except Exception:  # the original error is the one to raise; a part left behind is only storage
            log.warning("a staged part could not be deleted", extra={"key": closed.key}, exc_info=True)


class _OpenPart:
    def __init__(self, objects: ObjectStore, bucket: str, key: str, index: int) -> None:
        self.key, self.index = key, index
        self._context: AbstractContextManager[ObjectWriter] = objects.writer(bucket, key)
        self._writer = self._context.__enter__()
        self.records = self.size = self.max_output = 0
        self.first_line = self.last_line = 0
        self.bounded = True  # every record so far says how long its answer may be

    def add(self, record: Record) -> None:
        self._writer.write(record.body)
        self.records += 1
        self.size += len(record.body)
        self.max_output += record.max_output
        self.bounded = self.bounded and record.max_output > 0
        self.first_line = self.first_line or record.line
        self.last_line = record.line

    def close(self) -> StagedPart:
        self._context.__exit__(None, None, None)
        bound = self.max_output if self.bounded else 0
        return StagedPart(self.index, self.key, self.first_line, self.last_line, self.records, self.size, bound)

    def abort(self, exc: BaseException) -> None:
        self._context.__exit__(type(exc), exc, exc.__traceback__)


class ReportWriter:
    """The error report next to an upload, as one JSON document written as it goes: the refused lines first
    (line number, recordId if any, reason; never the line's content), then the file's outcome."""

    def __init__(self, context: AbstractContextManager[ObjectWriter], ref: ObjectRef) -> None:
        self._context = context
        self._writer = context.__enter__()
        self._writer.write(b'{"input": ' + orjson.dumps(naming.s3_uri(ref.bucket, ref.key)) + b',\n"rejectedLines": [')
        self._first = True

    def add(self, rejection: Rejection) -> None:
        entry: dict[str, object] = {"line": rejection.line, "reason": rejection.reason}
        if rejection.record_id is not None:
            entry["recordId"] = rejection.record_id
        self._writer.write((b"\n" if self._first else b",\n") + orjson.dumps(entry))
        self._first = False

    def finish(self, outcome: dict[str, object]) -> None:
        self._writer.write(b"\n],\n" + orjson.dumps(outcome, option=orjson.OPT_INDENT_2)[1:-1] + b"\n}\n")
        self._context.__exit__(None, None, None)

    def abort(self, exc: BaseException) -> None:
        self._context.__exit__(type(exc), exc, exc.__traceback__)
