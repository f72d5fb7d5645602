"""What a scheduler run decides about one model, as data: pure functions of the model's snapshot (what the store
and Bedrock said when the run read them) and the clock's reading. No I/O: the writers (reconciling, planning,
submitting) apply what these return, each write conditional, so a decision another run overtook is dropped.

A run decides in the order its writes must happen: each job's refresh, then the ledger's repair from the jobs
that are still active, then the plan for the slots left, then the order of submission."""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bbq.core.model import retry
from bbq.core.model.budgets import Calibration, Spend
from bbq.core.model.config import PipelineConfig, SmallWork
from bbq.core.model.files import InvocationType, Part
from bbq.core.model.jobs import Job, JobNote, JobSnapshot, RecordCounts
from bbq.core.model.limits import ModelLimits
from bbq.core.model.states import ACTIVE, JobStatus, is_terminal
from bbq.core.scheduling.budgeting import Held, PartPrice, allowance
from bbq.core.scheduling.fair_share import fair_order
from bbq.core.scheduling.planner import PlannedJob, plan_jobs

# Bedrock outcomes after which the same parts go again as a new attempt (up to PipelineConfig.max_attempts).
RETRIED = frozenset({JobStatus.FAILED, JobStatus.EXPIRED})


@dataclass(frozen=True)
class ModelSnapshot:
    """One model's state as a run read it. ``waiting`` is each team's queue of waiting parts per invocation type,
    read lazily and only as far as the planner takes (the model's slots, not its backlog)."""

    model: str
    limits: ModelLimits
    now: datetime
    jobs: tuple[Job, ...]  # in flight: Pending, active, and ended but not yet settled
    answers: Mapping[str, JobSnapshot]  # Bedrock's answer per active job (absent: it was busy, or no answer)
    stop_asked: frozenset[str] = frozenset()  # jobs every one of whose files was asked to stop
    ledger: Mapping[str, datetime] = field(default_factory=dict)  # slot holders, since when
    holders: Mapping[str, Job | None] = field(default_factory=dict)  # holders not active when read (consistent)
    waiting: Mapping[InvocationType, Mapping[str, Iterable[Part]]] = field(default_factory=dict)
    spends: Mapping[str, Spend] = field(default_factory=dict)  # the budget lines of the teams with queues
    calibration: Calibration = field(default_factory=Calibration)  # the model's tokens per staged byte

    @property
    def teams(self) -> list[str]:
        """The teams whose queues the run read (the default team first)."""
        return list(dict.fromkeys(team for queues in self.waiting.values() for team in queues))


@dataclass(frozen=True)
class Refresh:
    """A job in flight after Bedrock's answer: ``after`` is ``before`` when nothing changed."""

    before: Job
    after: Job
    retried: bool = False  # failed or expired: ``after`` is its next attempt, Pending

    @property
    def changed(self) -> bool:
        return self.after is not self.before


def refresh(
    job: Job, answer: JobSnapshot | None, *, now: datetime, config: PipelineConfig, stop_asked: bool
) -> Refresh:
    """Bedrock's status, message and counters taken in; a failed or expired attempt goes again (unless every file
    it carries was asked to stop, or it was the last attempt allowed)."""
    if answer is None or (answer.status, answer.counts, answer.message) == (job.status, job.counts, job.message):
        return Refresh(job, job)
    if answer.status in RETRIED and job.attempt < config.max_attempts and not stop_asked:
        return Refresh(job, next_attempt(job, answer, now, config), retried=True)
    ended = is_terminal(answer.status)
    message = answer.message
    if answer.status in RETRIED and job.attempt > 1:
        message = f"Failed after {job.attempt} attempts: {answer.message}"
    after = job.with_changes(
        status=answer.status,
        message=message,
        counts=answer.counts,
        updated_at=now,
        ended_at=(answer.ended_at or now) if ended else None,
        note=None if ended else job.note,
    )
    return Refresh(job, after)


def next_attempt(job: Job, answer: JobSnapshot, now: datetime, config: PipelineConfig) -> Job:
    """The same parts again as a new attempt (a new job name and request token) after a backoff."""
    wait = retry.backoff(job.attempt)
    return job.with_changes(
        status=JobStatus.PENDING,
        attempt=job.attempt + 1,
        job_name=None,
        job_arn=None,
        submitted_at=None,
        ended_at=None,
        counts=RecordCounts(),
        previous_arns=(*job.previous_arns, job.job_arn or ""),
        transient_errors=0,
        retry_at=now + wait,
        note=JobNote.RETRY_WAIT,
        message=(
            f"Attempt {job.attempt} ended {answer.status.value}: {answer.message or 'no message from Bedrock'}. "
            f"Attempt {job.attempt + 1} of {config.max_attempts} goes after {wait} (MaxJobAttempts)"
        ),
        updated_at=now,
    )


def past_timeout(job: Job, now: datetime, config: PipelineConfig) -> bool:
    """Bedrock expires a job at its timeout; one still active an hour later is stuck (counted on every run)."""
    window = timedelta(hours=config.timeout_hours) + retry.TIMEOUT_GRACE
    return job.status in ACTIVE and job.submitted_at is not None and now - job.submitted_at > window


def timeout_mark(job: Job, config: PipelineConfig) -> Job | None:
    """The stuck job marked and told what to do, once; None when it already is."""
    if job.note == JobNote.PAST_TIMEOUT:
        return None
    message = (
        f"Past its timeout: Bedrock still reports it {job.status.value} more than {config.timeout_hours} hours "
        f"after it was submitted. Check {job.job_arn} in the Bedrock console; bbq stop --job {job.job_id} stops it."
    )
    return job.with_changes(message=message, note=JobNote.PAST_TIMEOUT)


@dataclass(frozen=True)
class LedgerRepair:
    hold: frozenset[str] = frozenset()  # active jobs the ledger lacks (a run died between submit and write)
    release: frozenset[str] = frozenset()  # holders that ended, never existed, or reserved and died


def ledger_repair(
    ledger: Mapping[str, datetime], active: set[str], holders: Mapping[str, Job | None], now: datetime
) -> LedgerRepair:
    """Heals the ledger after a crash. A holder's job is taken as read consistently (``holders``): the queue
    index may not yet show a job another run planned a moment ago."""
    release = set()
    for job_id in ledger.keys() - active:
        job = holders.get(job_id)
        stale = job is not None and job.status == JobStatus.PENDING and now - ledger[job_id] > retry.STALE_RESERVATION
        if job is None or is_terminal(job.status) or stale:
            release.add(job_id)
    return LedgerRepair(hold=frozenset(active - ledger.keys()), release=frozenset(release))


@dataclass(frozen=True)
class Queue:
    """The model's Pending jobs as this run takes them."""

    ready: tuple[Job, ...]  # may go to Bedrock now
    on_demand: tuple[Job, ...]  # run record by record; they take no batch slot
    set_aside: int = 0  # waiting out a backoff


def queue(pending: Iterable[Job], now: datetime) -> Queue:
    pending = list(pending)
    due = [job for job in pending if not (job.retry_at and job.retry_at > now)]
    return Queue(
        ready=tuple(job for job in due if not job.on_demand),
        on_demand=tuple(job for job in due if job.on_demand),
        set_aside=len(pending) - len(due),
    )


def shared_slots(snapshot: ModelSnapshot) -> list[int]:
    """Slots of the model's quota held by another model's jobs (its inference profile, or the model behind it):
    the records each has left, so the plan counts them as busy."""
    return [
        job.record_count - (job.counts.processed or 0)
        for job in snapshot.holders.values()
        if job is not None
        and job.model_id != snapshot.model
        and (job.status in ACTIVE or job.status == JobStatus.PENDING)
    ]


def busy_records(active: Iterable[Job], ready: Iterable[Job]) -> list[int]:
    """What each slot still has to do: the records left in running jobs (Bedrock's progress), whole ready ones."""
    return [job.record_count - (job.counts.processed or 0) for job in active] + [job.record_count for job in ready]


@dataclass(frozen=True)
class TypePlan:
    """The plan for one of the model's queues (one invocation type)."""

    invocation_type: InvocationType
    batch: tuple[PlannedJob, ...] = ()
    on_demand: tuple[Part, ...] = ()  # one job run record by record
    fail: tuple[Part, ...] = ()  # small work failed by policy
    parts_read: int = 0
    held: Mapping[str, Held] = field(default_factory=dict)  # teams a budget stopped this run


def plan(
    snapshot: ModelSnapshot,
    busy: Sequence[int],
    config: PipelineConfig,
    on_demand_available: bool,
    in_flight: Mapping[str, int] | None = None,
) -> list[TypePlan]:
    """Jobs for the slots left, queue by queue (each queue's jobs take slots before the next is planned), and
    what becomes of small work that waited past CompanionWait. Each queue's teams share it by weighted fair share
    (``fair_share``), counting ``in_flight``: each team's records in the model's jobs holding or awaiting a slot."""
    busy = list(busy)
    in_flight = dict(in_flight or {})
    price = PartPrice(config, snapshot.model, snapshot.calibration)
    allowed = allowance(snapshot.teams, snapshot.spends, config, snapshot.now, price) if config.teams.budgeted else None
    plans = []
    for invocation_type in InvocationType:
        free = snapshot.limits.concurrent_jobs - len(busy)
        if free <= 0:
            continue
        made = plan_jobs(
            fair_order(
                snapshot.waiting.get(invocation_type, {}),
                config.teams.weight,
                in_flight,
                admit=allowed.admit if allowed else None,
            ),
            snapshot.limits,
            free,
            snapshot.now,
            config.companion_wait,
            busy=busy,
        )
        busy += [job.record_count for job in made.jobs]
        for job in made.jobs:
            for part in job.parts:
                in_flight[part.team] = in_flight.get(part.team, 0) + part.record_count
        # Retried records left under Bedrock's minimum run on demand whatever SmallWork says (when bedrock-runtime
        # is at hand): they are the few leftovers of work that ran, and would otherwise wait for uploads that may
        # not come.
        retried = [part for part in made.overdue if part.attempt > 1] if on_demand_available else []
        small = [part for part in made.overdue if part not in retried]
        small_on_demand = config.small_work == SmallWork.ON_DEMAND and on_demand_available
        plans.append(
            TypePlan(
                invocation_type,
                batch=tuple(made.jobs),
                on_demand=tuple(retried + (small if small_on_demand else [])),
                fail=tuple(small if config.small_work == SmallWork.FAIL else []),
                parts_read=made.parts_read,
                held=dict(allowed.held) if allowed else {},
            )
        )
    return plans


def submission_order(jobs: Iterable[Job]) -> list[Job]:
    """Oldest work first: a job goes in the order its oldest part was queued."""
    return sorted(jobs, key=lambda job: job.order)
