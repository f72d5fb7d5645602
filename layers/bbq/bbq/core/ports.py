"""The ports the core talks through. Adapters implement them against AWS; tests use in-memory fakes."""

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Protocol

from bbq.core.jobs import Job, JobSnapshot
from bbq.core.states import JobStatus


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str
    etag: str
    size: int
    version_id: str | None = None  # set when the bucket is versioned

    @property
    def version(self) -> str:
        """What identifies this upload of the key: the version id, or the ETag when unversioned."""
        return self.version_id or self.etag


@dataclass(frozen=True)
class SubmitRequest:
    job_name: str
    client_token: str
    model_id: str
    role_arn: str
    input_uri: str
    output_uri: str
    timeout_hours: int
    tags: Mapping[str, str]


class Reservation(Enum):
    RESERVED = "reserved"  # the slot is this run's: submit the job
    TAKEN = "taken"  # another run holds a slot for this job (it is submitting it, or did)
    FULL = "full"  # the model's slots are all held


class JobStore(Protocol):
    """The jobs table."""

    def create(self, job: Job) -> bool:
        """Stores a new job; False when a job with that JobId exists already (nothing is changed)."""

    def get(self, job_id: str) -> Job | None: ...

    def list_by_status(self, statuses: Iterable[JobStatus]) -> list[Job]:
        """Jobs in any of these statuses, oldest first."""

    def save_transition(self, job: Job, expected: JobStatus) -> bool:
        """Writes ``job`` only if the stored status is still ``expected``; False if another run moved it."""

    # The slot ledger: per model, the jobs holding one of bbq's slots, each with when it was reserved. One
    # atomic write reserves a slot, so scheduler runs that overlap never ask Bedrock for more than the quota.
    def slot_holders(self, model_id: str) -> dict[str, datetime]: ...

    def reserve_slot(self, model_id: str, job_id: str, quota: int, now: datetime) -> Reservation:
        """Adds ``job_id`` to the model's holders if it is not there and fewer than ``quota`` are."""

    def hold_slot(self, model_id: str, job_id: str, now: datetime) -> None:
        """Records a holder whatever the count (a job found active in Bedrock that the ledger missed)."""

    def release_slot(self, model_id: str, job_id: str) -> None: ...


class BatchService(Protocol):
    """Bedrock batch inference."""

    def submit(self, request: SubmitRequest) -> str:
        """Creates the job (or finds the one already made under its name) and returns its ARN. Raises
        SlotUnavailable, ServiceBusy, ModelUnavailable or RequestRejected."""

    def describe(self, job_arn: str, job_name: str | None) -> JobSnapshot:
        """Raises JobNotFound (only once a lookup by ``job_name`` found nothing) or ServiceBusy."""


class ObjectStore(Protocol):
    """S3."""

    def iter_lines(self, ref: ObjectRef) -> Iterator[bytes]:
        """Streams the object's lines (raises ObjectMissing if that version is gone)."""

    def copy(self, ref: ObjectRef, key: str) -> None:
        """Copies exactly the upload ``ref`` names to ``key`` in the same bucket (raises ObjectMissing)."""

    def put_json(self, bucket: str, key: str, body: Mapping[str, object]) -> None: ...


class QuotaProvider(Protocol):
    def concurrent_jobs(self, model_id: str) -> int: ...
