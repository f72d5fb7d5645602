"""What a submission's answer means for the job and the model's queue, as data: pure, so each refusal's rule is
tested without Bedrock. ``submitting`` applies these."""

from datetime import datetime
from enum import StrEnum

from bbq.core.model import retry
from bbq.core.model.errors import ModelUnavailable, RequestRejected, SlotUnavailable
from bbq.core.model.jobs import Job, JobNote
from bbq.core.model.states import JobStatus

# What to do about each way Bedrock refuses a model for the account: the message every waiting job carries.
WHAT_TO_FIX = {
    ModelUnavailable.ACCESS: "Grant access to the model in the Bedrock console (Model access) in this Region, and "
    "check that the scheduler role may create jobs on it and pass the batch role",
    ModelUnavailable.SUBSCRIPTION: "Complete the model's one-time AWS Marketplace subscription: request access in "
    "the Bedrock console (Model access) as a principal allowed aws-marketplace:Subscribe",
    ModelUnavailable.USE_CASE_FORM: "Submit the Anthropic use-case form in the Bedrock console (Model access); "
    "access follows within about 15 minutes",
    ModelUnavailable.UNKNOWN_MODEL: "Check the model id (the ModelId or AllowedModels parameter, or the upload's "
    "model folder): it must name a model or inference profile that supports batch inference in this Region",
}


class Refusal(StrEnum):
    """What a refused submission does to the rest of the model's queue this run."""

    NO_ROOM = "no room"  # the quota is full in Bedrock's eyes: every job stays Pending, later runs go on in order
    MODEL_PAUSED = "model paused"  # the model is refused for the account: every job waits, saying what to fix
    REJECTED = "rejected"  # this request is refused for good: the job fails, the ones behind it go on
    TRANSIENT = "transient"  # this job waits out a backoff, the ones behind it go on (a few per run)


def refusal(exc: Exception) -> Refusal:
    if isinstance(exc, SlotUnavailable):
        return Refusal.NO_ROOM
    if isinstance(exc, ModelUnavailable):
        return Refusal.MODEL_PAUSED
    if isinstance(exc, RequestRejected):
        return Refusal.REJECTED
    return Refusal.TRANSIENT  # throttled past botocore's retries, a server error, or a surprise


def submitted(job: Job, name: str, arn: str, now: datetime) -> Job:
    return job.with_changes(
        status=JobStatus.SUBMITTED,
        job_name=name,
        job_arn=arn,
        submitted_at=now,
        updated_at=now,
        message="",
        note=None,
        transient_errors=0,
        retry_at=None,
    )


def rejected(job: Job, message: str, now: datetime) -> Job:
    return job.with_changes(status=JobStatus.FAILED, message=message, note=None, updated_at=now, ended_at=now)


def set_aside(job: Job, exc: Exception, now: datetime) -> Job:
    """Waits 1, 2, 4 ... minutes (at most an hour) after each transient failure in a row."""
    errors = job.transient_errors + 1
    wait = retry.backoff(errors)
    return job.with_changes(
        transient_errors=errors,
        retry_at=now + wait,
        updated_at=now,
        note=JobNote.SET_ASIDE,
        message=f"Bedrock answered an error ({exc}); trying again after {wait} (attempt {errors})",
    )


def pause_message(model: str, exc: ModelUnavailable) -> str:
    return (
        f"Waiting: Bedrock refuses model {model} for this account ({exc}). {WHAT_TO_FIX[exc.reason]}. "
        "bbq tries again on every run and resumes by itself."
    )


def paused(job: Job, message: str, now: datetime) -> Job | None:
    """The job marked as waiting for model access; None when it already says this."""
    if job.note == JobNote.MODEL_ACCESS and job.message == message:
        return None
    return job.with_changes(message=message, note=JobNote.MODEL_ACCESS, updated_at=now)
