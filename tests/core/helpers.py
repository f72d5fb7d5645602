"""Building inputs for core tests: JSONL bodies, an ingest into the in-memory store, fixed limits."""

import json
from dataclasses import dataclass, field
from typing import Any

from bbq.core.clock import ManualClock
from bbq.core.config import PipelineConfig
from bbq.core.ingest import IngestOutcome, ingest_object
from bbq.core.limits import FixedLimits, ModelLimits, SplitPolicy
from bbq.core.ports import ObjectRef
from tests.conftest import CLAUDE, ROLE_ARN
from tests.core.fakes import FakeBatch, FakeObjects, FakeOnDemand, InMemoryStore

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
    uploads: int = 0

    def upload(self, key: str, body: bytes, metadata: dict[str, str] | None = None) -> IngestOutcome:
        self.uploads += 1
        self.clock.advance(1)
        self.objects.files[BUCKET, key] = body
        if metadata:
            self.objects.metadata[BUCKET, key] = metadata
        ref = ObjectRef(BUCKET, key, f"etag{self.uploads}", len(body))
        return ingest_object(
            ref, objects=self.objects, store=self.store, limits=self.limits, config=self.config, clock=self.clock
        )
