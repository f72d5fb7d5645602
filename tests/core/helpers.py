"""Building inputs for core tests: JSONL bodies, an ingest into the in-memory store, fixed limits, a scheduler
run, a job ended the way Bedrock ends it."""

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from bbq.adapters import parquet_tables
from bbq.core.intake.ingest import IngestOutcome, ingest_object
from bbq.core.model.clock import ManualClock
from bbq.core.model.config import PipelineConfig
from bbq.core.model.files import InputFile
from bbq.core.model.jobs import Job
from bbq.core.model.limits import FixedLimits, ModelLimits, SplitPolicy
from bbq.core.model.ports import Listed, ObjectRef
from bbq.core.model.states import JobStatus
from bbq.core.scheduling.run import RunReport
from bbq.core.scheduling.scheduler import run_scheduler
from bbq.core.settling.joining import CHECKPOINT_EVERY, JoinOutcome, join_file
from bbq.core.settling.progress import Ending
from bbq_local.fakes import FakeBatch, FakeJoins, FakeObjects, FakeOnDemand, InMemoryStore
from tests.conftest import CLAUDE, ROLE_ARN

BUCKET = "bucket"
NOVA = "amazon.nova-lite-v1:0"
LIMITS = ModelLimits(
    concurrent_jobs=2,
    min_records_per_job=100,
    max_records_per_job=1_000,
    max_records_per_file=1_000,
    max_file_bytes=10**9,
    max_job_bytes=5 * 10**9,
)
CONFIG = PipelineConfig(
    default_model_id=CLAUDE,
    role_arn=ROLE_ARN,
    job_name_prefix="bbq-test",
    allowed_models=(NOVA,),
    timeout_hours=48,
    split=SplitPolicy(part_records=250, max_line_bytes=64 * 1024),
)


def record(i: int, **extra: Any) -> dict[str, Any]:
    return {"recordId": f"R{i:06d}", "modelInput": {"messages": [{"role": "user", "content": f"hi {i}"}]}, **extra}


def jsonl(count: int, start: int = 0) -> bytes:
    return b"".join(json.dumps(record(i)).encode() + b"\n" for i in range(start, start + count))


@dataclass
class World:
    """The core's ports in memory, on a manual clock."""

    clock: ManualClock = field(default_factory=ManualClock)
    store: InMemoryStore = field(default_factory=InMemoryStore)
    objects: FakeObjects = field(default_factory=FakeObjects)
    batch: FakeBatch = field(default_factory=FakeBatch)
    on_demand: FakeOnDemand = field(default_factory=FakeOnDemand)
    limits: FixedLimits = field(default_factory=lambda: FixedLimits(LIMITS))
    config: PipelineConfig = CONFIG
    joins: FakeJoins = field(default_factory=FakeJoins)
    auto_join: bool = True  # run() carries out the joins it asked for, as the results function would
    uploads: int = 0
    ended: list[InputFile] = field(default_factory=list)  # what the joins ended, as they were told
    tables: bool = False  # results.parquet too (the tables tests and the crash matrix)

    def __post_init__(self) -> None:
        self.batch.objects = self.objects  # Bedrock reads inputs and writes outputs in the same S3

    def upload(
        self, key: str, body: bytes, metadata: dict[str, str] | None = None, *, etag: str | None = None
    ) -> IngestOutcome:
        return self.ingest(self.upload_without_event(key, body, metadata, etag=etag))

    def upload_without_event(
        self, key: str, body: bytes, metadata: dict[str, str] | None = None, *, etag: str | None = None
    ) -> ObjectRef:
        """Puts the object in S3 and returns it; nothing is ingested (its S3 event never came). Each upload is a
        version of its own with an ETag of its own, unless ``etag`` is given (the same bytes again, as S3 tags
        them: then the upload's own version id tells it apart)."""
        self.uploads += 1
        self.clock.advance(1)
        self.objects.files[BUCKET, key] = body
        self.objects.metadata.pop((BUCKET, key), None)  # an upload's metadata is its own, as in S3
        if metadata:
            self.objects.metadata[BUCKET, key] = metadata
        version_id = f"v{self.uploads}" if etag else None
        ref = ObjectRef(BUCKET, key, etag or f"etag{self.uploads}", len(body), version_id)
        self.objects.uploads[BUCKET, key] = Listed(ref, self.clock.now())
        return ref

    def join_asked(self) -> list[JoinOutcome]:
        """Carries out the results joins asked for so far, as the results function does for its queue."""
        outcomes = []
        while (file_id := self.joins.take()) is not None:
            try:
                outcome = self.join(file_id)
            except BaseException:
                self.joins.request(file_id)  # a join that raised is delivered again, as SQS does
                raise
            outcomes.append(outcome)
        return outcomes

    def join(
        self,
        file_id: str,
        holder: str = "test",
        out_of_time: Callable[[], bool] = lambda: False,
        checkpoint_every: timedelta = CHECKPOINT_EVERY,
    ) -> JoinOutcome:
        """One invocation of the results function for the file; the files it ends are told to ``ended``."""
        ending = Ending(
            self.config.prices,
            self.config.split.max_line_bytes,
            self.ended.append,
            parquet_tables.ParquetObjects(self.objects) if self.tables else None,
        )
        return join_file(
            file_id,
            store=self.store,
            objects=self.objects,
            clock=self.clock,
            ending=ending,
            holder=holder,
            out_of_time=out_of_time,
            checkpoint_every=checkpoint_every,
        )[0]

    def ingest(self, ref: ObjectRef) -> IngestOutcome:
        return ingest_object(
            ref,
            objects=self.objects,
            store=self.store,
            limits=self.limits,
            config=self.config,
            clock=self.clock,
            parquet_rows=parquet_tables.rows,
        )


# One 1,000-record upload is exactly one part and one job: the scenarios below are about slots, not packing.
WHOLE = replace(CONFIG, split=SplitPolicy(part_records=1_000, max_line_bytes=64 * 1024))


def run(world: World, quota: int = 2, quotas: Any = None, **per_model: int) -> RunReport:
    world.limits = FixedLimits(
        replace(LIMITS, concurrent_jobs=quota), {m: replace(LIMITS, concurrent_jobs=q) for m, q in per_model.items()}
    )
    report = run_scheduler(
        store=world.store,
        batch=world.batch,
        objects=world.objects,
        limits=world.limits,
        config=world.config,
        clock=world.clock,
        joins=world.joins,
        on_demand=world.on_demand,
        quotas=quotas,
    )
    if world.auto_join:
        world.join_asked()  # the results function, off the run's path
    return report


def upload(world: World, name: str, records: int = 1_000, model: str | None = None) -> str:
    key = f"to-process/{model}/{name}.jsonl" if model else f"to-process/{name}.jsonl"
    outcome = world.upload(key, jsonl(records))
    assert outcome.file_id
    return outcome.file_id


def job_of(world: World, file_id: str) -> Job:
    (part, *_) = world.store.parts_of(world.store.files[file_id])
    assert part.job_id, f"{file_id} is in no job"
    return world.store.jobs[part.job_id]


def finish(world: World, job: Job, status: JobStatus = JobStatus.COMPLETED, message: str = "", **output: Any) -> None:
    assert job.job_arn
    world.batch.end(job.job_arn, status, message, **output)
