"""Checks an input file against Bedrock's batch rules before it takes a slot, so a bad file fails in
seconds with a line number instead of hours later in Bedrock's Validating step."""

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

# Bedrock accepts short alphanumeric record ids; bbq joins results on them, so they must be unique.
RECORD_ID = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
MAX_PROBLEMS = 20


@dataclass(frozen=True)
class InputLimits:
    min_records: int = 100
    max_records: int = 50_000
    max_file_bytes: int = 1024**3


@dataclass
class InputSummary:
    record_count: int = 0
    size_bytes: int = 0
    problems: list[str] = field(default_factory=list)
    problem_count: int = 0

    @property
    def valid(self) -> bool:
        return self.problem_count == 0

    def add_problem(self, text: str) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)

    def message(self) -> str:
        """One line for the job item: the first problem and how many more there are."""
        if self.valid:
            return ""
        more = self.problem_count - 1
        suffix = f" (and {more} more problem{'s' if more > 1 else ''}; see the error report)" if more else ""
        return f"Input rejected: {self.problems[0]}{suffix}"


def validate_jsonl(lines: Iterable[bytes], limits: InputLimits) -> InputSummary:
    """Streams the file once: counts records and collects problems with their line numbers."""
    summary = InputSummary()
    seen_ids: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        summary.size_bytes += len(raw)
        text = raw.strip()
        if not text:
            continue
        summary.record_count += 1
        _check_record(number, text, seen_ids, summary)
    _check_totals(summary, limits)
    return summary


def _check_record(number: int, text: bytes, seen_ids: set[str], summary: InputSummary) -> None:
    try:
        record = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        summary.add_problem(f"line {number} is not valid JSON ({exc})")
        return
    if not isinstance(record, dict):
        summary.add_problem(f"line {number} is not a JSON object")
        return
    if not isinstance(record.get("modelInput"), dict):
        summary.add_problem(f'line {number} has no "modelInput" object')
    record_id = record.get("recordId")
    if record_id is None:
        return
    if not isinstance(record_id, str) or not RECORD_ID.match(record_id):
        summary.add_problem(f'line {number}: "recordId" must be 1-64 letters, digits, "-" or "_"')
    elif record_id in seen_ids:
        summary.add_problem(f'line {number}: "recordId" {record_id!r} appears more than once')
    else:
        seen_ids.add(record_id)


def _check_totals(summary: InputSummary, limits: InputLimits) -> None:
    if summary.record_count < limits.min_records:
        summary.add_problem(
            f"{summary.record_count} records; Bedrock batch needs at least {limits.min_records} per job"
        )
    if summary.record_count > limits.max_records:
        summary.add_problem(f"{summary.record_count} records; Bedrock batch takes at most {limits.max_records} per job")
    if summary.size_bytes > limits.max_file_bytes:
        summary.add_problem(
            f"{summary.size_bytes} bytes; Bedrock batch takes input files of at most {limits.max_file_bytes} bytes"
        )
