"""The job record: one Bedrock batch job (one submission) as bbq tracks it, from Pending to a terminal status.

The planner makes a job from parts of one or more files (``part_ids``); its input is one staged file, or a
prefix holding several, which Bedrock processes together.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Self

from bbq.core.model.files import InvocationType
from bbq.core.model.states import JobStatus


class JobNote(StrEnum):
    """Why a job needs attention or waits, as a field: its message says it in words and is never read back."""

    MODEL_ACCESS = "model access"  # Pending: Bedrock refuses the model for this account
    SET_ASIDE = "set aside"  # Pending: waits out a backoff after transient errors (until retry_at)
    RETRY_WAIT = "retry wait"  # Pending: an attempt failed or expired; the next goes after a backoff
    PAST_TIMEOUT = "past its timeout"  # active long after Bedrock should have expired it
    BUDGET = "budget"  # Pending: a budget it is charged to has no room for it yet (until retry_at)


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
    invocation_type: InvocationType
    part_ids: tuple[str, ...]
    input_uri: str
    output_uri: str
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
    # A Pending job Bedrock kept answering with transient errors waits until retry_at, so it does not block
    # the jobs behind it.
    transient_errors: int = 0
    retry_at: datetime | None = None
    queued_at: datetime | None = None  # when its oldest part was queued: jobs go out in this order
    # Run by bbq record by record through InvokeModel or Converse (SmallWork on-demand), not by a Bedrock batch job,
    # at the on-demand price; with the tokens it used.
    on_demand: bool = False
    on_demand_reason: str = ""  # why it runs on demand ("" : the small-work policy), said on each of its parts
    # The Bedrock jobs of earlier attempts that failed or expired (their partial output is not this job's).
    previous_arns: tuple[str, ...] = ()
    input_tokens: int | None = None
    output_tokens: int | None = None
    # An ended job stays in its model's queue until its output has been read and its parts and files told
    # (see bbq.core.settling.settle): a run that dies half-way leaves it for the next run to finish.
    settled: bool = False
    note: JobNote | None = None
    # The slot ledger the job counts against: Bedrock's quota holder for its model (a cross-Region or application
    # inference profile and its foundation model share one quota); "" for jobs made before ledgers were shared.
    ledger: str = ""
    # Its records per team (a job may pack several teams' parts): what each team has in flight, for fair share.
    team_records: Mapping[str, int] = field(default_factory=dict)
    # Budgets (model.budgets): its expected cost, when it was reserved against its teams' and the stack's lines
    # (None: not reserved), and whether its actual cost has replaced the reservation.
    estimated_cost_usd: float | None = None
    budget_at: datetime | None = None
    budget_settled: bool = False

    @property
    def slot_key(self) -> str:
        return self.ledger or self.model_id

    @property
    def order(self) -> tuple[datetime, str]:
        return (self.queued_at or self.created_at, self.job_id)

    def with_changes(self, **changes: object) -> Self:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class JobSnapshot:
    """What Bedrock says about a job right now."""

    status: JobStatus
    message: str
    counts: RecordCounts
    ended_at: datetime | None
