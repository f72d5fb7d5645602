"""The planner on its own: parts in, jobs out, no I/O."""

from datetime import UTC, datetime, timedelta

from bbq.core.model.files import InvocationType, Part
from bbq.core.model.limits import ModelLimits
from bbq.core.scheduling.planner import MAX_PARTS_PER_JOB, plan_jobs

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LIMITS = ModelLimits(
    concurrent_jobs=3,
    min_records_per_job=100,
    max_records_per_job=1_000,
    max_records_per_file=1_000,
    max_file_bytes=10**6,
    max_job_bytes=10**6,
)
WAIT = timedelta(hours=1)


def part(file: str, index: int, records: int, count: int = 1, size: int | None = None, age: int = 0) -> Part:
    return Part(
        file_id=file,
        index=index,
        model_id="m",
        invocation_type=InvocationType.INVOKE_MODEL,
        staged_uri=f"s3://b/staged/{file}/p{index}.jsonl",
        part_count=count,
        output_uri=f"s3://b/processed/{file}/",
        first_line=1,
        last_line=records,
        record_count=records,
        size_bytes=records * 10 if size is None else size,
        queued_at=T0 + timedelta(seconds=age),
    )


def shape(plan) -> list[list[str]]:  # type: ignore[no-untyped-def]
    return [[f"{p.file_id}{p.index}" for p in job.parts] for job in plan.jobs]


def test_a_large_file_is_spread_over_the_free_slots() -> None:
    big = [part("a", i, 250, count=4) for i in range(1, 5)]
    assert shape(plan_jobs(big, LIMITS, 3, T0, WAIT)) == [["a1"], ["a2"], ["a3"]], "a4 waits for a slot"
    assert shape(plan_jobs(big, LIMITS, 1, T0, WAIT)) == [["a1", "a2", "a3", "a4"]]
    assert shape(plan_jobs(big, LIMITS, 2, T0, WAIT)) == [["a1", "a2"], ["a3", "a4"]]


def test_small_files_are_packed_and_never_go_out_under_the_minimum() -> None:
    small = [part(f, 1, 30, age=i) for i, f in enumerate("abcdefg")]
    plan = plan_jobs(small, LIMITS, 3, T0, WAIT)
    assert all(job.record_count >= 100 for job in plan.jobs)
    assert shape(plan) == [["a1", "b1", "c1", "d1", "e1", "f1", "g1"]]  # 210 records: one job, a tail rides along
    assert not plan.overdue


def test_records_under_the_minimum_wait_then_become_overdue() -> None:
    few = [part("a", 1, 30), part("b", 1, 40, age=5)]
    assert plan_jobs(few, LIMITS, 3, T0 + timedelta(minutes=10), WAIT).jobs == []
    assert plan_jobs(few, LIMITS, 3, T0 + timedelta(minutes=10), WAIT).overdue == []
    late = plan_jobs(few, LIMITS, 3, T0 + WAIT, WAIT)
    assert late.jobs == [] and [p.file_id for p in late.overdue] == ["a", "b"]


def test_limits_on_records_bytes_and_parts_are_kept() -> None:
    parts = [part(f"f{i:03d}", 1, 9, age=i) for i in range(300)]  # 2,700 records in 300 parts
    plan = plan_jobs(parts, LIMITS, 3, T0, WAIT)
    assert len(plan.jobs) == 3
    assert all(len(job.parts) <= MAX_PARTS_PER_JOB and job.record_count <= 1_000 for job in plan.jobs)
    heavy = [part("h", i, 200, count=5, size=400_000) for i in range(1, 6)]
    plan = plan_jobs(heavy, LIMITS, 1, T0, WAIT)
    assert shape(plan) == [["h1", "h2"]] and plan.jobs[0].size_bytes <= LIMITS.max_job_bytes


def test_planning_reads_only_what_the_free_slots_can_take() -> None:
    read = []

    def backlog():  # type: ignore[no-untyped-def]
        for i in range(10_000):
            read.append(i)
            yield part(f"f{i}", 1, 500, age=i)

    plan = plan_jobs(backlog(), LIMITS, 2, T0, WAIT)
    assert len(plan.jobs) == 2 and all(job.record_count == 1_000 for job in plan.jobs)
    assert len(read) == 4, "2 slots x 1,000 records = 4 parts of 500"
    assert plan_jobs(backlog(), LIMITS, 0, T0, WAIT).jobs == [] and len(read) == 4


def test_oldest_parts_go_first() -> None:
    parts = [part("old", 1, 1_000, age=0), part("new", 1, 1_000, age=9)]
    assert shape(plan_jobs(parts, LIMITS, 1, T0, WAIT)) == [["old1"]]


def test_free_slots_are_filled_to_the_level_of_the_busy_ones() -> None:
    from bbq.core.scheduling.planner import level

    assert level(900, 3, []) == 300
    assert level(900, 1, [600, 300]) == 600, "the free slot ends with the busiest"
    assert level(100, 1, [600, 300]) == 100, "too little to reach the others: all of it"
    assert level(2_000, 2, [100, 5_000]) == 700, "the nearly done slot shares; the long one does not"


def test_the_last_work_of_a_batch_is_shared_so_the_slots_end_together() -> None:
    parts = [part("a", i, 250, count=8) for i in range(1, 9)]  # 2,000 records waiting
    # One slot just freed; two others have 250 and 750 records left: the free one takes about 1,000.
    plan = plan_jobs(parts, LIMITS, 1, T0, WAIT, busy=[250, 750])
    assert [job.record_count for job in plan.jobs] == [1_000]
    # Three free slots and nothing running: the batch is shared three ways, in whole parts.
    assert [job.record_count for job in plan_jobs(parts, LIMITS, 3, T0, WAIT).jobs] == [750, 750, 500]


def test_work_too_small_for_a_job_of_its_own_rides_along_when_nothing_else_waits() -> None:
    parts = [part("a", i, 300, count=3) for i in range(1, 4)] + [part("s", 1, 20, age=1), part("t", 1, 20, age=2)]
    plan = plan_jobs(parts, LIMITS, 3, T0, WAIT)
    assert shape(plan) == [["a1"], ["a2"], ["a3", "s1", "t1"]], "40 records could never run alone"
    assert plan.overdue == []


def test_a_part_too_big_for_the_job_being_filled_takes_a_free_slot_of_its_own() -> None:
    """Found by the planner's property test: with the minimum equal to the maximum, a full part that did not fit
    beside a job still under the minimum used to wait while a slot stood idle."""
    limits = LIMITS.with_changes(concurrent_jobs=2, min_records_per_job=124, max_records_per_job=124)
    waiting = [part("a", 1, 1, age=1), part("b", 1, 122, age=2), part("c", 1, 124, age=3), part("d", 1, 1, age=4)]
    plan = plan_jobs(iter(waiting), limits, 2, T0, WAIT)
    assert sorted(shape(plan)) == [["a1", "b1", "d1"], ["c1"]]
    assert plan_jobs(iter(waiting), limits, 1, T0, WAIT).jobs[0].record_count == 124, "one slot: one full job"
