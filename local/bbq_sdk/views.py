"""An upload and a model as people see them (``bbq status``, ``Run.status()``, ``Client.models()``): an upload's
state, progress, rate, ETA and costs, with ``with_jobs`` the Bedrock jobs that carry it; a model's waiting
records, jobs, slots and time to drain. One definition for the CLI and the SDK."""

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from bbq.core.intake import repeats
from bbq.core.model.file_progress import file_progress
from bbq.core.model.files import FILE_FINAL, FileStatus, InputFile
from bbq.core.model.model_progress import ModelProgress, model_progress
from bbq.core.model.ports import ModelSlots, ObjectRef
from bbq.core.scheduling.stopping import StopOutcome


def model_progresses(
    models: Iterable[str], query: Any, now: datetime, with_slots: bool = True
) -> dict[str, ModelProgress]:
    """Each model named, and with ``with_slots`` each that holds slots in the ledger (a quota holder, for
    inference profiles) and every model's slots; without, only the named models' queues and rates."""
    slots: dict[str, ModelSlots] = query.slots() if with_slots else {}  # a Scan of the ledger: people's views only
    progresses = {}
    for model in dict.fromkeys([*models, *slots]):
        held = slots.get(model, ModelSlots(0, None))
        waiting, in_flight = query.waiting_parts(model), query.jobs_in_flight(model)
        progresses[model] = model_progress(model, waiting, in_flight, held.in_use, held.limit, now)
    return progresses


def model_view(progress: ModelProgress) -> dict[str, Any]:
    return {
        "model": progress.model_id,
        "waitingRecords": progress.waiting_records,
        "waitingParts": progress.waiting_parts,
        "pendingJobs": progress.pending_jobs,
        "runningJobs": progress.running_jobs,
        "recordsInFlight": progress.records_in_flight,
        "slotsInUse": progress.slots_in_use,
        "slotLimit": progress.slot_limit,
        "recordsPerMinute": progress.records_per_minute,
        "drainEta": progress.drain_eta.isoformat() if progress.drain_eta else None,
    }


def file_view(
    file: InputFile,
    query: Any,
    now: datetime,
    with_jobs: bool = False,
    models: Mapping[str, ModelProgress] | None = None,
) -> dict[str, Any]:
    """``models``: the models' progress when the caller has it (``bbq status``); else the file's own model's
    queue is read when it is still running (its rate and queue, not the ledger's slots)."""
    counts = file.counts
    running = file.status not in FILE_FINAL
    parts = query.parts_of(file) if running or with_jobs else []
    jobs = query.jobs_of(file, parts) if running or with_jobs else []
    model = (models or {}).get(file.model_id)
    if running and model is None:
        model = model_progresses([file.model_id], query, now, with_slots=False)[file.model_id]
    progress = file_progress(file, parts, jobs, now, model)
    row: dict[str, Any] = {
        "key": file.key,
        "fileId": file.file_id,
        "version": file.version,
        "model": file.model_id,
        "team": file.team,
        "priority": file.priority.value,
        "deadline": file.deadline.isoformat() if file.deadline else None,
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
                "onDemandReason": job.on_demand_reason or None,
                "jobArn": job.job_arn,
                "message": job.message,
            }
            for job in jobs
        ]
    return row


def repeated_upload(file: InputFile, query: Any) -> InputFile | None:
    """The earlier upload a Skipped one repeats (the same bytes under the same key), whose results are its."""
    if file.status != FileStatus.SKIPPED:
        return None
    return repeats.ran_already(
        ObjectRef(file.bucket, file.key, file.etag, file.size_bytes), lambda: query.uploads(file.key)
    )


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
