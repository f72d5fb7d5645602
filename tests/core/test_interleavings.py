"""A user's action lands between any two writes of the pipeline: the same workload is driven to its end once per
moment of a clean run (right after each write, and between each writer's read of a file and its save) and per
action, carried out at that moment, so every run that read before writes after it:

- ``bbq stop`` of one file always wins: it ends flagged and final, no record of it goes into a job made after
  the stop (a job packed with another file's records runs on, as documented);
- a re-upload of its key is a file of its own: both end, each with its own results in its own place;
- a delete marker on its key cancels it when none of it had gone into a job, and changes nothing otherwise.

In every case the neighbour's records all run."""

from dataclasses import dataclass, field, replace

import pytest

from bbq.core.model import naming
from bbq.core.model.config import SmallWork
from bbq.core.model.files import FILE_DONE, FileStatus, InputFile, Part, PartStatus
from bbq.core.model.limits import FixedLimits
from bbq.core.model.ports import ObjectRef
from bbq.core.model.states import JobStatus
from bbq.core.scheduling.cancelling import cancel_deleted
from bbq.core.scheduling.stopping import stop_file
from bbq_local.fakes import FakeObjects
from tests.core.helpers import CONFIG, LIMITS, World, jsonl, run
from tests.core.test_crashes import CrashingStore, Fate

QUOTA = 1  # work waits across runs, so a stop can land while parts wait, run, fail and go again


@dataclass
class Stop:
    """Counts the pipeline's moments; at the ``at``-th, the user acts on ``key`` (once)."""

    at: int = 0
    action: str = "stop"
    count: int = 0
    key: str = "to-process/stopped.jsonl"
    world: World | None = None
    landed_after: str = ""
    jobs_before: set[str] = field(default_factory=set)
    waiting_before: set[str] = field(default_factory=set)  # the file's parts not yet in a job when it landed
    ended_before: bool = False
    untouched: bool = False  # none of the file had gone into a job when it landed
    names: list[str] = field(default_factory=list)

    def wrote(self, what: str) -> None:
        self.count += 1
        self.names.append(what)
        if self.count != self.at or self.world is None:
            return
        store = self.world.store
        file = next((f for f in store.files.values() if f.key == self.key), None)
        if file is None:
            return  # not ingested yet: there is nothing to stop (bbq stop says so)
        self.landed_after = what
        self.jobs_before = set(store.jobs)
        self.waiting_before = {p.part_id for p in store.parts_of(file) if p.status == PartStatus.WAITING}
        self.ended_before = file.status in FILE_DONE
        parts = store.parts_of(file)
        self.untouched = file.status == FileStatus.QUEUED and all(p.status == PartStatus.WAITING for p in parts)
        world, self.world = self.world, None  # the user's own writes are not counted
        if self.action == "stop":
            stop_file(file.file_id, store=world.store, batch=world.batch, joins=world.joins, clock=world.clock)
        elif self.action == "reupload":
            world.upload(self.key, jsonl(200, start=5_000))
        else:
            marker = ObjectRef(file.bucket, self.key, "", 0, "marker")
            cancel_deleted(marker, store=world.store, clock=world.clock, joins=world.joins)


class WatchedStore(CrashingStore):
    """The crash matrix's store, counting the same writes; and one moment more: between a writer's read of a
    file and its save."""

    def save_file(self, file: InputFile) -> bool:
        self.writes.wrote("(a file read, about to be saved)")
        return super().save_file(file)


def drive(stop_at: int, action: str = "stop") -> tuple[World, Stop]:
    stop = Stop(stop_at, action)
    world = World(
        store=WatchedStore(stop),  # type: ignore[arg-type]
        objects=FakeObjects(chunk=64 * 1024),  # lines across chunks are the crash matrix's business: this is speed
        config=replace(CONFIG, small_work=SmallWork.ON_DEMAND),
        limits=FixedLimits(replace(LIMITS, concurrent_jobs=QUOTA)),
    )
    stop.world = world
    world.upload(stop.key, jsonl(1_100))  # five parts of up to 250 records: more than one job of 1,000
    world.upload("to-process/neighbour.jsonl", jsonl(300, start=2_000))
    fate = Fate()  # a few records fail once with a 500 or go missing: they go again, unless stopped
    for _ in range(80):
        run(world, quota=QUOTA)
        for arn in list(world.batch.snapshots):
            if world.batch.active(arn):
                world.batch.end(arn, JobStatus.COMPLETED, fate=fate)
        world.clock.advance(3600)
        if all(f.status in FILE_DONE for f in world.store.files.values()) and all(
            job.settled for job in world.store.jobs.values()
        ):
            break
    return world, stop


def file_of(world: World, key: str) -> InputFile:
    return next(f for f in world.store.files.values() if f.key == key)


CLEAN_WRITES = drive(stop_at=0)[1].count


def test_the_clean_run_has_every_kind_of_write_to_land_between() -> None:
    world, stop = drive(stop_at=0)
    assert {
        "file",
        "part",
        "job and parts",
        "slot reserved",
        "job Submitted",
        "(a file read, about to be saved)",
    } <= set(stop.names)
    assert {f.status for f in world.store.files.values()} == {FileStatus.PARTIALLY_COMPLETED}  # the 400s
    assert len(world.store.jobs) >= 3 and CLEAN_WRITES > 50


@pytest.mark.parametrize("stop_at", range(1, CLEAN_WRITES + 1))
def test_a_stop_between_any_two_writes_always_wins(stop_at: int) -> None:
    world, stop = drive(stop_at)
    stopped, neighbour = _ended(world, stop)
    if not stop.landed_after or stop.ended_before:
        return  # the stop came before the file existed, or after it ended (bbq stop says so)
    assert stopped.stop_requested, f"the stop (after {stop.landed_after!r}) was overwritten"
    parts = {part.part_id: part for part in world.store.parts_of(stopped)}
    ran = {pid for pid in stop.waiting_before if parts[pid].status != PartStatus.STOPPED}
    assert not ran, f"records waiting when the stop landed (after {stop.landed_after!r}) ran: {sorted(ran)}"
    if stop.waiting_before:
        assert stopped.status == FileStatus.STOPPED and stopped.counts.stopped > 0
    _no_job_after(world, stop, parts)


@pytest.mark.parametrize("at", range(1, CLEAN_WRITES + 1))
def test_a_reupload_between_any_two_writes_is_a_file_of_its_own(at: int) -> None:
    world, stop = drive(at, "reupload")
    _ended(world, stop)
    if not stop.landed_after:
        return
    uploads = [f for f in world.store.files.values() if f.key == stop.key]
    assert sorted(f.record_count for f in uploads) == [200, 1_100] and len({f.output_uri for f in uploads}) == 2
    for file in uploads:  # each place holds its own upload's results, whole
        assert file.status in FILE_DONE and not file.stop_requested
        bucket, prefix = naming.split_uri(file.output_uri)
        rows = world.objects.files[bucket, prefix + "results.jsonl"].splitlines()
        assert len(rows) == file.counts.succeeded and file.counts.succeeded + file.counts.failed == file.record_count


@pytest.mark.parametrize("at", range(1, CLEAN_WRITES + 1))
def test_a_delete_between_any_two_writes_cancels_only_what_never_ran(at: int) -> None:
    world, stop = drive(at, "delete")
    deleted, _ = _ended(world, stop)
    if not stop.landed_after or stop.ended_before:
        return
    parts = {part.part_id: part for part in world.store.parts_of(deleted)}
    if stop.untouched:
        assert deleted.status == FileStatus.STOPPED and all(p.status == PartStatus.STOPPED for p in parts.values())
        _no_job_after(world, stop, parts)
    else:
        assert not deleted.stop_requested and deleted.counts.stopped == 0, "what had started runs on, whole"


def _ended(world: World, stop: Stop) -> tuple[InputFile, InputFile]:
    acted, neighbour = file_of(world, stop.key), file_of(world, "to-process/neighbour.jsonl")
    assert all(f.status in FILE_DONE for f in world.store.files.values())
    assert all(job.settled for job in world.store.jobs.values()), "nothing left in flight"
    assert neighbour.counts.pending == neighbour.counts.stopped == 0, "the neighbour ran whole"
    return acted, neighbour


def _no_job_after(world: World, stop: Stop, parts: dict[str, Part]) -> None:
    for job_id, job in world.store.jobs.items():
        if job_id not in stop.jobs_before:
            assert not parts.keys() & set(job.part_ids), f"a job made after ({stop.landed_after!r}) ran its records"
