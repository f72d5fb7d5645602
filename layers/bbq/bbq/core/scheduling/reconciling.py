"""The writes of a run's first decisions: each job's refresh (a failed or expired attempt queued again, an ended
job settled), a job past its timeout marked, and the slot ledger healed."""

import logging

from bbq.core.model.jobs import Job
from bbq.core.model.states import ACTIVE, JobStatus, is_terminal
from bbq.core.scheduling import decisions
from bbq.core.scheduling.decisions import LedgerRepair, ModelSnapshot, Refresh
from bbq.core.scheduling.run import Run, settle
from bbq.core.settling.progress import tell_files

log = logging.getLogger(__name__)


def reconcile(run: Run, snapshot: ModelSnapshot) -> list[Job]:
    """Applies each job's refresh and settles the jobs that ended; the jobs still active."""
    active = []
    for job in snapshot.jobs:
        if job.status == JobStatus.PENDING:
            continue
        try:
            change = decisions.refresh(
                job,
                snapshot.answers.get(job.job_id),
                now=snapshot.now,
                config=run.config,
                stop_asked=job.job_id in snapshot.stop_asked,
            )
            job = apply_refresh(run, change)
            if is_terminal(job.status):
                settle(run, job)  # just ended, or ended in a run that died before settling it
        except Exception:  # one job's surprise must not stop the run for every other job
            run.report.errors += 1
            log.exception("could not refresh or settle job; trying again next run", extra={"job_id": job.job_id})
        if job.status in ACTIVE:
            active.append(job)
            if decisions.past_timeout(job, snapshot.now, run.config):
                surface_timeout(run, job)
    return active


def apply_refresh(run: Run, change: Refresh) -> Job:
    """The job as it is after the write (as another run left it, when that run wrote first)."""
    job, after = change.before, change.after
    if not change.changed:
        return job
    if not run.store.save_job(after, expected=job.status):
        log.info("job changed by another run; taken as it is now", extra={"job_id": job.job_id})
        return run.store.get_job(job.job_id) or job
    if change.retried:
        run.store.release_slot(job.slot_key, job.job_id)
        run.report.retried += 1
        tell_files(run.store, run.clock, after, after.message)
        log.warning(
            "job failed; its parts go again as a new attempt",
            extra={"job_id": job.job_id, "attempt": after.attempt, "error": after.message},
        )
        return after
    if after.status != job.status:
        log.info("job status changed", extra={"job_id": job.job_id, "from": job.status.value, "to": after.status.value})
    if is_terminal(after.status):
        run.report.finished[after.status.value] += 1
    return after


def surface_timeout(run: Run, job: Job) -> None:
    run.report.past_timeout += 1
    log.error(
        "job still running past its timeout window; check it in the Bedrock console, or stop it",
        extra={"job_id": job.job_id, "job_arn": job.job_arn, "submitted_at": str(job.submitted_at)},
    )
    if (marked := decisions.timeout_mark(job, run.config)) and run.store.save_job(marked, expected=job.status):
        tell_files(run.store, run.clock, marked, marked.message)  # where users look: the file, not only the job


def repair_ledger(run: Run, model: str, repair: LedgerRepair) -> None:
    for job_id in repair.hold:
        run.store.hold_slot(model, job_id, run.clock.now())
    for job_id in repair.release:
        run.store.release_slot(model, job_id)
        log.info("released a slot left by an earlier run", extra={"job_id": job_id, "model_id": model})
