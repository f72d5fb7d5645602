"""Bedrock's batch API as botocore's service model states it: job statuses, error statuses and every request
constraint (required members, lengths, ranges, enums, patterns), read from the model rather than copied, so
the emulator refuses what Bedrock refuses. Nothing here comes from bbq: the emulator is bbq's test oracle."""

import re
from collections.abc import Iterator
from enum import StrEnum
from functools import cache
from typing import Any

import botocore.session

SERVICE = botocore.session.get_session().get_service_model("bedrock")
OPERATIONS = (
    "CreateModelInvocationJob",
    "GetModelInvocationJob",
    "ListModelInvocationJobs",
    "StopModelInvocationJob",
)
ERROR_STATUS: dict[str, int] = {
    shape.name: shape.metadata["error"]["httpStatusCode"]
    for name in OPERATIONS
    for shape in SERVICE.operation_model(name).error_shapes
}

# The errors a record can meet when Bedrock runs it (InvokeModel's and Converse's), with the HTTP status that a batch
# output's error line carries as its errorCode.
RUNTIME = botocore.session.get_session().get_service_model("bedrock-runtime")
RECORD_ERROR_STATUS: dict[str, int] = {
    shape.name: shape.metadata["error"]["httpStatusCode"]
    for name in ("InvokeModel", "Converse")
    for shape in RUNTIME.operation_model(name).error_shapes
}

# bedrock-runtime's ServiceTierType: the tiers InvokeModel (a header) and Converse (serviceTier.type) take.
SERVICE_TIERS: tuple[str, ...] = tuple(getattr(RUNTIME.shape_for("ServiceTierType"), "enum", ()))


class ApiError(Exception):
    """An error the service answers with; ``code`` is the botocore error shape name."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Status(StrEnum):
    """ModelInvocationJobStatus; checked against the model below so a new status cannot slip by unnoticed."""

    SUBMITTED = "Submitted"
    VALIDATING = "Validating"
    SCHEDULED = "Scheduled"
    IN_PROGRESS = "InProgress"
    STOPPING = "Stopping"
    COMPLETED = "Completed"
    PARTIALLY_COMPLETED = "PartiallyCompleted"
    FAILED = "Failed"
    STOPPED = "Stopped"
    EXPIRED = "Expired"


_MODEL_STATUSES = set(SERVICE.shape_for("ModelInvocationJobStatus").enum)  # type: ignore[attr-defined]
if {s.value for s in Status} != _MODEL_STATUSES:
    raise ImportError(f"botocore's ModelInvocationJobStatus changed: {sorted(_MODEL_STATUSES)}")

# The quota counts "in-progress and submitted" jobs; Bedrock's quota documentation lists these statuses.
SLOT_HOLDING = frozenset({Status.SUBMITTED, Status.VALIDATING, Status.SCHEDULED, Status.IN_PROGRESS, Status.STOPPING})
TERMINAL = frozenset(Status) - SLOT_HOLDING


@cache
def pattern(shape_name: str) -> re.Pattern[str]:
    """A shape's pattern, anchored as AWS applies it (the whole value must match)."""
    return re.compile(SERVICE.shape_for(shape_name).metadata["pattern"])


def validate(operation: str, params: dict[str, Any]) -> None:
    """Raises ValidationException listing every constraint of the operation's input shape that ``params`` breaks,
    in the form AWS answers with ("2 validation errors detected: Value ... at 'a.b' failed to satisfy ...")."""
    problems = list(_check(SERVICE.operation_model(operation).input_shape, params, ""))
    if problems:
        count = len(problems)
        raise ApiError(
            "ValidationException",
            f"{count} validation error{'s' if count > 1 else ''} detected: " + "; ".join(problems),
        )


def _check(shape: Any, value: Any, path: str) -> Iterator[str]:
    kind = shape.type_name
    if kind == "structure":
        if not isinstance(value, dict):
            yield _problem(value, path, "Member must be an object")
            return
        for name, member in shape.members.items():
            where = f"{path}.{name}" if path else name
            if value.get(name) is None:
                if name in shape.required_members:
                    yield f"Value null at '{where}' failed to satisfy constraint: Member must not be null"
                continue
            yield from _check(member, value[name], where)
        return
    if kind == "list":
        if not isinstance(value, list):
            yield _problem(value, path, "Member must be a list")
            return
        yield from _bounds(len(value), shape, value, path, "length")
        for index, item in enumerate(value):
            yield from _check(shape.member, item, f"{path}.{index + 1}.member")
        return
    if kind in {"integer", "long"}:
        if not isinstance(value, int) or isinstance(value, bool):
            yield _problem(value, path, "Member must be a number")
            return
        yield from _bounds(value, shape, value, path, "value")
        return
    if kind == "string":
        if not isinstance(value, str):
            yield _problem(value, path, "Member must be a string")
            return
        yield from _bounds(len(value), shape, value, path, "length")
        if shape.enum and value not in shape.enum:
            yield _problem(value, path, f"Member must satisfy enum value set: [{', '.join(shape.enum)}]")
        if "pattern" in shape.metadata and not pattern(shape.name).fullmatch(value):
            yield _problem(value, path, f"Member must satisfy regular expression pattern: {shape.metadata['pattern']}")


def _bounds(measure: int, shape: Any, value: Any, path: str, what: str) -> Iterator[str]:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and measure < low:
        yield _problem(value, path, f"Member must have {what} greater than or equal to {low}")
    if high is not None and measure > high:
        yield _problem(value, path, f"Member must have {what} less than or equal to {high}")


def _problem(value: Any, path: str, constraint: str) -> str:
    shown = value if isinstance(value, str | int) else type(value).__name__
    return f"Value '{shown}' at '{path}' failed to satisfy constraint: {constraint}"
