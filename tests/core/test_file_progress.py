"""A file's progress while Bedrock works: final records plus its share of what each running job processed."""

from dataclasses import replace
from datetime import timedelta

from bbq.core.model.file_progress import file_progress
from bbq.core.model.files import FileCounts, FileStatus, PartStatus
from bbq.core.model.jobs import RecordCounts
from bbq.core.model.states import JobStatus
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
