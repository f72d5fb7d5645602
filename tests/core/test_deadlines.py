"""Deadlines: the decision as properties (the rest of a file finishes in batch by its deadline, what goes on demand
finishes in time too, a deadline out of reach is said at once), then scheduler runs on the in-memory ports."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bbq.core.model.clock import ManualClock
from bbq.core.model.files import FileStatus, InvocationType, Part, PartStatus
from bbq.core.model.states import JobStatus
from bbq.core.scheduling import deadlines
from bbq.core.scheduling.deadlines import AtRisk
from tests.conftest import CLAUDE
from tests.core.helpers import WHOLE, World, jsonl, run

NOW = datetime(2026, 3, 14, 8, tzinfo=UTC)


def parts(file_id: str, sizes: list[int]) -> list[Part]:
    return [
        Part(file_id, i + 1, "m", InvocationType.INVOKE_MODEL, f"s3://b/s/{file_id}-{i}", len(sizes), "s3://b/p/", 1,
             size, size, size * 100, NOW)
        for i, size in enumerate(sizes)
    ]  # fmt: skip


def test_a_file_batch_finishes_in_time_stays_in_batch() -> None:
    risk = AtRisk("f", NOW + timedelta(hours=2), parts("f", [500, 500]), ahead=1_000)
    plan = deadlines.decide([risk], NOW, batch_per_minute=100, on_demand_per_minute=60, capacity=600)
    assert plan.on_demand == {} and plan.messages == {} and not plan.missed


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(1, 600), min_size=1, max_size=12),
    st.integers(0, 50_000),
    st.integers(1, 600),
    st.floats(1, 500),
    st.integers(10, 600),
)
def test_what_goes_on_demand_lets_the_rest_finish_in_batch_by_the_deadline(
    sizes: list[int], ahead: int, minutes: int, rate: float, on_demand_rate: int
) -> None:
    deadline = NOW + timedelta(minutes=minutes)
    risk = AtRisk("f", deadline, parts("f", sizes), ahead)
    capacity = 10**9  # no cap per run: the decision alone
    plan = deadlines.decide([risk], NOW, rate, on_demand_rate, capacity)
    chosen = sum(p.record_count for p in plan.on_demand.get("f", []))
    own = sum(sizes)
    assert chosen <= on_demand_rate * minutes, "what goes on demand can finish by the deadline"
    in_batch_end = NOW + timedelta(minutes=(ahead + own - chosen) / rate)
    message = plan.messages.get("f", "")
    if "f" in plan.missed:
        assert message.startswith("Deadline") and "cannot be met even on demand" in message
    elif "at risk" in message:  # deferred: on demand starts as late as safely possible, and still could
        assert chosen == 0
        wanted = min(own, ahead + own - rate * minutes)
        assert NOW + deadlines.LATEST_START_MARGIN + timedelta(minutes=wanted / on_demand_rate) <= deadline
    elif chosen < own:
        assert in_batch_end <= deadline + timedelta(seconds=1), "the rest finishes in batch in time"


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 600), min_size=1, max_size=12), st.integers(1, 2_000))
def test_a_run_never_takes_more_on_demand_than_it_can_get_through(sizes: list[int], capacity: int) -> None:
    risks = [AtRisk("f", NOW + timedelta(minutes=30), parts("f", sizes), ahead=10**6),
             AtRisk("g", NOW + timedelta(minutes=20), parts("g", sizes), ahead=10**6)]  # fmt: skip
    plan = deadlines.decide(risks, NOW, 10, 10**6, capacity)
    assert sum(p.record_count for chosen in plan.on_demand.values() for p in chosen) <= capacity


def test_an_unreachable_deadline_is_said_at_once() -> None:
    risk = AtRisk("f", NOW + timedelta(minutes=5), parts("f", [100] * 5), ahead=10**6)
    plan = deadlines.decide([risk], NOW, batch_per_minute=100, on_demand_per_minute=60, capacity=600)
    assert plan.missed == {"f"}
    assert "cannot be met even on demand" in plan.messages["f"] and "300 records run on demand" in plan.messages["f"]
    assert sum(p.record_count for p in plan.on_demand["f"]) == 300, "as much as can finish in time, still"


def test_records_ahead_are_what_the_order_takes_before_the_files_last_part() -> None:
    mine = parts("f", [100, 100])
    others = parts("o", [50, 70, 90])
    order = [others[0], mine[0], others[1], mine[1], others[2]]
    assert deadlines.ahead_of({"f": mine}, iter(order), in_flight=1_000, look=100) == {"f": 1_120}
    assert deadlines.ahead_of({"f": mine}, iter(order), in_flight=0, look=2) == {"f": 50}, "read no further"


def test_throughput_is_measured_per_slot_times_the_slots_and_pessimistic_before_any_job_ended() -> None:
    from tests.core.helpers import LIMITS

    limits = replace(LIMITS, concurrent_jobs=4, max_records_per_job=50_000)
    assert deadlines.batch_rate(limits, 6_000, 60.0) == 400.0
    assert round(deadlines.batch_rate(limits, 0, 0.0), 1) == round(4 * 50_000 / 1_440, 1)


def test_a_deadline_batch_would_miss_runs_partly_on_demand_on_the_flex_tier() -> None:
    config = replace(WHOLE, on_demand_records_per_minute=30, flex_models=(CLAUDE,))
    world = World(config=config)
    world.clock = ManualClock(NOW)
    # A backlog ahead of it: three 1,000-record files on two slots, then a file due in 40 minutes.
    for i in range(3):
        world.upload(f"to-process/b{i}.jsonl", jsonl(1_000))
    deadline = NOW + timedelta(minutes=40)
    urgent = world.upload("to-process/urgent.jsonl", jsonl(1_000), {"bbq-deadline": deadline.isoformat()}).file_id
    assert urgent
    file = world.store.files[urgent]
    assert file.deadline == deadline and file.part_count == 4, "cut into parts a run takes on demand (300)"
    run(world, quota=2)
    file = world.store.files[urgent]
    assert file.message.startswith(f"Deadline {deadline:%Y-%m-%d %H:%M} UTC: batch alone would finish about")
    on_demand = [j for j in world.store.jobs.values() if j.on_demand]
    assert on_demand and all(j.on_demand_reason.startswith("to meet its deadline") for j in on_demand)
    assert set(world.on_demand.tiers) == {"flex"}
    sent = [p for p in world.store.parts.values() if p.file_id == urgent and p.job_id in {j.job_id for j in on_demand}]
    assert sent and all(p.status == PartStatus.COMPLETED and "to meet its deadline" in p.message for p in sent)
    assert sum(p.record_count for p in sent) <= 300, "what one run gets through at 30 records a minute"
    for _ in range(20):  # the batch jobs end as runs go on; every record of every file ends
        for job in list(world.store.jobs.values()):
            if job.status == JobStatus.SUBMITTED and job.job_arn:
                world.batch.end(job.job_arn, JobStatus.COMPLETED)
        world.clock.advance(300)
        run(world, quota=2)
    assert world.store.files[urgent].status == FileStatus.COMPLETED
    assert world.store.files[urgent].counts.succeeded == 1_000
