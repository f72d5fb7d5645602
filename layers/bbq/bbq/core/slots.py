"""Per-model views of jobs: what holds each model's slots and the order its queue gets them (the slots
themselves are reserved in the store's ledger)."""

from collections import Counter
from collections.abc import Iterable

from bbq.core.jobs import Job


def active_per_model(active_jobs: Iterable[Job]) -> Counter[str]:
    return Counter(job.model_id for job in active_jobs)


def queue_by_model(pending: Iterable[Job]) -> dict[str, list[Job]]:
    """Pending jobs per model, oldest first: the order in which they get free slots."""
    queues: dict[str, list[Job]] = {}
    for job in sorted(pending, key=lambda j: (j.created_at, j.job_id)):
        queues.setdefault(job.model_id, []).append(job)
    return queues
