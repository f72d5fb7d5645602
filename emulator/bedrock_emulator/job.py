"""One emulated batch job: its request, where it is in its lifecycle, its input and its results."""

import posixpath
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bedrock_emulator import models
from bedrock_emulator.api import Status
from bedrock_emulator.limits import ModelLimits, Timing


@dataclass(frozen=True)
class RecordResult:
    file_index: int
    line: dict[str, Any] | None  # None: the record goes missing from the output (injected fault)
    input_tokens: int = 0
    output_tokens: int = 0


def tally(results: list[RecordResult]) -> tuple[int, int, int]:
    """processed, success and error counts of these results (records that went missing count for nothing)."""
    written = [r.line for r in results if r.line is not None]
    errors = sum(1 for line in written if "error" in line)
    return len(written), len(written) - errors, errors


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
    status: Status = Status.SUBMITTED
    message: str | None = None
    last_modified: datetime | None = None
    end_time: datetime | None = None
    due: datetime | None = None  # when the current phase ends
    started: datetime | None = None  # when InProgress began
    stopped_after: int = 0  # records done when a stop was asked for
    files: list[InputFile] = field(default_factory=list)
    results: list[RecordResult] = field(default_factory=list)  # decided when InProgress begins
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
        if self.status != Status.IN_PROGRESS:
            return self.processed, self.success, self.error
        return tally(self.results[: self.records_done_by(now)])

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
