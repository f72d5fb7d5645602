"""Ingest: one uploaded object becomes one job item, Pending if the file is good, Invalid if not."""

import logging
from dataclasses import dataclass

from bbq.core import naming
from bbq.core.clock import Clock
from bbq.core.config import PipelineConfig
from bbq.core.errors import ObjectMissing
from bbq.core.jobs import Job
from bbq.core.ports import JobStore, ObjectRef, ObjectStore
from bbq.core.states import JobStatus
from bbq.core.validation import InputSummary, validate_jsonl

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IngestOutcome:
    key: str
    job_id: str | None
    status: JobStatus | None
    created: bool
    reason: str = ""


def ingest_object(
    ref: ObjectRef, *, objects: ObjectStore, store: JobStore, config: PipelineConfig, clock: Clock
) -> IngestOutcome:
    if not naming.is_input_key(ref.key):
        return IngestOutcome(ref.key, None, None, created=False, reason="not a .jsonl file under to-process/")
    job_id = naming.job_id_for(ref.bucket, ref.key, ref.version)
    existing = store.get(job_id)
    if existing is not None:
        # A duplicated or retried event: the job exists, reading the file again would change nothing.
        log.info("duplicate event ignored", extra={"job_id": job_id, "key": ref.key})
        return IngestOutcome(ref.key, job_id, existing.status, created=False, reason="duplicate event")
    try:
        summary = validate_jsonl(objects.iter_lines(ref), config.limits)
    except ObjectMissing:
        log.warning("object gone before ingest; nothing queued", extra={"job_id": job_id, "key": ref.key})
        return IngestOutcome(ref.key, job_id, None, created=False, reason="object no longer exists")
    job = _new_job(job_id, ref, summary, config, clock)
    try:
        if summary.valid:
            objects.copy(ref, naming.staged_key(job_id, ref.key))
        else:
            objects.put_json(ref.bucket, naming.error_report_key(ref.key), _error_report(job, summary))
    except ObjectMissing:
        log.warning("object overwritten during ingest; its new version is its own job", extra={"job_id": job_id})
        return IngestOutcome(ref.key, job_id, None, created=False, reason="object no longer exists")
    created = store.create(job)
    log.info(
        "job queued" if summary.valid else "input rejected",
        extra={"job_id": job_id, "key": ref.key, "status": job.status, "records": summary.record_count},
    )
    return IngestOutcome(ref.key, job_id, job.status, created=created, reason="" if created else "duplicate event")


def _new_job(job_id: str, ref: ObjectRef, summary: InputSummary, config: PipelineConfig, clock: Clock) -> Job:
    now = clock.now()
    return Job(
        job_id=job_id,
        status=JobStatus.PENDING if summary.valid else JobStatus.INVALID,
        model_id=config.default_model_id,
        input_uri=naming.s3_uri(ref.bucket, naming.staged_key(job_id, ref.key)),
        output_uri=naming.output_uri_for(ref.bucket, ref.key),
        source_bucket=ref.bucket,
        source_keys=(ref.key,),
        record_count=summary.record_count,
        size_bytes=summary.size_bytes,
        created_at=now,
        updated_at=now,
        message=summary.message(),
        ended_at=None if summary.valid else now,
        report_uri=None if summary.valid else naming.s3_uri(ref.bucket, naming.error_report_key(ref.key)),
    )


def _error_report(job: Job, summary: InputSummary) -> dict[str, object]:
    return {
        "jobId": job.job_id,
        "input": naming.s3_uri(job.source_bucket, job.source_keys[0]),
        "status": job.status.value,
        "recordCount": summary.record_count,
        "sizeBytes": summary.size_bytes,
        "problemCount": summary.problem_count,
        "problems": summary.problems,
        "whatToDo": "Fix the problems listed and upload the corrected file under to-process/ again; "
        "this file is left where it is and no Bedrock job was started for it.",
    }
