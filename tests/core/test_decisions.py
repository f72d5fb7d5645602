"""A scheduler run's decisions as data: each rule checked on values alone, with no store, no Bedrock and no clock
but the time handed in. (The runs that apply them are in test_scheduler; the crash matrix in test_crashes.)"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bbq.core.model.config import PipelineConfig, SmallWork
from bbq.core.model.errors import ModelUnavailable, RequestRejected, ServiceBusy, SlotUnavailable
from bbq.core.model.files import InvocationType, Part
from bbq.core.model.jobs import Job, JobNote, JobSnapshot, RecordCounts
from bbq.core.model.limits import ModelLimits
from bbq.core.model.states import JobStatus
from bbq.core.scheduling import decisions, refusals
from bbq.core.scheduling.decisions import ModelSnapshot
from bbq.core.scheduling.refusals import Refusal
from tests.core.helpers import LIMITS as HELPER_LIMITS

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
CONFIG = PipelineConfig(default_model_id="m", role_arn="arn:aws:iam::123456789012:role/r", job_name_prefix="bbq")
LIMITS = replace(HELPER_LIMITS, concurrent_jobs=3)


def job(job_id: str = "j1", status: JobStatus = JobStatus.IN_PROGRESS, **changes: object) -> Job:
    made = Job(
        job_id=job_id,
        status=status,
        model_id="m",
        invocation_type=InvocationType.INVOKE_MODEL,
        part_ids=(f"{job_id}-p",),
        input_uri="s3://b/staged/f/",
        output_uri="s3://b/processed/f/",
        record_count=500,
        size_bytes=5_000,
        created_at=NOW - timedelta(hours=2),
        updated_at=NOW - timedelta(hours=1),
        job_name=f"bbq-{job_id}",
        job_arn=f"arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/{job_id}",
        submitted_at=NOW - timedelta(hours=1),
    )
    return made.with_changes(**changes)


def part(
    file: str, records: int, *, kind: InvocationType = InvocationType.INVOKE_MODEL, age_h: float = 0, attempt: int = 1
) -> Part:
    return Part(
        file_id=file,
        index=1,
        model_id="m",
        invocation_type=kind,
        staged_uri=f"s3://b/staged/{file}/p1.jsonl",
        part_count=1,
        output_uri=f"s3://b/processed/{file}/",
        first_line=1,
        last_line=records,
        record_count=records,
        size_bytes=records * 10,
        queued_at=NOW - timedelta(hours=age_h),
        attempt=attempt,
    )


def answer(status: JobStatus, message: str = "", processed: int | None = None) -> JobSnapshot:
    return JobSnapshot(status, message, RecordCounts(total=500, processed=processed), None)


# --- refresh ---------------------------------------------------------------------------------------------------


def test_no_answer_or_the_same_answer_changes_nothing() -> None:
    running = job(counts=RecordCounts(total=500, processed=10))
    assert not decisions.refresh(running, None, now=NOW, config=CONFIG, stop_asked=False).changed
    same = answer(JobStatus.IN_PROGRESS, processed=10)
    assert not decisions.refresh(running, same, now=NOW, config=CONFIG, stop_asked=False).changed


def test_progress_is_taken_in_and_an_end_is_stamped() -> None:
    moving = decisions.refresh(
        job(), answer(JobStatus.IN_PROGRESS, processed=40), now=NOW, config=CONFIG, stop_asked=False
    )
    assert moving.changed and moving.after.counts.processed == 40 and moving.after.ended_at is None
    ended = decisions.refresh(
        job(), answer(JobStatus.COMPLETED, processed=500), now=NOW, config=CONFIG, stop_asked=False
    )
    assert (ended.after.status, ended.after.ended_at, ended.retried) == (JobStatus.COMPLETED, NOW, False)


def test_a_failed_attempt_goes_again_after_a_backoff_with_a_new_name() -> None:
    failed = job(attempt=1, note=JobNote.PAST_TIMEOUT)
    change = decisions.refresh(failed, answer(JobStatus.FAILED, "boom"), now=NOW, config=CONFIG, stop_asked=False)
    again = change.after
    assert change.retried and again.status == JobStatus.PENDING and again.attempt == 2
    assert again.job_arn is None and again.previous_arns == (failed.job_arn,)
    assert again.retry_at == NOW + timedelta(minutes=1) and again.note == JobNote.RETRY_WAIT
    assert "Attempt 1 ended Failed: boom" in again.message and "Attempt 2 of 3" in again.message


@pytest.mark.parametrize("status", [JobStatus.FAILED, JobStatus.EXPIRED])
def test_the_last_attempt_or_a_stop_ends_the_job_for_good(status: JobStatus) -> None:
    last = decisions.refresh(job(attempt=3), answer(status, "boom"), now=NOW, config=CONFIG, stop_asked=False)
    assert not last.retried and last.after.status == status
    assert last.after.message == "Failed after 3 attempts: boom"
    stopped = decisions.refresh(job(attempt=1), answer(status, "boom"), now=NOW, config=CONFIG, stop_asked=True)
    assert not stopped.retried and stopped.after.status == status and stopped.after.message == "boom"


def test_past_timeout_is_counted_every_run_and_marked_once() -> None:
    config = replace(CONFIG, timeout_hours=24)
    young = job(submitted_at=NOW - timedelta(hours=25))  # inside the hour of grace
    old = job(submitted_at=NOW - timedelta(hours=25, minutes=1))
    assert not decisions.past_timeout(young, NOW, config) and decisions.past_timeout(old, NOW, config)
    marked = decisions.timeout_mark(old, config)
    assert marked is not None and marked.note == JobNote.PAST_TIMEOUT and str(old.job_arn) in marked.message
    assert decisions.timeout_mark(marked, config) is None
    assert decisions.past_timeout(marked, NOW, config)  # still counted: the metric shows it while it lasts
    assert not decisions.past_timeout(old.with_changes(status=JobStatus.COMPLETED), NOW, config)


# --- the ledger ------------------------------------------------------------------------------------------------


def test_the_ledger_holds_what_runs_and_releases_what_does_not() -> None:
    fresh, stale = NOW - timedelta(minutes=5), NOW - timedelta(minutes=16)
    ledger = {"running": fresh, "ended": fresh, "gone": fresh, "reserving": fresh, "died": stale}
    holders = {
        "ended": job("ended", JobStatus.COMPLETED),
        "gone": None,
        "reserving": job("reserving", JobStatus.PENDING),  # another run is between reserving and submitting
        "died": job("died", JobStatus.PENDING),  # its run died between reserving and submitting
    }
    repair = decisions.ledger_repair(ledger, {"running", "lost"}, holders, NOW)
    assert repair.hold == {"lost"} and repair.release == {"ended", "gone", "died"}


# --- the queue and the slots -------------------------------------------------------------------------------------


def test_the_queue_leaves_set_aside_jobs_and_runs_on_demand_ones_without_a_slot() -> None:
    ready = job("ready", JobStatus.PENDING)
    waiting = job("waiting", JobStatus.PENDING, retry_at=NOW + timedelta(minutes=1))
    due = job("due", JobStatus.PENDING, retry_at=NOW)
    demand = job("demand", JobStatus.PENDING, on_demand=True)
    queue = decisions.queue([ready, waiting, due, demand], NOW)
    assert queue.ready == (ready, due) and queue.on_demand == (demand,) and queue.set_aside == 1


def test_busy_slots_count_the_records_left() -> None:
    running = job(counts=RecordCounts(total=500, processed=120))
    assert decisions.busy_records([running, job("fresh")], [job("ready", JobStatus.PENDING)]) == [380, 500, 500]


def snapshot(*waiting: Part, limits: ModelLimits = LIMITS) -> ModelSnapshot:
    queues: dict[InvocationType, dict[str, list[Part]]] = {kind: {} for kind in InvocationType}
    for p in waiting:
        queues[p.invocation_type].setdefault(p.team, []).append(p)
    return ModelSnapshot(model="m", limits=limits, now=NOW, jobs=(), answers={}, waiting=queues)


def test_the_queues_share_the_free_slots_in_turn() -> None:
    parts = [part(f"i{n}", 1_000) for n in range(3)] + [part("c", 1_000, kind=InvocationType.CONVERSE)]
    plans = decisions.plan(snapshot(*parts), busy=[400], config=CONFIG, on_demand_available=False)
    assert [(p.invocation_type, len(p.batch)) for p in plans] == [(InvocationType.INVOKE_MODEL, 2)]
    plans = decisions.plan(snapshot(*parts), busy=[], config=CONFIG, on_demand_available=False)
    assert [len(p.batch) for p in plans] == [3]  # the Converse queue finds no slot left this run
    assert decisions.plan(snapshot(*parts), busy=[1, 2, 3], config=CONFIG, on_demand_available=False) == []


@pytest.mark.parametrize(
    ("small_work", "runtime", "fail", "on_demand"),
    [
        (SmallWork.WAIT, True, 0, 0),
        (SmallWork.FAIL, True, 1, 0),
        (SmallWork.ON_DEMAND, True, 0, 1),
        (SmallWork.ON_DEMAND, False, 0, 0),  # no bedrock-runtime at hand: it waits
    ],
)
def test_overdue_small_work_follows_the_policy(small_work: SmallWork, runtime: bool, fail: int, on_demand: int) -> None:
    config = replace(CONFIG, small_work=small_work)
    overdue = part("small", 40, age_h=2)
    planned, converse = decisions.plan(snapshot(overdue), busy=[], config=config, on_demand_available=runtime)
    assert (planned.batch, len(planned.fail), len(planned.on_demand)) == ((), fail, on_demand)
    assert converse.batch == converse.fail == converse.on_demand == ()
    young, _ = decisions.plan(snapshot(part("small", 40)), busy=[], config=config, on_demand_available=runtime)
    assert (young.fail, young.on_demand) == ((), ())  # still waiting for companions


def test_retried_leftovers_run_on_demand_whatever_the_policy() -> None:
    config = replace(CONFIG, small_work=SmallWork.FAIL)
    leftovers = part("big", 3, age_h=2, attempt=2)
    planned, converse = decisions.plan(snapshot(leftovers), busy=[], config=config, on_demand_available=True)
    assert planned.on_demand == (leftovers,) and planned.fail == () and converse.on_demand == ()


def test_jobs_go_out_oldest_work_first() -> None:
    young = job("a", JobStatus.PENDING, queued_at=NOW)
    old = job("b", JobStatus.PENDING, queued_at=NOW - timedelta(hours=3))
    same_age = job("c", JobStatus.PENDING, queued_at=NOW)
    assert [j.job_id for j in decisions.submission_order([young, same_age, old])] == ["b", "a", "c"]


# --- refusals ----------------------------------------------------------------------------------------------------


def test_each_refusal_has_one_consequence() -> None:
    assert refusals.refusal(SlotUnavailable("quota")) == Refusal.NO_ROOM
    assert refusals.refusal(ModelUnavailable(ModelUnavailable.ACCESS, "no")) == Refusal.MODEL_PAUSED
    assert refusals.refusal(RequestRejected("bad")) == Refusal.REJECTED
    assert refusals.refusal(ServiceBusy("throttled")) == Refusal.TRANSIENT
    assert refusals.refusal(KeyError("surprise")) == Refusal.TRANSIENT


def test_transient_failures_back_off_and_say_so() -> None:
    first = refusals.set_aside(job(status=JobStatus.PENDING), ServiceBusy("throttled"), NOW)
    second = refusals.set_aside(first, ServiceBusy("throttled"), NOW)
    assert (first.retry_at, second.retry_at) == (NOW + timedelta(minutes=1), NOW + timedelta(minutes=2))
    assert second.note == JobNote.SET_ASIDE and "attempt 2" in second.message
    assert refusals.submitted(second, "n", "arn", NOW).note is None


def test_a_paused_model_marks_each_job_once_and_says_what_to_fix() -> None:
    message = refusals.pause_message("m", ModelUnavailable(ModelUnavailable.USE_CASE_FORM, "use case form"))
    assert "Anthropic use-case form" in message
    marked = refusals.paused(job(status=JobStatus.PENDING), message, NOW)
    assert marked is not None and marked.note == JobNote.MODEL_ACCESS
    assert refusals.paused(marked, message, NOW) is None
