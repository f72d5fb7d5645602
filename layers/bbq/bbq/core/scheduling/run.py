"""A scheduler run's context and report, and what every step of it does when jobs or parts change: the
files they carry are told (settling's rules), and a job that ended is settled."""

from collections import Counter
from dataclasses import dataclass, field

from bbq.core.model.clock import Clock
from bbq.core.model.config import PipelineConfig
from bbq.core.model.files import Part
from bbq.core.model.jobs import Job
from bbq.core.model.ports import (
    BatchService,
    JoinRequests,
    ObjectStore,
    OnDemandService,
    OwnQuotas,
    QuotaHolders,
    Store,
)
from bbq.core.scheduling.budgeting import settle_spend
from bbq.core.settling.progress import update_files
from bbq.core.settling.settle import settle_job


@dataclass
class RunReport:
    refreshed: int = 0
    finished: Counter[str] = field(default_factory=Counter)
    planned: int = 0  # jobs made from waiting parts
    submitted: int = 0
    rejected: int = 0
    deferred: int = 0  # Pending jobs that had a slot but Bedrock refused for now (quota, throttling, errors)
    set_aside: int = 0  # Pending jobs waiting out a backoff after transient errors
    pending_left: int = 0  # planned jobs still waiting for a slot
    parts_read: int = 0
    small_work_failed: int = 0  # parts failed by the small-work policy
    retried: int = 0  # failed or expired jobs whose parts go again as a new attempt
    settled: int = 0  # ended jobs whose output was read and whose parts and files were told
    past_timeout: int = 0  # jobs Bedrock still runs after their timeout window: it should have expired them
    # Per model, how long its oldest waiting part has waited (seconds): a queue that does not move shows here.
    oldest_waiting: dict[str, float] = field(default_factory=dict)
    ran_on_demand: int = 0  # records run through InvokeModel or Converse by the small-work policy
    errors: int = 0  # jobs skipped this run because of an unexpected answer (logged with the job id)
    active_per_model: dict[str, int] = field(default_factory=dict)
    paused: dict[str, str] = field(default_factory=dict)  # model -> why Bedrock refuses it for this account
    joins_requested: list[str] = field(default_factory=list)  # files whose last record became final
    # Per model, how long its oldest part has waited when that is past StuckAfterHours (seconds).
    waiting_too_long: dict[str, float] = field(default_factory=dict)
    held_by_budget: dict[str, str] = field(default_factory=dict)  # team -> the budget line that holds its work
    budgets_used: dict[str, float] = field(default_factory=dict)  # limited line -> committed / limit
    deadlines_missed: int = 0  # files whose deadline cannot be met even on demand (each says so)
    deadline_records_on_demand: int = 0  # records sent on demand this run to meet deadlines


@dataclass(frozen=True)
class Run:
    store: Store
    batch: BatchService
    objects: ObjectStore
    config: PipelineConfig
    clock: Clock
    report: RunReport
    on_demand: OnDemandService | None
    joins: JoinRequests
    quotas: QuotaHolders = field(default_factory=OwnQuotas)
    # The parts each job this run planned claimed, as written: its staging copies them without reading them again.
    claimed: dict[str, list[Part]] = field(default_factory=dict)


def files_changed(run: Run, parts: list[Part]) -> None:
    run.report.joins_requested += update_files(run.store, run.clock, parts, run.joins)


def settle(run: Run, job: Job) -> None:
    """An ended job frees its slot, its parts learn what became of each record (retries queued, failures listed),
    their files follow; only then does it leave the queue. Each step may be repeated after a crash."""
    run.store.release_slot(job.slot_key, job.job_id)
    parts = settle_job(job, store=run.store, objects=run.objects, config=run.config, clock=run.clock)
    files_changed(run, parts)
    job = settle_spend(run.store, run.config, run.clock, job, parts)
    if run.store.save_job(job.with_changes(settled=True), expected=job.status):
        run.report.settled += 1
        minutes = (job.ended_at - job.submitted_at).total_seconds() / 60 if job.ended_at and job.submitted_at else 0
        if not job.on_demand and job.counts.processed and minutes > 0:  # the model's batch throughput per slot
            run.store.add_job_time(job.model_id, job.counts.processed, minutes)
