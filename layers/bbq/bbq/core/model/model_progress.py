"""A model's queue as people see it (``bbq status``, the SDK): pure, from its waiting parts, its jobs in flight and
its slots.

The model's rate is what Bedrock reports processed in each of its running batch jobs over the time since that job
was submitted, summed over the jobs: measured, and counting Bedrock's own queueing (Validating, Scheduled), so it
errs slow. Time to drain is the records left (waiting ones plus the unprocessed records of running jobs) at that
rate; None until a running job has processed something. It does not assume free slots will fill faster: the same
rate, whatever the backlog, is the honest figure while Bedrock's per-account token limits are unknown.

A file whose parts still wait is estimated as first come, first served: it ends once everything in flight and
every part queued up to its own last one is done at the model's rate (``eta_after``)."""

from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bbq.core.model.files import Part, PartStatus
from bbq.core.model.jobs import Job
from bbq.core.model.states import ACTIVE, JobStatus


@dataclass(frozen=True)
class ModelProgress:
    model_id: str
    waiting_records: int
    waiting_parts: int
    pending_jobs: int  # packed by bbq, waiting for a slot or to be submitted
    running_jobs: int  # holding one of Bedrock's slots
    records_in_flight: int  # records of running and pending jobs not processed yet
    slots_in_use: int
    slot_limit: int | None  # the limit the scheduler last applied; None before it reserved a slot
    records_per_minute: float | None
    drain_eta: datetime | None
    # (queued_at, records queued up to then) of the waiting parts, oldest first: a file's place in the queue
    queue: tuple[tuple[datetime, int], ...] = ()

    def eta_after(self, queued_up_to: datetime | None, now: datetime) -> datetime | None:
        """When the parts queued up to ``queued_up_to`` would be done, everything in flight first (only that with
        None: a file whose parts are all packed into jobs waiting for a slot)."""
        if not self.records_per_minute:
            return None
        position = bisect_right(self.queue, queued_up_to, key=_queued_at) if queued_up_to else 0
        ahead = self.queue[position - 1][1] if position else 0
        return now + timedelta(minutes=(self.records_in_flight + ahead) / self.records_per_minute)


def _queued_at(entry: tuple[datetime, int]) -> datetime:
    return entry[0]


def model_progress(
    model_id: str,
    waiting: Iterable[Part],
    in_flight: Iterable[Job],
    slots_in_use: int,
    slot_limit: int | None,
    now: datetime,
) -> ModelProgress:
    parts = sorted((p for p in waiting if p.status == PartStatus.WAITING), key=lambda p: (p.queued_at, p.part_id))
    queue: list[tuple[datetime, int]] = []
    queued = 0
    for part in parts:
        queued += part.record_count
        queue.append((part.queued_at, queued))
    running = pending = unprocessed = 0
    per_minute = 0.0
    for job in in_flight:
        if job.status == JobStatus.PENDING:
            pending += 1
            unprocessed += job.record_count
        elif job.status in ACTIVE:
            running += 1
            processed = min(job.counts.processed or 0, job.record_count)
            unprocessed += job.record_count - processed
            minutes = (now - job.submitted_at).total_seconds() / 60 if job.submitted_at else 0.0
            if processed and minutes > 0 and not job.on_demand:
                per_minute += processed / minutes
    rate = round(per_minute, 1) if per_minute else None
    left = queued + unprocessed
    drain = now + timedelta(minutes=left / per_minute) if per_minute else None
    return ModelProgress(
        model_id=model_id,
        waiting_records=queued,
        waiting_parts=len(parts),
        pending_jobs=pending,
        running_jobs=running,
        records_in_flight=unprocessed,
        slots_in_use=slots_in_use,
        slot_limit=slot_limit,
        records_per_minute=rate,
        drain_eta=drain if left else None,
        queue=tuple(queue),
    )
