"""The emulated Bedrock batch-inference control plane: the four calls, Bedrock's rules, and each job's
lifecycle on a clock (its S3 input and output live in storage.py, its records in records.py).

Time moves only when the clock does: every call first brings all jobs up to ``clock.now()``, and each
transition happens at the simulated moment it was due, so tests drive whole job lifecycles without sleeping.
"""

import base64
import json
import random
import string
import threading
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from bedrock_emulator import api, events, models, profiles
from bedrock_emulator.api import SLOT_HOLDING, TERMINAL, ApiError, Status
from bedrock_emulator.events import Event
from bedrock_emulator.faults import Faults
from bedrock_emulator.job import EmulatedJob
from bedrock_emulator.limits import LimitTable, ModelLimits, Timing
from bedrock_emulator.records import run_records
from bedrock_emulator.storage import JobStorage

__all__ = ["ApiError", "BedrockEmulator", "Clock"]


class Clock(Protocol):
    def now(self) -> datetime: ...


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
        self.storage = JobStorage(s3_client, seed)
        self.clock = clock
        self.account_id = account_id
        self.region = region
        # Application inference profiles the account made: profile id (or ARN) -> the foundation model it routes to.
        self.application_profiles: dict[str, str] = {}
        self.limits = limits or LimitTable()
        self.timing = timing or Timing()
        self.faults = faults or Faults()
        self.events_client = events_client
        self.event_bus_name = event_bus_name
        self._rng = random.Random(seed)
        self._seed = seed
        self._jobs: dict[str, EmulatedJob] = {}
        self._tokens: dict[str, tuple[str, datetime]] = {}  # token -> (job id, when it was first used)
        self.on_demand_calls = 0  # InvokeModel and Converse calls answered
        self.refused_for_quota = 0  # creates answered ServiceQuotaExceeded: a client that counts slots right gets none
        self._subscribers: list[Callable[[Event], None]] = []
        self._outbox: list[Event] = []
        self._lock = threading.RLock()
        self.delivered_events: list[Event] = []
        self.dropped_events: list[Event] = []

    # ---- the four API calls -------------------------------------------------------------------------

    def create_model_invocation_job(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._call("CreateModelInvocationJob"):
            api.validate("CreateModelInvocationJob", body)
            now = self.clock.now()
            token = body.get("clientRequestToken") or str(uuid.uuid4())
            known = self._remembered(token, now)
            if known is not None:
                # The API reference: "If this token matches a previous request, Amazon Bedrock ignores the
                # request, but does not return an error."
                return self._answer_create(self._jobs[known].arn)
            self._check_model(body)
            if any(job.name == body["jobName"] for job in self._jobs.values()):
                raise self._name_in_use(body["jobName"])
            limits = self.limits.for_model(body["modelId"])
            # The quota is per model, however it is named (id, ARN or cross-Region profile).
            model = models.base_model(body["modelId"])
            active = sum(
                1 for j in self._jobs.values() if models.base_model(j.model_id) == model and j.status in SLOT_HOLDING
            )
            if active >= limits.concurrent_jobs:
                self.refused_for_quota += 1
                raise ApiError(
                    "ServiceQuotaExceededException",
                    f"You have reached the maximum number of batch inference jobs ({limits.concurrent_jobs}) "
                    f"submitted or in progress for model {body['modelId']}.",
                )
            job = self._new_job({**body, "clientRequestToken": token}, limits)
            self._tokens[token] = (job.job_id, now)
            self._emit(job)
            return self._answer_create(job.arn)

    def get_model_invocation_job(self, identifier: str) -> dict[str, Any]:
        with self._call("GetModelInvocationJob"):
            api.validate("GetModelInvocationJob", {"jobIdentifier": identifier})
            return self._find(identifier).describe(self.clock.now())

    def get_inference_profile(self, identifier: str) -> dict[str, Any]:
        with self._call("GetInferenceProfile"):
            api.validate("GetInferenceProfile", {"inferenceProfileIdentifier": identifier})
            found = profiles.describe(identifier, self.region, self.account_id, self.application_profiles)
            if found is None:
                raise ApiError("ResourceNotFoundException", f"The inference profile {identifier} does not exist.")
            return found

    def list_model_invocation_jobs(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._call("ListModelInvocationJobs"):
            api.validate("ListModelInvocationJobs", params)
            max_results = int(params.get("maxResults", 1000))
            order = params.get("sortOrder", "Descending")
            jobs = [j for j in self._jobs.values() if self._matches(j, params)]
            jobs.sort(key=lambda j: (j.submit_time, j.job_id), reverse=order == "Descending")
            start = self._decode_token(params.get("nextToken"))
            page = jobs[start : start + max_results]
            now = self.clock.now()
            response: dict[str, Any] = {"invocationJobSummaries": [j.describe(now) for j in page]}
            if start + max_results < len(jobs):
                response["nextToken"] = base64.urlsafe_b64encode(str(start + max_results).encode()).decode()
            return response

    # ---- bedrock-runtime: one record on demand ------------------------------------------------------------

    def invoke_model(self, model_id: str, body: Any, service_tier: str | None = None) -> models.Invocation:
        """InvokeModel: the model's native request body in, its response body out."""
        return self._on_demand("InvokeModel", model_id, models.INVOKE_MODEL, body, service_tier)

    def converse(self, model_id: str, body: Any) -> models.Invocation:
        """Converse: a Converse request (messages, system, inferenceConfig, serviceTier) in, a Converse response
        out (with the service tier that served it, when one was asked for)."""
        body = dict(body) if isinstance(body, dict) else body
        tier = body.pop("serviceTier", None) if isinstance(body, dict) else None
        if tier is not None and (not isinstance(tier, dict) or "type" not in tier):
            raise ApiError("ValidationException", "1 validation error detected: Value null at 'serviceTier.type'")
        invocation = self._on_demand("Converse", model_id, models.CONVERSE, body, tier["type"] if tier else None)
        if tier is not None:
            invocation.output["serviceTier"] = {"type": tier["type"]}
        return invocation

    def count_tokens(self, model_id: str, request: Any) -> dict[str, int]:
        """CountTokens: the input tokens the same InvokeModel body or Converse messages would be charged for."""
        with self._call("CountTokens"):
            if not isinstance(request, dict) or not isinstance(request.get("input"), dict):
                raise ApiError("ValidationException", "1 validation error detected: Value null at 'input'")
            union = request["input"]
            if len(union) != 1 or next(iter(union)) not in {"invokeModel", "converse"}:
                raise ApiError("ValidationException", "input must set exactly one of invokeModel or converse")
            if not models.counts_tokens(model_id):
                raise ApiError("ValidationException", "The provided model doesn't support counting tokens.")
            if "invokeModel" in union:  # a blob: base64 in rest-json's JSON body
                body = json.loads(base64.b64decode(union["invokeModel"]["body"]))
                counted = models.invoke(model_id, models.INVOKE_MODEL, body)
            else:
                converse = union["converse"]
                body = {k: converse[k] for k in ("messages", "system") if k in converse}
                counted = models.invoke(model_id, models.CONVERSE, body)
            return {"inputTokens": counted.input_tokens}

    def _on_demand(
        self, operation: str, model_id: str, invocation_type: str, body: Any, service_tier: str | None = None
    ) -> models.Invocation:
        with self._call(operation):
            # botocore's model: ServiceTierType is priority, default, flex or reserved.
            if service_tier is not None and service_tier not in api.SERVICE_TIERS:
                raise ApiError(
                    "ValidationException",
                    f"1 validation error detected: Value '{service_tier}' at 'serviceTier' failed to satisfy "
                    f"constraint: Member must satisfy enum value set: [{', '.join(api.SERVICE_TIERS)}]",
                )
            if service_tier == "flex" and models.base_model(model_id) in self.faults.flex_refused_models:
                raise ApiError("ValidationException", "The flex service tier is not supported for this model.")
            refusal = self.faults.denied_models.get(models.base_model(model_id))
            if refusal is not None:
                code, message = models.ACCESS_REFUSALS[refusal]
                raise ApiError(code, message)
            if not models.supports(model_id, invocation_type):
                raise ApiError("ValidationException", "The provided model identifier is invalid.")
            try:
                invocation = models.invoke(model_id, invocation_type, body)
            except models.RecordError as exc:
                raise ApiError("ValidationException", str(exc)) from exc
            self.on_demand_calls += 1
            return invocation

    def stop_model_invocation_job(self, identifier: str) -> dict[str, Any]:
        with self._call("StopModelInvocationJob"):
            api.validate("StopModelInvocationJob", {"jobIdentifier": identifier})
            job = self._find(identifier)
            if job.status == Status.STOPPING:
                raise ApiError("ConflictException", f"Job {job.arn} is already stopping.")
            if job.status not in SLOT_HOLDING:
                raise ApiError("ValidationException", f"Job {job.arn} is {job.status.value} and cannot be stopped.")
            now = self.clock.now()
            job.processed, job.success, job.error = job.counters(now)
            job.stopped_after = job.records_done_by(now) if job.status == Status.IN_PROGRESS else 0
            self._move(job, Status.STOPPING, now, due=now + job.phase(job.timing.stopping))
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

    def _answer_create(self, arn: str) -> dict[str, Any]:
        if self.faults.lose_next_create_responses > 0:
            self.faults.lose_next_create_responses -= 1
            raise ApiError("InternalServerException", "Internal server error (injected: the job exists)")
        return {"jobArn": arn}

    def _remembered(self, token: str, now: datetime) -> str | None:
        """The job an earlier request with this token made, while the token is remembered (a knob: the real
        service's window is undocumented)."""
        if token not in self._tokens:
            return None
        job_id, seen = self._tokens[token]
        ttl = self.faults.token_ttl_seconds
        if ttl is not None and now - seen > timedelta(seconds=ttl):
            del self._tokens[token]
            return None
        return job_id

    def _name_in_use(self, name: str) -> ApiError:
        """Which error a taken job name gets is undocumented; sibling job APIs answer ValidationException."""
        if self.faults.name_in_use_error == "ValidationException":
            return ApiError("ValidationException", "The provided job name is currently in use.")
        return ApiError("ConflictException", f"A job with the name {name} already exists.")

    def _check_model(self, body: dict[str, Any]) -> None:
        model_id = body["modelId"]
        refusal = self.faults.denied_models.get(models.base_model(model_id))
        if refusal is not None:
            code, message = models.ACCESS_REFUSALS[refusal]
            raise ApiError(code, message)
        invocation_type = body.get("modelInvocationType", models.INVOKE_MODEL)
        if not models.supports(model_id, invocation_type):
            raise ApiError("ValidationException", "Batch inference is not supported for the requested model.")

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
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError("ValidationException", "The nextToken is not valid.") from exc

    # ---- the job lifecycle --------------------------------------------------------------------------

    def _advance_all(self, now: datetime) -> None:
        for job in self._jobs.values():
            while job.status not in TERMINAL and job.due is not None and job.due <= now:
                self._step(job, job.due)

    def _step(self, job: EmulatedJob, at: datetime) -> None:
        """Ends the job's current phase at ``at`` (the moment it was due)."""
        if job.status == Status.SUBMITTED:
            self._move(job, Status.VALIDATING, at, due=at + job.phase(job.timing.validating))
        elif job.status == Status.VALIDATING:
            problem = self.storage.load_input(job)
            if problem:
                self._finish(job, Status.FAILED, at, problem)
            elif job.doom == "expire":
                self._move(job, Status.SCHEDULED, at, due=job.expiration)
            else:
                self._move(job, Status.SCHEDULED, at, due=at + job.phase(job.timing.scheduled))
        elif job.status == Status.SCHEDULED:
            if at >= job.expiration:
                self._finish(job, Status.EXPIRED, job.expiration, "The job expired before it could start.")
                return
            job.started = at
            job.total = sum(len(f.records) for f in job.files)
            job.results = run_records(job, self.faults, self._seed)
            duration = job.total / job.timing.records_per_second
            self._move(job, Status.IN_PROGRESS, at, due=min(at + job.phase(duration), job.expiration))
        elif job.status == Status.IN_PROGRESS:
            if job.doom == "fail":
                self._finish(job, Status.FAILED, at, "The job failed because of an internal error. (injected fault)")
                return
            if at >= job.expiration and job.records_done_by(at) < (job.total or 0):
                self.storage.write_output(job, job.records_done_by(at))
                self._finish(
                    job, Status.PARTIALLY_COMPLETED, at, "The job timed out before every record was processed."
                )
                return
            self.storage.write_output(job, job.total or 0)
            done = Status.COMPLETED if job.processed == job.total else Status.PARTIALLY_COMPLETED
            self._finish(job, done, at, None if done == Status.COMPLETED else "Some records were not processed.")
        elif job.status == Status.STOPPING:
            if job.started is not None:
                self.storage.write_output(job, job.stopped_after)
            self._finish(job, Status.STOPPED, at, "The job was stopped.")

    def _move(self, job: EmulatedJob, status: Status, at: datetime, *, due: datetime | None) -> None:
        job.status, job.last_modified, job.due = status, at, due
        self._emit(job)

    def _finish(self, job: EmulatedJob, status: Status, at: datetime, message: str | None) -> None:
        job.message, job.end_time = message, at
        self._move(job, status, at, due=None)

    # ---- events -------------------------------------------------------------------------------------

    def _emit(self, job: EmulatedJob) -> None:
        event_id = uuid.UUID(int=self._rng.getrandbits(128))
        self._outbox.append(events.state_change(job, account_id=self.account_id, region=self.region, event_id=event_id))

    def _deliver(self) -> None:
        with self._lock:
            outgoing, self._outbox = self._outbox, []
            dropped = [self._rng.random() < self.faults.drop_event_rate for _ in outgoing]
        for event, drop in zip(outgoing, dropped, strict=True):
            if drop:
                self.dropped_events.append(event)
                continue
            self.delivered_events.append(event)
            if self.events_client is not None:
                events.put_on_eventbridge(self.events_client, event, self.event_bus_name)
            for callback in list(self._subscribers):
                callback(event)
