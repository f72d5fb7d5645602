"""Slot arithmetic: how many jobs each model may start now under its concurrent-job quota."""

from collections import Counter
from collections.abc import Iterable

from bbq.core.jobs import Job


def free_slots(quota: int, active: int) -> int:
    return max(0, quota - active)


def active_per_model(active_jobs: Iterable[Job]) -> Counter[str]:
    return Counter(job.model_id for job in active_jobs)


def queue_by_model(pending: Iterable[Job]) -> dict[str, list[Job]]:
    """Pending jobs per model, oldest first: the order in which they get free slots."""
    queues: dict[str, list[Job]] = {}
    for job in sorted(pending, key=lambda j: (j.created_at, j.job_id)):
        queues.setdefault(job.model_id, []).append(job)
    return queues
