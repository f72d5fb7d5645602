"""In-memory stand-ins for the core's ports: the core is tested and benchmarked without boto3, moto or the network."""

import json
import threading
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from bbq.core.model.budgets import BudgetLine, Spend
from bbq.core.model.errors import JobNotFound, ObjectMissing
from bbq.core.model.files import InputFile, InvocationType, Part, PartStatus, every_attempt
from bbq.core.model.jobs import Job, JobSnapshot, RecordCounts
from bbq.core.model.join_state import JoinCheckpoint
from bbq.core.model.ports import (
    BudgetReservation,
    Listed,
    ObjectRef,
    OnDemandResult,
    Reservation,
    StoredObject,
    SubmitRequest,
)
from bbq.core.model.record_ids import line_of
from bbq.core.model.states import JobStatus, is_terminal
from bbq.core.model.teams import DEFAULT_TEAM, Priority

MISSING = "missing"  # a record Bedrock leaves out of the output
Fate = Callable[[str], int | str | None]  # per record id: None (a result), an errorCode, or MISSING


class InMemoryStore:
    """The Store port in memory, with DynamoDB's per-item atomicity and all-or-nothing job creation."""

    def __init__(self) -> None:
        self.files: dict[str, InputFile] = {}
        self.parts: dict[str, Part] = {}
        self.jobs: dict[str, Job] = {}
        self.lost_races: set[str] = set()  # job ids another run will have moved before our next write
        self.ledger: dict[str, dict[str, datetime]] = {}
        self.parts_read = 0  # waiting parts handed out: what a run's planning cost
        self.cursors: dict[str, str | None] = {}
        self.joins: dict[str, JoinCheckpoint] = {}
        self.budget_lines: dict[str, Spend] = {}
        self.deadline_files: dict[str, dict[str, datetime]] = {}
        self.throughput: dict[str, tuple[int, float]] = {}
        self.tokens: dict[str, tuple[int, int, int]] = {}
        self._lock = threading.RLock()

    def get_file(self, file_id: str) -> InputFile | None:
        return self.files.get(file_id)

    def get_files(self, file_ids: Sequence[str]) -> list[InputFile]:
        return [self.files[fid] for fid in dict.fromkeys(file_ids) if fid in self.files]

    def create_file(self, file: InputFile, parts: Sequence[Part]) -> bool:
        with self._lock:
            if parts and file.deadline is not None:
                self.deadline_files.setdefault(file.model_id, {})[file.file_id] = file.deadline
            for part in parts:
                self.parts.setdefault(part.part_id, part)
            if file.file_id in self.files:
                return False
            self.files[file.file_id] = file
            return True

    def save_file(self, file: InputFile) -> bool:
        with self._lock:
            current = self.files.get(file.file_id)
            if current is None or current.revision != file.revision:
                return False
            self.files[file.file_id] = file.with_changes(revision=file.revision + 1)
            return True

    def parts_of(self, file: InputFile) -> list[Part]:
        return every_attempt(file, self.get_parts)

    def uploads_of(self, bucket: str, key: str) -> list[InputFile]:
        return [file for file in self.files.values() if (file.bucket, file.key) == (bucket, key)]

    def get_parts(self, part_ids: Sequence[str]) -> list[Part]:
        return [self.parts[pid] for pid in part_ids if pid in self.parts]

    def save_part(self, part: Part, expected: PartStatus | None = None) -> bool:
        with self._lock:
            if expected is not None and self.parts[part.part_id].status != expected:
                return False
            self.parts[part.part_id] = part
            return True

    def add_part(self, part: Part) -> bool:
        with self._lock:
            if part.part_id in self.parts:
                return False
            self.parts[part.part_id] = part
            return True

    def waiting_parts(
        self, model_id: str, invocation_type: InvocationType, page_size: int = 100, team: str = DEFAULT_TEAM
    ) -> Iterator[Part]:
        waiting = sorted(
            (
                p
                for p in self.parts.values()
                if p.status == PartStatus.WAITING
                and (p.model_id, p.invocation_type, p.team) == (model_id, invocation_type, team)
            ),
            key=lambda p: (list(Priority).index(p.priority), p.queued_at, p.part_id),
        )
        for part in waiting:
            self.parts_read += 1
            yield part

    def deadlines(self, model_id: str) -> dict[str, datetime]:
        return dict(self.deadline_files.get(model_id, {}))

    def forget_deadline(self, model_id: str, file_id: str) -> None:
        self.deadline_files.get(model_id, {}).pop(file_id, None)

    def job_times(self, model_id: str) -> tuple[int, float]:
        return self.throughput.get(model_id, (0, 0.0))

    def add_job_time(self, model_id: str, records: int, minutes: float) -> None:
        seen = self.throughput.get(model_id, (0, 0.0))
        self.throughput[model_id] = (seen[0] + records, seen[1] + minutes)

    def teams(self, model_id: str) -> list[str]:
        named = sorted({p.team for p in self.parts.values() if p.model_id == model_id} - {DEFAULT_TEAM})
        return [DEFAULT_TEAM, *named]

    def get_job(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def jobs_in_flight(self, model_id: str) -> list[Job]:
        return sorted(
            (j for j in self.jobs.values() if j.model_id == model_id and not (is_terminal(j.status) and j.settled)),
            key=lambda j: (j.created_at, j.job_id),
        )

    def create_job(self, job: Job, parts: Sequence[Part]) -> bool:
        with self._lock:
            if job.job_id in self.jobs or any(self.parts[p.part_id].status != PartStatus.WAITING for p in parts):
                return False
            self.jobs[job.job_id] = job
            for part in parts:
                self.parts[part.part_id] = part
            return True

    def save_job(self, job: Job, expected: JobStatus) -> bool:
        with self._lock:
            if job.job_id in self.lost_races or self.jobs[job.job_id].status != expected:
                return False
            self.jobs[job.job_id] = job
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

    def spends(self, keys: Sequence[str]) -> dict[str, Spend]:
        return {key: self.budget_lines[key] for key in keys if key in self.budget_lines}

    def model_tokens(self, model_id: str) -> tuple[int, int, int]:
        return self.tokens.get(model_id, (0, 0, 0))

    def reserve_budget(self, job: Job, charges: Mapping[BudgetLine, float], at: datetime) -> BudgetReservation:
        with self._lock:
            stored = self.jobs.get(job.job_id)
            if stored is None or stored.status != JobStatus.PENDING or stored.budget_at is not None:
                return BudgetReservation.TAKEN
            for line, charge in charges.items():
                committed = self.budget_lines.get(line.key, Spend()).committed
                if line.limit_usd is not None and committed > line.limit_usd - charge:
                    return BudgetReservation.REFUSED
            for line, charge in charges.items():
                spend = self.budget_lines.get(line.key, Spend())
                self.budget_lines[line.key] = replace(spend, reserved=spend.reserved + charge)
            self.jobs[job.job_id] = stored.with_changes(budget_at=at, estimated_cost_usd=job.estimated_cost_usd)
            return BudgetReservation.RESERVED

    def settle_budget(
        self,
        job: Job,
        reserved: Mapping[BudgetLine, float],
        actual: Mapping[BudgetLine, float],
        tokens: tuple[int, int, int],
    ) -> bool:
        with self._lock:
            stored = self.jobs.get(job.job_id)
            if stored is None or stored.budget_settled:
                return False
            for line in {**reserved, **actual}:
                spend = self.budget_lines.get(line.key, Spend())
                self.budget_lines[line.key] = Spend(
                    spend.spent + actual.get(line, 0.0), spend.reserved - reserved.get(line, 0.0)
                )
            seen = self.tokens.get(job.model_id, (0, 0, 0))
            self.tokens[job.model_id] = (seen[0] + tokens[0], seen[1] + tokens[1], seen[2] + tokens[2])
            self.jobs[job.job_id] = stored.with_changes(budget_settled=True)
            return True

    def known_files(self, file_ids: Sequence[str]) -> set[str]:
        return {file_id for file_id in file_ids if file_id in self.files}

    def sweep_cursor(self, bucket: str) -> str | None:
        return self.cursors.get(bucket)

    def save_sweep_cursor(self, bucket: str, cursor: str | None) -> None:
        self.cursors[bucket] = cursor

    def get_join(self, file_id: str) -> JoinCheckpoint | None:
        return self.joins.get(file_id)

    def save_join(self, checkpoint: JoinCheckpoint) -> bool:
        with self._lock:
            stored = self.joins.get(checkpoint.file_id)
            if (stored.step if stored else 0) != checkpoint.step - 1:
                return False
            self.joins[checkpoint.file_id] = checkpoint
            return True


class FakeJoins:
    """The results function's queue: the file ids asked for, in order."""

    def __init__(self) -> None:
        self.asked: list[str] = []
        self._lock = threading.Lock()

    def request(self, file_id: str) -> None:
        with self._lock:
            self.asked.append(file_id)

    def take(self) -> str | None:
        """The oldest request, off the queue (overlapping runs each take their own)."""
        with self._lock:
            return self.asked.pop(0) if self.asked else None


@dataclass
class FakeBatch:
    """Bedrock as a script: what submit raises for a job whose input URI contains a key of ``submit_errors``;
    per ARN, what describe says; ``end`` finishes a job the way Bedrock does, output files included."""

    submit_errors: dict[str, Exception] = field(default_factory=dict)
    snapshots: dict[str, JobSnapshot] = field(default_factory=dict)
    describe_errors: dict[str, Exception] = field(default_factory=dict)
    submitted: list[SubmitRequest] = field(default_factory=list)
    stopped: list[str] = field(default_factory=list)
    objects: "FakeObjects | None" = None  # where inputs are read and outputs written
    max_active: dict[str, int] = field(default_factory=dict)  # per model, the most jobs active at once

    def submit(self, request: SubmitRequest) -> str:
        for needle, error in self.submit_errors.items():
            if needle in request.input_uri:
                raise error
        arn = self.arn(request)
        if any(r.client_token == request.client_token for r in self.submitted):
            return arn  # the same token: Bedrock answers with the job it made, and makes no other
        self.submitted.append(request)
        self.snapshots.setdefault(arn, JobSnapshot(JobStatus.SUBMITTED, "", RecordCounts(), None))
        active = [r for r in self.submitted if r.model_id == request.model_id and self.active(self.arn(r))]
        self.max_active[request.model_id] = max(self.max_active.get(request.model_id, 0), len(active))
        return arn

    def active(self, job_arn: str) -> bool:
        return not is_terminal(self.snapshots[job_arn].status)

    @staticmethod
    def arn(request: SubmitRequest) -> str:
        return f"arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/{request.client_token}"

    def describe(self, job_arn: str, job_name: str | None) -> JobSnapshot:
        if job_arn in self.describe_errors:
            raise self.describe_errors[job_arn]
        if job_arn not in self.snapshots:
            raise JobNotFound(job_arn)
        return self.snapshots[job_arn]

    def stop(self, job_arn: str) -> bool:
        if job_arn not in self.snapshots:
            raise JobNotFound(job_arn)
        if is_terminal(self.snapshots[job_arn].status):
            return False
        self.stopped.append(job_arn)
        self.snapshots[job_arn] = replace(self.snapshots[job_arn], status=JobStatus.STOPPING)
        return True

    def end(
        self,
        job_arn: str,
        status: JobStatus = JobStatus.COMPLETED,
        message: str = "",
        *,
        errors: Mapping[int, int] | None = None,
        missing: Collection[int] = (),
        ended_at: datetime | None = None,
        fate: "Fate | None" = None,
    ) -> None:
        """Ends the job. Unless it failed or expired, Bedrock's output is written for each input file: a record
        whose line number is in ``errors`` gets that errorCode, one in ``missing`` is left out (or ``fate`` says,
        per record id: None for a result, an errorCode, or MISSING)."""
        counts = RecordCounts()
        if status in {JobStatus.COMPLETED, JobStatus.PARTIALLY_COMPLETED, JobStatus.STOPPED} and self.objects:
            request = next(r for r in self.submitted if self.arn(r) == job_arn)

            def by_line(record_id: str) -> int | str | None:
                line = line_of(record_id) or 0
                return MISSING if line in missing else (errors or {}).get(line)

            counts = self.objects.write_output(request, job_arn, fate or by_line)
        self.snapshots[job_arn] = JobSnapshot(status, message, counts, ended_at)


@dataclass
class FakeOnDemand:
    """bedrock-runtime as a script: records whose input contains a key of ``errors`` raise it."""

    errors: dict[str, Exception] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    tiers: list[str | None] = field(default_factory=list)  # the service tier each call asked for

    def invoke(
        self, model_id: str, invocation_type: str, model_input: Mapping[str, object], service_tier: str | None = None
    ) -> OnDemandResult:
        text = json.dumps(model_input)
        self.tiers.append(service_tier)
        for needle, error in self.errors.items():
            if needle in text:
                raise error
        self.calls.append((model_id, invocation_type))
        body = {"content": [{"type": "text", "text": "ok"}], "usage": {"input_tokens": 10, "output_tokens": 2}}
        return OnDemandResult(body, 10, 2)


class FakeObjects:
    """S3 in memory; reads come in small chunks so that lines cross chunk boundaries."""

    def __init__(self, files: Mapping[tuple[str, str], bytes] | None = None, chunk: int = 7) -> None:
        self.files = dict(files or {})
        self.metadata: dict[tuple[str, str], dict[str, str]] = {}
        self.chunk = chunk
        # Uploads as a listing shows them (set by World.upload and World.upload_without_event).
        self.uploads: dict[tuple[str, str], Listed] = {}
        self.page = 2  # a listing page: small, so that tests go through several
        self.reads = 0  # uploads opened by read()
        self.tags: dict[tuple[str, str], dict[str, str]] = {}

    def list_uploads(self, bucket: str, prefix: str, cursor: str | None) -> Iterator[tuple[list[Listed], str | None]]:
        keys = sorted(k for b, k in self.uploads if b == bucket and k.startswith(prefix) and k > (cursor or ""))
        for start in range(0, len(keys), self.page):
            page = keys[start : start + self.page]
            last = start + self.page >= len(keys)
            yield [self.uploads[bucket, key] for key in page], None if last else page[-1]
        if not keys:
            yield [], None

    def read(self, ref: ObjectRef) -> StoredObject:
        self.reads += 1
        if (ref.bucket, ref.key) not in self.files:
            raise ObjectMissing(ref.key)
        body = self.files[ref.bucket, ref.key]
        chunks = (body[i : i + self.chunk] for i in range(0, len(body), self.chunk))
        return StoredObject(self.metadata.get((ref.bucket, ref.key), {}), chunks)

    @contextmanager
    def writer(self, bucket: str, key: str) -> Iterator["_Writer"]:
        writer = _Writer()
        yield writer
        self.files[bucket, key] = b"".join(writer.data)

    def resumable_writer(self, bucket: str, key: str, state: Mapping[str, object] | None) -> "_ResumableWriter":
        return _ResumableWriter(self, bucket, key, state)

    def read_key(self, bucket: str, key: str) -> Iterator[bytes]:
        if (bucket, key) not in self.files:
            raise ObjectMissing(key)
        body = self.files[bucket, key]
        return (body[i : i + self.chunk] for i in range(0, len(body), self.chunk))

    def copy(self, bucket: str, source_key: str, key: str) -> None:
        if (bucket, source_key) not in self.files:
            raise ObjectMissing(source_key)
        self.files[bucket, key] = self.files[bucket, source_key]

    def delete(self, bucket: str, key: str) -> None:
        self.files.pop((bucket, key), None)

    def put_json(self, bucket: str, key: str, body: Mapping[str, object]) -> None:
        self.files[bucket, key] = json.dumps(body).encode()
        if key.startswith("to-process/"):  # a report or note next to an upload: listed like any object there
            ref = ObjectRef(bucket, key, f"etag-{key}", len(self.files[bucket, key]))
            self.uploads[bucket, key] = Listed(ref, datetime(2000, 1, 1, tzinfo=UTC))

    def tag(self, bucket: str, key: str, tags: Mapping[str, str]) -> None:
        if (bucket, key) in self.files:
            self.tags[bucket, key] = dict(tags)

    def write_output(self, request: SubmitRequest, job_arn: str, fate: "Fate") -> RecordCounts:
        """What Bedrock writes for a job: ``<output>/<job id>/<input name>.out`` for each of its input files."""
        bucket, prefix = request.input_uri.removeprefix("s3://").split("/", 1)
        out_bucket, out_prefix = request.output_uri.removeprefix("s3://").split("/", 1)
        folder = prefix.endswith("/")
        keys = [k for b, k in self.files if b == bucket and (k == prefix or (folder and k.startswith(prefix)))]
        success = error = 0
        for key in keys:
            lines = []
            for data in self.files[bucket, key].splitlines():
                record = json.loads(data)
                outcome = fate(record["recordId"])
                if outcome == MISSING:
                    continue
                if outcome is not None:
                    error += 1
                    record["error"] = {"errorCode": outcome, "errorMessage": f"error {outcome}"}
                else:
                    success += 1
                    record["modelOutput"] = {
                        "content": [{"type": "text", "text": f"ok {record['recordId']}"}],
                        "stop_reason": "end_turn",
                        "usage": {"input_tokens": 10, "output_tokens": 2},
                    }
                lines.append(json.dumps(record).encode() + b"\n")
            lines.reverse()  # Bedrock's output order is not the input's
            name = key.rsplit("/", 1)[1]
            self.files[out_bucket, f"{out_prefix}{job_arn.rsplit('/', 1)[1]}/{name}.out"] = b"".join(lines)
        return RecordCounts(success + error, success + error, success, error)

    def json(self, bucket: str, key: str) -> Any:
        return json.loads(self.files[bucket, key])


class _Writer:
    def __init__(self) -> None:
        self.data: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.data.append(data)


class _ResumableWriter:
    """As S3's: at a checkpoint every byte so far is kept (here, in a scratch object named by its position); a
    writer resumed from that state starts after them, whatever was written after the checkpoint."""

    def __init__(self, objects: FakeObjects, bucket: str, key: str, state: Mapping[str, object] | None) -> None:
        self._objects, self._bucket, self._key = objects, bucket, key
        scratch = str(state["scratch"]) if state else None
        self.data = [objects.files[bucket, scratch]] if scratch else []

    def write(self, data: bytes) -> None:
        self.data.append(data)

    def checkpoint(self) -> dict[str, object]:
        written = b"".join(self.data)
        scratch = f"staged/joins/{self._key}.pending-{len(written)}"
        self._objects.files[self._bucket, scratch] = written
        return {"scratch": scratch}

    def complete(self) -> None:
        self._objects.files[self._bucket, self._key] = b"".join(self.data)
