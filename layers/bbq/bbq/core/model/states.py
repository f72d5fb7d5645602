"""Job statuses: Bedrock's own enum plus bbq's queue-side Pending."""

from enum import StrEnum


class JobStatus(StrEnum):
    PENDING = "Pending"  # bbq: accepted, waiting for a free slot
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


# Statuses that hold one of the model's concurrent-job slots in Bedrock.
ACTIVE = frozenset(
    {JobStatus.SUBMITTED, JobStatus.VALIDATING, JobStatus.SCHEDULED, JobStatus.IN_PROGRESS, JobStatus.STOPPING}
)
BEDROCK_TERMINAL = frozenset(
    {JobStatus.COMPLETED, JobStatus.PARTIALLY_COMPLETED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.EXPIRED}
)
TERMINAL = BEDROCK_TERMINAL
# What GetModelInvocationJob can report.
BEDROCK_STATUSES = ACTIVE | BEDROCK_TERMINAL


def is_terminal(status: str) -> bool:
    return status in TERMINAL
