"""An upload as people see it (``bbq status``, ``Run.status()``): its state, progress, rate, ETA and costs, and
with ``with_jobs`` the Bedrock jobs that carry it. One definition for the CLI and the SDK."""

from datetime import datetime
from typing import Any

from bbq.core.model.file_progress import file_progress
from bbq.core.model.files import FILE_FINAL, InputFile
from bbq.core.scheduling.stopping import StopOutcome


def file_view(file: InputFile, query: Any, now: datetime, with_jobs: bool = False) -> dict[str, Any]:
    counts = file.counts
    running = file.status not in FILE_FINAL
    parts = query.parts_of(file) if running or with_jobs else []
    jobs = query.jobs_of(file) if running or with_jobs else []
    progress = file_progress(file, parts, jobs, now)
    row: dict[str, Any] = {
        "key": file.key,
        "fileId": file.file_id,
        "version": file.version,
        "model": file.model_id,
        "status": file.status.value,
        "records": file.record_count,
        "done": progress.records_done,
        "percent": round(progress.percent, 1),
        "recordsPerMinute": progress.records_per_minute,
        "eta": progress.eta.isoformat() if progress.eta else None,
        "succeeded": counts.succeeded,
        "failed": counts.failed,
        "rejectedLines": file.rejected_lines,
        "estimatedInputCostUsd": file.estimated_input_cost_usd,
        "costUsd": file.cost_usd,
        "message": file.message,
        "results": file.results_uri,
        "outputUri": file.output_uri,
    }
    if with_jobs:
        row["jobs"] = [
            {
                "jobId": job.job_id,
                "status": job.status.value,
                "attempt": job.attempt,
                "records": job.record_count,
                "processed": job.counts.processed,
                "onDemand": job.on_demand,
                "jobArn": job.job_arn,
                "message": job.message,
            }
            for job in jobs
        ]
    return row


def stop_view(outcome: StopOutcome) -> dict[str, object]:
    """What a stop did, in words (``bbq stop``, ``Run.stop()``)."""
    return {
        "partsStoppedBeforeTheyRan": outcome.parts_stopped,
        "jobsStopped": outcome.jobs_stopped,
        "jobsLeftRunning": outcome.jobs_left_running,
        "note": outcome.note
        or (
            "Stopped jobs end in Bedrock within minutes; the scheduler then counts their partial output and the "
            "file ends Stopped. Jobs left running carry other files' records too: this file's results from them "
            "are kept, and none of its records is retried."
        ),
    }
