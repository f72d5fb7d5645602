"""Slot arithmetic: how many jobs each model may start now under its concurrent-job quota."""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from bbq.core.jobs import Job


def free_slots(quota: int, active: int) -> int:
    return max(0, quota - active)


def active_per_model(active_jobs: Iterable[Job]) -> Counter[str]:
    return Counter(job.model_id for job in active_jobs)


def plan_submissions(
    pending: Sequence[Job], active_counts: Mapping[str, int], quota_for: Mapping[str, int]
) -> dict[str, list[Job]]:
    """The oldest Pending jobs of each model that fit in its free slots, oldest first."""
    plan: dict[str, list[Job]] = {}
    for job in sorted(pending, key=lambda j: (j.created_at, j.job_id)):
        chosen = plan.setdefault(job.model_id, [])
        if len(chosen) < free_slots(quota_for[job.model_id], active_counts.get(job.model_id, 0)):
            chosen.append(job)
    return {model: jobs for model, jobs in plan.items() if jobs}
