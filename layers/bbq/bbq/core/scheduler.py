"""The scheduler run: reconcile every active job with Bedrock, then fill each model's free slots."""

import logging
from collections import Counter
from dataclasses import dataclass, field
from enum import Enum

from bbq.core import naming, slots
from bbq.core.clock import Clock
from bbq.core.config import PipelineConfig
from bbq.core.errors import JobNotFound, RequestRejected, ServiceBusy, SlotUnavailable
from bbq.core.jobs import Job, JobSnapshot
from bbq.core.ports import BatchService, JobStore, QuotaProvider, SubmitRequest
from bbq.core.states import ACTIVE, JobStatus, is_terminal

log = logging.getLogger(__name__)


@dataclass
class RunReport:
    refreshed: int = 0
    finished: Counter[str] = field(default_factory=Counter)
    submitted: int = 0
    rejected: int = 0
    deferred: int = 0  # Pending jobs that fit a slot but Bedrock refused for now (quota, throttling)
    pending_left: int = 0
    active_per_model: dict[str, int] = field(default_factory=dict)


def run_scheduler(
    *, store: JobStore, batch: BatchService, quotas: QuotaProvider, config: PipelineConfig, clock: Clock
) -> RunReport:
    report = RunReport()
    active = [_reconcile(job, batch, store, clock, report) for job in store.list_by_status(ACTIVE)]
    still_active = [job for job in active if job.status in ACTIVE]
    counts = slots.active_per_model(still_active)
    pending = store.list_by_status([JobStatus.PENDING])
    for model, queue in slots.queue_by_model(pending).items():
        quota = quotas.concurrent_jobs(model)
        for job in queue:
            if slots.free_slots(quota, counts[model]) == 0:
                break
            outcome = _submit(job, batch, store, config, clock, report)
            if outcome is _Outcome.NO_ROOM:
                break  # Bedrock has no room for this model now; later runs retry the rest in order
            if outcome is _Outcome.SUBMITTED:
                counts[model] += 1
    report.pending_left = len(pending) - report.submitted - report.rejected
    report.active_per_model = dict(counts)
    return report


def _reconcile(job: Job, batch: BatchService, store: JobStore, clock: Clock, report: RunReport) -> Job:
    assert job.job_arn, f"active job {job.job_id} has no job ARN"
    try:
        snapshot = batch.describe(job.job_arn)
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
        report.finished[updated.status.value] += 1
    return updated


class _Outcome(Enum):
    SUBMITTED = "submitted"
    REJECTED = "rejected"  # failed for good; it took no slot
    NO_ROOM = "no room"  # quota or throttling; the job stays Pending


def _submit(
    job: Job, batch: BatchService, store: JobStore, config: PipelineConfig, clock: Clock, report: RunReport
) -> _Outcome:
    name = naming.job_name(config.job_name_prefix, job.job_id, job.attempt)
    request = SubmitRequest(
        job_name=name,
        client_token=naming.client_request_token(job.job_id, job.attempt),
        model_id=job.model_id,
        role_arn=config.role_arn,
        input_uri=job.input_uri,
        output_uri=job.output_uri,
        timeout_hours=config.timeout_hours,
        tags={"bbq:job-id": job.job_id},
    )
    now = clock.now()
    try:
        arn = batch.submit(request)
    except (SlotUnavailable, ServiceBusy) as exc:
        report.deferred += 1
        log.info("no room in Bedrock now; job stays Pending", extra={"job_id": job.job_id, "reason": str(exc)})
        return _Outcome.NO_ROOM
    except RequestRejected as exc:
        failed = job.with_changes(status=JobStatus.FAILED, message=str(exc), updated_at=now, ended_at=now)
        if store.save_transition(failed, expected=JobStatus.PENDING):
            report.rejected += 1
            report.finished[JobStatus.FAILED.value] += 1
        log.error("Bedrock rejected the job", extra={"job_id": job.job_id, "error": str(exc)})
        return _Outcome.REJECTED
    submitted = job.with_changes(
        status=JobStatus.SUBMITTED, job_name=name, job_arn=arn, submitted_at=now, updated_at=now, message=""
    )
    if store.save_transition(submitted, expected=JobStatus.PENDING):
        report.submitted += 1
        log.info("job submitted", extra={"job_id": job.job_id, "job_arn": arn, "model_id": job.model_id})
    return _Outcome.SUBMITTED
