"""In-memory stand-ins for the core's ports: the core is tested without boto3, moto or the network."""

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from bbq.core.errors import JobNotFound, ObjectMissing
from bbq.core.jobs import Job, JobSnapshot, RecordCounts
from bbq.core.ports import ObjectRef, SubmitRequest
from bbq.core.states import JobStatus


class InMemoryJobs:
    def __init__(self) -> None:
        self.items: dict[str, Job] = {}
        self.lost_races: set[str] = set()  # job ids another run will have moved before our next write

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
        if job.job_id in self.lost_races or self.items[job.job_id].status != expected:
            return False
        self.items[job.job_id] = job
        return True


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

    def describe(self, job_arn: str) -> JobSnapshot:
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
