"""Weighted fair share of a model's slots between the teams with waiting work, measured in records.

The teams' queues are merged into the one order the planner packs jobs from: each next part comes from the team
whose records in flight plus those already taken this run, divided by its weight, are lowest (ties: the oldest
part first). So a team's share of the records running follows its weight; a team alone takes every slot (nothing
is held back for teams with no work: work conserving); and every team with work gets its turn as soon as the
others are ahead of it (no starvation). Within a team the queue's own order holds: high priority, then normal,
then low, oldest first in each. Pure and lazy: each queue is read only as far as the plan takes."""

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import NamedTuple

from bbq.core.model.files import Part
from bbq.core.model.jobs import Job


class _Head(NamedTuple):
    part: Part
    rest: Iterator[Part]


def fair_order(
    queues: Mapping[str, Iterable[Part]],
    weight: Callable[[str], float],
    in_flight: Mapping[str, int],
    admit: Callable[[Part], bool] | None = None,
) -> Iterator[Part]:
    """Every queue's parts, interleaved by weighted fair share; ``in_flight``: each team's records already in jobs
    that hold (or wait for) one of the model's slots. ``admit`` (a budget's allowance) may refuse a team's next
    part: that team's queue stops there for this run, and the others go on."""
    heads: dict[str, _Head] = {}
    for team, queue in queues.items():
        rest = iter(queue)
        if (first := next(rest, None)) is not None:
            heads[team] = _Head(first, rest)
    load = {team: in_flight.get(team, 0) for team in heads}
    while heads:
        team = min(heads, key=lambda t: (load[t] / weight(t), heads[t].part.queued_at, t))
        part, rest = heads[team]
        if admit is not None and not admit(part):
            del heads[team]
            continue
        yield part
        load[team] += part.record_count
        if (following := next(rest, None)) is None:
            del heads[team]
        else:
            heads[team] = _Head(following, rest)


def records_in_flight(jobs: Iterable[Job]) -> dict[str, int]:
    """Each team's records in the given jobs, less what Bedrock reports processed (a job near its end holds its
    slot for little longer)."""
    records: dict[str, int] = {}
    for job in jobs:
        done = (job.counts.processed or 0) / job.record_count if job.record_count else 0.0
        for team, count in job.team_records.items():
            records[team] = records.get(team, 0) + round(count * (1 - done))
    return records
