"""The job record: one Bedrock batch job as bbq tracks it, from Pending to a terminal status.

One input file makes one job today. ``source_keys`` is a list so that packing several small files into
one job (and splitting one file into parts, each its own job pointing at the same source) fits later.
"""

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Self

from bbq.core.states import JobStatus


@dataclass(frozen=True)
class RecordCounts:
    """Bedrock's progress counters, as GetModelInvocationJob reports them."""

    total: int | None = None
    processed: int | None = None
    success: int | None = None
    error: int | None = None


@dataclass(frozen=True)
class Job:
    job_id: str
    status: JobStatus
    model_id: str
    input_uri: str
    output_uri: str
    source_bucket: str
    source_keys: tuple[str, ...]
    record_count: int
    size_bytes: int
    created_at: datetime
    updated_at: datetime
    message: str = ""
    attempt: int = 1
    job_name: str | None = None
    job_arn: str | None = None
    submitted_at: datetime | None = None
    ended_at: datetime | None = None
    counts: RecordCounts = field(default_factory=RecordCounts)
    report_uri: str | None = None  # the error report next to a rejected upload
    # A Pending job Bedrock kept answering with transient errors waits until retry_at, so it does not block
    # the jobs behind it.
    transient_errors: int = 0
    retry_at: datetime | None = None

    def with_changes(self, **changes: object) -> Self:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class JobSnapshot:
    """What Bedrock says about a job right now."""

    status: JobStatus
    message: str
    counts: RecordCounts
    ended_at: datetime | None
