"""The scheduler run against fakes: reconcile, then fill free slots; every Bedrock answer handled."""

import threading
from datetime import UTC, datetime, timedelta

import pytest

from bbq.core import retry
from bbq.core.clock import ManualClock
from bbq.core.config import PipelineConfig
from bbq.core.errors import JobNotFound, ModelUnavailable, RequestRejected, ServiceBusy, SlotUnavailable
from bbq.core.jobs import Job, JobSnapshot, RecordCounts
from bbq.core.naming import job_name
from bbq.core.quotas import FixedQuotas
from bbq.core.scheduler import run_scheduler
from bbq.core.states import JobStatus
from tests.conftest import CLAUDE, ROLE_ARN
from tests.core.fakes import FakeBatch, InMemoryJobs

CONFIG = PipelineConfig(default_model_id=CLAUDE, role_arn=ROLE_ARN, job_name_prefix="bbq-test", timeout_hours=48)
NOVA = "amazon.nova-lite-v1:0"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


def add(
    store: InMemoryJobs, clock: ManualClock, job_id: str, status: JobStatus = JobStatus.PENDING, model: str = CLAUDE
) -> Job:
    created = clock.advance(1)
    arn = (
        None if status == JobStatus.PENDING else f"arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/{job_id}"
    )
    job = Job(
        job_id,
        status,
        model,
        f"s3://b/to-process/{job_id}.jsonl",
        f"s3://b/processed/{job_id}/",
        "b",
        (f"to-process/{job_id}.jsonl",),
        150,
        1000,
        created,
        created,
        job_arn=arn,
    )
    store.create(job)
    return job


def arn_of(job: Job) -> str:
    assert job.job_arn, "active jobs carry their ARN"
    return job.job_arn


def run(store: InMemoryJobs, batch: FakeBatch, clock: ManualClock, quota: int = 2, **per_model: int):
    return run_scheduler(store=store, batch=batch, quotas=FixedQuotas(quota, per_model), config=CONFIG, clock=clock)


def test_fills_free_slots_with_the_oldest_pending_jobs(clock: ManualClock) -> None:
    store, batch = InMemoryJobs(), FakeBatch()
    for job_id in ("p1", "p2", "p3"):
        add(store, clock, job_id)
    report = run(store, batch, clock)
    assert [r.job_name for r in batch.submitted] == [job_name("bbq-test", "p1", 1), job_name("bbq-test", "p2", 1)]
    request = batch.submitted[0]
    assert (request.client_token, request.role_arn, request.timeout_hours) == ("p1a1", ROLE_ARN, 48)
    assert (request.input_uri, request.output_uri) == ("s3://b/to-process/p1.jsonl", "s3://b/processed/p1/")
    assert request.tags == {"bbq:job-id": "p1"}
    p1 = store.items["p1"]
    assert p1.status == JobStatus.SUBMITTED and p1.job_arn and p1.submitted_at == clock.now()
    assert store.items["p3"].status == JobStatus.PENDING
    assert (report.submitted, report.pending_left, report.active_per_model) == (2, 1, {CLAUDE: 2})


def test_active_jobs_count_against_the_quota_per_model(clock: ManualClock) -> None:
    store, batch = InMemoryJobs(), FakeBatch()
    active = add(store, clock, "a1", JobStatus.IN_PROGRESS)
    batch.snapshots[arn_of(active)] = JobSnapshot(JobStatus.IN_PROGRESS, "", RecordCounts(150, 10, 10, 0), None)
    add(store, clock, "p1")
    add(store, clock, "p2")
    add(store, clock, "n1", model=NOVA)
    run(store, batch, clock, 2, **{NOVA: 1})
    assert sorted(r.job_name.split("-")[2] for r in batch.submitted) == ["n1", "p1"]
    assert store.items["a1"].counts == RecordCounts(150, 10, 10, 0)


def test_reconcile_records_terminal_status_counters_and_end_time(clock: ManualClock) -> None:
    store, batch = InMemoryJobs(), FakeBatch()
    job = add(store, clock, "a1", JobStatus.IN_PROGRESS)
    ended = datetime(2026, 1, 2, tzinfo=UTC)
    batch.snapshots[arn_of(job)] = JobSnapshot(
        JobStatus.PARTIALLY_COMPLETED, "Some records were not processed.", RecordCounts(150, 140, 138, 2), ended
    )
    report = run(store, batch, clock)
    saved = store.items["a1"]
    assert (saved.status, saved.message, saved.ended_at) == (
        JobStatus.PARTIALLY_COMPLETED,
        "Some records were not processed.",
        ended,
    )
    assert saved.counts.error == 2 and report.finished == {"PartiallyCompleted": 1}


def test_one_jobs_surprise_does_not_stop_the_run(clock: ManualClock) -> None:
    store, batch = InMemoryJobs(), FakeBatch()
    odd = add(store, clock, "a1", JobStatus.IN_PROGRESS)
    fine = add(store, clock, "a2", JobStatus.IN_PROGRESS)
    batch.describe_errors[arn_of(odd)] = ValueError("'Paused' is not a valid JobStatus")
    batch.snapshots[arn_of(fine)] = JobSnapshot(JobStatus.COMPLETED, "", RecordCounts(150, 150, 150, 0), None)
    add(store, clock, "p1")
    report = run(store, batch, clock, quota=2)
    assert store.items["a1"].status == JobStatus.IN_PROGRESS, "kept, and it keeps its slot"
    assert store.items["a2"].status == JobStatus.COMPLETED
    assert store.items["p1"].status == JobStatus.SUBMITTED, "a2's slot went to p1; a1's was not given away"
    assert report.errors == 1 and store.ledger[CLAUDE].keys() == {"a1", "p1"}


def test_a_job_bedrock_forgot_fails_with_a_clear_message(clock: ManualClock) -> None:
    store, batch = InMemoryJobs(), FakeBatch()
    job = add(store, clock, "a1", JobStatus.SCHEDULED)
    batch.describe_errors[arn_of(job)] = JobNotFound("gone")
    run(store, batch, clock)
    assert store.items["a1"].status == JobStatus.FAILED
    assert "Bedrock no longer knows job" in store.items["a1"].message


def test_throttled_refresh_keeps_the_job_and_its_slot(clock: ManualClock) -> None:
    store, batch = InMemoryJobs(), FakeBatch()
    job = add(store, clock, "a1", JobStatus.IN_PROGRESS)
    batch.describe_errors[arn_of(job)] = ServiceBusy("slow down")
    add(store, clock, "p1")
    report = run(store, batch, clock, quota=1)
    assert store.items["a1"].status == JobStatus.IN_PROGRESS and batch.submitted == []
    assert report.refreshed == 0


def test_no_room_in_bedrock_leaves_jobs_pending_in_order(clock: ManualClock) -> None:
    store, batch = InMemoryJobs(), FakeBatch()
    add(store, clock, "p1")
    add(store, clock, "p2")
    batch.submit_errors[job_name("bbq-test", "p1", 1)] = SlotUnavailable("quota reached")
    report = run(store, batch, clock)
    assert batch.submitted == [], "p2 must not overtake p1 while Bedrock has no room"
    assert {j.status for j in store.items.values()} == {JobStatus.PENDING}
    assert (report.deferred, report.pending_left) == (1, 2)
    assert store.ledger[CLAUDE] == {}, "the refused job gave its reserved slot back"


@pytest.mark.parametrize("error", [ServiceBusy("InternalServerException: boom"), RuntimeError("an unknown answer")])
def test_a_job_that_keeps_failing_transiently_is_set_aside_with_backoff(clock: ManualClock, error: Exception) -> None:
    store, batch = InMemoryJobs(), FakeBatch()
    add(store, clock, "p1")
    add(store, clock, "p2")
    batch.submit_errors[job_name("bbq-test", "p1", 1)] = error
    report = run(store, batch, clock)
    assert [r.job_name for r in batch.submitted] == [job_name("bbq-test", "p2", 1)], "p2 is not blocked by p1"
    p1 = store.items["p1"]
    assert p1.status == JobStatus.PENDING and p1.transient_errors == 1 and "trying again" in p1.message
    assert p1.retry_at == clock.now() + retry.backoff(1)
    assert (report.deferred, report.submitted) == (1, 1)
    # Within its backoff the job is not asked about; after it, it is, and each failure doubles the wait.
    clock.advance(30)
    assert run(store, batch, clock).set_aside == 1 and len(batch.submitted) == 1
    clock.advance(31)
    run(store, batch, clock)
    assert store.items["p1"].transient_errors == 2
    assert store.items["p1"].retry_at == clock.now() + timedelta(minutes=2)
    del batch.submit_errors[job_name("bbq-test", "p1", 1)]
    clock.advance(120)
    run(store, batch, clock)
    p1 = store.items["p1"]
    assert (p1.status, p1.transient_errors, p1.retry_at, p1.message) == (JobStatus.SUBMITTED, 0, None, "")


def test_a_bedrock_that_fails_everything_is_asked_a_bounded_number_of_times(clock: ManualClock) -> None:
    store, batch = InMemoryJobs(), FakeBatch()
    for index in range(20):
        add(store, clock, f"p{index}")
        batch.submit_errors[job_name("bbq-test", f"p{index}", 1)] = ServiceBusy("InternalServerException")
    report = run(store, batch, clock, quota=10)
    assert report.deferred == retry.TRANSIENT_FAILURES_PER_RUN


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
    clock: ManualClock, reason: str, hint: str
) -> None:
    store, batch = InMemoryJobs(), FakeBatch()
    for job_id in ("p1", "p2", "p3"):
        add(store, clock, job_id)
    add(store, clock, "n1", model=NOVA)
    batch.submit_errors[job_name("bbq-test", "p1", 1)] = ModelUnavailable(reason, "AccessDeniedException: no")
    report = run(store, batch, clock)
    assert {store.items[j].status for j in ("p1", "p2", "p3")} == {JobStatus.PENDING}, "nothing failed"
    assert all(hint in store.items[j].message and CLAUDE in store.items[j].message for j in ("p1", "p2", "p3"))
    assert set(report.paused) == {CLAUDE}
    assert [r.job_name for r in batch.submitted] == [job_name("bbq-test", "n1", 1)], "other models go on"
    run(store, batch, clock)
    assert len(batch.submitted) == 1, "each run asks about one job of the paused model"
    del batch.submit_errors[job_name("bbq-test", "p1", 1)]
    report = run(store, batch, clock)
    assert report.paused == {} and {store.items[j].status for j in ("p1", "p2")} == {JobStatus.SUBMITTED}


def test_a_rejected_job_fails_with_bedrocks_message_and_the_next_one_goes(clock: ManualClock) -> None:
    store, batch = InMemoryJobs(), FakeBatch()
    add(store, clock, "p1")
    add(store, clock, "p2")
    batch.submit_errors[job_name("bbq-test", "p1", 1)] = RequestRejected("ValidationException: bad model")
    report = run(store, batch, clock, quota=1)
    assert store.items["p1"].status == JobStatus.FAILED
    assert store.items["p1"].message == "ValidationException: bad model"
    assert store.items["p2"].status == JobStatus.SUBMITTED
    assert (report.rejected, report.submitted) == (1, 1)


def test_a_job_moved_by_another_run_is_not_counted_twice(clock: ManualClock) -> None:
    store, batch = InMemoryJobs(), FakeBatch()
    add(store, clock, "p1")
    store.lost_races.add("p1")
    report = run(store, batch, clock)
    assert report.submitted == 0 and len(batch.submitted) == 1  # Bedrock saw the same idempotent request


def test_overlapping_runs_never_ask_beyond_the_quota_nor_submit_a_job_twice(clock: ManualClock) -> None:
    store, batch = InMemoryJobs(), FakeBatch()
    for index in range(30):
        add(store, clock, f"p{index:02d}")
    barrier = threading.Barrier(3)

    def one_run() -> None:
        barrier.wait()
        run(store, batch, clock, quota=4)

    for _ in range(3):  # three ticks of three overlapping runs; two jobs end between ticks
        threads = [threading.Thread(target=one_run) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        active = [j for j in store.items.values() if j.status == JobStatus.SUBMITTED]
        assert len(active) <= 4 and len(store.ledger[CLAUDE]) <= 4
        for job in active[:2]:
            batch.snapshots[arn_of(job)] = JobSnapshot(JobStatus.COMPLETED, "", RecordCounts(), None)
    names = [r.job_name for r in batch.submitted]
    assert len(names) == len(set(names)), "no job was sent to Bedrock twice"
    assert len(names) == 8, "every free slot was used: 4, then 2 and 2 as jobs ended"


def test_the_ledger_heals_after_a_run_that_died(clock: ManualClock) -> None:
    store, batch = InMemoryJobs(), FakeBatch()
    ended = add(store, clock, "a1", JobStatus.COMPLETED)
    running = add(store, clock, "a2", JobStatus.IN_PROGRESS)
    batch.snapshots[arn_of(running)] = JobSnapshot(JobStatus.IN_PROGRESS, "", RecordCounts(), None)
    add(store, clock, "p1")
    add(store, clock, "p2")
    store.hold_slot(CLAUDE, ended.job_id, clock.now())  # died between saving Completed and releasing
    store.hold_slot(CLAUDE, "p1", clock.now())  # died between reserving and submitting
    run(store, batch, clock, quota=3)
    assert store.items["p2"].status == JobStatus.SUBMITTED and store.items["p1"].status == JobStatus.PENDING
    assert store.ledger[CLAUDE].keys() == {"a2", "p1", "p2"}, "a1's slot came back; a2 was added"
    clock.advance(retry.STALE_RESERVATION.total_seconds() + 1)
    run(store, batch, clock, quota=3)
    assert store.items["p1"].status == JobStatus.SUBMITTED, "p1's stale reservation was released, then used"
