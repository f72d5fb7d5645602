"""In-memory stand-ins for the core's ports: the core is tested without boto3, moto or the network."""

import json
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from bbq.core.errors import JobNotFound, ObjectMissing
from bbq.core.jobs import Job, JobSnapshot, RecordCounts
from bbq.core.ports import ObjectRef, Reservation, SubmitRequest
from bbq.core.states import JobStatus


class InMemoryJobs:
    def __init__(self) -> None:
        self.items: dict[str, Job] = {}
        self.lost_races: set[str] = set()  # job ids another run will have moved before our next write
        self.ledger: dict[str, dict[str, datetime]] = {}
        self._lock = threading.Lock()  # DynamoDB's single-item atomicity

    def create(self, job: Job) -> bool:
        if job.job_id in self.items:
            return False
        self.items[job.job_id] = job
        return True

    def get(self, job_id: str) -> Job | None:
        return self.items.get(job_id)

    def list_by_status(self, statuses: Iterable[JobStatus]) -> list[Job]:
        wanted = set(statuses)
        return sorted((j for j in self.items.values() if j.status in wanted), key=lambda j: (j.created_at, j.job_id))

    def save_transition(self, job: Job, expected: JobStatus) -> bool:
        with self._lock:
            if job.job_id in self.lost_races or self.items[job.job_id].status != expected:
                return False
            self.items[job.job_id] = job
            return True

    def slot_holders(self, model_id: str) -> dict[str, datetime]:
        with self._lock:
            return dict(self.ledger.setdefault(model_id, {}))

    def reserve_slot(self, model_id: str, job_id: str, quota: int, now: datetime) -> Reservation:
        with self._lock:
            holders = self.ledger.setdefault(model_id, {})
            if job_id in holders:
                return Reservation.TAKEN
            if len(holders) >= quota:
                return Reservation.FULL
            holders[job_id] = now
            return Reservation.RESERVED

    def hold_slot(self, model_id: str, job_id: str, now: datetime) -> None:
        with self._lock:
            self.ledger.setdefault(model_id, {}).setdefault(job_id, now)

    def release_slot(self, model_id: str, job_id: str) -> None:
        with self._lock:
            self.ledger.get(model_id, {}).pop(job_id, None)


@dataclass
class FakeBatch:
    """Bedrock as a script: per job name, what submit raises; per ARN, what describe says."""

    submit_errors: dict[str, Exception] = field(default_factory=dict)
    snapshots: dict[str, JobSnapshot] = field(default_factory=dict)
    describe_errors: dict[str, Exception] = field(default_factory=dict)
    submitted: list[SubmitRequest] = field(default_factory=list)

    def submit(self, request: SubmitRequest) -> str:
        if request.job_name in self.submit_errors:
            raise self.submit_errors[request.job_name]
        self.submitted.append(request)
        arn = f"arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/{request.client_token[:12]}"
        self.snapshots.setdefault(arn, JobSnapshot(JobStatus.SUBMITTED, "", RecordCounts(), None))
        return arn

    def describe(self, job_arn: str, job_name: str | None) -> JobSnapshot:
        if job_arn in self.describe_errors:
            raise self.describe_errors[job_arn]
        if job_arn not in self.snapshots:
            raise JobNotFound(job_arn)
        return self.snapshots[job_arn]


class FakeObjects:
    def __init__(self, files: Mapping[tuple[str, str], bytes] | None = None) -> None:
        self.files = dict(files or {})
        self.reports: dict[tuple[str, str], dict[str, object]] = {}

    def iter_lines(self, ref: ObjectRef) -> Iterator[bytes]:
        if (ref.bucket, ref.key) not in self.files:
            raise ObjectMissing(ref.key)
        yield from self.files[ref.bucket, ref.key].splitlines(keepends=True)

    def copy(self, ref: ObjectRef, key: str) -> None:
        if (ref.bucket, ref.key) not in self.files:
            raise ObjectMissing(ref.key)
        self.files[ref.bucket, key] = self.files[ref.bucket, ref.key]

    def put_json(self, bucket: str, key: str, body: Mapping[str, object]) -> None:
        self.reports[bucket, key] = json.loads(json.dumps(body))
