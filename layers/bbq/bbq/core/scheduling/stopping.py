"""Stopping a file or a job on request (``bbq stop``; the scheduler finishes what a stop starts).

Stopping a file: nothing more of it is submitted or retried. Its waiting parts leave the queue; a job that
carries only its records is stopped in Bedrock (StopModelInvocationJob); a job packed with other files' records
runs on, since stopping it would stop them too, and this file's results from it are kept. What ran is kept and
counted; the file ends ``Stopped`` once its jobs have ended.

Stopping a job: a job not yet submitted ends at once; one in Bedrock is asked to stop, and ends ``Stopped`` there
with its partial output, which is read and counted like any output. Every file it carries records of is stopped
with it, so their records that did not run are not run again.
"""

import logging
from dataclasses import dataclass, field

from bbq.core.model.clock import Clock
from bbq.core.model.errors import JobNotFound
from bbq.core.model.file_updates import update_file
from bbq.core.model.files import FILE_FINAL, InputFile, PartStatus
from bbq.core.model.jobs import Job
from bbq.core.model.ports import BatchService, JoinRequests, Store
from bbq.core.model.states import ACTIVE, JobStatus
from bbq.core.settling.progress import update_files

log = logging.getLogger(__name__)

STOP_REQUESTED = "Stop requested"


@dataclass
class StopOutcome:
    parts_stopped: int = 0  # waiting parts taken out of the queue
    jobs_stopped: list[str] = field(default_factory=list)  # ended before submission, or asked to stop in Bedrock
    jobs_left_running: list[str] = field(default_factory=list)  # packed with other files' records
    note: str = ""


def stop_file(file_id: str, *, store: Store, batch: BatchService, joins: JoinRequests, clock: Clock) -> StopOutcome:
    file = store.get_file(file_id)
    if file is None:
        raise KeyError(f"no file {file_id} in the table")
    outcome = StopOutcome()
    if file.status in FILE_FINAL:
        outcome.note = f"the file has ended already ({file.status.value}); nothing to stop"
        return outcome
    # The flag first: a job of the file that ends from now on sends none of its records again. Saved on the
    # revision read: a run that read the file before and writes after loses, reads again and sees the stop.
    update_file(store, file_id, lambda f: _flagged(f, clock))
    file = store.get_file(file_id)
    if file is None or not file.stop_requested:  # it ended a moment ago, or kept changing: nothing flagged
        outcome.note = "the file ended or kept changing while being stopped; see bbq status, then try again"
        return outcome
    job_ids: dict[str, None] = {}
    for part in store.parts_of(file):
        if part.status == PartStatus.WAITING:
            stopped = part.with_changes(status=PartStatus.STOPPED, message="Stopped on request before it ran")
            if store.save_part(stopped, expected=PartStatus.WAITING):
                outcome.parts_stopped += 1
                continue
            part = next(iter(store.get_parts([part.part_id])))  # a run put it in a job a moment ago
        if part.status == PartStatus.IN_JOB and part.job_id:
            job_ids[part.job_id] = None
    for job_id in job_ids:
        job = store.get_job(job_id)
        if job is None:
            continue
        carried = {part.file_id for part in store.get_parts(job.part_ids)}
        if carried == {file_id}:
            if _stop(job, store=store, batch=batch, clock=clock):
                outcome.jobs_stopped.append(job_id)
        else:
            outcome.jobs_left_running.append(job_id)
    update_files(store, clock, store.parts_of(file), joins)
    log.warning(
        "file stop requested",
        extra={"file_id": file_id, "parts_stopped": outcome.parts_stopped, "jobs_stopped": outcome.jobs_stopped},
    )
    return outcome


def stop_job(job_id: str, *, store: Store, batch: BatchService, clock: Clock) -> StopOutcome:
    job = store.get_job(job_id)
    if job is None:
        raise KeyError(f"no job {job_id} in the table")
    outcome = StopOutcome()
    for file_id in dict.fromkeys(part.file_id for part in store.get_parts(job.part_ids)):
        update_file(store, file_id, lambda f: _flagged(f, clock))
    if _stop(job, store=store, batch=batch, clock=clock):
        outcome.jobs_stopped.append(job_id)
    else:
        outcome.note = f"the job has ended already ({job.status.value}); nothing to stop"
    return outcome


def _flagged(file: InputFile, clock: Clock) -> InputFile | None:
    """The file flagged; None when it is already, or has ended (nothing to write)."""
    if file.stop_requested or file.status in FILE_FINAL:
        return None
    return file.with_changes(stop_requested=True, message=STOP_REQUESTED, updated_at=clock.now())


def _stop(job: Job, *, store: Store, batch: BatchService, clock: Clock) -> bool:
    """Ends a job not yet submitted, or asks Bedrock to stop one it runs; False when it had ended."""
    for _ in range(3):  # a scheduler run may be submitting it right now: then it is stopped in Bedrock
        if job.status == JobStatus.PENDING:
            now = clock.now()
            stopped = job.with_changes(
                status=JobStatus.STOPPED, message="Stopped on request before it was submitted", ended_at=now
            )
            if store.save_job(stopped, expected=JobStatus.PENDING):
                store.release_slot(job.slot_key, job.job_id)
                return True
        elif job.status in ACTIVE and job.job_arn:
            try:
                return batch.stop(job.job_arn)
            except JobNotFound:
                return False  # the scheduler's next refresh says it is gone and ends it
        else:
            return False
        job = store.get_job(job.job_id) or job
    return False
