"""Settling ended jobs record by record: retries of failed and missing records, failures for good, the file's
final state and report."""

from dataclasses import replace
from typing import Any

import pytest

from bbq.core.model import naming
from bbq.core.model.files import FileStatus, PartStatus
from bbq.core.model.record_ids import staged_record_id
from bbq.core.model.states import JobStatus
from bbq.core.settling.settle import settle_job
from tests.core.helpers import BUCKET, WHOLE, World, finish, job_of, run, upload


@pytest.fixture
def world() -> World:
    return World(config=WHOLE)


def report_of(world: World, file_id: str) -> dict:
    uri = world.store.files[file_id].results_report_uri
    assert uri, "an ended file has its report"
    return world.objects.json(*naming.split_uri(uri))


def test_records_that_failed_transiently_or_went_missing_go_again_and_the_rest_fail_for_good(world: World) -> None:
    file = upload(world, "calls", 1_000)
    run(world)
    finish(world, job_of(world, file), JobStatus.PARTIALLY_COMPLETED, errors={5: 429, 6: 500, 7: 400}, missing={8})
    run(world)
    first, second = world.store.parts_of(world.store.files[file])
    assert (first.status, first.succeeded, first.failed, first.retried) == (PartStatus.RETRIED, 996, 1, 3)
    assert (second.attempt, second.status, second.record_count, second.part_id) == (
        2,
        PartStatus.WAITING,
        3,
        f"{file}-p00001-a2",
    )
    assert (second.first_line, second.last_line, second.queued_at) == (5, 8, world.clock.now())
    staged = world.objects.files[naming.split_uri(second.staged_uri)]
    assert [line.split(b'"')[3].decode() for line in staged.splitlines()] == [
        staged_record_id(file, n) for n in (5, 6, 8)
    ]
    assert world.store.files[file].status == FileStatus.RUNNING
    assert "3 records failed or went missing and go again as attempt 2" in world.store.files[file].message
    # The three records wait to be packed with other work (under Bedrock's minimum alone): an upload comes.
    other = upload(world, "more", 200)
    run(world)
    carrier = job_of(world, other)
    assert set(carrier.part_ids) == {second.part_id, f"{other}-p00001"}, "the retried records are packed along"
    finish(world, carrier)
    run(world)
    ended = world.store.files[file]
    assert (ended.status, ended.counts.succeeded, ended.counts.failed) == (FileStatus.PARTIALLY_COMPLETED, 999, 1)
    assert ended.message.startswith("999 records succeeded, 1 failed for good")
    report = report_of(world, file)
    assert report["status"] == "PartiallyCompleted" and report["records"]["succeeded"] == 999
    assert report["failedRecords"] == [
        {
            "line": 7,
            "recordId": "R000006",  # the user's own, bbq's beside it: as errors.jsonl lists it
            "bbqRecordId": staged_record_id(file, 7),
            "errorCode": 400,
            "errorMessage": "error 400",
            "attempts": 1,
        }
    ]
    assert len(report["results"]) == 2 and [p["attempt"] for p in report["parts"]] == [1, 2]
    assert world.store.files[other].status == FileStatus.COMPLETED
    assert world.store.jobs_in_flight(world.config.default_model_id) == [], "settled jobs leave the queue"


def test_a_record_that_keeps_failing_stops_after_max_attempts(world: World) -> None:
    world.config = replace(WHOLE, max_attempts=2)
    file = upload(world, "calls", 1_000)
    run(world)
    finish(world, job_of(world, file), JobStatus.PARTIALLY_COMPLETED, missing={10})
    run(world)
    upload(world, "more", 200)
    run(world)
    retry_job = world.store.jobs[world.store.parts_of(world.store.files[file])[1].job_id or ""]
    finish(world, retry_job, JobStatus.PARTIALLY_COMPLETED, missing={10})
    run(world)
    ended = world.store.files[file]
    assert (ended.status, ended.counts.failed, ended.counts.succeeded) == (FileStatus.PARTIALLY_COMPLETED, 1, 999)
    (failure,) = report_of(world, file)["failedRecords"]
    assert (failure["line"], failure["errorMessage"], failure["attempts"]) == (10, "missing from the job's output", 2)
    assert len(world.store.parts_of(ended)) == 2, "no third attempt"


def test_a_completed_job_settles_without_reading_its_input(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    file = upload(world, "calls", 1_000)
    run(world)
    finish(world, job_of(world, file))
    run_job = world.store.jobs[job_of(world, file).job_id]
    (part,) = world.store.parts_of(world.store.files[file])
    reads: list[str] = []
    real_read = world.objects.read_key

    def read_key(bucket: str, key: str) -> Any:
        reads.append(key)
        return real_read(bucket, key)

    monkeypatch.setattr(world.objects, "read_key", read_key)
    ended = replace(run_job, status=JobStatus.COMPLETED)
    settle_job(ended, store=world.store, objects=world.objects, config=world.config, clock=world.clock)
    assert naming.split_uri(part.staged_uri)[1] not in reads and len(reads) == 1, "only the output is read"
    monkeypatch.undo()
    run(world)
    assert world.store.files[file].status == FileStatus.COMPLETED
    assert world.store.files[file].message == "All 1000 records succeeded"
    assert report_of(world, file)["failedRecords"] == []


def test_a_job_with_no_output_at_all_retries_every_record(world: World) -> None:
    file = upload(world, "calls", 1_000)
    run(world)
    job = job_of(world, file)
    finish(world, job, JobStatus.COMPLETED)
    out = naming.split_uri(naming.results_uri(job.output_uri, job.job_arn, "calls-p00001.jsonl"))
    del world.objects.files[out]
    run(world)
    first, second = world.store.parts_of(world.store.files[file])
    assert (first.status, second.record_count) == (PartStatus.RETRIED, 1_000)
    run(world)
    again = world.store.jobs[world.store.parts_of(world.store.files[file])[1].job_id or ""]
    assert again.status == JobStatus.SUBMITTED and again.input_uri == second.staged_uri
    assert not second.staged_uri.startswith(f"s3://{BUCKET}/{naming.staged_prefix(file)}"), (
        "not in the folder a whole-file job reads"
    )


def test_errors_about_the_record_itself_are_not_retried(world: World) -> None:
    file = upload(world, "calls", 1_000)
    run(world)
    finish(world, job_of(world, file), JobStatus.PARTIALLY_COMPLETED, errors={1: 400, 2: 403, 3: 404, 4: 413})
    run(world)
    ended = world.store.files[file]
    assert (ended.status, ended.counts.failed) == (FileStatus.PARTIALLY_COMPLETED, 4)
    assert [r["errorCode"] for r in report_of(world, file)["failedRecords"]] == [400, 403, 404, 413]


def test_a_file_whose_every_record_failed_is_failed(world: World) -> None:
    file = upload(world, "calls", 100)
    run(world)
    finish(world, job_of(world, file), JobStatus.COMPLETED, errors=dict.fromkeys(range(1, 101), 400))
    run(world)
    ended = world.store.files[file]
    assert (ended.status, ended.counts.failed) == (FileStatus.FAILED, 100)
    assert ended.message.startswith("No record succeeded: 100 of 100 records failed for good: 400 error 400")


def test_retried_records_left_under_the_minimum_run_on_demand_after_the_companion_wait(world: World) -> None:
    file = upload(world, "calls", 1_000)
    run(world)
    finish(world, job_of(world, file), JobStatus.PARTIALLY_COMPLETED, errors={5: 429, 7: 400}, missing={8})
    run(world)
    assert world.on_demand.calls == [], "it waits for companions first (SmallWork is wait)"
    world.clock.advance(world.config.companion_wait.total_seconds())
    run(world)
    assert len(world.on_demand.calls) == 2 and len(world.batch.submitted) == 1
    ended = world.store.files[file]
    assert (ended.status, ended.counts.succeeded, ended.counts.failed) == (FileStatus.PARTIALLY_COMPLETED, 999, 1)


def _staged_keys(world: World, file_id: str) -> list[str]:
    return [naming.split_uri(p.staged_uri)[1] for p in world.store.parts_of(world.store.files[file_id])]


def test_a_packed_job_whose_staged_input_is_gone_runs_the_others_without_it() -> None:
    """Someone cleaned staged/ (or StagedDataDays expired it) before a packed job went out: that file's part fails
    naming the key, the neighbour is packed again without it and runs, and every file ends."""
    world = World()
    gone, neighbour = upload(world, "gone", 60), upload(world, "neighbour", 120)
    for key in _staged_keys(world, gone):
        del world.objects.files[BUCKET, key]
    run(world)  # planned together, then unpacked at submission: the input of one part cannot be copied
    (failed_job,) = [job for job in world.store.jobs.values() if job.status == JobStatus.FAILED]
    assert failed_job.settled and "staged input of 1 of its parts is gone" in failed_job.message
    assert world.batch.submitted == [], "nothing half-packed went to Bedrock"
    run(world)
    finish(world, job_of(world, neighbour))
    run(world)
    assert world.store.files[neighbour].status == FileStatus.COMPLETED
    ended = world.store.files[gone]
    assert ended.status == FileStatus.FAILED and _staged_keys(world, gone)[0] in ended.message
    assert "Upload those lines again" in ended.message and ended.counts.failed == 60
    errors = world.objects.files[BUCKET, naming.split_uri(ended.output_uri)[1] + "errors.jsonl"].splitlines()
    assert len(errors) == 1 and b'"records":60' in errors[0] and b"staged input is gone" in errors[0]


def test_a_job_whose_staged_input_vanished_fails_its_records_with_the_key_and_ends(world: World) -> None:
    file = upload(world, "calls", 1_000)
    run(world)
    for key in _staged_keys(world, file):
        del world.objects.files[BUCKET, key]
    for _ in range(3):  # Bedrock cannot read the input: every attempt fails
        finish(world, job_of(world, file), JobStatus.FAILED, "Unable to read input s3 object")
        run(world)
        world.clock.advance(3600)
        run(world)
    ended = world.store.files[file]
    assert ended.status == FileStatus.FAILED and "is gone (deleted, or expired after StagedDataDays)" in ended.message
    assert all(job.settled for job in world.store.jobs.values()), "nothing is left retrying for ever"


def test_staged_data_is_tagged_for_expiry_only_once_its_file_has_ended(world: World) -> None:
    """The bucket's lifecycle expires only staged objects tagged bbq-state=ended: none while the file waits or
    runs, every one of its parts (and retries and failure lists) once it ended, and again if the join is asked
    twice (a crash between ending the file and tagging)."""
    from bbq.core.settling.staged_data import ENDED_TAG

    file = upload(world, "calls", 1_000)
    run(world)
    assert world.objects.tags == {}, "nothing tagged while the file runs"
    finish(world, job_of(world, file), errors={9: 400})  # one record fails for good: a failures list too
    run(world)
    assert world.store.files[file].status == FileStatus.PARTIALLY_COMPLETED
    parts = world.store.parts_of(world.store.files[file])
    staged = {naming.split_uri(p.staged_uri)[1] for p in parts} | {p.failures_key for p in parts if p.failures_key}
    assert len(staged) == 2 and all(world.objects.tags[BUCKET, key] == ENDED_TAG for key in staged)
    world.objects.tags.clear()
    world.joins.request(file)
    world.join_asked()
    assert all(world.objects.tags[BUCKET, key] == ENDED_TAG for key in staged), "tagged again when asked again"
