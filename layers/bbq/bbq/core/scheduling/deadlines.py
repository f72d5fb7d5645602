"""Deadlines: a file uploaded with ``bbq-deadline`` that batch would finish too late runs partly on demand.

Each run, for each of the model's files with a deadline and work waiting (earliest deadline first), bbq predicts
when batch would finish it: the records ahead of it (what the model's running jobs have left, and the waiting
parts the fair-share order takes before its last one) and its own waiting records, at the model's measured batch
throughput. When that is past the deadline, just enough of its waiting records (its last parts first) run on
demand so that the rest finishes in batch in time, as far as the on-demand rate lets them finish in time too; a
deadline that cannot be met even then is said at once, on the file, not at the deadline. Pure: the run reads and
writes (``scheduler``).

Throughput: the model's batch jobs that ended give records per minute per slot (records processed over the minutes
from submission to end, summed over jobs); times the model's slots, that is its throughput. Before any job of the
model ended bbq assumes the worst Bedrock documents, a full job in 24 hours, so early deadlines err towards on
demand (and its price), never towards a miss."""

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bbq.core.model.files import Part
from bbq.core.model.limits import ModelLimits

ASSUMED_JOB_HOURS = 24  # before the model's first job ended: a job of the largest size takes a day
# On demand starts no later than this before the last moment it could still finish: two runs of the default
# 15-minute schedule.
LATEST_START_MARGIN = timedelta(minutes=30)


@dataclass(frozen=True)
class AtRisk:
    """A file with a deadline and work waiting, where the queue has it."""

    file_id: str
    deadline: datetime
    waiting: Sequence[Part]  # its parts waiting, in its queue's order
    ahead: int  # records batch runs before its last waiting part


@dataclass
class DeadlinePlan:
    on_demand: dict[str, list[Part]] = field(default_factory=dict)  # per file: parts to run on demand now
    messages: dict[str, str] = field(default_factory=dict)  # per file at risk: what it is told
    missed: set[str] = field(default_factory=set)  # files whose deadline cannot be met even on demand


def batch_rate(limits: ModelLimits, job_records: int, job_minutes: float) -> float:
    """The model's batch throughput, records per minute over all of its slots."""
    per_slot = job_records / job_minutes if job_minutes > 0 else limits.max_records_per_job / (ASSUMED_JOB_HOURS * 60)
    return per_slot * limits.concurrent_jobs


def decide(
    files: Iterable[AtRisk],
    now: datetime,
    batch_per_minute: float,
    on_demand_per_minute: float,
    capacity: int,
    tier: str = "",
) -> DeadlinePlan:
    """``capacity``: the records this run can take on demand; what does not fit waits for the next run's decision.
    ``tier``: said in the message when the work goes on a service tier of its own (flex)."""
    plan = DeadlinePlan()
    committed = 0  # records this plan sends on demand, ahead of each later deadline in the same line
    for risk in sorted(files, key=lambda r: (r.deadline, r.file_id)):
        minutes_left = (risk.deadline - now).total_seconds() / 60
        own = sum(part.record_count for part in risk.waiting)
        batch_end = now + timedelta(minutes=(risk.ahead + own) / batch_per_minute)
        if batch_end <= risk.deadline:
            continue
        must_leave = math.ceil(risk.ahead + own - batch_per_minute * max(minutes_left, 0.0))
        on_demand_room = math.floor(on_demand_per_minute * max(minutes_left, 0.0)) - committed
        wanted = min(own, must_leave)
        spare = minutes_left - (committed + wanted) / on_demand_per_minute
        if spare > LATEST_START_MARGIN.total_seconds() / 60:
            # On demand costs twice batch: it starts as late as it safely can, so batch (whose pace the prediction
            # may underrate) does what it can meanwhile; a later run decides again.
            start = risk.deadline - timedelta(minutes=(committed + wanted) / on_demand_per_minute) - LATEST_START_MARGIN
            plan.messages[risk.file_id] = _at_risk(risk, batch_end, batch_per_minute, own, wanted, start)
            continue
        chosen: list[Part] = []
        taken = deferred = 0
        for part in reversed(risk.waiting):  # its last lines first: its first ones are the nearest in batch
            if taken >= wanted:
                break
            if taken + part.record_count > on_demand_room:
                continue  # would finish on demand after the deadline: a smaller part may still
            if committed + part.record_count > capacity:
                deferred += part.record_count  # not this run: the next run decides again with what is left
                continue
            chosen.append(part)
            taken += part.record_count
            committed += part.record_count
        if taken + deferred < wanted:  # whole parts that finish in time on demand do not make up what must leave
            plan.missed.add(risk.file_id)
        if chosen:
            plan.on_demand[risk.file_id] = chosen
        missed = risk.file_id in plan.missed
        plan.messages[risk.file_id] = _message(risk, batch_end, batch_per_minute, own, taken, wanted, missed, tier)
    return plan


def _message(
    risk: AtRisk, batch_end: datetime, rate: float, own: int, taken: int, wanted: int, missed: bool, tier: str
) -> str:
    when = f"{risk.deadline:%Y-%m-%d %H:%M} UTC"
    predicted = (
        f"batch alone would finish about {batch_end:%Y-%m-%d %H:%M} UTC ({risk.ahead:,} records ahead and "
        f"{own:,} of its own waiting, at {rate:,.0f} records a minute)"
    )
    sent = f"{taken:,} records run on demand{f' on the {tier} tier' if tier else ''} at the on-demand price"
    if missed:
        return f"Deadline {when} cannot be met even on demand: {predicted}; {sent} now, the rest in batch"
    later = f"; {wanted - taken:,} more follow on demand in the next runs" if taken < wanted else ""
    return f"Deadline {when}: {predicted}, so {sent}, the rest in batch{later}"


def _at_risk(risk: AtRisk, batch_end: datetime, rate: float, own: int, wanted: int, start: datetime) -> str:
    return (
        f"Deadline {risk.deadline:%Y-%m-%d %H:%M} UTC at risk: batch alone would finish about "
        f"{batch_end:%Y-%m-%d %H:%M} UTC ({risk.ahead:,} records ahead and {own:,} of its own waiting, at "
        f"{rate:,.0f} records a minute); unless batch gets further, {wanted:,} of its records go on demand from "
        f"about {start:%H:%M} UTC"
    )


def ahead_of(files: Mapping[str, Sequence[Part]], order: Iterable[Part], in_flight: int, look: int) -> dict[str, int]:
    """Per file, the records batch runs before its last waiting part: ``in_flight`` (what running and pending
    jobs have left) and the parts ``order`` yields before it (the fair-share order the planner takes). At most
    ``look`` parts are read: a file further back has at least that many records ahead."""
    wanted = {part.part_id: file_id for file_id, parts in files.items() for part in parts}
    left = {file_id: len(parts) for file_id, parts in files.items()}
    ahead = {file_id: in_flight for file_id in files}
    for seen, part in enumerate(order):
        if seen >= look or not any(left.values()):
            break
        owner = wanted.get(part.part_id)
        if owner is not None:
            left[owner] -= 1
        for file_id in files:
            if left[file_id] > 0 and file_id != owner:
                ahead[file_id] += part.record_count
    return ahead
