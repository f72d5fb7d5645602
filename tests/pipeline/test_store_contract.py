"""One contract for the Store port, run against the in-memory fake the core's tests use and against DynamoDB
(moto, the deployed template's table): what the core relies on holds in both, so the fake cannot drift."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import boto3
import pytest

from bbq.adapters.dynamodb import DynamoStore
from bbq.core.model.files import FileStatus, InvocationType, PartStatus, WaitReason
from bbq.core.model.join_state import JoinCheckpoint
from bbq.core.model.ports import ModelSlots, Reservation, Store
from bbq.core.model.states import JobStatus
from bbq_local.fakes import InMemoryStore
from tests.conftest import CLAUDE
from tests.pipeline.test_adapters import MOMENT, a_file, a_part, full_job


@pytest.fixture(params=["in memory", "DynamoDB"])
def store(request: pytest.FixtureRequest) -> Store:
    if request.param == "in memory":
        return InMemoryStore()
    make_pipeline: Callable[..., Any] = request.getfixturevalue("make_pipeline")
    return DynamoStore(boto3.client("dynamodb"), make_pipeline(quota=2).table)


def test_files_are_read_together_in_the_order_asked(store: Store) -> None:
    first, second = a_file("f1", 1), a_file("f0", 1)
    assert store.create_file(first, [a_part("f1", 1)]) and store.create_file(second, [a_part("f0", 1)])
    assert store.get_files(["f1", "nope", "f0", "f1"]) == [first, second], "those that exist, each once"
    assert store.get_files([]) == []


def test_files_parts_and_jobs_survive_the_round_trip(store: Store) -> None:
    file = a_file("f1", 2)
    parts = [a_part("f1", 1), a_part("f1", 2)]
    assert store.create_file(file, parts) and not store.create_file(file, parts)
    assert store.get_file("f1") == file and store.get_file("nope") is None
    assert store.parts_of(file) == parts
    assert list(store.waiting_parts(CLAUDE, InvocationType.INVOKE_MODEL)) == parts
    assert list(store.waiting_parts(CLAUDE, InvocationType.CONVERSE)) == []
    job = full_job("j1", tuple(p.part_id for p in parts), JobStatus.PENDING)
    claimed = [p.with_changes(status=PartStatus.IN_JOB, job_id="j1", input_name="f1-a-b.jsonl") for p in parts]
    assert store.create_job(job, claimed)
    assert not store.create_job(full_job("j2", ("f1-p00001",), JobStatus.PENDING), claimed[:1]), "parts are taken"
    assert store.get_job("j2") is None, "all or nothing"
    assert store.get_job("j1") == job and store.get_parts([parts[1].part_id, parts[0].part_id]) == claimed[::-1]
    assert list(store.waiting_parts(CLAUDE, InvocationType.INVOKE_MODEL)) == [], "claimed parts leave the queue"
    assert store.jobs_in_flight(CLAUDE) == [job]
    done = job.with_changes(status=JobStatus.COMPLETED)
    assert store.save_job(done, expected=JobStatus.PENDING)
    assert not store.save_job(job, expected=JobStatus.PENDING), "another run moved it already"
    assert store.get_job("j1") == done and store.jobs_in_flight(CLAUDE) == [done], "an ended job waits to be settled"
    settled = done.with_changes(settled=True)
    assert store.save_job(settled, expected=JobStatus.COMPLETED)
    assert store.jobs_in_flight(CLAUDE) == [], "settled jobs leave the queue"
    retry = parts[0].with_changes(attempt=2, record_count=3)
    assert store.add_part(retry) and not store.add_part(retry), "a later attempt is stored once"
    assert not store.save_part(retry.with_changes(status=PartStatus.STOPPED), expected=PartStatus.IN_JOB)
    assert store.save_part(claimed[0].with_changes(status=PartStatus.RETRIED), expected=PartStatus.IN_JOB)
    assert [p.part_id for p in store.parts_of(file)] == ["f1-p00001", "f1-p00002", "f1-p00001-a2"]


def test_every_field_of_a_file_is_kept(store: Store) -> None:
    file = a_file("f2", 1)
    assert store.create_file(file, [a_part("f2", 1)])
    ended = file.with_changes(
        status=FileStatus.PARTIALLY_COMPLETED,
        stop_requested=True,
        results_uri="s3://b/processed/a-b-0123456789/",
        results_report_uri="s3://b/processed/a-b-0123456789/bbq-report.json",
        input_tokens=1200,
        output_tokens=340,
        cost_usd=0.001234,
        estimated_input_tokens=1100,
        estimated_input_cost_usd=0.000275,
        join_requested_at=MOMENT,
        waiting_for=WaitReason.SLOTS,
        updated_at=MOMENT + timedelta(hours=1),
    )
    assert store.save_file(ended)
    assert store.get_file("f2") == ended.with_changes(revision=1)


def test_a_file_is_saved_only_on_the_revision_its_writer_read(store: Store) -> None:
    """A writer that read the file before someone else's save loses, and writes nothing (a user's stop between a
    run's read and write is never overwritten)."""
    file = a_file("r1", 1)
    assert store.create_file(file, [a_part("r1", 1)])
    run_read, user_read = store.get_file("r1"), store.get_file("r1")
    assert run_read is not None and user_read is not None and run_read.revision == 0
    assert store.save_file(user_read.with_changes(stop_requested=True))
    assert not store.save_file(run_read.with_changes(status=FileStatus.RUNNING)), "the stale writer loses"
    now = store.get_file("r1")
    assert now is not None and now.stop_requested and now.status == FileStatus.QUEUED and now.revision == 1
    assert store.save_file(now.with_changes(status=FileStatus.RUNNING)), "read again, it wins"
    assert not store.save_file(a_file("nobody", 1)), "nothing is saved for a file that does not exist"


def test_waiting_parts_come_oldest_first_across_files(store: Store) -> None:
    for index, seconds in enumerate((30, 10, 20)):
        store.create_file(a_file(f"g{index}", 1), [a_part(f"g{index}", 1, seconds=seconds)])
    assert [p.file_id for p in store.waiting_parts(CLAUDE, InvocationType.INVOKE_MODEL)] == ["g1", "g2", "g0"]


def test_the_slot_ledger_reserves_atomically_and_heals(store: Store) -> None:
    assert store.slot_holders(CLAUDE) == {}
    assert store.reserve_slot(CLAUDE, "j1", 2, MOMENT) is Reservation.RESERVED
    assert store.reserve_slot(CLAUDE, "j1", 2, MOMENT) is Reservation.TAKEN
    assert store.reserve_slot(CLAUDE, "j2", 2, MOMENT) is Reservation.RESERVED
    assert store.reserve_slot(CLAUDE, "j3", 2, MOMENT) is Reservation.FULL
    store.release_slot(CLAUDE, "j1")
    store.hold_slot(CLAUDE, "j9", MOMENT)  # a job found active that the ledger lacked, whatever the count
    assert store.slot_holders(CLAUDE) == {"j2": MOMENT, "j9": MOMENT}
    assert store.jobs_in_flight(CLAUDE) == [], "the ledger is not a job"


def test_the_sweep_knows_which_uploads_have_items_and_where_it_stopped(store: Store) -> None:
    store.create_file(a_file("h1", 1), [a_part("h1", 1)])
    assert store.known_files(["h1", "h2"]) == {"h1"}
    assert store.sweep_cursor("b") is None
    store.save_sweep_cursor("b", '{"KeyMarker": "to-process/x"}')
    assert store.sweep_cursor("b") == '{"KeyMarker": "to-process/x"}'
    store.save_sweep_cursor("b", None)
    assert store.sweep_cursor("b") is None


def test_a_join_checkpoint_is_saved_only_after_the_step_before(store: Store) -> None:
    assert store.get_join("f9") is None
    first = JoinCheckpoint("f9", 1, "a", MOMENT)
    assert store.save_join(first) and not store.save_join(first), "step 1 once"
    assert not store.save_join(first.with_changes(step=3)), "not past a missing step"
    later = first.with_changes(
        step=2,
        next_chain=4,
        totals={"succeeded": 20, "jobs": ["arn:1"]},
        results={"uploadId": "u", "parts": [{"PartNumber": 1, "ETag": '"e"'}], "written": 9, "pendingKey": None},
        errors={},
        lease_until=MOMENT + timedelta(minutes=16),
        written=True,
    )
    assert store.save_join(later)
    assert store.get_join("f9") == later


def test_the_read_side_finds_files_by_status_an_upload_by_its_key_and_a_files_jobs(
    make_pipeline: Callable[..., Any],
) -> None:
    """StatusQuery (people's views) reads the items the store wrote, as the core's types: a Query by status on
    StatusIndex (files only, not jobs), one Query by key on KeyIndex, a file's jobs, the ledger's holders and limit,
    a model's queue and jobs in flight."""
    from bbq.adapters.dynamodb.status import DynamoStatus

    table = make_pipeline(quota=2).table
    store, query = DynamoStore(boto3.client("dynamodb"), table), DynamoStatus(boto3.client("dynamodb"), table)
    older, newer = a_file("k1", 1), a_file("k2", 1).with_changes(created_at=MOMENT + timedelta(seconds=5))
    assert store.create_file(older, [a_part("k1", 1)]) and store.create_file(newer, [a_part("k2", 1)])
    assert store.save_file(older.with_changes(status=FileStatus.COMPLETED))
    claimed = a_part("k2", 1).with_changes(status=PartStatus.IN_JOB, job_id="j1", input_name="k2-a.jsonl")
    assert store.create_job(full_job("j1", (claimed.part_id,), JobStatus.PENDING), [claimed])
    assert [job.job_id for job in query.jobs_of(newer)] == ["j1"] and query.jobs_of(older) == []
    assert query.jobs_of(newer, query.parts_of(newer)) == query.jobs_of(newer), "from the parts already read"
    assert [f.file_id for f in query.files(FileStatus.QUEUED)] == ["k2"]
    older = older.with_changes(status=FileStatus.COMPLETED, revision=1)
    assert {f.file_id for f in query.files()} == {"k1", "k2"}
    assert query.newest_upload(older.key) == newer and query.newest_upload("to-process/none.jsonl") is None
    assert store.slot_holders(CLAUDE) == {}  # the ledger item, as a run first makes it
    store.reserve_slot(CLAUDE, "j1", 2, MOMENT)
    assert query.slots() == {CLAUDE: ModelSlots(in_use=1, limit=2)}, "the limit it reserved under, for people"
    assert [p.part_id for p in query.waiting_parts(CLAUDE)] == [a_part("k1", 1).part_id]
    assert [job.job_id for job in query.jobs_in_flight(CLAUDE)] == ["j1"]


def test_each_team_waits_in_its_own_queue_by_priority_then_age(store: Store) -> None:
    from bbq.core.model.teams import DEFAULT_TEAM, Priority

    def upload(file_id: str, team: str, seconds: int, priority: Priority = Priority.NORMAL) -> None:
        file = a_file(file_id, 1).with_changes(team=team, priority=priority)
        part = a_part(file_id, 1).with_changes(
            team=team, priority=priority, queued_at=MOMENT + timedelta(seconds=seconds)
        )
        assert store.create_file(file, [part])

    assert store.teams(CLAUDE) == [DEFAULT_TEAM], "the default team's queue is always read"
    upload("d1", DEFAULT_TEAM, 0)
    upload("a1", "ads", 1)
    upload("a2", "ads", 2, Priority.HIGH)
    upload("a3", "ads", 0, Priority.LOW)
    upload("s1", "search", 3)
    assert store.teams(CLAUDE) == [DEFAULT_TEAM, "ads", "search"]
    kind = InvocationType.INVOKE_MODEL
    assert [p.file_id for p in store.waiting_parts(CLAUDE, kind)] == ["d1"]
    assert [p.file_id for p in store.waiting_parts(CLAUDE, kind, team="ads")] == ["a2", "a1", "a3"]
    assert [(p.team, p.priority) for p in store.waiting_parts(CLAUDE, kind, team="ads")][0] == ("ads", Priority.HIGH)
    assert store.get_file("a2") == a_file("a2", 1).with_changes(team="ads", priority=Priority.HIGH)


def test_a_budget_reservation_holds_every_limited_line_and_settles_once(store: Store) -> None:
    from bbq.core.model.budgets import BudgetLine, Period, Spend
    from bbq.core.model.ports import BudgetReservation

    day = MOMENT.replace(hour=0, minute=0, second=0, microsecond=0)
    team = BudgetLine("ads", Period.DAY, day, 10.0)
    stack = BudgetLine("stack", Period.DAY, day, None)
    assert store.create_file(a_file("f1", 2), [a_part("f1", 1), a_part("f1", 2)])
    jobs = []
    for n, part in enumerate(["f1-p00001", "f1-p00002"], start=1):
        job = full_job(f"j{n}", (part,), JobStatus.PENDING).with_changes(estimated_cost_usd=6.0)
        assert store.create_job(job, [a_part("f1", n).with_changes(status=PartStatus.IN_JOB, job_id=f"j{n}")])
        jobs.append(job)
    charges = {team: 6.0, stack: 6.0}
    assert store.reserve_budget(jobs[0], charges, MOMENT) == BudgetReservation.RESERVED
    assert store.reserve_budget(jobs[0], charges, MOMENT) == BudgetReservation.TAKEN, "never twice"
    assert store.reserve_budget(jobs[1], charges, MOMENT) == BudgetReservation.REFUSED, "6 + 6 > 10"
    assert store.spends([team.key, stack.key, "nope"]) == {team.key: Spend(0, 6.0), stack.key: Spend(0, 6.0)}
    reserved = store.get_job("j1")
    assert reserved is not None and reserved.budget_at == MOMENT and reserved.estimated_cost_usd == 6.0
    assert store.get_job("j2").budget_at is None  # type: ignore[union-attr]
    actual = {team: 2.5, stack: 2.5}
    assert store.settle_budget(reserved, charges, actual, (1_000, 200, 5_000))
    assert not store.settle_budget(reserved, charges, actual, (1_000, 200, 5_000)), "settled once"
    assert store.spends([team.key]) == {team.key: Spend(2.5, 0.0)}
    assert store.model_tokens(reserved.model_id) == (1_000, 200, 5_000) and store.model_tokens("other") == (0, 0, 0)
    assert store.get_job("j1").budget_settled  # type: ignore[union-attr]
    assert store.reserve_budget(jobs[1], charges, MOMENT) == BudgetReservation.RESERVED, "2.5 + 6 <= 10"
