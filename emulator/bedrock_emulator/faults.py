"""Fault injection: the ways the real service misbehaves, on demand and reproducibly (seeded)."""

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from bedrock_emulator.api import RECORD_ERROR_STATUS
from bedrock_emulator.models import ACCESS_REFUSALS


@dataclass
class Faults:
    # Per call (operation name, e.g. "CreateModelInvocationJob", or "*" for every call): probability 0..1.
    throttle: dict[str, float] = field(default_factory=dict)
    internal_error: dict[str, float] = field(default_factory=dict)
    # Per record: the probability that a record gets an error line, per error of bedrock-runtime's InvokeModel or
    # Converse (e.g. {"ThrottlingException": 0.05, "ValidationException": 0.01}); its errorCode is that error's HTTP
    # status in botocore's model.
    record_errors: dict[str, float] = field(default_factory=dict)
    # Per record: probability that a record is silently left out of the output (a "missing record").
    missing_record_rate: float = 0.0
    # Jobs whose name contains one of these fail in InProgress; the next N created jobs fail likewise.
    fail_jobs_named: list[str] = field(default_factory=list)
    fail_next_jobs: int = 0
    # Jobs whose name contains one of these (or the next N) never leave Scheduled and end Expired.
    expire_jobs_named: list[str] = field(default_factory=list)
    expire_next_jobs: int = 0
    # Every phase of jobs created from now on takes this many times longer.
    slowdown: float = 1.0
    # Probability that a state-change event is not delivered (Bedrock's delivery is best effort).
    drop_event_rate: float = 0.0
    # The next N CreateModelInvocationJob answers are lost (500) though the job was made (or already existed).
    lose_next_create_responses: int = 0
    # Behaviours AWS does not document, one knob each so clients can be tested under every plausible answer:
    # how long a clientRequestToken is remembered (None: for ever), and which error a job name in use gets.
    token_ttl_seconds: float | None = None
    name_in_use_error: str = "ConflictException"  # or "ValidationException" (as Bedrock's sibling job APIs)
    # Models (by base model id) the account may not use yet, with the refusal: "access" (model access not
    # granted, or not in this Region), "marketplace" (subscription missing) or "use-case-form" (Anthropic).
    denied_models: dict[str, str] = field(default_factory=dict)
    # Service Quotas refuses ListServiceQuotas and ListAWSDefaultServiceQuotas (a role without the permissions).
    service_quotas_denied: bool = False
    # Models (base model ids) that refuse a request for the flex service tier. AWS lists the models that offer each
    # tier but does not document the answer for one that does not: a ValidationException is the plausible one.
    flex_refused_models: list[str] = field(default_factory=list)
    # What a "GB" in a size quota's name is (undocumented): 10**9 or 2**30 bytes.
    quota_gb_bytes: int = 10**9

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown fault knob(s): {', '.join(sorted(unknown))}; known: {', '.join(sorted(known))}")
        if changes.get("name_in_use_error", "ConflictException") not in {"ConflictException", "ValidationException"}:
            raise ValueError("name_in_use_error is ConflictException or ValidationException")
        if changes.get("quota_gb_bytes", 10**9) not in {10**9, 2**30}:
            raise ValueError("quota_gb_bytes is 1000000000 or 1073741824")
        unknown_errors = set(changes.get("record_errors", {})) - set(RECORD_ERROR_STATUS)
        if unknown_errors:
            raise ValueError(f"record_errors names {unknown_errors}; known: {', '.join(sorted(RECORD_ERROR_STATUS))}")
        unknown_refusals = set(changes.get("denied_models", {}).values()) - set(ACCESS_REFUSALS)
        if unknown_refusals:
            raise ValueError(f"denied_models refusals are {', '.join(ACCESS_REFUSALS)}, not {unknown_refusals}")
        for name, value in changes.items():
            setattr(self, name, value)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def rate(table: dict[str, float], operation: str) -> float:
        return table.get(operation, table.get("*", 0.0))
