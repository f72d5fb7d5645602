"""A user's stop lands between any two writes of the pipeline, and always wins: the same workload is driven to its
end once per moment of a clean run (right after each write, and between each writer's read of a file and its
save), with ``bbq stop`` of one file carried out at that moment: every run that read before writes after it.

Each case must end with the stopped file flagged and final, no record of it put in a job after the stop (a
job packed with another file's records runs on, as documented), and the neighbour's records all run."""

from dataclasses import dataclass, field, replace

import pytest

from bbq.core.model.config import SmallWork
from bbq.core.model.files import FILE_DONE, FileStatus, InputFile, PartStatus
from bbq.core.model.limits import FixedLimits
from bbq.core.model.states import JobStatus
from bbq.core.scheduling.stopping import stop_file
from tests.core.helpers import CONFIG, LIMITS, World, jsonl, run
from tests.core.test_crashes import CrashingStore, Fate

QUOTA = 1  # work waits across runs, so a stop can land while parts wait, run, fail and go again


@dataclass
class Stop:
    """Counts the pipeline's moments; at the ``at``-th, the user stops ``key`` (once)."""

    at: int = 0
    count: int = 0
    key: str = "to-process/stopped.jsonl"
    world: World | None = None
    landed_after: str = ""
    jobs_before: set[str] = field(default_factory=set)
    waiting_before: set[str] = field(default_factory=set)  # the file's parts not yet in a job when it landed
    ended_before: bool = False
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
        world, self.world = self.world, None  # the user's own writes are not counted
        stop_file(file.file_id, store=world.store, batch=world.batch, joins=world.joins, clock=world.clock)


class WatchedStore(CrashingStore):
    """The crash matrix's store, counting the same writes; and one moment more: between a writer's read of a
    file and its save."""

    def save_file(self, file: InputFile) -> bool:
        self.writes.wrote("(a file read, about to be saved)")
        return super().save_file(file)


def drive(stop_at: int) -> tuple[World, Stop]:
    stop = Stop(stop_at)
    world = World(
        store=WatchedStore(stop),  # type: ignore[arg-type]
        config=replace(CONFIG, small_work=SmallWork.ON_DEMAND),
        limits=FixedLimits(replace(LIMITS, concurrent_jobs=QUOTA)),
    )
    stop.world = world
    world.upload(stop.key, jsonl(1_600))  # seven parts of up to 250 records: more than one job of 1,000
    world.upload("to-process/neighbour.jsonl", jsonl(600, start=2_000))
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
    assert len(world.store.jobs) >= 4 and CLEAN_WRITES > 50


@pytest.mark.parametrize("stop_at", range(1, CLEAN_WRITES + 1))
def test_a_stop_between_any_two_writes_always_wins(stop_at: int) -> None:
    world, stop = drive(stop_at)
    stopped, neighbour = file_of(world, stop.key), file_of(world, "to-process/neighbour.jsonl")
    assert stopped.status in FILE_DONE and neighbour.status in FILE_DONE
    assert all(job.settled for job in world.store.jobs.values()), "nothing left in flight"
    assert neighbour.counts.pending == neighbour.counts.stopped == 0, "the neighbour ran whole"
    if not stop.landed_after:
        return  # the stop came before the file existed
    if stop.ended_before:
        return  # bbq stop says the file has ended already
    assert stopped.stop_requested, f"the stop (after {stop.landed_after!r}) was overwritten"
    parts = {part.part_id: part for part in world.store.parts_of(stopped)}
    ran = {pid for pid in stop.waiting_before if parts[pid].status != PartStatus.STOPPED}
    assert not ran, f"records waiting when the stop landed (after {stop.landed_after!r}) ran: {sorted(ran)}"
    if stop.waiting_before:
        assert stopped.status == FileStatus.STOPPED and stopped.counts.stopped > 0
    for job_id, job in world.store.jobs.items():
        if job_id not in stop.jobs_before:
            assert not parts.keys() & set(job.part_ids), (
                f"a job made after the stop ({stop.landed_after!r}) ran its records"
            )
