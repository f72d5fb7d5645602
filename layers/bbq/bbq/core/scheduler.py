"""The scheduler run: reconcile every active job with Bedrock, then fill each model's free slots.

Runs may overlap (the schedule and Bedrock's events trigger them, with no reserved concurrency): each slot is
reserved in the store's ledger with one atomic write before its job is submitted, so overlapping runs never
ask Bedrock for more than the quota and never submit the same job twice. A surprise about one job (an
unknown status or error) is logged and the run goes on with the others.
"""

import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from bbq.core import naming, retry, slots
from bbq.core.clock import Clock
from bbq.core.config import PipelineConfig
from bbq.core.errors import JobNotFound, ModelUnavailable, RequestRejected, ServiceBusy, SlotUnavailable
from bbq.core.jobs import Job, JobSnapshot
from bbq.core.ports import BatchService, JobStore, QuotaProvider, Reservation, SubmitRequest
from bbq.core.states import ACTIVE, JobStatus, is_terminal

log = logging.getLogger(__name__)

# What to do about each way Bedrock refuses a model for the account: the message every waiting item carries.
WHAT_TO_FIX = {
    ModelUnavailable.ACCESS: "Grant access to the model in the Bedrock console (Model access) in this Region, and "
    "check that the scheduler role may create jobs on it and pass the batch role",
    ModelUnavailable.SUBSCRIPTION: "Complete the model's one-time AWS Marketplace subscription: request access in "
    "the Bedrock console (Model access) as a principal allowed aws-marketplace:Subscribe",
    ModelUnavailable.USE_CASE_FORM: "Submit the Anthropic use-case form in the Bedrock console (Model access); "
    "access follows within about 15 minutes",
    ModelUnavailable.UNKNOWN_MODEL: "Check the ModelId parameter: it must name a model or inference profile "
    "that supports batch inference in this Region",
}


@dataclass
class RunReport:
    refreshed: int = 0
    finished: Counter[str] = field(default_factory=Counter)
    submitted: int = 0
    rejected: int = 0
    deferred: int = 0  # Pending jobs that fit a slot but Bedrock refused for now (quota, throttling, errors)
    set_aside: int = 0  # Pending jobs waiting out a backoff after transient errors
    pending_left: int = 0
    errors: int = 0  # jobs skipped this run because of an unexpected answer (logged with the job id)
    active_per_model: dict[str, int] = field(default_factory=dict)
    paused: dict[str, str] = field(default_factory=dict)  # model -> why Bedrock refuses it for this account


def run_scheduler(
    *, store: JobStore, batch: BatchService, quotas: QuotaProvider, config: PipelineConfig, clock: Clock
) -> RunReport:
    report = RunReport()
    still_active = []
    for job in store.list_by_status(ACTIVE):
        try:
            job = _reconcile(job, batch, store, clock, report)
        except Exception:  # one job's surprise must not stop the run for every other job
            report.errors += 1
            log.exception("could not refresh job; it keeps its slot", extra={"job_id": job.job_id})
        if job.status in ACTIVE:
            still_active.append(job)
    counts = slots.active_per_model(still_active)
    pending = store.list_by_status([JobStatus.PENDING])
    for model, queue in slots.queue_by_model(pending).items():
        active_ids = {job.job_id for job in still_active if job.model_id == model}
        _sync_ledger(store, model, active_ids, clock.now())
        counts[model] += _fill(model, queue, quotas.concurrent_jobs(model), store, batch, config, clock, report)
    report.pending_left = len(pending) - report.submitted - report.rejected
    report.active_per_model = dict(counts)
    return report


def _reconcile(job: Job, batch: BatchService, store: JobStore, clock: Clock, report: RunReport) -> Job:
    if not job.job_arn:
        raise ValueError(f"active job {job.job_id} has no job ARN")
    try:
        snapshot = batch.describe(job.job_arn, job.job_name)
    except ServiceBusy:
        log.warning("Bedrock busy while refreshing; trying again next run", extra={"job_id": job.job_id})
        return job
    except JobNotFound:
        snapshot = JobSnapshot(JobStatus.FAILED, f"Bedrock no longer knows job {job.job_arn}", job.counts, None)
    report.refreshed += 1
    if snapshot.status == job.status and snapshot.counts == job.counts and snapshot.message == job.message:
        return job
    now = clock.now()
    updated = job.with_changes(
        status=snapshot.status,
        message=snapshot.message,
        counts=snapshot.counts,
        updated_at=now,
        ended_at=(snapshot.ended_at or now) if is_terminal(snapshot.status) else None,
    )
    if not store.save_transition(updated, expected=job.status):
        log.info("job changed by another run; skipped", extra={"job_id": job.job_id})
        return job
    if updated.status != job.status:
        log.info(
            "job status changed",
            extra={"job_id": job.job_id, "from": job.status.value, "to": updated.status.value},
        )
    if is_terminal(updated.status):
        store.release_slot(job.model_id, job.job_id)
        report.finished[updated.status.value] += 1
    return updated


def _sync_ledger(store: JobStore, model: str, active_ids: set[str], now: datetime) -> None:
    """Heals the ledger after a crash: adds active jobs it lacks, drops holders that ended or never went out."""
    holders = store.slot_holders(model)
    for job_id in active_ids - holders.keys():
        store.hold_slot(model, job_id, now)
    for job_id in holders.keys() - active_ids:
        job = store.get(job_id)  # consistent: the index may not show a job submitted a moment ago yet
        stale_reservation = job is not None and job.status == JobStatus.PENDING
        if job is None or is_terminal(job.status) or (
            stale_reservation and now - holders[job_id] > retry.STALE_RESERVATION
        ):
            store.release_slot(model, job_id)
            log.info("released a slot left by an earlier run", extra={"job_id": job_id, "model_id": model})


def _fill(
    model: str,
    queue: list[Job],
    quota: int,
    store: JobStore,
    batch: BatchService,
    config: PipelineConfig,
    clock: Clock,
    report: RunReport,
) -> int:
    """Submits the model's oldest Pending jobs while it has free slots; how many went out."""
    submitted = 0
    transient_left = retry.TRANSIENT_FAILURES_PER_RUN
    for job in queue:
        now = clock.now()
        if job.retry_at and job.retry_at > now:
            report.set_aside += 1
            continue
        reservation = store.reserve_slot(model, job.job_id, quota, now)
        if reservation is Reservation.FULL:
            break
        if reservation is Reservation.TAKEN:
            continue  # another run is submitting it
        request = _request(job, config)
        try:
            arn = batch.submit(request)
        except SlotUnavailable as exc:
            store.release_slot(model, job.job_id)
            report.deferred += 1
            log.info("Bedrock has no room for the model now; jobs stay Pending", extra={"reason": str(exc)})
            break  # later runs retry the rest, in order
        except ModelUnavailable as exc:
            store.release_slot(model, job.job_id)
            _pause(model, queue, exc, store, clock, report)
            break
        except RequestRejected as exc:
            store.release_slot(model, job.job_id)
            _fail(job, str(exc), store, clock, report)
            continue
        except Exception as exc:  # transient or unexpected: this job waits, the ones behind it go on
            store.release_slot(model, job.job_id)
            _set_aside(job, exc, store, clock, report)
            transient_left -= 1
            if transient_left == 0:
                break
            continue
        submitted += 1
        _record_submission(job, request.job_name, arn, store, clock, report)
    return submitted


def _request(job: Job, config: PipelineConfig) -> SubmitRequest:
    return SubmitRequest(
        job_name=naming.job_name(config.job_name_prefix, job.job_id, job.attempt),
        client_token=naming.client_request_token(job.job_id, job.attempt),
        model_id=job.model_id,
        role_arn=config.role_arn,
        input_uri=job.input_uri,
        output_uri=job.output_uri,
        timeout_hours=config.timeout_hours,
        tags={"bbq:job-id": job.job_id},
    )


def _record_submission(job: Job, name: str, arn: str, store: JobStore, clock: Clock, report: RunReport) -> None:
    now = clock.now()
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
    if store.save_transition(submitted, expected=JobStatus.PENDING):
        report.submitted += 1
        log.info("job submitted", extra={"job_id": job.job_id, "job_arn": arn, "model_id": job.model_id})


def _fail(job: Job, message: str, store: JobStore, clock: Clock, report: RunReport) -> None:
    now = clock.now()
    failed = job.with_changes(status=JobStatus.FAILED, message=message, updated_at=now, ended_at=now)
    if store.save_transition(failed, expected=JobStatus.PENDING):
        report.rejected += 1
        report.finished[JobStatus.FAILED.value] += 1
    log.error("Bedrock rejected the job", extra={"job_id": job.job_id, "error": message})


def _set_aside(job: Job, exc: Exception, store: JobStore, clock: Clock, report: RunReport) -> None:
    now = clock.now()
    errors = job.transient_errors + 1
    wait = retry.backoff(errors)
    waiting = job.with_changes(
        transient_errors=errors,
        retry_at=now + wait,
        updated_at=now,
        message=f"Bedrock answered an error ({exc}); trying again after {wait} (attempt {errors})",
    )
    store.save_transition(waiting, expected=JobStatus.PENDING)
    report.deferred += 1
    log.warning(
        "job set aside after a transient error",
        extra={"job_id": job.job_id, "error": str(exc), "errors_in_a_row": errors, "retry_in_s": wait.seconds},
    )


def _pause(
    model: str, queue: list[Job], exc: ModelUnavailable, store: JobStore, clock: Clock, report: RunReport
) -> None:
    """Leaves the model's queue Pending with a message on each item saying what to fix; every later run tries
    one job and the queue resumes by itself once Bedrock accepts the model."""
    message = (
        f"Waiting: Bedrock refuses model {model} for this account ({exc}). {WHAT_TO_FIX[exc.reason]}. "
        "bbq tries again on every run and resumes by itself."
    )
    report.paused[model] = message
    report.deferred += 1
    log.error("model unavailable; its queue waits", extra={"model_id": model, "reason": exc.reason, "error": str(exc)})
    now = clock.now()
    for job in queue:
        if job.message != message:
            store.save_transition(job.with_changes(message=message, updated_at=now), expected=JobStatus.PENDING)
