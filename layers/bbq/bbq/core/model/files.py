"""Uploads and their parts. An input file is what a user dropped; a part is a validated, staged slice of it
(a range of its lines) that waits in its model's queue until the planner puts it in a job. One file may become
many parts in many jobs, and one job may carry parts of many files."""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Protocol, Self, TypeVar

from bbq.core.model.naming import sequencer_order
from bbq.core.model.states import JobStatus
from bbq.core.model.teams import DEFAULT_TEAM, Priority


class InvocationType(StrEnum):
    """Bedrock's modelInvocationType: the shape of each record's modelInput."""

    INVOKE_MODEL = "InvokeModel"  # the model's native request body
    CONVERSE = "Converse"  # a Converse request body


class WaitReason(StrEnum):
    """Why a file's work waits, when it waits for more than a slot: a field, so that no one reads it back out of
    the file's message (which says it in words, with what to do)."""

    COMPANIONS = "companions"  # fewer records than Bedrock's minimum: waiting to be packed with other uploads
    MODEL_ACCESS = "model access"  # Bedrock refuses the model for this account; the queue resumes by itself
    SLOTS = "slots"  # queued past StuckAfterHours
    BUDGET = "budget"  # its team's or the stack's budget has no room for its next job (model.budgets)


class FileStatus(StrEnum):
    QUEUED = "Queued"  # validated; its parts wait for a job
    RUNNING = "Running"  # some of its parts are in jobs
    COMPLETED = "Completed"  # every part's job completed
    PARTIALLY_COMPLETED = "PartiallyCompleted"  # every part is done, some of them not fully
    FAILED = "Failed"  # every part is done and no record succeeded (the message says why)
    STOPPED = "Stopped"  # stopped on request: what had run is kept and counted, the rest does not run
    REJECTED = "Rejected"  # nothing of it runs (see its error report)
    SKIPPED = "Skipped"  # the same bytes ran under this key already: not run or billed again (its message says where)


FILE_DONE = frozenset({FileStatus.COMPLETED, FileStatus.PARTIALLY_COMPLETED, FileStatus.FAILED, FileStatus.STOPPED})
FILE_FINAL = FILE_DONE | {FileStatus.REJECTED, FileStatus.SKIPPED}  # nothing more happens to it: ended, or never ran


class PartStatus(StrEnum):
    WAITING = "Waiting"  # in its model's queue
    IN_JOB = "InJob"  # carried by a job that has not ended
    COMPLETED = "Completed"  # every record succeeded
    PARTIALLY_COMPLETED = "PartiallyCompleted"  # some records failed for good (listed in the file's report)
    RETRIED = "Retried"  # its records that failed or went missing wait in its next attempt, a part of its own
    FAILED = "Failed"
    STOPPED = "Stopped"
    EXPIRED = "Expired"


# What a part becomes when its job ends.
PART_STATUS_OF_JOB = {
    JobStatus.COMPLETED: PartStatus.COMPLETED,
    JobStatus.PARTIALLY_COMPLETED: PartStatus.PARTIALLY_COMPLETED,
    JobStatus.FAILED: PartStatus.FAILED,
    JobStatus.STOPPED: PartStatus.STOPPED,
    JobStatus.EXPIRED: PartStatus.EXPIRED,
}
PART_DONE = frozenset(PART_STATUS_OF_JOB.values())
# Ended for a reason that is not about one record: every record of the part failed with its job's message.
PART_FAILED = frozenset({PartStatus.FAILED, PartStatus.EXPIRED})


@dataclass(frozen=True)
class FileCounts:
    """Where a file's records are, summed over its parts and their attempts."""

    succeeded: int = 0
    failed: int = 0  # failed for good: listed with their last error in the file's report
    stopped: int = 0  # not run because the file or its job was stopped
    pending: int = 0  # waiting or in a job that has not ended


@dataclass(frozen=True)
class InputFile:
    file_id: str
    bucket: str
    key: str
    version: str  # the S3 version id, or the ETag when the bucket is unversioned
    model_id: str
    invocation_type: InvocationType
    status: FileStatus
    line_count: int  # lines in the upload, blank ones included
    record_count: int  # lines that passed validation and run
    rejected_lines: int
    size_bytes: int
    part_count: int
    output_uri: str  # the file's place under processed/
    created_at: datetime
    updated_at: datetime
    report_uri: str | None = None  # the error report, when any line was rejected
    message: str = ""
    counts: FileCounts = field(default_factory=FileCounts)
    results_report_uri: str | None = None  # the report written next to its results once it ended
    # Once it ended: where its joined results are (results.jsonl, errors.jsonl, summary.json), the tokens its
    # records used and what they cost (None when the model has no price).
    results_uri: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float | None = None
    stop_requested: bool = False  # nothing more of it is submitted or retried (bbq.core.scheduling.stopping)
    # At ingest: its input tokens estimated from the staged bytes, and what they cost at the batch price. The
    # output side depends on the model's answers and is known only when the file ends (input_tokens, cost_usd).
    estimated_input_tokens: int = 0
    estimated_input_cost_usd: float | None = None
    # When its last record became final and its results join was asked for; it ends once the join is done.
    join_requested_at: datetime | None = None
    waiting_for: WaitReason | None = None  # what its message says it waits for, if anything but a slot
    # Bumped by every save: a save names the revision it read and loses to any write since (a user's stop, a
    # sibling run), so no writer overwrites what it did not see.
    revision: int = 0
    # S3's event sequencer of the upload ("" when the sweeper found it by listing): orders a key's uploads.
    sequencer: str = ""
    # A table upload (CSV, Parquet) as its template rendered it: line n is row n, with the record's id and the
    # row's other columns, which the results carry beside each output. None for a JSONL upload (the upload is).
    rows_uri: str | None = None
    # The template's JSON schema (JSON text), when it asked for structured output: results parse each text by it.
    output_schema: str | None = None
    etag: str = ""  # the upload's S3 ETag: a second upload of the same bytes is told apart (intake.repeats)
    team: str = DEFAULT_TEAM  # whose it is: its share of the model's slots and the budget it spends (model.teams)
    priority: Priority = Priority.NORMAL
    deadline: datetime | None = None  # when it must be done by: work that batch would finish later runs on demand

    def with_changes(self, **changes: object) -> Self:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Part:
    file_id: str
    index: int  # 1-based, in line order
    model_id: str
    invocation_type: InvocationType
    staged_uri: str  # the staged file Bedrock reads (or that is copied into a packed job's input)
    part_count: int  # how many parts its file has
    output_uri: str  # its file's place under processed/
    first_line: int
    last_line: int
    record_count: int
    size_bytes: int
    queued_at: datetime
    status: PartStatus = PartStatus.WAITING
    job_id: str | None = None
    input_name: str | None = None  # the part's file name in its job's input (Bedrock writes <name>.out)
    message: str = ""
    # Record-level retries: attempt 2 of part 3 holds the records of attempt 1 that failed with an error worth
    # retrying or went missing from the output; it runs as a part of its own.
    attempt: int = 1
    # Once its job ended and the output was read: records that succeeded, failed for good, went to the next attempt.
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    results_uri: str | None = None  # the output file (Bedrock's <name>.out) holding its results
    failures_key: str | None = None  # the records that failed for good, one JSON line each, with the last error
    team: str = DEFAULT_TEAM  # its file's: the team's queue it waits in
    priority: Priority = Priority.NORMAL
    deadline: datetime | None = None  # its file's
    max_output_tokens: int = 0  # the output its records' requests allow in all (0: some do not say); caps estimates
    # Once its job's output was read: the tokens its records used (what its team's budget is charged).
    input_tokens: int = 0
    output_tokens: int = 0

    @property
    def part_id(self) -> str:
        return part_id(self.file_id, self.index, self.attempt)

    @property
    def next_attempt_id(self) -> str:
        return part_id(self.file_id, self.index, self.attempt + 1)

    def with_changes(self, **changes: object) -> Self:
        return replace(self, **changes)  # type: ignore[arg-type]


def part_id(file_id: str, index: int, attempt: int = 1) -> str:
    return f"{file_id}-p{index:05d}" + (f"-a{attempt}" if attempt > 1 else "")


def file_counts(parts: Iterable[Part]) -> FileCounts:
    succeeded = failed = stopped = pending = 0
    for part in parts:
        succeeded += part.succeeded
        if part.status in PART_FAILED:
            failed += part.record_count
        else:
            failed += part.failed
        if part.status == PartStatus.STOPPED:
            stopped += part.record_count - part.succeeded - part.failed
        elif part.status in {PartStatus.WAITING, PartStatus.IN_JOB}:
            pending += part.record_count
    return FileCounts(succeeded, failed, stopped, pending)


def every_attempt(file: "InputFile", get_parts: Callable[[Sequence[str]], list[Part]]) -> list[Part]:
    """All of a file's parts and every later attempt of each (a retried part's next attempt is a part too)."""
    return every_attempt_of([file], get_parts)[file.file_id]


def every_attempt_of(
    files: Iterable["InputFile"], get_parts: Callable[[Sequence[str]], list[Part]]
) -> dict[str, list[Part]]:
    """``every_attempt`` for several files at once: their parts read together, then each round of later attempts,
    each file's in that order."""
    files = list(files)
    parts: dict[str, list[Part]] = {f.file_id: [] for f in files}
    wanted = [part_id(f.file_id, index) for f in files for index in range(1, f.part_count + 1)]
    while wanted:
        found = get_parts(wanted)
        for part in found:
            parts[part.file_id].append(part)
        wanted = [part.next_attempt_id for part in found if part.status == PartStatus.RETRIED]
    return parts


def file_status(parts: Iterable[Part]) -> FileStatus:
    """A file's status, derived from its parts (every attempt of each: a retried part's next attempt stands for it)."""
    parts = list(parts)
    statuses = [part.status for part in parts if part.status != PartStatus.RETRIED]
    if not parts:
        return FileStatus.REJECTED
    if all(status == PartStatus.WAITING for status in statuses) and len(statuses) == len(parts):
        return FileStatus.QUEUED
    if not all(status in PART_DONE for status in statuses):
        return FileStatus.RUNNING
    if PartStatus.STOPPED in statuses:
        return FileStatus.STOPPED
    counts = file_counts(parts)
    if counts.failed == 0:
        return FileStatus.COMPLETED
    return FileStatus.FAILED if counts.succeeded == 0 else FileStatus.PARTIALLY_COMPLETED


class Upload(Protocol):
    """What orders the uploads of one key."""

    @property
    def sequencer(self) -> str: ...

    @property
    def created_at(self) -> datetime: ...

    @property
    def version(self) -> str: ...


U = TypeVar("U", bound=Upload)


def newest_upload(uploads: Iterable[U]) -> U | None:
    """The newest upload of one key. S3's sequencer orders a key's PUTs whatever order their events came in;
    when an upload has none (found by listing), the time bbq took it in decides, then its version."""
    found = list(uploads)
    if not found:
        return None
    if all(upload.sequencer for upload in found):
        return max(found, key=lambda u: (sequencer_order(u.sequencer), u.created_at))
    return max(found, key=lambda u: (u.created_at, sequencer_order(u.sequencer), u.version))
