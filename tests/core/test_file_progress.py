"""A file's progress while Bedrock works: final records plus its share of what each running job processed; a
model's queue, measured rate and time to drain, and a waiting file's place in that queue."""

from dataclasses import replace
from datetime import timedelta

from bbq.core.model.file_progress import file_progress
from bbq.core.model.files import FileCounts, FileStatus, PartStatus
from bbq.core.model.jobs import RecordCounts
from bbq.core.model.model_progress import model_progress
from bbq.core.model.states import JobStatus
from tests.conftest import CLAUDE
from tests.core.helpers import World, job_of, run, upload


def test_progress_counts_what_bedrock_processed_in_running_jobs_shared_by_records() -> None:
    world = World()
    file = upload(world, "calls", 1_000)  # four parts of 250 in the helpers' split
    run(world, quota=1)
    job = job_of(world, file)
    parts = world.store.parts_of(world.store.files[file])
    assert job.submitted_at is not None
    now = job.submitted_at + timedelta(minutes=10)
    assert file_progress(world.store.files[file], parts, [job], now).records_done == 0, "nothing processed yet"
    running = job.with_changes(status=JobStatus.IN_PROGRESS, counts=RecordCounts(total=job.record_count, processed=400))
    progress = file_progress(world.store.files[file], parts, [running], now)
    mine = sum(p.record_count for p in parts if p.job_id == job.job_id and p.status == PartStatus.IN_JOB)
    assert progress.records_done == int(400 * mine / job.record_count) and 0 < progress.percent < 100
    assert progress.records_per_minute == round(400 * mine / job.record_count / 10, 1)
    assert progress.eta is not None and progress.eta > now


def test_a_job_shared_with_another_file_counts_only_this_files_share() -> None:
    world = World()
    small, other = upload(world, "small", 60), upload(world, "other", 60)
    run(world)
    job = job_of(world, small)
    assert job == job_of(world, other) and job.record_count == 120 and job.submitted_at is not None
    running = job.with_changes(status=JobStatus.IN_PROGRESS, counts=RecordCounts(total=120, processed=60))
    file = world.store.files[small]
    progress = file_progress(file, world.store.parts_of(file), [running], job.submitted_at + timedelta(minutes=1))
    assert progress.records_done == 30 and progress.records_per_minute == 30.0


def test_final_records_count_and_an_ended_file_is_whole() -> None:
    world = World()
    file = world.store.files[upload(world, "calls", 1_000)]
    half = replace(file, status=FileStatus.RUNNING, counts=FileCounts(succeeded=490, failed=10, pending=500))
    now = file.created_at
    assert file_progress(half, [], [], now).records_done == 500 and file_progress(half, [], [], now).eta is None
    ended = replace(file, status=FileStatus.COMPLETED)
    assert file_progress(ended, [], [], now).percent == 100.0


def test_a_model_drains_at_the_rate_its_running_jobs_measure_and_a_waiting_file_queues_behind_what_came_first() -> None:
    world = World()
    first, second, third = (upload(world, name, 1_000) for name in ("first", "second", "third"))
    run(world, quota=1)  # one slot: `first` runs, the others wait for it
    job = job_of(world, first)
    assert job.submitted_at is not None
    now = job.submitted_at + timedelta(minutes=10)
    running = job.with_changes(status=JobStatus.IN_PROGRESS, counts=RecordCounts(total=1_000, processed=400))
    waiting = [p for p in world.store.parts.values() if p.status == PartStatus.WAITING]
    model = model_progress(CLAUDE, waiting, [running], 1, 1, now)
    assert (model.waiting_records, model.waiting_parts, model.running_jobs, model.pending_jobs) == (2_000, 8, 1, 0)
    assert model.records_in_flight == 600 and model.records_per_minute == 40.0
    assert model.drain_eta == now + timedelta(minutes=(600 + 2_000) / 40)
    etas = {}
    for file_id in (second, third):
        file = world.store.files[file_id]
        progress = file_progress(file, world.store.parts_of(file), [], now, model)
        assert progress.records_done == 0 and progress.records_per_minute is None, "none of it has run"
        etas[file_id] = progress.eta
    assert etas[second] == now + timedelta(minutes=(600 + 1_000) / 40), "behind what is in flight"
    assert etas[third] == now + timedelta(minutes=(600 + 2_000) / 40), "and behind the file queued before it"
    mine = world.store.files[first]
    own = file_progress(mine, world.store.parts_of(mine), [running], now, model)
    assert own.eta == now + timedelta(minutes=600 / 40), "all of it running: its own jobs' rate"


def test_a_model_with_nothing_processed_yet_has_no_rate_and_on_demand_work_does_not_count_as_batch_throughput() -> None:
    world = World()
    file = upload(world, "calls", 1_000)
    run(world, quota=1)
    job = job_of(world, file)
    assert job.submitted_at is not None
    now = job.submitted_at + timedelta(minutes=5)
    model = model_progress(CLAUDE, [], [job], 1, 1, now)
    assert model.records_per_minute is None and model.drain_eta is None and model.records_in_flight == 1_000
    on_demand = job.with_changes(status=JobStatus.IN_PROGRESS, on_demand=True, counts=RecordCounts(processed=900))
    assert model_progress(CLAUDE, [], [on_demand], 0, None, now).records_per_minute is None
    pending = job.with_changes(status=JobStatus.PENDING)
    assert model_progress(CLAUDE, [], [pending], 0, None, now).pending_jobs == 1
    assert model_progress(CLAUDE, [], [], 0, None, now).drain_eta is None, "nothing left: nothing to drain"
