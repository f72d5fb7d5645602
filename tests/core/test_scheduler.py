"""The scheduler run against in-memory ports: reconcile, plan from waiting parts, fill free slots; every Bedrock
answer handled."""

import json
import threading
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bbq.core.model import naming, retry
from bbq.core.model.config import SmallWork
from bbq.core.model.errors import (
    JobNotFound,
    ModelUnavailable,
    RecordRejected,
    RequestRejected,
    ServiceBusy,
    SlotUnavailable,
)
from bbq.core.model.files import FileStatus, Part, PartStatus, WaitReason
from bbq.core.model.jobs import JobSnapshot, RecordCounts
from bbq.core.model.states import JobStatus
from tests.conftest import CLAUDE, ROLE_ARN
from tests.core.helpers import BUCKET, CONFIG, NOVA, WHOLE, World, finish, job_of, jsonl, run, upload


@pytest.fixture
def world() -> World:
    return World(config=WHOLE)


def submitted_files(world: World) -> list[str]:
    return [r.input_uri.rsplit("/", 1)[1].removesuffix("-p00001.jsonl") for r in world.batch.submitted]


def test_fills_free_slots_with_the_oldest_files(world: World) -> None:
    files = [upload(world, name) for name in ("p1", "p2", "p3")]
    report = run(world)
    assert submitted_files(world) == ["p1", "p2"]
    request = world.batch.submitted[0]
    job = job_of(world, files[0])
    assert (request.client_token, request.role_arn, request.timeout_hours) == (f"{job.job_id}a1", ROLE_ARN, 48)
    assert request.input_uri == world.store.parts_of(world.store.files[files[0]])[0].staged_uri
    place = f"s3://{BUCKET}/processed/p1/{naming.upload_tag(world.store.files[files[0]].created_at, files[0])}/"
    assert request.output_uri == place and request.invocation_type == "InvokeModel"
    assert job.status == JobStatus.SUBMITTED and job.job_arn and job.submitted_at == world.clock.now()
    assert world.store.files[files[0]].status == FileStatus.RUNNING
    assert world.store.files[files[2]].status == FileStatus.QUEUED
    assert (report.planned, report.submitted, report.active_per_model[CLAUDE]) == (2, 2, 2)


def test_each_model_has_its_own_slots(world: World) -> None:
    upload(world, "p1")
    upload(world, "p2")
    upload(world, "p3")
    upload(world, "n1", model=NOVA)
    run(world, 2, **{NOVA: 1})
    assert sorted(submitted_files(world)) == ["n1", "p1", "p2"]
    assert {r.model_id for r in world.batch.submitted} == {CLAUDE, NOVA}


def test_a_finished_job_finishes_its_parts_and_files_and_frees_its_slot(world: World) -> None:
    first, second = upload(world, "p1"), upload(world, "p2")
    upload(world, "p3")
    run(world, quota=2)
    ended = datetime(2026, 1, 2, tzinfo=UTC)
    job = job_of(world, first)
    assert job.job_arn
    world.batch.end(
        job.job_arn,
        JobStatus.PARTIALLY_COMPLETED,
        "Some records were not processed.",
        errors={5: 400, 6: 400},
        ended_at=ended,
    )
    report = run(world, quota=2)
    saved = world.store.jobs[job.job_id]
    assert (saved.status, saved.ended_at, saved.counts.error, saved.settled) == (
        JobStatus.PARTIALLY_COMPLETED,
        ended,
        2,
        True,
    )
    assert world.store.parts_of(world.store.files[first])[0].status == PartStatus.PARTIALLY_COMPLETED
    assert world.store.files[first].status == FileStatus.PARTIALLY_COMPLETED
    assert world.store.files[second].status == FileStatus.RUNNING
    assert report.finished == {"PartiallyCompleted": 1} and submitted_files(world)[-1] == "p3"


def test_one_jobs_surprise_does_not_stop_the_run(world: World) -> None:
    odd, fine = upload(world, "a1"), upload(world, "a2")
    waiting = upload(world, "p1")
    run(world)
    assert job_of(world, odd).job_arn
    world.batch.describe_errors[job_of(world, odd).job_arn or ""] = ValueError("'Paused' is not a valid JobStatus")
    finish(world, job_of(world, fine))
    report = run(world)
    assert job_of(world, odd).status == JobStatus.SUBMITTED, "kept, and it keeps its slot"
    assert job_of(world, fine).status == JobStatus.COMPLETED
    assert job_of(world, waiting).status == JobStatus.SUBMITTED, "a2's slot went to p1; a1's was not given away"
    assert report.errors == 1 and world.store.ledger[CLAUDE].keys() == {
        job_of(world, odd).job_id,
        job_of(world, waiting).job_id,
    }


def test_a_job_bedrock_forgot_fails_with_a_clear_message() -> None:
    world = World(config=replace(WHOLE, max_attempts=1))
    file = upload(world, "a1")
    run(world)
    world.batch.describe_errors[job_of(world, file).job_arn or ""] = JobNotFound("gone")
    run(world)
    assert job_of(world, file).status == JobStatus.FAILED and world.store.files[file].status == FileStatus.FAILED
    assert "Bedrock no longer knows job" in world.store.files[file].message


def test_a_failed_or_expired_job_goes_again_as_a_new_attempt_then_fails_for_good(world: World) -> None:
    file = upload(world, "a1")
    run(world, quota=1)
    first = job_of(world, file)
    world.batch.snapshots[first.job_arn or ""] = JobSnapshot(JobStatus.FAILED, "Internal error", RecordCounts(), None)
    report = run(world, quota=1)
    again = job_of(world, file)
    assert report.retried == 1 and (again.status, again.attempt, again.job_arn) == (JobStatus.PENDING, 2, None)
    assert again.previous_arns == (first.job_arn,) and again.retry_at == world.clock.now() + retry.backoff(1)
    assert again.message.startswith("Attempt 1 ended Failed: Internal error. Attempt 2 of 3 goes after")
    assert world.store.files[file].message == again.message and world.store.files[file].status == FileStatus.RUNNING
    assert world.store.ledger[CLAUDE] == {}, "the slot is free while the job waits"
    world.clock.advance(61)
    run(world, quota=1)
    second = world.batch.submitted[-1]
    assert second.job_name.endswith("-a2") and second.client_token.endswith("a2") and len(world.batch.submitted) == 2
    expired = JobSnapshot(JobStatus.EXPIRED, "Job timed out", RecordCounts(), None)
    world.batch.snapshots[job_of(world, file).job_arn or ""] = expired
    run(world, quota=1)
    world.clock.advance(121)
    run(world, quota=1)
    assert world.batch.submitted[-1].job_name.endswith("-a3")
    world.batch.snapshots[job_of(world, file).job_arn or ""] = JobSnapshot(
        JobStatus.FAILED, "Bad", RecordCounts(), None
    )
    run(world, quota=1)
    final = job_of(world, file)
    assert (final.status, final.attempt, len(final.previous_arns)) == (JobStatus.FAILED, 3, 2)
    assert final.message == "Failed after 3 attempts: Bad" and world.store.files[file].status == FileStatus.FAILED
    assert world.store.files[file].message == f"No record succeeded: {final.message}"


def test_throttled_refresh_keeps_the_job_and_its_slot(world: World) -> None:
    file = upload(world, "a1")
    run(world, quota=1)
    upload(world, "p1")
    world.batch.describe_errors[job_of(world, file).job_arn or ""] = ServiceBusy("slow down")
    report = run(world, quota=1)
    assert job_of(world, file).status == JobStatus.SUBMITTED and len(world.batch.submitted) == 1
    assert report.refreshed == 0 and report.planned == 0


def test_no_room_in_bedrock_leaves_jobs_pending_in_order(world: World) -> None:
    upload(world, "p1")
    upload(world, "p2")
    world.batch.submit_errors["/p1-"] = SlotUnavailable("quota reached")
    report = run(world)
    assert world.batch.submitted == [], "p2 must not overtake p1 while Bedrock has no room"
    assert {j.status for j in world.store.jobs.values()} == {JobStatus.PENDING}
    assert (report.deferred, report.pending_left) == (1, 2)
    assert world.store.ledger[CLAUDE] == {}, "the refused job gave its reserved slot back"
    upload(world, "p3")
    assert run(world).planned == 0, "planned jobs waiting for room take the free slots; nothing more is planned"


@pytest.mark.parametrize("error", [ServiceBusy("InternalServerException: boom"), RuntimeError("an unknown answer")])
def test_a_job_that_keeps_failing_transiently_is_set_aside_with_backoff(world: World, error: Exception) -> None:
    first = upload(world, "p1")
    upload(world, "p2")
    world.batch.submit_errors["/p1-"] = error
    report = run(world)
    assert submitted_files(world) == ["p2"], "p2 is not blocked by p1"
    p1 = job_of(world, first)
    assert p1.status == JobStatus.PENDING and p1.transient_errors == 1 and "trying again" in p1.message
    assert p1.retry_at == world.clock.now() + retry.backoff(1)
    assert (report.deferred, report.submitted) == (1, 1)
    # Within its backoff the job is not asked about; after it, it is, and each failure doubles the wait.
    world.clock.advance(30)
    assert run(world).set_aside == 1 and len(world.batch.submitted) == 1
    world.clock.advance(31)
    run(world)
    assert job_of(world, first).transient_errors == 2
    assert job_of(world, first).retry_at == world.clock.now() + timedelta(minutes=2)
    del world.batch.submit_errors["/p1-"]
    world.clock.advance(120)
    run(world)
    p1 = job_of(world, first)
    assert (p1.status, p1.transient_errors, p1.retry_at, p1.message) == (JobStatus.SUBMITTED, 0, None, "")


def test_a_bedrock_that_fails_everything_is_asked_a_bounded_number_of_times(world: World) -> None:
    for index in range(20):
        upload(world, f"p{index}")
    world.batch.submit_errors["staged/"] = ServiceBusy("InternalServerException")
    report = run(world, quota=10)
    assert report.deferred == retry.TRANSIENT_FAILURES_PER_RUN and report.planned == 10


@pytest.mark.parametrize(
    ("reason", "hint"),
    [
        (ModelUnavailable.ACCESS, "Model access"),
        (ModelUnavailable.SUBSCRIPTION, "Marketplace"),
        (ModelUnavailable.USE_CASE_FORM, "use-case form"),
        (ModelUnavailable.UNKNOWN_MODEL, "ModelId"),
    ],
)
def test_a_model_the_account_cannot_use_pauses_its_queue_and_resumes_by_itself(
    world: World, reason: str, hint: str
) -> None:
    claude = [upload(world, name) for name in ("p1", "p2", "p3")]
    upload(world, "n1", model=NOVA)
    world.batch.submit_errors[CLAUDE] = ModelUnavailable(reason, "AccessDeniedException: no")
    world.batch.submit_errors["/p1-"] = ModelUnavailable(reason, "AccessDeniedException: no")
    del world.batch.submit_errors[CLAUDE]
    report = run(world)
    jobs = [job_of(world, f) for f in claude[:2]]
    assert {j.status for j in jobs} == {JobStatus.PENDING}, "nothing failed"
    assert all(hint in j.message and CLAUDE in j.message for j in jobs)
    assert set(report.paused) == {CLAUDE}
    assert {world.store.files[f].waiting_for for f in claude[:2]} == {WaitReason.MODEL_ACCESS}
    assert submitted_files(world) == ["n1"], "other models go on"
    run(world)
    assert len(world.batch.submitted) == 1, "each run asks about one job of the paused model"
    del world.batch.submit_errors["/p1-"]
    report = run(world)
    assert report.paused == {} and {job_of(world, f).status for f in claude[:2]} == {JobStatus.SUBMITTED}


def test_a_rejected_job_fails_with_bedrocks_message_and_the_next_one_goes(world: World) -> None:
    first, second = upload(world, "p1"), upload(world, "p2")
    world.batch.submit_errors["/p1-"] = RequestRejected("ValidationException: bad input")
    report = run(world, quota=1)
    assert job_of(world, first).status == JobStatus.FAILED and world.store.files[first].status == FileStatus.FAILED
    assert world.store.files[first].message == "No record succeeded: ValidationException: bad input"
    run(world, quota=1)
    assert job_of(world, second).status == JobStatus.SUBMITTED
    assert report.rejected == 1


def test_a_job_moved_by_another_run_is_not_counted_twice(world: World) -> None:
    file = upload(world, "p1")
    run(world, quota=0 + 1)
    world.store.lost_races.add(job_of(world, file).job_id)
    finish(world, job_of(world, file))
    report = run(world, quota=1)
    assert report.finished == {} and job_of(world, file).status == JobStatus.SUBMITTED


def test_overlapping_runs_never_ask_beyond_the_quota_nor_submit_parts_twice(world: World) -> None:
    for index in range(30):
        upload(world, f"p{index:02d}")
    barrier = threading.Barrier(3)

    def one_run() -> None:
        barrier.wait()
        run(world, quota=4)

    for _ in range(3):  # three ticks of three overlapping runs; two jobs end between ticks
        threads = [threading.Thread(target=one_run) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        active = [j for j in world.store.jobs.values() if j.status == JobStatus.SUBMITTED]
        assert len(active) <= 4 and len(world.store.ledger[CLAUDE]) <= 4
        for job in active[:2]:
            finish(world, job)
    names = [r.input_uri for r in world.batch.submitted]
    assert len(names) == len(set(names)), "no part was sent to Bedrock twice"
    assert len(names) == 8, "every free slot was used: 4, then 2 and 2 as jobs ended"


def test_the_ledger_heals_after_a_run_that_died(world: World) -> None:
    ended_file, running_file = upload(world, "a1"), upload(world, "a2")
    run(world, quota=2)
    ended, running = job_of(world, ended_file), job_of(world, running_file)
    finish(world, ended)
    world.store.save_job(ended.with_changes(status=JobStatus.COMPLETED), expected=JobStatus.SUBMITTED)
    world.store.hold_slot(CLAUDE, ended.job_id, world.clock.now())  # died between saving Completed and releasing
    p1, p2 = upload(world, "p1"), upload(world, "p2")
    world.store.hold_slot(CLAUDE, "no-such-job", world.clock.now())  # died between reserving and planning
    world.batch.submit_errors["/p2-"] = SlotUnavailable("no room")
    run(world, quota=3)
    assert job_of(world, p1).status == JobStatus.SUBMITTED and job_of(world, p2).status == JobStatus.PENDING
    assert world.store.ledger[CLAUDE].keys() == {running.job_id, job_of(world, p1).job_id}, "a1's slot came back"
    del world.batch.submit_errors["/p2-"]
    world.store.hold_slot(CLAUDE, job_of(world, p2).job_id, world.clock.now())  # reserved, then the run died
    run(world, quota=3)
    assert job_of(world, p2).status == JobStatus.PENDING, "a reservation is honoured while it may be live"
    world.clock.advance(retry.STALE_RESERVATION.total_seconds() + 1)
    run(world, quota=3)
    assert job_of(world, p2).status == JobStatus.SUBMITTED, "the stale reservation was released, then used"


def test_a_large_file_runs_in_as_many_jobs_as_there_are_free_slots() -> None:
    world = World()  # parts of 250 records
    big = upload(world, "big", 1_000)
    report = run(world, quota=4)
    assert report.planned == 4 and len(world.batch.submitted) == 4
    parts = world.store.parts_of(world.store.files[big])
    assert len({p.job_id for p in parts}) == 4
    # A job of one part reads it where it was staged; results go to the file's place.
    assert sorted(r.input_uri.rsplit("-", 1)[1] for r in world.batch.submitted) == [
        f"p0000{i}.jsonl" for i in range(1, 5)
    ]
    assert {r.output_uri for r in world.batch.submitted} == {world.store.files[big].output_uri}
    assert world.store.files[big].output_uri.startswith(f"s3://{BUCKET}/processed/big/")


def test_some_parts_of_a_file_run_from_copies_in_the_jobs_folder() -> None:
    world = World()
    big = upload(world, "big", 1_000)
    run(world, quota=2)
    parts = world.store.parts_of(world.store.files[big])
    request = world.batch.submitted[0]
    assert request.input_uri == f"s3://{BUCKET}/staged/jobs/{parts[0].job_id}/"
    copies = sorted(key for (_, key) in world.objects.files if key.startswith(f"staged/jobs/{parts[0].job_id}/"))
    assert [key.rsplit("/", 1)[1] for key in copies] == [f"{big[:10]}-big-p00001.jsonl", f"{big[:10]}-big-p00002.jsonl"]


def test_all_of_one_files_parts_run_from_its_staged_folder() -> None:
    world = World()
    big = upload(world, "big", 1_000)
    run(world, quota=1)
    (request,) = world.batch.submitted
    assert request.input_uri == f"s3://{BUCKET}/staged/{big}/"
    assert not [key for (_, key) in world.objects.files if key.startswith("staged/jobs/")], "no copies needed"


def test_small_files_are_packed_into_one_job_with_distinct_names() -> None:
    world = World()
    files = [upload(world, f"team{i}/calls", 30) for i in range(4)]
    run(world, quota=3)
    (request,) = world.batch.submitted
    job = job_of(world, files[0])
    assert request.input_uri == f"s3://{BUCKET}/staged/jobs/{job.job_id}/"
    assert request.output_uri == f"s3://{BUCKET}/processed/_packed/{job.job_id}/"
    staged = sorted(key for (_, key) in world.objects.files if key.startswith(f"staged/jobs/{job.job_id}/"))
    assert len(staged) == 4 and all(key.endswith("-calls-p00001.jsonl") for key in staged)
    names = {p.input_name for f in files for p in world.store.parts_of(world.store.files[f])}
    assert len(names) == 4, "two calls.jsonl from different folders never collide"


def test_small_work_waits_then_fails_by_policy_saying_what_is_missing() -> None:
    world = World(config=replace(CONFIG, small_work=SmallWork.FAIL))
    lonely = upload(world, "few", 30)
    assert run(world).planned == 0 and world.store.files[lonely].status == FileStatus.QUEUED
    world.clock.advance(3600)
    report = run(world)
    assert report.small_work_failed == 1 and world.store.files[lonely].status == FileStatus.FAILED
    assert "70 more records are missing" in world.store.files[lonely].message


def test_a_run_reads_only_what_free_slots_need_whatever_the_backlog() -> None:
    world = World(config=WHOLE)
    for index in range(200):
        upload(world, f"f{index:03d}")
    world.store.parts_read = 0
    run(world, quota=3)
    assert world.store.parts_read == 3 + 1, "three free slots, three 1,000-record parts; one to measure the wait"
    world.store.parts_read = 0
    run(world, quota=3)
    assert world.store.parts_read == 1, "no free slot: only the oldest waiting part, to measure the wait"


def test_small_work_runs_on_demand_by_policy_in_bedrocks_output_format() -> None:
    world = World(config=replace(CONFIG, small_work=SmallWork.ON_DEMAND))
    lonely = upload(world, "few", 30)
    other = upload(world, "fewer", 20)
    world.on_demand.errors['hi 25"'] = RecordRejected("ValidationException: messages.0.content is empty")
    assert run(world).ran_on_demand == 0 and not world.on_demand.calls, "it waits for companions first"
    world.clock.advance(3600)
    report = run(world)
    assert report.ran_on_demand == 50 and len(world.on_demand.calls) == 49 and world.batch.submitted == []
    job = job_of(world, lonely)
    assert job is job_of(world, other) or job == job_of(world, other)
    assert job.on_demand and job.status == JobStatus.PARTIALLY_COMPLETED and job.input_tokens == 490
    assert "on-demand price" in job.message and job.counts == RecordCounts(50, 50, 49, 1)
    assert world.store.files[other].status == FileStatus.COMPLETED
    assert world.store.files[lonely].status == FileStatus.PARTIALLY_COMPLETED
    outputs = {key: body for (_, key), body in world.objects.files.items() if "/on-demand/" in key}
    assert sorted(k.rsplit("/", 1)[1] for k in outputs) == sorted(
        f"{f[:10]}-{n}-p00001.jsonl.out" for f, n in ((lonely, "few"), (other, "fewer"))
    )
    lines = [json.loads(line) for body in outputs.values() for line in body.splitlines()]
    assert len(lines) == 50 and sum("error" in line for line in lines) == 1
    assert all(
        set(line) in ({"recordId", "modelInput", "modelOutput"}, {"recordId", "modelInput", "error"}) for line in lines
    )


def test_a_file_written_from_a_stale_view_of_its_parts_is_put_right() -> None:
    """Another run finishes the file's parts and writes it Completed between this run's read of the parts and its
    write: this run's write is stale, and its check after writing puts the file right."""
    world = World(config=WHOLE)
    file_id = upload(world, "race")
    store = world.store
    real_get_parts = store.get_parts
    raced: list[bool] = []

    def stale_then_real(part_ids: Sequence[str]) -> list[Part]:
        parts = real_get_parts(part_ids)
        if not raced and store.files[file_id].status == FileStatus.QUEUED and any(p.file_id == file_id for p in parts):
            raced.append(True)  # the file's parts as this run's file update reads them, then the other run:
            for part in parts:  # every part done, the file written Completed
                store.save_part(part.with_changes(status=PartStatus.COMPLETED))
            store.save_file(store.files[file_id].with_changes(status=FileStatus.COMPLETED))
        return parts

    store.get_parts = stale_then_real  # type: ignore[method-assign]
    run(world)
    assert raced and store.files[file_id].status == FileStatus.COMPLETED


def test_a_queue_that_does_not_move_and_a_job_past_its_timeout_are_surfaced(world: World) -> None:
    upload(world, "running")
    run(world, quota=1)
    upload(world, "waiting")
    world.clock.advance(600)
    report = run(world, quota=1)
    assert report.oldest_waiting == {CLAUDE: 600.0} and report.past_timeout == 0
    world.clock.advance((48 + 1) * 3600)  # the job's 48-hour timeout and the hour of grace have passed
    report = run(world, quota=1)
    assert report.past_timeout == 1 and report.oldest_waiting[CLAUDE] == 600.0 + 49 * 3600
    assert NOVA not in report.oldest_waiting, "a model with nothing waiting reports nothing"


def test_work_waiting_past_stuck_after_and_jobs_past_their_timeout_are_surfaced(world: World) -> None:
    running = upload(world, "a1")
    run(world, quota=1)
    waiting = upload(world, "a2")
    world.clock.advance(25 * 3600)
    report = run(world, quota=1)
    assert report.waiting_too_long == {CLAUDE: pytest.approx(25 * 3600, abs=5)}
    assert world.store.files[waiting].message.startswith("Queued for 25 hours on model")
    assert world.store.files[waiting].waiting_for == WaitReason.SLOTS
    assert report.past_timeout == 0
    world.clock.advance(24 * 3600)  # 49 hours: past the 48-hour timeout and its hour of grace
    report = run(world, quota=1)
    assert report.past_timeout == 1
    assert job_of(world, running).message.startswith("Past its timeout: Bedrock still reports it Submitted")
    assert world.store.files[running].message == job_of(world, running).message, "the file says so too"
    assert run(world, quota=1).past_timeout == 1, "counted on every run while it lasts"
    finish(world, job_of(world, running))
    run(world, quota=1)
    assert world.store.files[waiting].status == FileStatus.RUNNING
    assert world.store.files[waiting].message == "", "the notice went with the wait"
    assert world.store.files[waiting].waiting_for is None


def test_why_a_file_waits_is_its_field_not_its_words(world: World) -> None:
    """A message that happens to read like a notice changes nothing: only ``waiting_for`` does."""
    upload(world, "a1")
    run(world, quota=1)  # holds the one slot
    waiting = upload(world, "a2")
    world.store.files[waiting] = world.store.files[waiting].with_changes(message="Waiting: my own words")
    world.clock.advance(25 * 3600)
    run(world, quota=1)
    assert world.store.files[waiting].message.startswith("Queued for 25 hours on model")
    assert world.store.files[waiting].waiting_for == WaitReason.SLOTS
    small = world.upload("to-process/small.jsonl", jsonl(40)).file_id
    assert small and world.store.files[small].waiting_for == WaitReason.COMPANIONS
    assert "waiting to be packed" in world.store.files[small].message


class ProfileQuotas:
    """As GetInferenceProfile answers: the us. profile routes to the model itself."""

    def holder(self, model_id: str) -> str:
        return model_id.removeprefix("us.")


def test_a_profile_and_its_model_share_one_quota() -> None:
    """Bedrock's concurrent-job quota is the foundation model's, whether jobs name it or its cross-Region
    profile: with both allowed, bbq never has more jobs out than the one quota (issue: it asked for twice)."""
    profile = f"us.{CLAUDE}"
    world = World(config=replace(WHOLE, allowed_models=(profile,)))
    for n in range(3):
        upload(world, f"own{n}")
        upload(world, f"profiled{n}", model=profile)
    quotas = ProfileQuotas()
    for _ in range(8):
        run(world, quota=2, quotas=quotas)
        active = [r for r in world.batch.submitted if world.batch.active(world.batch.arn(r))]
        assert len(active) <= 2, "one quota for the model and its profile"
        for request in active[:1]:  # one job ends each round: its slot goes to whichever waited longest
            world.batch.end(world.batch.arn(request), JobStatus.COMPLETED)
    assert {r.model_id for r in world.batch.submitted} == {CLAUDE, profile}
    assert all(job.slot_key == CLAUDE for job in world.store.jobs.values() if not job.on_demand)
    assert world.store.slot_holders(profile) == {} and len(world.store.slot_holders(CLAUDE)) <= 2
