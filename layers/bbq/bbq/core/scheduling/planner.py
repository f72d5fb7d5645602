"""The planner: which jobs to create from a model's waiting parts, given its limits and free slots. Pure: no I/O,
no clock of its own.

- Oldest first: parts are taken in queue order, so no upload starves.
- Pack: parts (of one file or many) go together until a job reaches its share of the waiting work; a job never
  exceeds Bedrock's records, bytes or parts limits and never goes out under its minimum of records.
- Split: the waiting work is spread over all of the model's slots so that they end together: a free slot gets the
  share that brings it level with the slots still busy (``busy``: the records each running job has left), so
  when slots are idle a large file's parts run in several jobs at once, and the last jobs of a batch do not
  leave one slot working long after the others. With more waiting than the slots can hold, every job is as
  large as Bedrock allows. A part is the smallest share of a file a job carries (``SplitPolicy.part_records``).
- Small work: records under the minimum wait for companions; past ``companion_wait`` the caller applies the
  small-work policy to them.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bbq.core.model.files import Part
from bbq.core.model.limits import ModelLimits

# A job's items (the job and its parts) are written in one DynamoDB transaction, which takes 100 items at most.
MAX_PARTS_PER_JOB = 99


@dataclass(frozen=True)
class PlannedJob:
    parts: tuple[Part, ...]

    @property
    def record_count(self) -> int:
        return sum(part.record_count for part in self.parts)

    @property
    def size_bytes(self) -> int:
        return sum(part.size_bytes for part in self.parts)


@dataclass
class Plan:
    jobs: list[PlannedJob] = field(default_factory=list)
    # Waiting records under the minimum that have waited longer than companion_wait: the small-work policy
    # decides what becomes of them.
    overdue: list[Part] = field(default_factory=list)
    parts_read: int = 0


def plan_jobs(
    waiting: Iterable[Part],
    limits: ModelLimits,
    slots: int,
    now: datetime,
    companion_wait: timedelta,
    max_parts_per_job: int = MAX_PARTS_PER_JOB,
    busy: Sequence[int] = (),
) -> Plan:
    """At most ``slots`` jobs (the free slots); ``busy`` holds the records left in each job holding one of the
    model's other slots. ``waiting`` is read lazily and only as far as all of the model's slots could hold: the
    cost of planning follows the model's slots, not the backlog."""
    plan = Plan()
    if slots <= 0:
        return plan
    taken, exhausted = _take(waiting, limits, slots + len(busy), max_parts_per_job)
    plan.parts_read = len(taken)
    records = sum(part.record_count for part in taken)
    target = max(limits.min_records_per_job, math.ceil(level(records, slots, busy)))
    jobs: list[list[Part]] = []
    current: list[Part] = []  # the job being filled
    left: list[Part] = []  # parts this plan leaves waiting
    for part in taken:
        full = not _fits(current, part, limits, max_parts_per_job) or _overshoots(current, part, target)
        if len(jobs) < slots and _records(current) >= limits.min_records_per_job and full:
            jobs.append(current)
            current = []
        if len(jobs) < slots and _fits(current, part, limits, max_parts_per_job):
            current.append(part)
        else:  # no free slot left, or the job being filled is under the minimum and cannot take it
            left.append(part)
    if current and _records(current) >= limits.min_records_per_job and len(jobs) < slots:
        jobs.append(current)
    elif current:
        left = current + left
    # A slot still free, and parts left that make a job alone (they did not fit beside a job under the minimum):
    # they run now rather than leave the slot idle.
    for part in [p for p in left if p.record_count >= limits.min_records_per_job]:
        if len(jobs) >= slots:
            break
        if _fits([], part, limits, max_parts_per_job):
            jobs.append([part])
            left.remove(part)
    if exhausted and left and _records(left) < limits.min_records_per_job:
        # Too little to ever make a job of its own and nothing else waiting: it rides along where there is room.
        for part in list(left):
            room = next((job for job in reversed(jobs) if _fits(job, part, limits, max_parts_per_job)), None)
            if room is not None:
                room.append(part)
                left.remove(part)
        if left and not jobs:
            _check_overdue(plan, left, now, companion_wait)
    plan.jobs = [PlannedJob(tuple(job)) for job in jobs]
    return plan


def level(records: int, free: int, busy: Sequence[int]) -> float:
    """How many records each free slot takes so that, with the busy slots' remaining records, all of them end
    together (water-filling); busy slots with more left than that level take nothing."""
    remaining = sorted(busy)
    total, count = float(records), free
    for left in remaining:
        if (total + left) / (count + 1) <= left:
            break  # this slot (and every busier one) is still working when the others are done
        total += left
        count += 1
    return total / count


def _records(parts: Sequence[Part]) -> int:
    return sum(part.record_count for part in parts)


def _take(waiting: Iterable[Part], limits: ModelLimits, slots: int, max_parts_per_job: int) -> tuple[list[Part], bool]:
    taken: list[Part] = []
    records = 0
    for part in waiting:
        taken.append(part)
        records += part.record_count
        if records >= slots * limits.max_records_per_job or len(taken) >= slots * max_parts_per_job:
            return taken, False
    return taken, True


def _fits(current: Sequence[Part], part: Part, limits: ModelLimits, max_parts_per_job: int) -> bool:
    return _fits_all(current, [part], limits, max_parts_per_job)


def _fits_all(current: Sequence[Part], more: Sequence[Part], limits: ModelLimits, max_parts_per_job: int) -> bool:
    parts = [*current, *more]
    return (
        len(parts) <= max_parts_per_job
        and sum(p.record_count for p in parts) <= limits.max_records_per_job
        and sum(p.size_bytes for p in parts) <= limits.max_job_bytes
    )


def _overshoots(current: Sequence[Part], part: Part, target: int) -> bool:
    """Adding ``part`` takes the job further past its share than stopping short of it would leave it."""
    records = _records(current)
    return records + part.record_count - target > target - records


def _check_overdue(plan: Plan, parts: list[Part], now: datetime, companion_wait: timedelta) -> None:
    oldest = min(part.queued_at for part in parts)
    if now - oldest >= companion_wait:
        plan.overdue = parts
