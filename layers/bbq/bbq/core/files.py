"""Uploads and their parts. An input file is what a user dropped; a part is a validated, staged slice of it
(a range of its lines) that waits in its model's queue until the planner puts it in a job. One file may become
many parts in many jobs, and one job may carry parts of many files."""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Self

from bbq.core.states import JobStatus


class InvocationType(StrEnum):
    """Bedrock's modelInvocationType: the shape of each record's modelInput."""

    INVOKE_MODEL = "InvokeModel"  # the model's native request body
    CONVERSE = "Converse"  # a Converse request body


class FileStatus(StrEnum):
    QUEUED = "Queued"  # validated; its parts wait for a job
    RUNNING = "Running"  # some of its parts are in jobs
    COMPLETED = "Completed"  # every part's job completed
    PARTIALLY_COMPLETED = "PartiallyCompleted"  # every part is done, some of them not fully
    FAILED = "Failed"  # every part is done, none of them ran
    REJECTED = "Rejected"  # nothing of it runs (see its error report)


class PartStatus(StrEnum):
    WAITING = "Waiting"  # in its model's queue
    IN_JOB = "InJob"  # carried by a job that has not ended
    COMPLETED = "Completed"
    PARTIALLY_COMPLETED = "PartiallyCompleted"
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

    @property
    def part_id(self) -> str:
        return part_id(self.file_id, self.index)

    def with_changes(self, **changes: object) -> Self:
        return replace(self, **changes)  # type: ignore[arg-type]


def part_id(file_id: str, index: int) -> str:
    return f"{file_id}-p{index:05d}"


def file_status(parts: Iterable[Part]) -> FileStatus:
    """A file's status, derived from its parts."""
    statuses = [part.status for part in parts]
    if not statuses:
        return FileStatus.REJECTED
    if all(status == PartStatus.WAITING for status in statuses):
        return FileStatus.QUEUED
    if not all(status in PART_DONE for status in statuses):
        return FileStatus.RUNNING
    if all(status == PartStatus.COMPLETED for status in statuses):
        return FileStatus.COMPLETED
    if all(status in {PartStatus.FAILED, PartStatus.EXPIRED, PartStatus.STOPPED} for status in statuses):
        return FileStatus.FAILED
    return FileStatus.PARTIALLY_COMPLETED
