"""A run that dies at any write leaves nothing half-submitted and nothing lost: the same workload is driven to its
end once per write of a clean run, with the process dying right after that write (the write happened, nothing
after it did). Ingest is tried again as Lambda retries an event; the scheduler's next run picks up the rest.

Every case must end with each file in a final state, each record with exactly one result or listed as failed in
its file's report, no job asked of Bedrock twice, and the quota never exceeded."""

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from bbq.core.model import naming
from bbq.core.model.config import SmallWork
from bbq.core.model.files import FILE_DONE, InputFile, Part, PartStatus
from bbq.core.model.jobs import Job
from bbq.core.model.limits import FixedLimits
from bbq.core.model.ports import ObjectRef, Reservation, SubmitRequest
from bbq.core.model.record_ids import line_of, staged_record_id
from bbq.core.model.states import JobStatus
from bbq_local.fakes import MISSING, FakeBatch, FakeObjects, InMemoryStore
from tests.core.helpers import CONFIG, LIMITS, World, jsonl, run


class Crash(BaseException):
    """The process dies (Lambda's timeout, an out-of-memory kill): no ``except Exception`` catches it."""


@dataclass
class Writes:
    """Counts writes; raises Crash right after the ``crash_at``-th one."""

    crash_at: int = 0
    count: int = 0
    crashed_after: str = ""
    names: list[str] = field(default_factory=list)

    def wrote(self, what: str) -> None:
        self.count += 1
        self.names.append(what)
        if self.count == self.crash_at:
            self.crashed_after = what
            raise Crash(what)


class CrashingStore(InMemoryStore):
    def __init__(self, writes: Writes) -> None:
        super().__init__()
        self.writes = writes

    def create_file(self, file: InputFile, parts: Sequence[Part]) -> bool:
        for part in parts:  # one write each, before the file, as DynamoStore does
            self.add_part(part)
        created = super().create_file(file, [])
        self.writes.wrote("file")
        return created

    def save_file(self, file: InputFile) -> bool:
        saved = super().save_file(file)
        self.writes.wrote("file")
        return saved

    def add_part(self, part: Part) -> bool:
        added = super().add_part(part)
        self.writes.wrote("part")
        return added

    def save_part(self, part: Part, expected: PartStatus | None = None) -> bool:
        saved = super().save_part(part, expected)
        self.writes.wrote("part")
        return saved

    def create_job(self, job: Job, parts: Sequence[Part]) -> bool:
        created = super().create_job(job, parts)
        self.writes.wrote("job and parts")
        return created

    def save_job(self, job: Job, expected: JobStatus) -> bool:
        saved = super().save_job(job, expected)
        self.writes.wrote(f"job {job.status.value}{' settled' if job.settled else ''}")
        return saved

    def reserve_slot(self, model_id: str, job_id: str, quota: int, now: Any) -> Reservation:
        reserved = super().reserve_slot(model_id, job_id, quota, now)
        self.writes.wrote("slot reserved")
        return reserved

    def release_slot(self, model_id: str, job_id: str) -> None:
        super().release_slot(model_id, job_id)
        self.writes.wrote("slot released")


class CrashingObjects(FakeObjects):
    def __init__(self, writes: Writes) -> None:
        super().__init__(chunk=4096)
        self.writes = writes

    @contextmanager
    def writer(self, bucket: str, key: str) -> Iterator[Any]:
        with super().writer(bucket, key) as writer:
            yield writer
        self.writes.wrote(f"s3 {key.split('/')[0]}")

    def copy(self, bucket: str, source_key: str, key: str) -> None:
        super().copy(bucket, source_key, key)
        self.writes.wrote("s3 copy")

    def put_json(self, bucket: str, key: str, body: Any) -> None:
        super().put_json(bucket, key, body)
        self.writes.wrote("s3 report")


class CrashingBatch(FakeBatch):
    def __init__(self, writes: Writes) -> None:
        super().__init__()
        self.writes = writes

    def submit(self, request: SubmitRequest) -> str:
        arn = super().submit(request)
        self.writes.wrote("bedrock accepted")  # the answer is lost with the process
        return arn


class Fate:
    """What Bedrock does with each record: a few fail once with a 500 or go missing once, a few fail with a 400."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()

    def __call__(self, record_id: str) -> int | str | None:
        line = line_of(record_id) or 0
        self.seen[record_id] += 1
        first = self.seen[record_id] == 1
        if line % 70 == 0:
            return 400
        if line % 50 == 0 and first:
            return 500
        if line % 45 == 0 and first:
            return MISSING
        return None


QUOTA = 2


def drive(crash_at: int) -> tuple[World, Writes, list[ObjectRef]]:
    writes = Writes(crash_at)
    world = World(
        store=CrashingStore(writes),
        objects=CrashingObjects(writes),
        batch=CrashingBatch(writes),
        # Parts of 250 records: a large file is cut, small ones are packed. A crash may change the order files
        # arrive in, so small work that finds no companion runs on demand rather than waiting for ever.
        config=replace(CONFIG, small_work=SmallWork.ON_DEMAND),
        limits=FixedLimits(replace(LIMITS, concurrent_jobs=QUOTA)),
        tables=True,  # results.parquet too: a crash while it is written is a moment like any other
    )
    bad_line = b'{"recordId": "x", "modelInput": 7}\n'
    uploads = [
        world.upload_without_event("to-process/big.jsonl", jsonl(600)),
        world.upload_without_event("to-process/small.jsonl", jsonl(60) + bad_line),
        world.upload_without_event("to-process/other.jsonl", jsonl(80)),
    ]
    undelivered = list(uploads)
    fate = Fate()
    for _ in range(60):
        for ref in list(undelivered):  # Lambda retries an event whose ingest died
            try:
                world.ingest(ref)
                undelivered.remove(ref)
            except Crash:
                pass
        with suppress(Crash):
            run(world, quota=QUOTA)
        for arn in list(world.batch.snapshots):
            if world.batch.active(arn):
                world.batch.end(arn, JobStatus.COMPLETED, fate=fate)
        world.clock.advance(3600)  # past the companion wait and every backoff
        if not undelivered and _all_ended(world):
            break
    return world, writes, uploads


def _all_ended(world: World) -> bool:
    unsettled = [job for job in world.store.jobs.values() if not job.settled]
    return (
        len(world.store.files) == 3 and not unsettled and all(f.status in FILE_DONE for f in world.store.files.values())
    )


def assert_nothing_lost_nothing_twice(world: World, uploads: list[ObjectRef]) -> None:
    assert _all_ended(world), {f.key: f.status for f in world.store.files.values()}
    results: Counter[str] = Counter()
    for (_, key), body in world.objects.files.items():
        if key.startswith(naming.OUTPUT_PREFIX) and key.endswith(".out"):
            results.update(json.loads(line)["recordId"] for line in body.splitlines() if b"modelOutput" in line)
    for file in world.store.files.values():
        report = world.objects.json(*naming.split_uri(file.results_report_uri or ""))
        failed = {entry["bbqRecordId"] for entry in report["failedRecords"]}
        expected = {staged_record_id(file.file_id, n) for n in range(1, file.record_count + 1)}
        assert {rid: results[rid] for rid in expected} == {rid: int(rid not in failed) for rid in expected}
        assert failed <= {staged_record_id(file.file_id, n) for n in range(70, file.record_count + 1, 70)}
        assert (file.counts.succeeded, file.counts.failed) == (len(expected - failed), len(failed))
    tokens = Counter(request.client_token for request in world.batch.submitted)
    assert max(tokens.values()) == 1, "no job attempt went to Bedrock twice"
    assert max(world.batch.max_active.values()) <= QUOTA


def test_a_clean_run_keeps_the_standard() -> None:
    world, writes, uploads = drive(crash_at=0)
    assert_nothing_lost_nothing_twice(world, uploads)
    assert {"part", "file", "job and parts", "bedrock accepted", "slot reserved", "s3 staged"} <= set(writes.names)
    assert any(part.attempt == 2 for part in world.store.parts.values()), "records went again"


CLEAN_WRITES = drive(crash_at=0)[1].count


@pytest.mark.parametrize("crash_at", range(1, CLEAN_WRITES + 1))
def test_a_crash_after_any_write_loses_nothing_and_doubles_nothing(crash_at: int) -> None:
    world, writes, uploads = drive(crash_at)
    assert writes.crashed_after, "the crash happened"
    assert_nothing_lost_nothing_twice(world, uploads)
