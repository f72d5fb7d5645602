"""Planned jobs to Bedrock, oldest first, each after a slot is reserved in the ledger; on-demand jobs run
record by record; refusals handled (a quota full, a transient error set aside, a model paused, a request
rejected)."""

import logging

from bbq.core.model import naming, retry
from bbq.core.model.config import PipelineConfig
from bbq.core.model.errors import ModelUnavailable, ObjectMissing
from bbq.core.model.files import Part, PartStatus, WaitReason
from bbq.core.model.jobs import Job, JobNote
from bbq.core.model.ports import (
    BudgetReservation,
    Reservation,
    SubmitRequest,
)
from bbq.core.model.states import JobStatus
from bbq.core.scheduling import budgeting, refusals
from bbq.core.scheduling import on_demand as on_demand_run
from bbq.core.scheduling.budgeting import PartPrice
from bbq.core.scheduling.refusals import Refusal
from bbq.core.scheduling.run import Run, files_changed, settle
from bbq.core.settling.progress import tell_files
from bbq.core.settling.settle import input_gone

log = logging.getLogger(__name__)


def fill(run: Run, model: str, ledger: str, queue: list[Job], quota: int, price: PartPrice | None = None) -> int:
    """Submits the model's ready jobs in the order given while its quota holder's ledger has free slots, each
    first reserved against its budgets (when any is set); how many went out."""
    submitted = 0
    transient_left = retry.TRANSIENT_FAILURES_PER_RUN
    price = price or PartPrice(run.config, model)
    queue = list(queue)
    for index, job in enumerate(queue):
        reserved = reserve_or_hold(run, job, price)  # planned before a budget was set, or refused at planning
        if reserved is None:
            continue
        job = queue[index] = reserved  # every later write of it (a pause of the queue too) carries the reservation
        reservation = run.store.reserve_slot(ledger, job.job_id, quota, run.clock.now())
        if reservation is Reservation.FULL:
            break
        if reservation is Reservation.TAKEN:
            continue  # another run is submitting it
        request = request_for(job, run.config)
        if gone := stage_input(run, job):
            run.store.release_slot(ledger, job.job_id)
            unpack(run, job, gone)
            continue
        try:
            arn = run.batch.submit(request)
        except Exception as exc:
            run.store.release_slot(ledger, job.job_id)
            match refusals.refusal(exc):
                case Refusal.NO_ROOM:
                    run.report.deferred += 1
                    log.info("Bedrock has no room for the model now; jobs stay Pending", extra={"reason": str(exc)})
                    break  # later runs go on with the rest, in order
                case Refusal.MODEL_PAUSED:
                    assert isinstance(exc, ModelUnavailable)
                    pause(run, model, queue, exc)
                    break
                case Refusal.REJECTED:
                    fail(run, job, str(exc))
                case Refusal.TRANSIENT:
                    set_aside(run, job, exc)
                    transient_left -= 1
                    if transient_left == 0:
                        break
            continue
        submitted += 1
        record_submission(run, job, request.job_name, arn)
        if job.note == JobNote.BUDGET:  # its files said they waited for budget: no longer
            tell_files(run.store, run.clock, job, "")
    return submitted


def reserve_or_hold(run: Run, job: Job, price: PartPrice) -> Job | None:
    """The job reserved against its budgets (as it was when none is set, or it was reserved before); None when it
    may not go now: another run reserved it, or a budget has no room (then it waits, and its files say why)."""
    job, outcome = budgeting.reserve(run.store, run.config, run.clock, job, price)
    if outcome in {None, BudgetReservation.RESERVED}:
        return job
    if outcome == BudgetReservation.REFUSED and run.store.save_job(job, expected=JobStatus.PENDING):
        tell_files(run.store, run.clock, job, job.message, WaitReason.BUDGET)
        run.report.held_by_budget.update({team: "job" for team in job.team_records})
    return None


def run_on_demand(run: Run, job: Job, price: PartPrice | None = None) -> None:
    """Runs the job's records on demand, after reserving its cost against its budgets (when any is set)."""
    assert run.on_demand is not None
    reserved = reserve_or_hold(run, job, price or PartPrice(run.config, job.model_id))
    if reserved is None:
        return
    job = reserved
    flex = job.model_id in run.config.flex_models and bool(job.on_demand_reason)  # deadline work only
    try:
        ran = on_demand_run.run_job(
            job,
            store=run.store,
            objects=run.objects,
            service=run.on_demand,
            max_line_bytes=run.config.split.max_line_bytes,
            service_tier="flex" if flex else None,
        )
    except ModelUnavailable as exc:
        pause(run, job.model_id, [job], exc)
        return
    except Exception as exc:  # throttled past botocore's retries, or a surprise: the whole job again later
        set_aside(run, job, exc)
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
        settle(run, done)


def stage_input(run: Run, job: Job) -> list[Part]:
    """A packed job's input folder holds copies of its parts (copying again after a crash is harmless); the parts
    whose staged input is gone (deleted, or expired after StagedDataDays), which it could not copy."""
    bucket, prefix = naming.split_uri(job.input_uri)
    if prefix != naming.packed_input_prefix(job.job_id):
        return []
    gone = []
    for part in run.claimed.get(job.job_id) or run.store.get_parts(job.part_ids):
        try:
            run.objects.copy(bucket, naming.split_uri(part.staged_uri)[1], prefix + (part.input_name or ""))
        except ObjectMissing:
            gone.append(part)
    return gone


def unpack(run: Run, job: Job, gone: list[Part]) -> None:
    """A packed job some of whose parts lost their staged input never goes out: those parts fail (saying which key
    is gone), the others go back to the queue to be packed again without them, and the job ends unsubmitted."""
    now = run.clock.now()
    job = budgeting.settle_spend(run.store, run.config, run.clock, job, [])  # it never ran: its reservation goes
    ended = job.with_changes(
        status=JobStatus.FAILED,
        message=f"Not submitted: the staged input of {len(gone)} of its parts is gone; its other parts went back "
        "to the queue",
        ended_at=now,
        updated_at=now,
        settled=True,
    )
    if not run.store.save_job(ended, expected=JobStatus.PENDING):
        return  # another run took it
    gone_ids = {part.part_id for part in gone}
    changed = []
    for part in run.store.get_parts(job.part_ids):
        if part.part_id in gone_ids:
            after = input_gone(part)
        else:
            after = part.with_changes(status=PartStatus.WAITING, job_id=None, input_name=None)
        if run.store.save_part(after, expected=PartStatus.IN_JOB):
            changed.append(after)
    files_changed(run, changed)
    log.error(
        "staged input gone; the job's other parts go back to the queue",
        extra={"job_id": job.job_id, "gone": sorted(gone_ids)},
    )


def request_for(job: Job, config: PipelineConfig) -> SubmitRequest:
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


def record_submission(run: Run, job: Job, name: str, arn: str) -> None:
    now = run.clock.now()
    submitted = refusals.submitted(job, name, arn, now)
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


def fail(run: Run, job: Job, message: str) -> None:
    failed = refusals.rejected(job, message, run.clock.now())
    if run.store.save_job(failed, expected=JobStatus.PENDING):
        run.report.rejected += 1
        run.report.finished[JobStatus.FAILED.value] += 1
        settle(run, failed)
    log.error("Bedrock rejected the job", extra={"job_id": job.job_id, "error": message})


def set_aside(run: Run, job: Job, exc: Exception) -> None:
    waiting = refusals.set_aside(job, exc, run.clock.now())
    run.store.save_job(waiting, expected=JobStatus.PENDING)
    run.report.deferred += 1
    log.warning(
        "job set aside after a transient error",
        extra={"job_id": job.job_id, "error": str(exc), "errors_in_a_row": waiting.transient_errors},
    )


def pause(run: Run, model: str, queue: list[Job], exc: ModelUnavailable) -> None:
    """Leaves the model's planned jobs Pending with a message on each saying what to fix; every later run tries
    one job and the queue resumes by itself once Bedrock accepts the model."""
    message = refusals.pause_message(model, exc)
    run.report.paused[model] = message
    run.report.deferred += 1
    log.error("model unavailable; its queue waits", extra={"model_id": model, "reason": exc.reason, "error": str(exc)})
    for job in queue:
        if marked := refusals.paused(job, message, run.clock.now()):
            run.store.save_job(marked, expected=JobStatus.PENDING)
            tell_files(run.store, run.clock, job, message, WaitReason.MODEL_ACCESS)
