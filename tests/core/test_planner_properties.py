"""The planner alone, under random waiting work, limits, free slots and busy slots (hypothesis): whatever it plans
conserves records (no part in two jobs, none invented), keeps Bedrock's limits and the 99-part cap, never sends a
job under the minimum, lets no upload starve (the oldest part goes first when it can), makes no more jobs than
free slots and leaves no slot idle while a part it read could make a job alone."""

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bbq.core.model.limits import ModelLimits
from bbq.core.scheduling.planner import plan_jobs
from tests.core.test_planner import T0, WAIT, part


@st.composite
def workloads(draw: st.DrawFn) -> tuple[list, ModelLimits, int, list[int], int]:  # type: ignore[type-arg]
    minimum = draw(st.integers(1, 200))
    per_job = draw(st.integers(minimum, 2_000))
    limits = ModelLimits(
        concurrent_jobs=draw(st.integers(1, 10)),
        min_records_per_job=minimum,
        max_records_per_job=per_job,
        max_records_per_file=draw(st.integers(1, per_job)),
        max_file_bytes=draw(st.integers(10_000, 10**6)),
        max_job_bytes=draw(st.integers(10_000, 10**7)),
    )
    files = draw(st.integers(1, 12))
    waiting = []
    for f in range(files):
        count = draw(st.integers(1, 6))
        for index in range(1, count + 1):
            records = draw(st.integers(1, limits.max_records_per_file))
            size = draw(st.integers(records, min(records * 10, limits.max_file_bytes, limits.max_job_bytes)))
            waiting.append(part(f"f{f:02d}", index, records, count=count, size=size, age=f * 10 + index))
    waiting.sort(key=lambda p: p.queued_at)
    busy = draw(st.lists(st.integers(0, 5_000), max_size=limits.concurrent_jobs - 1))
    slots = limits.concurrent_jobs - len(busy)
    max_parts = draw(st.sampled_from([3, 99]))
    return waiting, limits, slots, busy, max_parts


@settings(max_examples=300, deadline=None)
@given(workloads(), st.integers(0, 7200))
def test_a_plan_keeps_every_rule(workload: tuple[list, ModelLimits, int, list[int], int], waited: int) -> None:  # type: ignore[type-arg]
    waiting, limits, slots, busy, max_parts = workload
    now = T0 + timedelta(seconds=waited)
    plan = plan_jobs(iter(waiting), limits, slots, now, WAIT, max_parts_per_job=max_parts, busy=busy)
    planned = [p for job in plan.jobs for p in job.parts]
    ids = [p.part_id for p in planned] + [p.part_id for p in plan.overdue]
    assert len(ids) == len(set(ids)), "no part in two jobs, nor both in a job and overdue"
    assert set(ids) <= {p.part_id for p in waiting}, "only waiting parts"
    assert len(plan.jobs) <= max(slots, 0)
    for job in plan.jobs:
        assert limits.min_records_per_job <= job.record_count <= limits.max_records_per_job
        assert job.size_bytes <= limits.max_job_bytes
        assert 1 <= len(job.parts) <= max_parts
        assert all(p.record_count <= limits.max_records_per_file for p in job.parts)
    if plan.jobs:  # no upload starves: the oldest part goes first, unless it cannot make a job alone yet
        assert waiting[0] in planned or waiting[0].record_count < limits.min_records_per_job
    assert plan.parts_read <= len(waiting)
    if len(plan.jobs) < slots:  # never a slot idle while a part read could make a job alone
        read = waiting[: plan.parts_read]
        assert all(p in planned or p.record_count < limits.min_records_per_job for p in read)
