"""The emulated Bedrock batch-inference control plane: jobs, their lifecycle on a clock, S3 input and output.

Time moves only when the clock does: every call first brings all jobs up to ``clock.now()``, and each
transition happens at the simulated moment it was due, so tests drive whole job lifecycles without sleeping.
"""

import base64
import json
import posixpath
import random
import re
import string
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from bbq.core.clock import Clock
from bbq.core.states import ACTIVE, BEDROCK_TERMINAL, JobStatus
from bbq_local.emulator import models
from bbq_local.emulator.faults import Faults
from bbq_local.emulator.limits import LimitTable, ModelLimits, Timing

JOB_NAME = re.compile(r"^[a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\+\-\.]){0,63}$")
CLIENT_TOKEN = re.compile(r"^[a-zA-Z0-9]{1,256}(-*[a-zA-Z0-9]){0,256}$")
ROLE_ARN = re.compile(r"^arn:aws(-[^:]+)?:iam::([0-9]{12})?:role/.+$")
S3_URI = re.compile(r"^s3://[a-z0-9][\.\-a-z0-9]{1,61}[a-z0-9](/.*)?$")
EVENT_SOURCE = "aws.bedrock"
EVENT_DETAIL_TYPE = "Batch Inference Job State Change"

Event = dict[str, Any]


class ApiError(Exception):
    """An error the service answers with; ``code`` is the botocore error shape name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class InputFile:
    key: str
    records: list[dict[str, Any]]

    @property
    def name(self) -> str:
        return posixpath.basename(self.key)


@dataclass
class EmulatedJob:
    job_id: str
    arn: str
    request: dict[str, Any]
    submit_time: datetime
    limits: ModelLimits
    timing: Timing
    slowdown: float
    doom: str | None  # "fail" or "expire": an injected fault decided at creation
    status: JobStatus = JobStatus.SUBMITTED
    message: str | None = None
    last_modified: datetime | None = None
    end_time: datetime | None = None
    due: datetime | None = None  # when the current phase ends
    started: datetime | None = None  # when InProgress began
    stopped_after: int = 0  # records done when a stop was asked for
    files: list[InputFile] = field(default_factory=list)
    results: list["RecordResult"] = field(default_factory=list)  # decided when InProgress begins
    total: int | None = None
    processed: int | None = None
    success: int | None = None
    error: int | None = None

    @property
    def name(self) -> str:
        return self.request["jobName"]

    @property
    def model_id(self) -> str:
        return self.request["modelId"]

    @property
    def timeout_hours(self) -> int:
        return self.request.get("timeoutDurationInHours", 168)

    @property
    def expiration(self) -> datetime:
        return self.submit_time + timedelta(hours=self.timeout_hours)

    def phase(self, seconds: float) -> timedelta:
        return timedelta(seconds=seconds * self.slowdown)

    def records_done_by(self, moment: datetime) -> int:
        if self.started is None or self.total is None:
            return 0
        elapsed = (moment - self.started).total_seconds() / self.slowdown
        return min(self.total, int(elapsed * self.timing.records_per_second))

    def counters(self, now: datetime) -> tuple[int | None, int | None, int | None]:
        """processed, success and error counts as of ``now``."""
        if self.status != JobStatus.IN_PROGRESS:
            return self.processed, self.success, self.error
        done = [r for r in self.results[: self.records_done_by(now)] if r.line is not None]
        errors = sum(1 for r in done if "error" in r.line)  # type: ignore[operator]
        return len(done), len(done) - errors, errors

    def describe(self, now: datetime) -> dict[str, Any]:
        processed, success, error = self.counters(now)
        body = {
            "jobArn": self.arn,
            "jobName": self.name,
            "modelId": self.model_id,
            "clientRequestToken": self.request.get("clientRequestToken"),
            "roleArn": self.request["roleArn"],
            "status": self.status.value,
            "message": self.message,
            "submitTime": self.submit_time,
            "lastModifiedTime": self.last_modified,
            "endTime": self.end_time,
            "inputDataConfig": self.request["inputDataConfig"],
            "outputDataConfig": self.request["outputDataConfig"],
            "vpcConfig": self.request.get("vpcConfig"),
            "timeoutDurationInHours": self.timeout_hours,
            "jobExpirationTime": self.expiration,
            "modelInvocationType": self.request.get("modelInvocationType", models.INVOKE_MODEL),
            "totalRecordCount": self.total,
            "processedRecordCount": processed,
            "successRecordCount": success,
            "errorRecordCount": error,
        }
        return {k: v for k, v in body.items() if v is not None}


class BedrockEmulator:
    """Create/Get/List/StopModelInvocationJob with Bedrock's rules, on an injected clock."""

    def __init__(
        self,
        *,
        s3_client: Any,
        clock: Clock,
        account_id: str = "123456789012",
        region: str = "us-east-1",
        limits: LimitTable | None = None,
        timing: Timing | None = None,
        faults: Faults | None = None,
        seed: int = 0,
        events_client: Any = None,
        event_bus_name: str = "default",
    ) -> None:
        self.s3 = s3_client
        self.clock = clock
        self.account_id = account_id
        self.region = region
        self.limits = limits or LimitTable()
        self.timing = timing or Timing()
        self.faults = faults or Faults()
        self.events_client = events_client
        self.event_bus_name = event_bus_name
        self._rng = random.Random(seed)
        self._seed = seed
        self._jobs: dict[str, EmulatedJob] = {}
        self._tokens: dict[str, tuple[str, str]] = {}  # token -> (request fingerprint, job id)
        self._subscribers: list[Callable[[Event], None]] = []
        self._outbox: list[Event] = []
        self._lock = threading.RLock()
        self.delivered_events: list[Event] = []
        self.dropped_events: list[Event] = []

    # ---- the four API calls -------------------------------------------------------------------------

    def create_model_invocation_job(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._call("CreateModelInvocationJob"):
            self._validate_create(body)
            token = body.get("clientRequestToken") or str(uuid.uuid4())
            fingerprint = json.dumps({k: v for k, v in body.items() if k != "clientRequestToken"}, sort_keys=True)
            if token in self._tokens:
                seen, job_id = self._tokens[token]
                if seen != fingerprint:
                    raise ApiError(
                        "ConflictException", "The clientRequestToken was already used with a different request."
                    )
                return {"jobArn": self._jobs[job_id].arn}
            if any(job.name == body["jobName"] for job in self._jobs.values()):
                raise ApiError("ConflictException", f"A job with the name {body['jobName']} already exists.")
            limits = self.limits.for_model(body["modelId"])
            active = sum(1 for j in self._jobs.values() if j.model_id == body["modelId"] and j.status in ACTIVE)
            if active >= limits.concurrent_jobs:
                raise ApiError(
                    "ServiceQuotaExceededException",
                    f"You have reached the maximum number of batch inference jobs ({limits.concurrent_jobs}) "
                    f"submitted or in progress for model {body['modelId']}.",
                )
            job = self._new_job({**body, "clientRequestToken": token}, limits)
            self._tokens[token] = (fingerprint, job.job_id)
            self._emit(job)
            if self.faults.lose_next_create_responses > 0:
                self.faults.lose_next_create_responses -= 1
                raise ApiError("InternalServerException", "Internal server error (injected: the job was created)")
            return {"jobArn": job.arn}

    def get_model_invocation_job(self, identifier: str) -> dict[str, Any]:
        with self._call("GetModelInvocationJob"):
            return self._find(identifier).describe(self.clock.now())

    def list_model_invocation_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._call("ListModelInvocationJobs"):
            max_results = int(params.get("maxResults", 1000))
            if not 1 <= max_results <= 1000:
                raise ApiError("ValidationException", "maxResults must be between 1 and 1000.")
            order = params.get("sortOrder", "Descending")
            if order not in {"Ascending", "Descending"} or params.get("sortBy", "CreationTime") != "CreationTime":
                raise ApiError(
                    "ValidationException", "sortBy must be CreationTime and sortOrder Ascending or Descending."
                )
            jobs = [j for j in self._jobs.values() if self._matches(j, params)]
            jobs.sort(key=lambda j: (j.submit_time, j.job_id), reverse=order == "Descending")
            start = self._decode_token(params.get("nextToken"))
            page = jobs[start : start + max_results]
            now = self.clock.now()
            response: dict[str, Any] = {"invocationJobSummaries": [j.describe(now) for j in page]}
            if start + max_results < len(jobs):
                response["nextToken"] = base64.urlsafe_b64encode(str(start + max_results).encode()).decode()
            return response

    def stop_model_invocation_job(self, identifier: str) -> dict[str, Any]:
        with self._call("StopModelInvocationJob"):
            job = self._find(identifier)
            if job.status == JobStatus.STOPPING:
                raise ApiError("ConflictException", f"Job {job.arn} is already stopping.")
            if job.status not in ACTIVE:
                raise ApiError("ValidationException", f"Job {job.arn} is {job.status.value} and cannot be stopped.")
            now = self.clock.now()
            job.processed, job.success, job.error = job.counters(now)
            job.stopped_after = job.records_done_by(now) if job.status == JobStatus.IN_PROGRESS else 0
            self._move(job, JobStatus.STOPPING, now, due=now + job.phase(job.timing.stopping))
            return {}

    # ---- driving time and events --------------------------------------------------------------------

    def subscribe(self, callback: Callable[[Event], None]) -> None:
        """Calls ``callback`` with every delivered state-change event (EventBridge's envelope)."""
        self._subscribers.append(callback)

    def advance(self) -> None:
        """Brings every job up to the clock's now and delivers the events that produced."""
        with self._lock:
            self._advance_all(self.clock.now())
        self._deliver()

    def jobs(self) -> list[dict[str, Any]]:
        with self._lock:
            now = self.clock.now()
            return [job.describe(now) for job in self._jobs.values()]

    # ---- internals ----------------------------------------------------------------------------------

    class _CallContext:
        def __init__(self, emulator: "BedrockEmulator", operation: str) -> None:
            self.emulator, self.operation = emulator, operation

        def __enter__(self) -> None:
            self.emulator._lock.acquire()
            try:
                self.emulator._advance_all(self.emulator.clock.now())
                self.emulator._inject(self.operation)
            except BaseException:
                self.emulator._lock.release()
                raise

        def __exit__(self, *exc: object) -> None:
            self.emulator._lock.release()
            self.emulator._deliver()

    def _call(self, operation: str) -> "_CallContext":
        return self._CallContext(self, operation)

    def _inject(self, operation: str) -> None:
        if self._rng.random() < Faults.rate(self.faults.throttle, operation):
            raise ApiError("ThrottlingException", "Too many requests, please wait before trying again.")
        if self._rng.random() < Faults.rate(self.faults.internal_error, operation):
            raise ApiError("InternalServerException", "An internal server error occurred. Retry your request.")

    def _validate_create(self, body: dict[str, Any]) -> None:
        def invalid(message: str) -> ApiError:
            return ApiError("ValidationException", message)

        name = body.get("jobName", "")
        if not JOB_NAME.match(name) or len(name) > 63:
            raise invalid(
                f"1 validation error detected: Value '{name}' at 'jobName' failed to satisfy constraint: "
                f"Member must satisfy regular expression pattern: [a-zA-Z0-9]{{1,63}}(-*[a-zA-Z0-9\\+\\-\\.]){{0,63}}"
            )
        token = body.get("clientRequestToken")
        if token is not None and not CLIENT_TOKEN.match(token):
            raise invalid(
                "Value at 'clientRequestToken' failed to satisfy constraint: Member must satisfy regular "
                "expression pattern: [a-zA-Z0-9]{1,256}(-*[a-zA-Z0-9]){0,256}"
            )
        if not ROLE_ARN.match(body.get("roleArn", "")):
            raise invalid(
                f"Value '{body.get('roleArn')}' at 'roleArn' failed to satisfy constraint: must be an IAM role ARN"
            )
        invocation_type = body.get("modelInvocationType", models.INVOKE_MODEL)
        if invocation_type not in {models.INVOKE_MODEL, models.CONVERSE}:
            raise invalid(f"Value '{invocation_type}' at 'modelInvocationType' must be InvokeModel or Converse")
        if not models.supports(body.get("modelId", ""), invocation_type):
            raise invalid(
                f"The provided model identifier {body.get('modelId')} is invalid or does not support "
                f"batch inference with {invocation_type}."
            )
        s3_in = body.get("inputDataConfig", {}).get("s3InputDataConfig", {})
        if not S3_URI.match(s3_in.get("s3Uri", "")):
            raise invalid("inputDataConfig.s3InputDataConfig.s3Uri must be an s3:// URI")
        if s3_in.get("s3InputFormat", "JSONL") != "JSONL":
            raise invalid("s3InputFormat must be JSONL")
        s3_out = body.get("outputDataConfig", {}).get("s3OutputDataConfig", {})
        if not S3_URI.match(s3_out.get("s3Uri", "")):
            raise invalid("outputDataConfig.s3OutputDataConfig.s3Uri must be an s3:// URI")
        hours = body.get("timeoutDurationInHours", 168)
        if not isinstance(hours, int) or not 24 <= hours <= 168:
            raise invalid(
                f"Value '{hours}' at 'timeoutDurationInHours' failed to satisfy constraint: "
                "Member must have value between 24 and 168"
            )
        if len(body.get("tags", [])) > 200:
            raise invalid("A job can have at most 200 tags.")

    def _new_job(self, body: dict[str, Any], limits: ModelLimits) -> EmulatedJob:
        job_id = "".join(self._rng.choice(string.ascii_lowercase + string.digits) for _ in range(12))
        now = self.clock.now()
        job = EmulatedJob(
            job_id=job_id,
            arn=f"arn:aws:bedrock:{self.region}:{self.account_id}:model-invocation-job/{job_id}",
            request=body,
            submit_time=now,
            limits=limits,
            timing=self.timing,
            slowdown=self.faults.slowdown,
            doom=self._doom(body["jobName"]),
            last_modified=now,
        )
        job.due = now + job.phase(self.timing.submitted)
        self._jobs[job_id] = job
        return job

    def _doom(self, name: str) -> str | None:
        if self.faults.expire_next_jobs > 0 or any(part in name for part in self.faults.expire_jobs_named):
            self.faults.expire_next_jobs = max(0, self.faults.expire_next_jobs - 1)
            return "expire"
        if self.faults.fail_next_jobs > 0 or any(part in name for part in self.faults.fail_jobs_named):
            self.faults.fail_next_jobs = max(0, self.faults.fail_next_jobs - 1)
            return "fail"
        return None

    def _find(self, identifier: str) -> EmulatedJob:
        job_id = identifier.rsplit("/", 1)[-1]
        job = self._jobs.get(job_id)
        if job is None or (identifier.startswith("arn:") and identifier != job.arn):
            raise ApiError("ResourceNotFoundException", f"The specified job {identifier} was not found.")
        return job

    def _matches(self, job: EmulatedJob, params: dict[str, Any]) -> bool:
        if params.get("statusEquals") and job.status.value != params["statusEquals"]:
            return False
        if params.get("nameContains") and params["nameContains"] not in job.name:
            return False
        after, before = params.get("submitTimeAfter"), params.get("submitTimeBefore")
        if after is not None and job.submit_time <= after:
            return False
        return before is None or job.submit_time < before

    @staticmethod
    def _decode_token(token: str | None) -> int:
        if not token:
            return 0
        try:
            return int(base64.urlsafe_b64decode(token.encode()).decode())
        except ValueError as exc:
            raise ApiError("ValidationException", "The nextToken is not valid.") from exc

    # ---- the job lifecycle --------------------------------------------------------------------------

    def _advance_all(self, now: datetime) -> None:
        for job in self._jobs.values():
            while job.status not in BEDROCK_TERMINAL and job.due is not None and job.due <= now:
                self._step(job, job.due)

    def _step(self, job: EmulatedJob, at: datetime) -> None:
        """Ends the job's current phase at ``at`` (the moment it was due)."""
        if job.status == JobStatus.SUBMITTED:
            self._move(job, JobStatus.VALIDATING, at, due=at + job.phase(job.timing.validating))
        elif job.status == JobStatus.VALIDATING:
            problem = self._load_input(job)
            if problem:
                self._finish(job, JobStatus.FAILED, at, problem)
            elif job.doom == "expire":
                self._move(job, JobStatus.SCHEDULED, at, due=job.expiration)
            else:
                self._move(job, JobStatus.SCHEDULED, at, due=at + job.phase(job.timing.scheduled))
        elif job.status == JobStatus.SCHEDULED:
            if at >= job.expiration:
                self._finish(job, JobStatus.EXPIRED, job.expiration, "The job expired before it could start.")
                return
            job.started = at
            job.total = sum(len(f.records) for f in job.files)
            job.results = self._run_records(job)
            duration = job.total / job.timing.records_per_second
            self._move(job, JobStatus.IN_PROGRESS, at, due=min(at + job.phase(duration), job.expiration))
        elif job.status == JobStatus.IN_PROGRESS:
            if job.doom == "fail":
                self._finish(job, JobStatus.FAILED, at, "The job failed because of an internal error. (injected fault)")
                return
            if at >= job.expiration and job.records_done_by(at) < (job.total or 0):
                self._write_output(job, job.records_done_by(at))
                self._finish(
                    job, JobStatus.PARTIALLY_COMPLETED, at, "The job timed out before every record was processed."
                )
                return
            self._write_output(job, job.total or 0)
            done = JobStatus.COMPLETED if job.processed == job.total else JobStatus.PARTIALLY_COMPLETED
            self._finish(job, done, at, None if done == JobStatus.COMPLETED else "Some records were not processed.")
        elif job.status == JobStatus.STOPPING:
            if job.started is not None:
                self._write_output(job, job.stopped_after)
            self._finish(job, JobStatus.STOPPED, at, "The job was stopped.")

    def _move(self, job: EmulatedJob, status: JobStatus, at: datetime, *, due: datetime | None) -> None:
        job.status, job.last_modified, job.due = status, at, due
        self._emit(job)

    def _finish(self, job: EmulatedJob, status: JobStatus, at: datetime, message: str | None) -> None:
        job.message, job.end_time = message, at
        self._move(job, status, at, due=None)

    # ---- S3 input and output ------------------------------------------------------------------------

    def _load_input(self, job: EmulatedJob) -> str | None:
        """Reads and validates the job's input as Bedrock's Validating step does; the failure message or None."""
        uri = job.request["inputDataConfig"]["s3InputDataConfig"]["s3Uri"]
        bucket, key = _split(uri)
        limits = job.limits
        try:
            keys = self._input_keys(bucket, key)
            if not keys:
                return f"No .jsonl input files were found at {uri}."
            total_bytes = 0
            for object_key in keys:
                body = self.s3.get_object(Bucket=bucket, Key=object_key)["Body"].read()
                total_bytes += len(body)
                name = posixpath.basename(object_key)
                if len(body) > limits.max_file_bytes:
                    return f"Input file {name} is {len(body)} bytes, above the limit of {limits.max_file_bytes} bytes."
                records, problem = _parse_records(name, body)
                if problem:
                    return problem
                if len(records) > limits.max_records_per_file:
                    return (
                        f"Input file {name} has {len(records)} records, above the limit of "
                        f"{limits.max_records_per_file} records per file."
                    )
                job.files.append(InputFile(object_key, records))
            self._check_output_bucket(job)
        except self.s3.exceptions.NoSuchBucket:
            return f"Unable to access the S3 location {uri}: the bucket does not exist or the role cannot read it."
        except self.s3.exceptions.NoSuchKey:
            return f"Unable to access the S3 location {uri}: the object does not exist."
        except _OutputUnwritable as exc:
            return str(exc)
        count = sum(len(f.records) for f in job.files)
        if count < limits.min_records_per_job:
            return (
                f"The job has {count} records, below the minimum of {limits.min_records_per_job} records "
                "per batch inference job."
            )
        if count > limits.max_records_per_job:
            return f"The job has {count} records, above the limit of {limits.max_records_per_job} records per job."
        if total_bytes > limits.max_job_bytes:
            return f"The job's input is {total_bytes} bytes, above the limit of {limits.max_job_bytes} bytes per job."
        return None

    def _input_keys(self, bucket: str, key: str) -> list[str]:
        if key.endswith(".jsonl"):
            listed = self.s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
            return [key] if any(o["Key"] == key for o in listed) else []
        paginator = self.s3.get_paginator("list_objects_v2")
        return [
            obj["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=key)
            for obj in page.get("Contents", [])
            if obj["Key"].endswith(".jsonl")
        ]

    def _check_output_bucket(self, job: EmulatedJob) -> None:
        bucket, _ = _split(job.request["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"])
        try:
            self.s3.head_bucket(Bucket=bucket)
        except Exception as exc:
            raise _OutputUnwritable(f"Unable to write to the output S3 location s3://{bucket}: {exc}") from exc

    def _run_records(self, job: EmulatedJob) -> list["RecordResult"]:
        """Runs the model over every record (deterministically); results are revealed as time passes."""
        invocation_type = job.request.get("modelInvocationType", models.INVOKE_MODEL)
        rng = random.Random(f"{self._seed}:{job.job_id}")
        results = []
        for index, input_file in enumerate(job.files):
            for record in input_file.records:
                if rng.random() < self.faults.missing_record_rate:
                    results.append(RecordResult(index, None))
                    continue
                line: dict[str, Any] = {
                    "recordId": record.get("recordId") or _record_id(rng),
                    "modelInput": record["modelInput"],
                }
                if rng.random() < self.faults.record_error_rate:
                    line["error"] = {"errorCode": 500, "errorMessage": "Internal server error. (injected fault)"}
                    results.append(RecordResult(index, line))
                    continue
                try:
                    result = models.invoke(job.model_id, invocation_type, record["modelInput"])
                except models.RecordError as exc:
                    line["error"] = {"errorCode": 400, "errorMessage": str(exc)}
                    results.append(RecordResult(index, line))
                else:
                    line["modelOutput"] = result.output
                    results.append(RecordResult(index, line, result.input_tokens, result.output_tokens))
        return results

    def _write_output(self, job: EmulatedJob, limit: int) -> None:
        """Writes ``{output}/{jobId}/{file}.out`` for the first ``limit`` records, and the manifest."""
        out_bucket, out_key = _split(job.request["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"])
        base = posixpath.join(out_key, job.job_id) if out_key else job.job_id
        done = job.results[:limit]
        rng = random.Random(f"{self._seed}:{job.job_id}:order")
        for index, input_file in enumerate(job.files):
            lines = [json.dumps(r.line) for r in done if r.file_index == index and r.line is not None]
            rng.shuffle(lines)  # Bedrock does not keep input order: consumers must join on recordId
            body = "".join(line + "\n" for line in lines).encode()
            self.s3.put_object(Bucket=out_bucket, Key=f"{base}/{input_file.name}.out", Body=body)
        written = [r for r in done if r.line is not None]
        errors = sum(1 for r in written if "error" in r.line)  # type: ignore[operator]
        job.processed, job.success, job.error = len(written), len(written) - errors, errors
        manifest = {
            "totalRecordCount": job.total,
            "processedRecordCount": job.processed,
            "successRecordCount": job.success,
            "errorRecordCount": job.error,
            "inputTokenCount": sum(r.input_tokens for r in written),
            "outputTokenCount": sum(r.output_tokens for r in written),
        }
        self.s3.put_object(Bucket=out_bucket, Key=f"{base}/manifest.json.out", Body=json.dumps(manifest).encode())

    # ---- events -------------------------------------------------------------------------------------

    def _emit(self, job: EmulatedJob) -> None:
        at = job.last_modified or job.submit_time
        detail = {
            "version": "0.0",
            "accountId": self.account_id,
            "batchJobName": job.name,
            "batchJobArn": job.arn,
            "batchModelId": job.model_id,
            "status": job.status.value,
            "failureMessage": (job.message or "") if job.status == JobStatus.FAILED else "",
            # Bedrock's own time strings are not ISO 8601 (nanosecond precision): modelled on purpose.
            "creationTime": job.submit_time.strftime("%Y-%m-%dT%H:%M:%S.%f000Z"),
        }
        self._outbox.append(
            {
                "version": "0",
                "id": str(uuid.UUID(int=self._rng.getrandbits(128))),
                "detail-type": EVENT_DETAIL_TYPE,
                "source": EVENT_SOURCE,
                "account": self.account_id,
                "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": self.region,
                "resources": [job.arn],
                "detail": detail,
            }
        )

    def _deliver(self) -> None:
        with self._lock:
            events, self._outbox = self._outbox, []
            dropped = [self._rng.random() < self.faults.drop_event_rate for _ in events]
        for event, drop in zip(events, dropped, strict=True):
            if drop:
                self.dropped_events.append(event)
                continue
            self.delivered_events.append(event)
            if self.events_client is not None:
                self.events_client.put_events(
                    Entries=[
                        {
                            "Source": event["source"],
                            "DetailType": event["detail-type"],
                            "Resources": event["resources"],
                            "Detail": json.dumps(event["detail"]),
                            "EventBusName": self.event_bus_name,
                        }
                    ]
                )
            for callback in list(self._subscribers):
                callback(event)


@dataclass(frozen=True)
class RecordResult:
    file_index: int
    line: dict[str, Any] | None  # None: the record goes missing from the output (injected fault)
    input_tokens: int = 0
    output_tokens: int = 0


class _OutputUnwritable(Exception):
    pass


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _record_id(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(11))


def _parse_records(name: str, body: bytes) -> tuple[list[dict[str, Any]], str | None]:
    records = []
    for number, raw in enumerate(body.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            return [], f"Invalid JSON on line {number} of input file {name}."
        if not isinstance(record, dict) or "modelInput" not in record:
            return [], f"Line {number} of input file {name} has no modelInput field."
        records.append(record)
    return records, None
