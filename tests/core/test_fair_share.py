"""Weighted fair share between teams, as properties: work conserving, weights respected at every step, no team
with work starved, a team alone served whole; then through the scheduler's decisions (two teams on one model)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bbq.core.model.config import PipelineConfig
from bbq.core.model.files import InvocationType, Part
from bbq.core.model.jobs import RecordCounts
from bbq.core.model.teams import Priority, TeamPolicy, Teams
from bbq.core.scheduling import decisions
from bbq.core.scheduling.decisions import ModelSnapshot
from bbq.core.scheduling.fair_share import fair_order, records_in_flight
from tests.core.helpers import LIMITS
from tests.core.test_decisions import job

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


def a_part(team: str, n: int, records: int = 1_000, age_s: int = 0, priority: Priority = Priority.NORMAL) -> Part:
    return Part(
        f"{team}-{n}", 1, "m", InvocationType.INVOKE_MODEL, f"s3://b/staged/{team}-{n}/p.jsonl", 1,
        f"s3://b/processed/{team}-{n}/", 1, records, records, records * 10, NOW - timedelta(seconds=age_s),
        team=team, priority=priority,
    )  # fmt: skip


teams_st = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d"]),
    st.tuples(st.integers(1, 5), st.lists(st.integers(1, 5_000), max_size=30)),  # weight, part sizes
    min_size=1,
)


def queues_of(spec: dict[str, tuple[int, list[int]]]) -> dict[str, list[Part]]:
    return {team: [a_part(team, i, size, age_s=i) for i, size in enumerate(sizes)] for team, (_, sizes) in spec.items()}


@settings(max_examples=200, deadline=None)
@given(teams_st)
def test_every_part_comes_out_once_in_its_teams_own_order(spec: dict[str, tuple[int, list[int]]]) -> None:
    queues = queues_of(spec)
    merged = list(fair_order(queues, lambda t: spec[t][0], {}))
    assert sorted(p.file_id for p in merged) == sorted(p.file_id for q in queues.values() for p in q)
    for team, queue in queues.items():
        assert [p for p in merged if p.team == team] == queue


@settings(max_examples=200, deadline=None)
@given(teams_st, st.dictionaries(st.sampled_from(["a", "b", "c", "d"]), st.integers(0, 20_000)))
def test_each_part_goes_to_the_team_furthest_below_its_weighted_share(
    spec: dict[str, tuple[int, list[int]]], in_flight: dict[str, int]
) -> None:
    """At every step the team served is the one with the least records (in flight + taken) per unit of weight
    among those with work: so while all have work their shares differ by at most one part over the weight."""
    queues = queues_of(spec)
    load = {team: in_flight.get(team, 0) for team in queues}
    left = {team: list(queue) for team, queue in queues.items()}
    for part in fair_order(queues, lambda t: spec[t][0], in_flight):
        share = {team: load[team] / spec[team][0] for team in left if left[team]}
        assert share[part.team] == min(share.values())
        load[part.team] += part.record_count
        left[part.team].pop(0)


@settings(max_examples=100, deadline=None)
@given(teams_st)
def test_no_team_with_work_waits_behind_another_teams_backlog(spec: dict[str, tuple[int, list[int]]]) -> None:
    """With nothing in flight, the first parts out are one of every team with work, whatever the backlogs."""
    queues = {team: q for team, q in queues_of(spec).items() if q}
    merged = list(fair_order(queues, lambda t: spec[t][0], {}))
    assert {p.team for p in merged[: len(queues)]} == set(queues)


def test_a_team_alone_takes_its_whole_queue_in_order_whatever_is_in_flight() -> None:
    queue = [a_part("a", i, age_s=i) for i in range(5)]
    assert list(fair_order({"a": queue}, lambda t: 1, {"a": 10**9, "b": 0})) == queue


def test_queues_are_read_only_as_far_as_taken() -> None:
    read = []

    def lazy(team: str):  # type: ignore[no-untyped-def]
        for i in range(1_000):
            read.append(team)
            yield a_part(team, i)

    merged = fair_order({"a": lazy("a"), "b": lazy("b")}, lambda t: 1, {})
    taken = [next(merged) for _ in range(4)]
    assert [p.team for p in taken] == ["a", "b", "a", "b"] and len(read) <= 6


def test_records_in_flight_count_each_teams_records_less_what_bedrock_processed() -> None:
    running = job(record_count=1_000, team_records={"a": 600, "b": 400}, counts=RecordCounts(1_000, 500, 500, 0))
    pending = job("j2", record_count=300, team_records={"b": 300})
    assert records_in_flight([running, pending]) == {"a": 300, "b": 500}


def test_two_teams_on_one_model_share_its_slots_by_weight() -> None:
    """Team big has 100 files queued before team small's first; with weights 1 and 1 the small team still gets
    half of the slots at once, and with weights 3:1 the big team three quarters."""
    big = [a_part("big", i, 5_000, age_s=10_000 - i) for i in range(100)]
    small = [a_part("small", i, 5_000, age_s=100 - i) for i in range(10)]
    limits = replace(LIMITS, concurrent_jobs=8, max_records_per_job=5_000, min_records_per_job=100)

    def planned(weights: dict[str, float]) -> dict[str, int]:
        snapshot = ModelSnapshot(
            "m", limits, NOW, (), {}, waiting={InvocationType.INVOKE_MODEL: {"big": big, "small": small}}
        )
        teams = Teams({team: TeamPolicy(weight=w) for team, w in weights.items()})
        config = PipelineConfig("m", "arn:aws:iam::123456789012:role/r", "bbq", teams=teams)
        plans = decisions.plan(snapshot, [], config, on_demand_available=False)
        jobs = [job for plan in plans for job in plan.batch]
        return {team: sum(p.record_count for j in jobs for p in j.parts if p.team == team) for team in weights}

    assert planned({"big": 1, "small": 1}) == {"big": 20_000, "small": 20_000}
    assert planned({"big": 3, "small": 1}) == {"big": 30_000, "small": 10_000}


def test_priority_orders_a_teams_queue_not_other_teams() -> None:
    from bbq_local.fakes import InMemoryStore

    store = InMemoryStore()
    for part in [
        a_part("a", 1, age_s=30),
        a_part("a", 2, age_s=20, priority=Priority.HIGH),
        a_part("a", 3, age_s=40, priority=Priority.LOW),
    ]:
        store.add_part(part)
    assert [p.file_id for p in store.waiting_parts("m", InvocationType.INVOKE_MODEL, team="a")] == ["a-2", "a-1", "a-3"]
