"""Each job in flight against Bedrock: its status and counters refreshed, a failed or expired job sent again
as a new attempt, a job past its timeout surfaced, and the slot ledger healed."""

import logging
from datetime import datetime, timedelta

from bbq.core.model import retry
from bbq.core.model.errors import JobNotFound, ServiceBusy
from bbq.core.model.jobs import Job, JobSnapshot, RecordCounts
from bbq.core.model.ports import Store
from bbq.core.model.states import JobStatus, is_terminal
from bbq.core.scheduling.run import Run
from bbq.core.settling.progress import tell_files

log = logging.getLogger(__name__)

# Bedrock outcomes after which the same parts go again as a new attempt (up to PipelineConfig.max_attempts).
RETRIED = frozenset({JobStatus.FAILED, JobStatus.EXPIRED})
PAST_TIMEOUT = "Past its timeout:"  # how the message of a job Bedrock should have expired begins


def reconcile(job: Job, run: Run) -> Job:
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
    if snapshot.status in RETRIED and job.attempt < run.config.max_attempts and not stop_asked(run, job):
        return retry_job(job, snapshot, run)
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


def retry_job(job: Job, snapshot: JobSnapshot, run: Run) -> Job:
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


def stop_asked(run: Run, job: Job) -> bool:
    """Whether every file the job carries parts of was asked to stop (then a failed job is not tried again)."""
    file_ids = {part.file_id for part in run.store.get_parts(job.part_ids)}
    files = [run.store.get_file(file_id) for file_id in file_ids]
    return bool(files) and all(file is not None and file.stop_requested for file in files)


def check_timeout(run: Run, job: Job) -> None:
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


def sync_ledger(store: Store, model: str, active_ids: set[str], now: datetime) -> None:
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
