"""Stopping a file or a job: what ran is kept and counted, nothing more runs, the file ends Stopped."""

from dataclasses import dataclass

import pytest

from bbq.core.model import naming
from bbq.core.model.errors import SlotUnavailable
from bbq.core.model.files import FileStatus, PartStatus
from bbq.core.model.ports import SubmitRequest
from bbq.core.model.states import JobStatus
from bbq.core.scheduling.stopping import stop_file, stop_job
from bbq_local.fakes import FakeBatch
from tests.core.helpers import WHOLE, World, finish, job_of, run, upload


@pytest.fixture
def world() -> World:
    return World(config=WHOLE)


def stop(world: World, file_id: str):  # type: ignore[no-untyped-def]
    outcome = stop_file(file_id, store=world.store, batch=world.batch, joins=world.joins, clock=world.clock)
    world.join_asked()  # the results function, as its queue is asked
    return outcome


def test_a_waiting_file_stops_at_once_and_never_runs(world: World) -> None:
    file = upload(world, "calls", 1_000)
    outcome = stop(world, file)
    assert outcome.parts_stopped == 1 and outcome.jobs_stopped == []
    stopped = world.store.files[file]
    assert (stopped.status, stopped.counts.stopped, stopped.stop_requested) == (FileStatus.STOPPED, 1_000, True)
    assert stopped.results_report_uri and stopped.message.startswith("Stopped: 0 records succeeded, 1000 were not")
    run(world)
    assert world.batch.submitted == []


def test_a_running_file_is_stopped_in_bedrock_and_its_partial_output_is_counted(world: World) -> None:
    file = upload(world, "calls", 1_000)
    run(world)
    job = job_of(world, file)
    outcome = stop(world, file)
    assert outcome.jobs_stopped == [job.job_id] and world.batch.stopped == [job.job_arn]
    assert world.store.files[file].message == "Stop requested"
    run(world)
    assert job_of(world, file).status == JobStatus.STOPPING
    finish(world, job, JobStatus.STOPPED, "The job was stopped.", missing=set(range(401, 1001)), errors={3: 500})
    run(world)
    (part,) = world.store.parts_of(world.store.files[file])
    assert (part.status, part.succeeded, part.failed) == (PartStatus.STOPPED, 399, 1), "no record goes again"
    ended = world.store.files[file]
    assert (ended.status, ended.counts.succeeded, ended.counts.stopped, ended.counts.failed) == (
        FileStatus.STOPPED,
        399,
        600,
        1,
    )
    report = world.objects.json(*naming.split_uri(ended.results_report_uri or ""))
    assert report["records"]["stopped"] == 600 and [r["line"] for r in report["failedRecords"]] == [3]


def test_a_packed_job_runs_on_for_the_other_files_but_the_stopped_file_retries_nothing(world: World) -> None:
    small, other = upload(world, "small", 60), upload(world, "other", 60)
    run(world)
    job = job_of(world, small)
    assert job_of(world, other) == job
    outcome = stop(world, small)
    assert outcome.jobs_left_running == [job.job_id] and world.batch.stopped == []
    finish(world, job, JobStatus.PARTIALLY_COMPLETED, errors={7: 500})  # line 7 of each file
    run(world)
    assert world.store.files[small].status == FileStatus.STOPPED
    assert world.store.files[small].counts.succeeded == 59
    assert world.store.files[other].status == FileStatus.RUNNING, "its failed record goes again"
    assert [p.attempt for p in world.store.parts_of(world.store.files[other])] == [1, 2]


def test_a_pending_job_ends_before_it_goes_out(world: World) -> None:
    first, second = upload(world, "a1"), upload(world, "a2")
    world.batch.submit_errors["a2"] = SlotUnavailable("quota reached")
    run(world)
    del world.batch.submit_errors["a2"]
    waiting = job_of(world, second)
    assert waiting.status == JobStatus.PENDING
    outcome = stop_job(waiting.job_id, store=world.store, batch=world.batch, clock=world.clock)
    assert outcome.jobs_stopped == [waiting.job_id]
    finish(world, job_of(world, first))
    run(world)
    assert len(world.batch.submitted) == 1, "the stopped job never went to Bedrock"
    assert world.store.files[second].status == FileStatus.STOPPED
    assert world.store.files[second].counts.stopped == 1_000
    assert world.store.files[first].status == FileStatus.COMPLETED


@dataclass
class StopWhileSubmitting(FakeBatch):
    """A stop that lands while a run is submitting the job: Bedrock accepts it, bbq had marked it stopped."""

    world: World | None = None

    def submit(self, request: SubmitRequest) -> str:
        arn = super().submit(request)
        assert self.world
        job = next(iter(self.world.store.jobs))
        stop_job(job, store=self.world.store, batch=self, clock=self.world.clock)
        return arn


def test_a_stop_during_submission_stops_the_job_in_bedrock_too() -> None:
    world = World(config=WHOLE, batch=StopWhileSubmitting())
    assert isinstance(world.batch, StopWhileSubmitting)
    world.batch.world = world
    file = upload(world, "a1")
    run(world)
    job = job_of(world, file)
    assert job.status == JobStatus.STOPPING and job.job_arn and world.batch.stopped == [job.job_arn]
    finish(world, job, JobStatus.STOPPED, missing=set(range(1, 1001)))
    run(world)
    assert world.store.files[file].status == FileStatus.STOPPED
    assert world.store.jobs_in_flight(job.model_id) == []


def test_a_job_stopped_outside_bbq_runs_its_records_again_and_says_who_stopped_it(world: World) -> None:
    """No stop was asked through bbq (no file flagged): Bedrock's Stopped is someone else's, in the console or
    the API. The records that did not run go again; the file says what happened."""
    file = upload(world, "calls", 1_000)
    run(world)
    job = job_of(world, file)
    finish(world, job, JobStatus.STOPPED, "The job was stopped.", missing=set(range(241, 1001)))
    run(world)
    first, again = world.store.parts_of(world.store.files[file])
    assert (first.status, first.succeeded, first.retried) == (PartStatus.RETRIED, 240, 760)
    assert f"Bedrock reported job {job.job_arn} Stopped, but no stop was asked through bbq" in first.message
    assert world.store.files[file].message == first.message and not world.store.files[file].stop_requested
    assert again.record_count == 760
    finish(world, job_of_part(world, again.part_id))
    run(world)
    ended = world.store.files[file]
    assert (ended.status, ended.counts.succeeded, ended.counts.stopped) == (FileStatus.COMPLETED, 1_000, 0)


def job_of_part(world: World, part_id: str):  # type: ignore[no-untyped-def]
    (part,) = world.store.get_parts([part_id])
    assert part.job_id
    return world.store.jobs[part.job_id]


def test_a_delete_marker_cancels_the_upload_it_hides_only_if_none_of_it_ran(world: World) -> None:
    from bbq.core.model.ports import ObjectRef
    from bbq.core.scheduling.cancelling import cancel_deleted

    sent, queued = upload(world, "sent", 1_000), upload(world, "queued", 1_000)
    run(world, quota=1)  # one slot: "sent" goes out first (oldest), "queued" waits
    assert job_of(world, sent).status == JobStatus.SUBMITTED

    def marker(name: str) -> ObjectRef:
        return ObjectRef("bucket", f"to-process/{name}.jsonl", "", 0, "marker-version")

    assert cancel_deleted(marker("sent"), store=world.store, clock=world.clock, joins=world.joins) is None
    assert cancel_deleted(marker("queued"), store=world.store, clock=world.clock, joins=world.joins) == queued
    world.join_asked()
    cancelled = world.store.files[queued]
    assert cancelled.status == FileStatus.STOPPED and cancelled.stop_requested
    (part,) = world.store.parts_of(cancelled)
    assert part.status == PartStatus.STOPPED and part.message.startswith("Cancelled: the upload was deleted")
    assert cancel_deleted(marker("nothing"), store=world.store, clock=world.clock, joins=world.joins) is None
    run(world, quota=1)
    assert [r.input_uri for r in world.batch.submitted if queued in r.input_uri] == [], "never sent to Bedrock"
