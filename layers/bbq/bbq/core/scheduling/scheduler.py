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
import posixpath
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bbq.core.model import naming, retry
from bbq.core.model.clock import Clock
from bbq.core.model.config import PipelineConfig, SmallWork
from bbq.core.model.errors import JobNotFound, ModelUnavailable, RequestRejected, ServiceBusy, SlotUnavailable
from bbq.core.model.files import (
    InvocationType,
    Part,
    PartStatus,
    WaitReason,
)
from bbq.core.model.jobs import Job, JobSnapshot, RecordCounts
from bbq.core.model.limits import ModelLimits
from bbq.core.model.ports import (
    BatchService,
    JoinRequests,
    LimitsProvider,
    ObjectStore,
    OnDemandService,
    Reservation,
    Store,
    SubmitRequest,
)
from bbq.core.model.states import ACTIVE, JobStatus, is_terminal
from bbq.core.scheduling import on_demand as on_demand_run
from bbq.core.scheduling.planner import PlannedJob, plan_jobs
from bbq.core.settling.progress import tell_files, update_files
from bbq.core.settling.settle import fail_whole_part, settle_job

log = logging.getLogger(__name__)

# Bedrock outcomes after which the same parts go again as a new attempt (up to PipelineConfig.max_attempts).
RETRIED = frozenset({JobStatus.FAILED, JobStatus.EXPIRED})
PAST_TIMEOUT = "Past its timeout:"  # how the message of a job Bedrock should have expired begins
# What to do about each way Bedrock refuses a model for the account: the message every waiting job carries.
WHAT_TO_FIX = {
    ModelUnavailable.ACCESS: "Grant access to the model in the Bedrock console (Model access) in this Region, and "
    "check that the scheduler role may create jobs on it and pass the batch role",
    ModelUnavailable.SUBSCRIPTION: "Complete the model's one-time AWS Marketplace subscription: request access in "
    "the Bedrock console (Model access) as a principal allowed aws-marketplace:Subscribe",
    ModelUnavailable.USE_CASE_FORM: "Submit the Anthropic use-case form in the Bedrock console (Model access); "
    "access follows within about 15 minutes",
    ModelUnavailable.UNKNOWN_MODEL: "Check the model id (the ModelId or AllowedModels parameter, or the upload's "
    "model folder): it must name a model or inference profile that supports batch inference in this Region",
}


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


@dataclass(frozen=True)
class _Run:
    store: Store
    batch: BatchService
    objects: ObjectStore
    config: PipelineConfig
    clock: Clock
    report: RunReport
    on_demand: OnDemandService | None
    joins: JoinRequests


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
) -> RunReport:
    """``joins`` is asked for the results join of each file whose last record becomes final: the run never
    waits for one."""
    run = _Run(store, batch, objects, config, clock, RunReport(), on_demand, joins)
    for model in config.models:
        try:
            _run_model(run, model, limits.limits(model))
        except Exception:  # one model's surprise must not stop the others
            run.report.errors += 1
            log.exception("scheduler run failed for a model; the others went on", extra={"model_id": model})
    return run.report


def _run_model(run: _Run, model: str, limits: ModelLimits) -> None:
    active: list[Job] = []
    pending: list[Job] = []
    for job in run.store.jobs_in_flight(model):
        if job.status == JobStatus.PENDING:
            pending.append(job)
            continue
        try:
            if not is_terminal(job.status):
                job = _reconcile(job, run)
            if is_terminal(job.status):
                _settle(run, job)  # just ended, or ended in a run that died before settling it
        except Exception:  # one job's surprise must not stop the run for every other job
            run.report.errors += 1
            log.exception("could not refresh or settle job; trying again next run", extra={"job_id": job.job_id})
        if job.status in ACTIVE:
            active.append(job)
            _check_timeout(run, job)
    _sync_ledger(run.store, model, {job.job_id for job in active}, run.clock.now())
    now = run.clock.now()
    ready = [job for job in pending if not (job.retry_at and job.retry_at > now)]
    run.report.set_aside += len(pending) - len(ready)
    on_demand = [job for job in ready if job.on_demand]  # they take no batch slot
    ready = [job for job in ready if not job.on_demand]
    # What each slot still has to do: the records left in running jobs (Bedrock's progress), whole planned ones.
    busy = [job.record_count - (job.counts.processed or 0) for job in active] + [job.record_count for job in ready]
    for invocation_type in InvocationType:
        free = limits.concurrent_jobs - len(busy)
        batch_jobs, demand_jobs = _plan(run, model, invocation_type, limits, free, busy)
        busy += [job.record_count for job in batch_jobs]
        ready += batch_jobs
        on_demand += demand_jobs
    for job in on_demand:
        _run_on_demand(run, job)
    submitted = _fill(run, model, ready, limits.concurrent_jobs)
    _measure_wait(run, model)
    run.report.active_per_model[model] = len(active) + submitted
    run.report.pending_left += len(ready) - submitted


def _check_timeout(run: _Run, job: Job) -> None:
    """Bedrock expires a job at its timeout; one still running an hour later is stuck: said in the log, a metric
    and the job's message."""
    window = timedelta(hours=run.config.timeout_hours) + retry.TIMEOUT_GRACE
    if not job.submitted_at or run.clock.now() - job.submitted_at <= window:
        return
    run.report.past_timeout += 1
    log.error(
        "job still running past its timeout window; check it in the Bedrock console, or stop it",
        extra={"job_id": job.job_id, "job_arn": job.job_arn, "submitted_at": str(job.submitted_at)},
    )
    message = (
        f"{PAST_TIMEOUT} Bedrock still reports it {job.status.value} more than {run.config.timeout_hours} hours "
        f"after it was submitted. Check {job.job_arn} in the Bedrock console; bbq stop --job {job.job_id} stops it."
    )
    if job.message != message:
        run.store.save_job(job.with_changes(message=message), expected=job.status)


def _measure_wait(run: _Run, model: str) -> None:
    """How long the model's oldest waiting part has waited (one item of each of its queues); past StuckAfterHours,
    its file says so."""
    oldest = [
        part
        for invocation_type in InvocationType
        if (part := next(iter(run.store.waiting_parts(model, invocation_type, page_size=1)), None)) is not None
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
    file = run.store.get_file(part.file_id)
    if file is not None and file.waiting_for not in {WaitReason.MODEL_ACCESS, WaitReason.SLOTS}:
        message = (
            f"Queued for {hours} hours on model {model}: earlier work holds its slots, or its records wait "
            "for companions (SmallWork). Nothing is lost; a higher batch quota in Service Quotas goes faster."
        )
        changes = {"message": message, "waiting_for": WaitReason.SLOTS, "updated_at": run.clock.now()}
        run.store.save_file(file.with_changes(**changes))


def _plan(
    run: _Run, model: str, invocation_type: InvocationType, limits: ModelLimits, slots: int, busy: list[int]
) -> tuple[list[Job], list[Job]]:
    """Batch jobs made from the model's waiting parts for the free slots, and an on-demand job for small work
    that waited too long (SmallWork on-demand); each stored with its parts claimed."""
    if slots <= 0:
        return [], []
    now = run.clock.now()
    plan = plan_jobs(
        run.store.waiting_parts(model, invocation_type),
        limits,
        slots,
        now,
        run.config.companion_wait,
        busy=busy,
    )
    run.report.parts_read += plan.parts_read
    made = [job for planned in plan.jobs if (job := _store(run, planned, model, invocation_type, now))]
    run.report.planned += len(made)
    # Retried records left under Bedrock's minimum run on demand whatever SmallWork says (when bedrock-runtime is
    # at hand): they are the few leftovers of work that ran, and would otherwise wait for uploads that may not come.
    retried = [part for part in plan.overdue if part.attempt > 1] if run.on_demand is not None else []
    small = [part for part in plan.overdue if part not in retried]
    if small and run.config.small_work == SmallWork.FAIL:
        _fail_small_work(run, small, limits)
    go_on_demand = retried + (small if run.config.small_work == SmallWork.ON_DEMAND and run.on_demand else [])
    on_demand = []
    if go_on_demand:
        job = _store(run, PlannedJob(tuple(go_on_demand)), model, invocation_type, now, on_demand=True)
        on_demand = [job] if job else []
    return made, on_demand


def _store(
    run: _Run,
    planned: PlannedJob,
    model: str,
    invocation_type: InvocationType,
    now: datetime,
    on_demand: bool = False,
) -> Job | None:
    """Stores the planned job with its parts claimed and their files' statuses updated; None if another run
    took any of its parts first."""
    job, parts = _job(planned, model, invocation_type, now, on_demand)
    if not run.store.create_job(job, parts):
        log.info("parts taken by another run; planning again next run", extra={"model_id": model})
        return None
    _update_files(run, parts)
    log.info(
        "job planned",
        extra={
            "job_id": job.job_id,
            "model_id": model,
            "records": job.record_count,
            "parts": len(parts),
            "on_demand": on_demand,
        },
    )
    return job


def _job(
    planned: PlannedJob, model: str, invocation_type: InvocationType, now: datetime, on_demand: bool = False
) -> tuple[Job, list[Part]]:
    """The job for these parts and where its input and output are: one part is read where it was staged; all
    of one file's first parts, from the file's staged folder; any other set, from copies under the job's own folder.
    An on-demand job reads each part where it was staged and writes beside where a batch job would."""
    parts = list(planned.parts)
    job_id = naming.job_id_for([part.part_id for part in parts])
    first = parts[0]
    bucket = naming.split_uri(first.staged_uri)[0]
    one_file = all(part.file_id == first.file_id for part in parts)
    copies = False
    if len(parts) == 1:
        input_uri = first.staged_uri
    elif one_file and len(parts) == first.part_count and all(part.attempt == 1 for part in parts):
        input_uri = naming.s3_uri(bucket, naming.staged_prefix(first.file_id))
    else:
        input_uri, copies = naming.s3_uri(bucket, naming.packed_input_prefix(job_id)), True
    tagged = copies or on_demand  # names that stay apart however many files share the job
    claimed = []
    for part in parts:
        key = naming.split_uri(part.staged_uri)[1]
        name = naming.packed_input_name(part.file_id, key) if tagged else posixpath.basename(key)
        claimed.append(part.with_changes(status=PartStatus.IN_JOB, job_id=job_id, input_name=name))
    output_uri = first.output_uri if one_file else naming.packed_output_uri(bucket, job_id)
    job = Job(
        job_id=job_id,
        status=JobStatus.PENDING,
        model_id=model,
        invocation_type=invocation_type,
        part_ids=tuple(part.part_id for part in parts),
        input_uri=input_uri,
        output_uri=output_uri if not on_demand else on_demand_run.output_uri(output_uri),
        record_count=planned.record_count,
        size_bytes=planned.size_bytes,
        created_at=now,
        updated_at=now,
        queued_at=min(part.queued_at for part in parts),
        on_demand=on_demand,
    )
    return job, claimed


def _reconcile(job: Job, run: _Run) -> Job:
    if not job.job_arn:
        raise ValueError(f"active job {job.job_id} has no job ARN")
    try:
        snapshot = run.batch.describe(job.job_arn, job.job_name)
    except ServiceBusy:
        log.warning("Bedrock busy while refreshing; trying again next run", extra={"job_id": job.job_id})
        return job
    except JobNotFound:
        snapshot = JobSnapshot(JobStatus.FAILED, f"Bedrock no longer knows job {job.job_arn}", job.counts, None)
    run.report.refreshed += 1
    if snapshot.status == job.status and snapshot.counts == job.counts and snapshot.message == job.message:
        return job
    now = run.clock.now()
    if snapshot.status in RETRIED and job.attempt < run.config.max_attempts and not _stop_asked(run, job):
        return _retry(job, snapshot, run)
    updated = job.with_changes(
        status=snapshot.status,
        message=snapshot.message,
        counts=snapshot.counts,
        updated_at=now,
        ended_at=(snapshot.ended_at or now) if is_terminal(snapshot.status) else None,
    )
    if updated.status in RETRIED and job.attempt > 1:
        updated = updated.with_changes(message=f"Failed after {job.attempt} attempts: {snapshot.message}")
    if not run.store.save_job(updated, expected=job.status):
        log.info("job changed by another run; taken as it is now", extra={"job_id": job.job_id})
        return run.store.get_job(job.job_id) or job
    if updated.status != job.status:
        log.info(
            "job status changed",
            extra={"job_id": job.job_id, "from": job.status.value, "to": updated.status.value},
        )
    if is_terminal(updated.status):
        run.report.finished[updated.status.value] += 1
    return updated


def _retry(job: Job, snapshot: JobSnapshot, run: _Run) -> Job:
    """Bedrock failed or expired the job: the same parts go again as a new attempt (a new job name and request
    token) after a backoff, until MaxJobAttempts; the slot is free meanwhile."""
    now = run.clock.now()
    wait = retry.backoff(job.attempt)
    message = (
        f"Attempt {job.attempt} ended {snapshot.status.value}: {snapshot.message or 'no message from Bedrock'}. "
        f"Attempt {job.attempt + 1} of {run.config.max_attempts} goes after {wait} (MaxJobAttempts)"
    )
    again = job.with_changes(
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
        message=message,
        updated_at=now,
    )
    if not run.store.save_job(again, expected=job.status):
        log.info("job changed by another run; taken as it is now", extra={"job_id": job.job_id})
        return run.store.get_job(job.job_id) or job
    run.store.release_slot(job.model_id, job.job_id)
    run.report.retried += 1
    tell_files(run.store, run.clock, again, message)
    log.warning(
        "job failed; its parts go again as a new attempt",
        extra={
            "job_id": job.job_id,
            "status": snapshot.status.value,
            "attempt": again.attempt,
            "error": snapshot.message,
        },
    )
    return again


def _settle(run: _Run, job: Job) -> None:
    """An ended job frees its slot, its parts learn what became of each record (retries queued, failures listed),
    their files follow; only then does it leave the queue. Each step may be repeated after a crash."""
    run.store.release_slot(job.model_id, job.job_id)
    parts = settle_job(job, store=run.store, objects=run.objects, config=run.config, clock=run.clock)
    _update_files(run, parts)
    if run.store.save_job(job.with_changes(settled=True), expected=job.status):
        run.report.settled += 1


def _update_files(run: _Run, parts: list[Part]) -> None:
    run.report.joins_requested += update_files(run.store, run.clock, parts, run.joins)


def _stop_asked(run: _Run, job: Job) -> bool:
    """Whether every file the job carries parts of was asked to stop (then a failed job is not tried again)."""
    file_ids = {part.file_id for part in run.store.get_parts(job.part_ids)}
    files = [run.store.get_file(file_id) for file_id in file_ids]
    return bool(files) and all(file is not None and file.stop_requested for file in files)


def _fail_small_work(run: _Run, parts: list[Part], limits: ModelLimits) -> None:
    records = sum(part.record_count for part in parts)
    short_by = limits.min_records_per_job - records
    message = (
        f"Failed: only {records} records waiting for model {parts[0].model_id} after "
        f"{run.config.companion_wait}; Bedrock needs at least {limits.min_records_per_job} per job, so "
        f"{short_by} more records are missing (SmallWork is fail). Upload them together with more records."
    )
    max_line_bytes = run.config.split.max_line_bytes
    failed = [
        part
        for part in (fail_whole_part(part, message, run.objects, max_line_bytes) for part in parts)
        if run.store.save_part(part, expected=PartStatus.WAITING)  # not if a run packed it a moment ago
    ]
    run.report.small_work_failed += len(failed)
    _update_files(run, failed)
    log.warning("small work failed by policy", extra={"model_id": parts[0].model_id, "records": records})


def _sync_ledger(store: Store, model: str, active_ids: set[str], now: datetime) -> None:
    """Heals the ledger after a crash: adds active jobs it lacks, drops holders that ended or never went out."""
    holders = store.slot_holders(model)
    for job_id in active_ids - holders.keys():
        store.hold_slot(model, job_id, now)
    for job_id in holders.keys() - active_ids:
        job = store.get_job(job_id)  # consistent: the queue index may not show a job planned a moment ago yet
        stale_reservation = job is not None and job.status == JobStatus.PENDING
        if (
            job is None
            or is_terminal(job.status)
            or (stale_reservation and now - holders[job_id] > retry.STALE_RESERVATION)
        ):
            store.release_slot(model, job_id)
            log.info("released a slot left by an earlier run", extra={"job_id": job_id, "model_id": model})


def _fill(run: _Run, model: str, queue: list[Job], quota: int) -> int:
    """Submits the model's ready jobs, oldest first, while it has free slots; how many went out."""
    submitted = 0
    transient_left = retry.TRANSIENT_FAILURES_PER_RUN
    for job in sorted(queue, key=lambda j: j.order):
        reservation = run.store.reserve_slot(model, job.job_id, quota, run.clock.now())
        if reservation is Reservation.FULL:
            break
        if reservation is Reservation.TAKEN:
            continue  # another run is submitting it
        request = _request(job, run.config)
        try:
            _stage_input(run, job)
            arn = run.batch.submit(request)
        except SlotUnavailable as exc:
            run.store.release_slot(model, job.job_id)
            run.report.deferred += 1
            log.info("Bedrock has no room for the model now; jobs stay Pending", extra={"reason": str(exc)})
            break  # later runs retry the rest, in order
        except ModelUnavailable as exc:
            run.store.release_slot(model, job.job_id)
            _pause(run, model, queue, exc)
            break
        except RequestRejected as exc:
            run.store.release_slot(model, job.job_id)
            _fail(run, job, str(exc))
            continue
        except Exception as exc:  # transient or unexpected: this job waits, the ones behind it go on
            run.store.release_slot(model, job.job_id)
            _set_aside(run, job, exc)
            transient_left -= 1
            if transient_left == 0:
                break
            continue
        submitted += 1
        _record_submission(run, job, request.job_name, arn)
    return submitted


def _run_on_demand(run: _Run, job: Job) -> None:
    assert run.on_demand is not None
    try:
        ran = on_demand_run.run_job(
            job,
            store=run.store,
            objects=run.objects,
            service=run.on_demand,
            max_line_bytes=run.config.split.max_line_bytes,
        )
    except ModelUnavailable as exc:
        _pause(run, job.model_id, [job], exc)
        return
    except Exception as exc:  # throttled past botocore's retries, or a surprise: the whole job again later
        _set_aside(run, job, exc)
        return
    now = run.clock.now()
    status = (
        JobStatus.COMPLETED
        if ran.counts.error == 0
        else JobStatus.FAILED
        if ran.counts.success == 0
        else JobStatus.PARTIALLY_COMPLETED
    )
    done = ran.with_changes(
        status=status, updated_at=now, submitted_at=now, ended_at=now, transient_errors=0, retry_at=None
    )
    if run.store.save_job(done, expected=JobStatus.PENDING):
        run.report.ran_on_demand += done.counts.total or 0
        run.report.finished[status.value] += 1
        _settle(run, done)


def _stage_input(run: _Run, job: Job) -> None:
    """A packed job's input folder holds copies of its parts (copying again after a crash is harmless)."""
    bucket, prefix = naming.split_uri(job.input_uri)
    if prefix != naming.packed_input_prefix(job.job_id):
        return
    for part in run.store.get_parts(job.part_ids):
        run.objects.copy(bucket, naming.split_uri(part.staged_uri)[1], prefix + (part.input_name or ""))


def _request(job: Job, config: PipelineConfig) -> SubmitRequest:
    return SubmitRequest(
        job_name=naming.job_name(config.job_name_prefix, job.job_id, job.attempt),
        client_token=naming.client_request_token(job.job_id, job.attempt),
        model_id=job.model_id,
        role_arn=config.role_arn,
        input_uri=job.input_uri,
        output_uri=job.output_uri,
        invocation_type=job.invocation_type,
        timeout_hours=config.timeout_hours,
        tags={"bbq:job-id": job.job_id},
    )


def _record_submission(run: _Run, job: Job, name: str, arn: str) -> None:
    now = run.clock.now()
    submitted = job.with_changes(
        status=JobStatus.SUBMITTED,
        job_name=name,
        job_arn=arn,
        submitted_at=now,
        updated_at=now,
        message="",
        transient_errors=0,
        retry_at=None,
    )
    if run.store.save_job(submitted, expected=JobStatus.PENDING):
        run.report.submitted += 1
        log.info("job submitted", extra={"job_id": job.job_id, "job_arn": arn, "model_id": job.model_id})
        return
    current = run.store.get_job(job.job_id)
    if current is not None and current.status == JobStatus.STOPPED and not current.job_arn:
        # Stopped on request while this run was submitting it: stop what Bedrock just accepted too, and follow
        # it to its end like any job (its slot stays held until then).
        run.batch.stop(arn)
        stopping = current.with_changes(
            status=JobStatus.STOPPING, job_name=name, job_arn=arn, submitted_at=now, updated_at=now, settled=False
        )
        if run.store.save_job(stopping, expected=JobStatus.STOPPED):
            log.warning("job stopped on request as it went out", extra={"job_id": job.job_id, "job_arn": arn})


def _fail(run: _Run, job: Job, message: str) -> None:
    now = run.clock.now()
    failed = job.with_changes(status=JobStatus.FAILED, message=message, updated_at=now, ended_at=now)
    if run.store.save_job(failed, expected=JobStatus.PENDING):
        run.report.rejected += 1
        run.report.finished[JobStatus.FAILED.value] += 1
        _settle(run, failed)
    log.error("Bedrock rejected the job", extra={"job_id": job.job_id, "error": message})


def _set_aside(run: _Run, job: Job, exc: Exception) -> None:
    now = run.clock.now()
    errors = job.transient_errors + 1
    wait = retry.backoff(errors)
    waiting = job.with_changes(
        transient_errors=errors,
        retry_at=now + wait,
        updated_at=now,
        message=f"Bedrock answered an error ({exc}); trying again after {wait} (attempt {errors})",
    )
    run.store.save_job(waiting, expected=JobStatus.PENDING)
    run.report.deferred += 1
    log.warning(
        "job set aside after a transient error",
        extra={"job_id": job.job_id, "error": str(exc), "errors_in_a_row": errors, "retry_in_s": wait.seconds},
    )


def _pause(run: _Run, model: str, queue: list[Job], exc: ModelUnavailable) -> None:
    """Leaves the model's planned jobs Pending with a message on each saying what to fix; every later run tries
    one job and the queue resumes by itself once Bedrock accepts the model."""
    message = (
        f"Waiting: Bedrock refuses model {model} for this account ({exc}). {WHAT_TO_FIX[exc.reason]}. "
        "bbq tries again on every run and resumes by itself."
    )
    run.report.paused[model] = message
    run.report.deferred += 1
    log.error("model unavailable; its queue waits", extra={"model_id": model, "reason": exc.reason, "error": str(exc)})
    now = run.clock.now()
    for job in queue:
        if job.message != message:
            run.store.save_job(job.with_changes(message=message, updated_at=now), expected=JobStatus.PENDING)
            tell_files(run.store, run.clock, job, message, WaitReason.MODEL_ACCESS)
