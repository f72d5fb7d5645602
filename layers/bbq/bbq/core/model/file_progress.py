"""A file's progress while Bedrock works, for people (``bbq status``, the SDK): pure, from the file, its parts and
the jobs that carry them.

Records done are the file's final records (succeeded, failed for good, stopped) plus its share of what Bedrock
reports processed in each job still running: a job carrying several files' parts is shared by records. The rate is
that share over the time since each job was submitted (Bedrock's own counters, so it is the measured throughput
of this file's jobs). While every record left is in a running job, the ETA is the records left at that rate; while
some still wait for a slot, it is the model's (``model_progress``: everything in flight and queued up to the file's
last waiting part, at the model's measured rate). None while nothing has been processed yet."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from bbq.core.model.files import FILE_FINAL, InputFile, Part, PartStatus
from bbq.core.model.jobs import Job
from bbq.core.model.model_progress import ModelProgress
from bbq.core.model.states import ACTIVE


@dataclass(frozen=True)
class FileProgress:
    records_total: int
    records_done: int
    records_per_minute: float | None  # None: no job of it is running, or none has processed anything yet
    eta: datetime | None

    @property
    def percent(self) -> float:
        return 100.0 * self.records_done / self.records_total if self.records_total else 100.0


def file_progress(
    file: InputFile, parts: list[Part], jobs: list[Job], now: datetime, model: ModelProgress | None = None
) -> FileProgress:
    total = file.record_count
    if file.status in FILE_FINAL:
        return FileProgress(total, total, None, None)
    final = file.counts.succeeded + file.counts.failed + file.counts.stopped
    running = {job.job_id: job for job in jobs if job.status in ACTIVE}
    in_flight = 0.0
    per_minute = 0.0
    not_running: list[Part] = []  # waiting for a job, or in a job waiting for a slot
    for part in parts:
        job = running.get(part.job_id or "")
        if part.status == PartStatus.WAITING or (part.status == PartStatus.IN_JOB and job is None):
            not_running.append(part)
        if part.status != PartStatus.IN_JOB or job is None or not job.record_count:
            continue
        share = part.record_count / job.record_count
        processed = min((job.counts.processed or 0) * share, part.record_count)
        in_flight += processed
        minutes = (now - job.submitted_at).total_seconds() / 60 if job.submitted_at else 0.0
        if processed and minutes > 0:
            per_minute += processed / minutes
    done = min(total, final + int(in_flight))
    rate = round(per_minute, 1) if per_minute else None
    if not_running and model is not None:
        waiting = [part.queued_at for part in not_running if part.status == PartStatus.WAITING]
        return FileProgress(total, done, rate, model.eta_after(max(waiting, default=None), now))
    if not per_minute:
        return FileProgress(total, done, None, None)
    return FileProgress(total, done, rate, now + timedelta(minutes=(total - done) / per_minute))
