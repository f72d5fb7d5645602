"""Results off the critical path: the scheduler only asks for a file's join, and the join runs over as many
invocations as its time allows, resuming from its checkpoints without writing a line twice."""

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest

from bbq.core.model import naming
from bbq.core.model.files import FileStatus
from bbq.core.model.join_state import JoinCheckpoint
from bbq.core.model.limits import SplitPolicy
from bbq.core.model.states import JobStatus
from bbq.core.settling.joining import LEASE, JoinOutcome
from bbq.core.settling.progress import RESULTS_BEING_WRITTEN
from bbq.core.settling.results import ERRORS, RESULTS, SUMMARY
from bbq_local.fakes import FakeObjects
from tests.core.helpers import CONFIG, World, jsonl, run

RECORDS, PART = 2_000, 250  # eight chains
SMALL_PARTS = replace(CONFIG, split=SplitPolicy(part_records=PART, max_line_bytes=64 * 1024))


def ready(records: int = RECORDS) -> tuple[World, str]:
    """A file whose every record has run, its join asked for and not yet carried out."""
    world = World(config=SMALL_PARTS, objects=FakeObjects(chunk=4096), auto_join=False)
    file_id = world.upload("to-process/big.jsonl", jsonl(records)).file_id
    assert file_id
    for _ in range(10):
        run(world, quota=20)
        for arn in [a for a in world.batch.snapshots if world.batch.active(a)]:
            world.batch.end(arn, JobStatus.COMPLETED)
        if world.joins.asked:
            return world, file_id
    raise AssertionError("the file's records never all ended")


def join(world: World, file_id: str, holder: str = "a", chains_per_call: int | None = None) -> JoinOutcome:
    """One invocation that checkpoints after every chain and runs out of time after ``chains_per_call``."""
    joined = [0]

    def out_of_time() -> bool:  # called before each chain after the first
        joined[0] += 1
        return chains_per_call is not None and joined[0] >= chains_per_call

    return world.join(file_id, holder, out_of_time, checkpoint_every=timedelta(0))


def written(world: World, file_id: str, name: str) -> bytes:
    bucket, prefix = naming.split_uri(world.store.files[file_id].output_uri)
    return world.objects.files[bucket, prefix + name]


def test_the_scheduler_asks_once_and_the_file_says_its_results_are_being_written() -> None:
    world, file_id = ready()
    assert world.joins.asked == [file_id]
    file = world.store.files[file_id]
    assert (file.status, file.message) == (FileStatus.RUNNING, RESULTS_BEING_WRITTEN)
    assert file.join_requested_at is not None and file.counts.succeeded == RECORDS
    run(world, quota=20)
    assert world.joins.asked == [file_id], "asked once, not on every run"
    assert world.ended == []


def test_a_join_cut_into_invocations_writes_what_one_invocation_writes() -> None:
    """Each invocation stops for time after three chains and gives its lease up; the next goes on from there."""
    whole, whole_id = ready()
    assert join(whole, whole_id) == JoinOutcome.ENDED
    cut, cut_id = ready()
    outcomes: list[JoinOutcome] = []
    while not outcomes or outcomes[-1] == JoinOutcome.PAUSED:
        outcomes.append(join(cut, cut_id, holder=f"invocation-{len(outcomes)}", chains_per_call=3))
    assert outcomes == [JoinOutcome.PAUSED, JoinOutcome.PAUSED, JoinOutcome.ENDED], "8 chains, 3 at a time"
    rows = written(cut, cut_id, RESULTS).splitlines()
    assert len(rows) == len(set(rows)) == RECORDS, "every record once"
    assert written(cut, cut_id, RESULTS) == written(whole, whole_id, RESULTS)
    assert written(cut, cut_id, ERRORS) == written(whole, whole_id, ERRORS) == b""
    assert cut.store.files[cut_id].status == FileStatus.COMPLETED
    assert cut.store.files[cut_id].cost_usd == whole.store.files[whole_id].cost_usd
    summary_cut, summary_whole = written(cut, cut_id, SUMMARY), written(whole, whole_id, SUMMARY)
    assert summary_cut.replace(b"Running", b"") == summary_whole.replace(b"Running", b"")
    assert [f.file_id for f in cut.ended] == [cut_id], "told once"


def test_an_invocation_that_raises_after_a_checkpoint_is_resumed_without_a_line_twice() -> None:
    world, file_id = ready()

    class Died(Exception):
        pass

    real_join = world.objects.resumable_writer
    dying = {"writes": 0}

    def writer(bucket: str, key: str, state):  # type: ignore[no-untyped-def]
        made = real_join(bucket, key, state)
        write = made.write

        def write_then_die(data: bytes) -> None:
            dying["writes"] += 1
            if dying["writes"] == 1_100:  # in the fifth chain, after checkpoints at each chain's end
                raise Died
            write(data)

        made.write = write_then_die  # type: ignore[method-assign]
        return made

    world.objects.resumable_writer = writer  # type: ignore[method-assign]
    with pytest.raises(Died):
        join(world, file_id, holder="first")
    world.objects.resumable_writer = real_join  # type: ignore[method-assign]
    assert world.store.joins[file_id].next_chain == 4, "four chains were checkpointed before it died"
    assert join(world, file_id, holder="retry") == JoinOutcome.ENDED, "the lease was given up: the retry goes on"
    rows = written(world, file_id, RESULTS).splitlines()
    assert len(rows) == len(set(rows)) == RECORDS


def test_a_second_invocation_waits_for_the_lease_then_takes_over() -> None:
    world, file_id = ready()
    # the first invocation claimed the join and died at once (or still runs): its lease is live
    assert world.store.save_join(JoinCheckpoint(file_id, 1, "first", world.clock.now() + LEASE))
    assert join(world, file_id, holder="second") == JoinOutcome.BUSY
    world.clock.advance(LEASE.total_seconds() + 1)
    assert join(world, file_id, holder="second") == JoinOutcome.ENDED
    assert len(written(world, file_id, RESULTS).splitlines()) == RECORDS
    assert join(world, file_id, holder="third") == JoinOutcome.ENDED, "once ended, a late request changes nothing"
    assert len(world.ended) == 1


def test_a_join_asked_before_every_record_is_final_does_nothing() -> None:
    world = World(config=SMALL_PARTS, auto_join=False)
    file_id = world.upload("to-process/a.jsonl", jsonl(300)).file_id
    assert file_id and join(world, file_id) == JoinOutcome.NOT_READY
    assert join(world, "no-such-file") == JoinOutcome.GONE


def test_an_invocation_that_dies_after_the_objects_are_complete_only_ends_the_file_on_retry() -> None:
    """Found in review: a retry used to resume the writers of a multipart upload S3 had already completed."""
    world, file_id = ready()

    class FirstTellingFails(list):  # type: ignore[type-arg]
        def append(self, file: object) -> None:
            if not getattr(self, "failed", False):
                self.failed = True
                raise RuntimeError("EventBridge did not answer")
            super().append(file)

    world.ended = FirstTellingFails()
    with pytest.raises(RuntimeError):
        join(world, file_id, holder="first")
    written_once = written(world, file_id, RESULTS)
    assert world.store.joins[file_id].written and world.store.files[file_id].status == FileStatus.RUNNING
    opened: list[str] = []
    real_writer = world.objects.resumable_writer

    def spy(bucket: str, key: str, state: Any) -> Any:
        opened.append(key)
        return real_writer(bucket, key, state)

    world.objects.resumable_writer = spy  # type: ignore[method-assign]
    assert join(world, file_id, holder="retry") == JoinOutcome.ENDED
    assert opened == [], "no writer resumed: both objects were complete"
    assert written(world, file_id, RESULTS) == written_once and len(written_once.splitlines()) == RECORDS
    assert world.store.files[file_id].status == FileStatus.COMPLETED and len(world.ended) == 1
