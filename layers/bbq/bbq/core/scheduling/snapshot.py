"""A run's reads for one model, before it decides anything: its jobs in flight, Bedrock's answer for each active
one, which of them carry only files asked to stop, the slot ledger, and its queues of waiting parts (lazily)."""

import logging

from bbq.core.model import budgets
from bbq.core.model.errors import JobNotFound, ServiceBusy
from bbq.core.model.files import InvocationType
from bbq.core.model.jobs import Job, JobSnapshot
from bbq.core.model.limits import ModelLimits
from bbq.core.model.states import ACTIVE, JobStatus, is_terminal
from bbq.core.scheduling.budgeting import budget_keys
from bbq.core.scheduling.decisions import RETRIED, ModelSnapshot
from bbq.core.scheduling.run import Run

log = logging.getLogger(__name__)


def read_snapshot(run: Run, model: str, limits: ModelLimits, ledger: str) -> ModelSnapshot:
    """``ledger``: the quota holder whose slot ledger the model's jobs count against."""
    jobs = tuple(run.store.jobs_in_flight(model))
    answers = {}
    for job in jobs:
        if job.status == JobStatus.PENDING or is_terminal(job.status):
            continue
        try:
            answer = ask_bedrock(run, job)
        except Exception:  # one job's surprise must not stop the run for every other job
            run.report.errors += 1
            log.exception("could not refresh job; trying again next run", extra={"job_id": job.job_id})
            continue
        if answer is not None:
            answers[job.job_id] = answer
    stop_asked = frozenset(
        job.job_id
        for job in jobs
        if job.job_id in answers and answers[job.job_id].status in RETRIED and every_file_stopping(run, job)
    )
    held = run.store.slot_holders(ledger)
    active = {job.job_id for job in jobs if job.status in ACTIVE}
    # Consistent reads: the queue index may not show a job another run planned or submitted a moment ago (and a
    # model sharing the ledger holds slots with jobs of its own).
    holders = {job_id: run.store.get_job(job_id) for job_id in held.keys() - active}
    teams = run.store.teams(model)
    now = run.clock.now()
    spends, calibration = {}, budgets.Calibration()
    if run.config.teams.budgeted:  # the lines of every team with a queue, and the model's tokens per byte so far
        spends = run.store.spends(budget_keys(teams, run.config, now))
        calibration = budgets.calibration(*run.store.model_tokens(model))
    return ModelSnapshot(
        model=model,
        limits=limits,
        now=now,
        jobs=jobs,
        answers=answers,
        stop_asked=stop_asked,
        ledger=held,
        holders=holders,
        waiting={
            kind: {team: run.store.waiting_parts(model, kind, team=team) for team in teams} for kind in InvocationType
        },
        spends=spends,
        calibration=calibration,
    )


def ask_bedrock(run: Run, job: Job) -> JobSnapshot | None:
    """Bedrock's answer; None when it is busy (asked again next run). A job Bedrock no longer knows failed."""
    if not job.job_arn:
        raise ValueError(f"active job {job.job_id} has no job ARN")
    try:
        answer = run.batch.describe(job.job_arn, job.job_name)
    except ServiceBusy:
        log.warning("Bedrock busy while refreshing; trying again next run", extra={"job_id": job.job_id})
        return None
    except JobNotFound:
        answer = JobSnapshot(JobStatus.FAILED, f"Bedrock no longer knows job {job.job_arn}", job.counts, None)
    run.report.refreshed += 1
    return answer


def every_file_stopping(run: Run, job: Job) -> bool:
    """Whether every file the job carries parts of was asked to stop (then a failed job is not tried again)."""
    file_ids = {part.file_id for part in run.store.get_parts(job.part_ids)}
    files = [run.store.get_file(file_id) for file_id in file_ids]
    return bool(files) and all(file is not None and file.stop_requested for file in files)
