"""The scheduler run, per model: reconcile its jobs in flight with Bedrock, plan jobs from its waiting parts for
the slots that are free, and submit them.

A run reads only the model's queues (jobs in flight, and as many waiting parts as the free slots can take), so
it costs the same whatever the backlog and history. Runs may overlap (the schedule and Bedrock's events trigger
them, with no reserved concurrency): a job's parts are claimed with one transaction and each slot is reserved
in the store's ledger with one atomic write before its job is submitted, so overlapping runs never ask Bedrock
for more than the quota and never submit the same parts twice. A surprise about one job (an unknown status or
error) is logged and the run goes on with the others.
"""

import logging

from bbq.core.model.clock import Clock
from bbq.core.model.config import PipelineConfig
from bbq.core.model.file_updates import update_file
from bbq.core.model.files import (
    InputFile,
    InvocationType,
    WaitReason,
)
from bbq.core.model.limits import ModelLimits
from bbq.core.model.ports import (
    BatchService,
    JoinRequests,
    LimitsProvider,
    ObjectStore,
    OnDemandService,
    OwnQuotas,
    QuotaHolders,
    Store,
)
from bbq.core.model.states import JobStatus
from bbq.core.scheduling import budgeting, decisions
from bbq.core.scheduling.budgeting import PartPrice
from bbq.core.scheduling.fair_share import records_in_flight
from bbq.core.scheduling.meeting_deadlines import claim_for_deadlines
from bbq.core.scheduling.planning import store_plans
from bbq.core.scheduling.reconciling import reconcile, repair_ledger
from bbq.core.scheduling.run import Run, RunReport
from bbq.core.scheduling.snapshot import read_snapshot
from bbq.core.scheduling.submitting import fill, run_on_demand

log = logging.getLogger(__name__)


def run_scheduler(
    *,
    store: Store,
    batch: BatchService,
    objects: ObjectStore,
    limits: LimitsProvider,
    config: PipelineConfig,
    clock: Clock,
    joins: JoinRequests,
    on_demand: OnDemandService | None = None,
    quotas: QuotaHolders | None = None,
) -> RunReport:
    """``joins`` is asked for the results join of each file whose last record becomes final: the run never
    waits for one. ``quotas`` says which models share one concurrent-job quota (a profile and its model)."""
    run = Run(store, batch, objects, config, clock, RunReport(), on_demand, joins, quotas or OwnQuotas())
    for model in config.models:
        try:
            run_model(run, model, limits.limits(model))
        except Exception:  # one model's surprise must not stop the others
            run.report.errors += 1
            log.exception("scheduler run failed for a model; the others went on", extra={"model_id": model})
    return run.report


def run_model(run: Run, model: str, limits: ModelLimits) -> None:
    """Snapshot, then decisions, then writes: each decision is a pure function of what was read (see
    ``decisions``), and each write is conditional, so runs that overlap never double anything."""
    ledger = run.quotas.holder(model)  # a profile's jobs count against its foundation model's quota
    snapshot = read_snapshot(run, model, limits, ledger)
    active = reconcile(run, snapshot)
    now = snapshot.now
    repair = decisions.ledger_repair(snapshot.ledger, {job.job_id for job in active}, snapshot.holders, now)
    repair_ledger(run, ledger, repair)
    pending = decisions.queue((job for job in snapshot.jobs if job.status == JobStatus.PENDING), now)
    run.report.set_aside += pending.set_aside
    busy = decisions.busy_records(active, pending.ready) + decisions.shared_slots(snapshot)
    in_flight = records_in_flight([*active, *pending.ready])
    price = PartPrice(run.config, model, snapshot.calibration)
    # Before planning reads the queues: the parts a deadline sends on demand leave them first.
    for_deadlines = claim_for_deadlines(run, snapshot, [*active, *pending.ready], in_flight, price)
    plans = decisions.plan(snapshot, busy, run.config, run.on_demand is not None, in_flight)
    if run.config.teams.budgeted:
        run.report.budgets_used.update(budgeting.used(snapshot.teams, snapshot.spends, run.config, snapshot.now))
    planned, on_demand = store_plans(run, model, plans, limits, ledger, price)
    tell_held(run, plans)
    for job in [*pending.on_demand, *on_demand]:
        run_on_demand(run, job, price)
    ready = decisions.submission_order([*pending.ready, *planned])
    submitted = fill(run, model, ledger, ready, limits.concurrent_jobs, price)
    for job in for_deadlines:  # after the batch jobs went out: records one by one take minutes
        run_on_demand(run, job, price)
    measure_wait(run, model, snapshot.teams)
    run.report.active_per_model[model] = len(active) + submitted
    run.report.pending_left += len(ready) - submitted


def tell_held(run: Run, plans: list[decisions.TypePlan]) -> None:
    """The first file a budget holds back in each team's queue says so (and the run reports it)."""
    for plan in plans:
        for team, held in plan.held.items():
            run.report.held_by_budget[team] = held.line.key
            extra = {"team": team, "budget": held.line.key, "file_id": held.part.file_id}
            log.warning("work waits for budget", extra=extra)
            message = held.message

            def waiting(file: InputFile, message: str = message) -> InputFile | None:
                if file.waiting_for == WaitReason.MODEL_ACCESS or file.stop_requested or file.message == message:
                    return None
                return file.with_changes(message=message, waiting_for=WaitReason.BUDGET, updated_at=run.clock.now())

            update_file(run.store, held.part.file_id, waiting)


def measure_wait(run: Run, model: str, teams: list[str]) -> None:
    """How long the model's oldest waiting part has waited (one item of each of its queues); past StuckAfterHours,
    its file says so."""
    oldest = [
        part
        for invocation_type in InvocationType
        for team in teams
        if team not in run.report.held_by_budget  # waiting for its budget, as it should: not stuck
        and (part := next(run.store.waiting_parts(model, invocation_type, page_size=1, team=team), None)) is not None
    ]
    if not oldest:
        return
    part = min(oldest, key=lambda p: p.queued_at)
    waited = run.clock.now() - part.queued_at
    run.report.oldest_waiting[model] = waited.total_seconds()
    if waited <= run.config.stuck_after:
        return
    run.report.waiting_too_long[model] = waited.total_seconds()
    hours = int(waited.total_seconds() // 3600)
    log.error(
        "work has waited longer than StuckAfterHours",
        extra={"model_id": model, "file_id": part.file_id, "waited_hours": hours},
    )
    message = (
        f"Queued for {hours} hours on model {model}: earlier work holds its slots, or its records wait "
        "for companions (SmallWork). Nothing is lost; a higher batch quota in Service Quotas goes faster."
    )

    def noticed(file: InputFile) -> InputFile | None:
        if file.waiting_for in {WaitReason.MODEL_ACCESS, WaitReason.SLOTS, WaitReason.BUDGET} or file.stop_requested:
            return None
        return file.with_changes(message=message, waiting_for=WaitReason.SLOTS, updated_at=run.clock.now())

    update_file(run.store, part.file_id, noticed)
