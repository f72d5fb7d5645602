"""The ports the core talks through. Adapters implement them against AWS; tests use in-memory fakes."""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Protocol

from bbq.core.model.budgets import BudgetLine, Spend
from bbq.core.model.files import FileStatus, InputFile, InvocationType, Part, PartStatus
from bbq.core.model.jobs import Job, JobSnapshot
from bbq.core.model.join_state import JoinCheckpoint
from bbq.core.model.limits import ModelLimits
from bbq.core.model.states import JobStatus
from bbq.core.model.teams import DEFAULT_TEAM


@dataclass(frozen=True)
class ObjectRef:
    bucket: str
    key: str
    etag: str
    size: int
    version_id: str | None = None  # set when the bucket is versioned
    sequencer: str | None = None  # S3's event sequencer: orders the uploads of one key (None when listed)

    @property
    def version(self) -> str:
        """What identifies this upload of the key: the version id, or the ETag when unversioned."""
        return self.version_id or self.etag


@dataclass(frozen=True)
class Listed:
    """An upload as a listing shows it."""

    ref: ObjectRef
    last_modified: datetime


@dataclass(frozen=True)
class SubmitRequest:
    job_name: str
    client_token: str
    model_id: str
    role_arn: str
    input_uri: str
    output_uri: str
    invocation_type: InvocationType
    timeout_hours: int
    tags: Mapping[str, str]


class Reservation(Enum):
    RESERVED = "reserved"  # the slot is this run's: submit the job
    TAKEN = "taken"  # another run holds a slot for this job (it is submitting it, or did)
    FULL = "full"  # the model's slots are all held


class Files(Protocol):
    """Uploads' file items and their parts."""

    def get_file(self, file_id: str) -> InputFile | None: ...

    def get_files(self, file_ids: Sequence[str]) -> list[InputFile]:
        """The files of ``file_ids`` that exist, in that order, read consistently in batches (not one call each)."""

    def create_file(self, file: InputFile, parts: Sequence[Part]) -> bool:
        """Stores the parts, then the file; False when the file exists already (nothing is changed)."""

    def save_file(self, file: InputFile) -> bool:
        """Saves the file if no one saved it since it was read (its ``revision``); False, nothing written, if
        someone did: read it again and decide again."""

    def parts_of(self, file: InputFile) -> list[Part]:
        """Every part of the file, each later attempt included (``files.every_attempt``)."""

    def uploads_of(self, bucket: str, key: str) -> list[InputFile]:
        """Every upload of an object key (a Query on the key's index: eventually consistent)."""

    def get_parts(self, part_ids: Sequence[str]) -> list[Part]: ...

    def save_part(self, part: Part, expected: PartStatus | None = None) -> bool:
        """Writes ``part`` (only if its stored status is still ``expected``, when given); False if it was not."""

    def add_part(self, part: Part) -> bool:
        """Stores a new part (a later attempt); False when it exists already (nothing is changed)."""


class Queues(Protocol):
    """What a scheduler run reads of a model: its waiting parts and its jobs in flight, so a run costs the same
    whatever the backlog and history; and the jobs themselves."""

    def waiting_parts(
        self, model_id: str, invocation_type: InvocationType, page_size: int = 100, team: str = DEFAULT_TEAM
    ) -> Iterator[Part]:
        """One team's waiting parts for the model and invocation type, high priority first, then normal, then low,
        oldest first within each; read page by page as consumed."""

    def teams(self, model_id: str) -> list[str]:
        """The teams whose queues for the model a run reads: the default team and every team that ever queued
        work for it."""

    def deadlines(self, model_id: str) -> dict[str, datetime]:
        """The model's files with a deadline that may still have work waiting (file id: deadline)."""

    def forget_deadline(self, model_id: str, file_id: str) -> None:
        """The file has no work waiting any more: no run needs to look at its deadline again."""

    def job_times(self, model_id: str) -> tuple[int, float]:
        """Records processed and minutes taken (submission to end) by the model's batch jobs that ended: its
        measured batch throughput per slot."""

    def add_job_time(self, model_id: str, records: int, minutes: float) -> None: ...

    def get_job(self, job_id: str) -> Job | None: ...

    def jobs_in_flight(self, model_id: str) -> list[Job]:
        """The model's jobs that have not ended (Pending ones included) or ended but are not settled yet, oldest
        first."""

    def create_job(self, job: Job, parts: Sequence[Part]) -> bool:
        """Stores the job and moves its parts out of the queue, all or nothing; False if any part was taken
        by another run (or the job exists)."""

    def save_job(self, job: Job, expected: JobStatus) -> bool:
        """Writes ``job`` only if the stored status is still ``expected``; False if another run moved it."""


class SlotLedger(Protocol):
    """Per model, the jobs holding one of bbq's slots, each with when it was reserved. One atomic write reserves
    a slot, so scheduler runs that overlap never ask Bedrock for more than the quota."""

    def slot_holders(self, model_id: str) -> dict[str, datetime]: ...

    def reserve_slot(self, model_id: str, job_id: str, quota: int, now: datetime) -> Reservation:
        """Adds ``job_id`` to the model's holders if it is not there and fewer than ``quota`` are."""

    def hold_slot(self, model_id: str, job_id: str, now: datetime) -> None:
        """Records a holder whatever the count (a job found active in Bedrock that the ledger missed)."""

    def release_slot(self, model_id: str, job_id: str) -> None: ...


class Sweep(Protocol):
    """The sweep of uploads whose event never came: which file ids have an item, and where the listing stopped."""

    def known_files(self, file_ids: Sequence[str]) -> set[str]: ...

    def sweep_cursor(self, bucket: str) -> str | None: ...

    def save_sweep_cursor(self, bucket: str, cursor: str | None) -> None: ...


class JoinCheckpoints(Protocol):
    """A file's results join, carried out over one or more invocations."""

    def get_join(self, file_id: str) -> JoinCheckpoint | None: ...

    def save_join(self, checkpoint: JoinCheckpoint) -> bool:
        """Saves it if the stored checkpoint is the step before (or none, for step 1); False if not."""


class BudgetReservation(Enum):
    RESERVED = "reserved"
    REFUSED = "refused"  # a limited line would pass its limit: nothing was written
    TAKEN = "taken"  # the job is reserved already (another run, or this one before a crash)


class Budgets(Protocol):
    """Each budget line's spent and reserved dollars (``model.budgets``), and each model's settled tokens."""

    def spends(self, keys: Sequence[str]) -> dict[str, Spend]:
        """The lines asked for that have any spend (a line never charged is absent)."""

    def model_tokens(self, model_id: str) -> tuple[int, int, int]:
        """Input and output tokens of the model's settled jobs, and their staged bytes (its calibration)."""

    def reserve_budget(self, job: Job, charges: Mapping[BudgetLine, float], at: datetime) -> BudgetReservation:
        """Adds each line's charge to its reserved dollars and marks the job reserved at ``at`` (with its
        ``estimated_cost_usd``), all or nothing: REFUSED if a limited line would pass its limit, TAKEN if the job
        is reserved already or no longer Pending."""

    def settle_budget(
        self,
        job: Job,
        reserved: Mapping[BudgetLine, float],
        actual: Mapping[BudgetLine, float],
        tokens: tuple[int, int, int],
    ) -> bool:
        """Replaces the job's reservation on each line with what it actually cost, adds its tokens (input, output,
        and the staged bytes they came from) to its model's and marks it settled, all or nothing; False when it was
        settled already."""


class Store(Files, Queues, SlotLedger, Sweep, JoinCheckpoints, Budgets, Protocol):
    """The table, whole: what one adapter (and one fake) implements. Code that needs less takes the narrower
    port (tests/pipeline/test_store_contract.py runs one contract against both)."""


@dataclass(frozen=True)
class ModelSlots:
    in_use: int  # jobs holding one of bbq's slots for the model
    limit: int | None  # the concurrent-job limit the scheduler last reserved under; None before its first


class StatusQuery(Protocol):
    """The read side for people (the bbq command, dashboards): files as the core knows them, never raw items."""

    def files(self, status: FileStatus | None = None) -> Iterator[InputFile]:
        """Every file, or those in ``status``."""

    def uploads(self, key: str) -> list[InputFile]:
        """Every upload of an object key (one Query on the key's index)."""

    def newest_upload(self, key: str) -> InputFile | None:
        """The newest upload of an object key (``files.newest_upload``)."""

    def slots(self) -> dict[str, ModelSlots]:
        """Per model (its quota holder), the slots bbq's jobs hold and the limit."""

    def waiting_parts(self, model_id: str) -> list[Part]:
        """The model's parts waiting for a job, both invocation types, every team's."""

    def spends(self, keys: Sequence[str]) -> dict[str, Spend]:
        """Budget lines' spent and reserved dollars (``Budgets.spends``)."""

    def model_tokens(self, model_id: str) -> tuple[int, int, int]:
        """The model's settled tokens and staged bytes (``Budgets.model_tokens``)."""

    def teams(self, model_id: str) -> list[str]:
        """The teams with a queue for the model (``Queues.teams``)."""

    def jobs_in_flight(self, model_id: str) -> list[Job]:
        """The model's jobs not settled yet (``Queues.jobs_in_flight``)."""

    def parts_of(self, file: InputFile) -> list[Part]:
        """The file's parts, every attempt of each."""

    def jobs_of(self, file: InputFile, parts: list[Part] | None = None) -> list[Job]:
        """The jobs that carried or carry the file's parts (every attempt), oldest first; from ``parts`` when the
        caller has read them (``parts_of``)."""


class TokenCounter(Protocol):
    """Bedrock's CountTokens: the input tokens a model would charge for a body."""

    def count(self, model_id: str, invocation_type: InvocationType, model_input: Mapping[str, Any]) -> int | None:
        """None where the model does not count tokens, or the count cannot be had (no permission, throttled)."""


class QuotaHolders(Protocol):
    """Which quota a model's jobs count against: a cross-Region or application inference profile routes to a
    foundation model, and Bedrock's concurrent-job quota is that model's, shared with the model's own jobs."""

    def holder(self, model_id: str) -> str: ...


class OwnQuotas:
    """Every model id its own quota holder (no inference profiles allowed, or no way to ask Bedrock)."""

    def holder(self, model_id: str) -> str:
        return model_id


class JoinRequests(Protocol):
    """Asks for a file's results to be joined (the results function, through its queue)."""

    def request(self, file_id: str) -> None: ...


class BatchService(Protocol):
    """Bedrock batch inference."""

    def submit(self, request: SubmitRequest) -> str:
        """Creates the job (or finds the one already made under its name) and returns its ARN. Raises
        SlotUnavailable, ServiceBusy, ModelUnavailable or RequestRejected."""

    def describe(self, job_arn: str, job_name: str | None) -> JobSnapshot:
        """Raises JobNotFound (only once a lookup by ``job_name`` found nothing) or ServiceBusy."""

    def stop(self, job_arn: str) -> bool:
        """Asks Bedrock to stop the job; False when it had ended already. Raises JobNotFound or ServiceBusy."""


@dataclass(frozen=True)
class StoredObject:
    metadata: Mapping[str, str]  # the object's user metadata (x-amz-meta-*), lower-case names
    chunks: Iterator[bytes]  # the body in large chunks


@dataclass(frozen=True)
class OnDemandResult:
    output: Mapping[str, object]  # the response body, as Bedrock batch writes it in modelOutput
    input_tokens: int
    output_tokens: int


class OnDemandService(Protocol):
    """bedrock-runtime: one record at a time, at the on-demand price."""

    def invoke(
        self,
        model_id: str,
        invocation_type: InvocationType,
        model_input: Mapping[str, object],
        service_tier: str | None = None,
    ) -> OnDemandResult:
        """Raises RecordRejected (this record's input), ModelUnavailable or ServiceBusy. ``service_tier``: Bedrock's
        serviceTier (``flex`` for deadline work on models that offer it; None: the standard tier)."""


class ObjectWriter(Protocol):
    def write(self, data: bytes) -> None: ...


class ResumableWriter(Protocol):
    """Writes one object over several invocations: its state at a checkpoint resumes it after the last byte
    written before that checkpoint, whatever was written after it."""

    def write(self, data: bytes) -> None: ...

    def checkpoint(self) -> dict[str, object]:
        """Stores every byte written so far (the object is not complete yet); the state to resume from."""

    def complete(self) -> None: ...


class TableWriter(Protocol):
    """Tables (Parquet) into S3."""

    def write_rows(self, bucket: str, key: str, rows: Iterable[dict[str, Any]]) -> None:
        """Writes the rows as one table, in constant memory; nothing is stored if the rows raise."""


class ObjectStore(Protocol):
    """S3."""

    def read(self, ref: ObjectRef) -> StoredObject:
        """Streams exactly the upload ``ref`` names (raises ObjectMissing if that version is gone)."""

    def writer(self, bucket: str, key: str) -> AbstractContextManager[ObjectWriter]:
        """Writes an object of any size in constant memory; nothing is stored if the block raises."""

    def read_key(self, bucket: str, key: str) -> Iterator[bytes]:
        """Streams an object bbq or Bedrock wrote (a staged part, an output), in large chunks; raises ObjectMissing
        when there is none."""

    def resumable_writer(self, bucket: str, key: str, state: Mapping[str, object] | None) -> ResumableWriter:
        """A writer of ``key``, new (``state`` None) or resumed from a checkpoint's state."""

    def copy(self, bucket: str, source_key: str, key: str) -> None: ...

    def delete(self, bucket: str, key: str) -> None: ...

    def put_json(self, bucket: str, key: str, body: Mapping[str, object]) -> None: ...

    def tag(self, bucket: str, key: str, tags: Mapping[str, str]) -> None:
        """Sets the object's tags (the bucket's lifecycle rules read them); a missing object is no error."""

    def list_uploads(self, bucket: str, prefix: str, cursor: str | None) -> Iterator[tuple[list[Listed], str | None]]:
        """The current version of each object under ``prefix``, a page at a time from ``cursor`` (None: the
        start), each page with the cursor after it (None after the last page)."""


class LimitsProvider(Protocol):
    """Each model's limits: Service Quotas, with the template's figures as the fallback."""

    def limits(self, model_id: str) -> ModelLimits: ...
