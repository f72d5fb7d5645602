"""What Bedrock allows per model, and how bbq cuts files to fit.

The figures come from Service Quotas (matched by quota name, see ``adapters/service_quotas.py``), with the
template's parameters as the fallback; nothing here is a default of its own.
"""

from dataclasses import dataclass, replace
from typing import Self


@dataclass(frozen=True)
class ModelLimits:
    concurrent_jobs: int  # jobs submitted or running at once
    min_records_per_job: int
    max_records_per_job: int
    max_records_per_file: int  # each staged input file of a job
    max_file_bytes: int  # each staged input file of a job
    max_job_bytes: int  # all of a job's input files together

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if value < 1:
                raise ValueError(f"{name} must be at least 1, not {value}")
        if self.min_records_per_job > self.max_records_per_job:
            raise ValueError("min_records_per_job is above max_records_per_job")

    def with_changes(self, **changes: int) -> Self:
        return replace(self, **changes)


@dataclass(frozen=True)
class SplitPolicy:
    """How ingest cuts an upload into parts (each a staged file) and how small a job's share of a file gets.

    ``part_records`` is the granularity of splitting: a large file is cut into parts of this many records, and
    when a model has free slots and little waiting work the planner spreads parts over more jobs. Smaller parts
    use idle slots sooner and finish a large file faster; larger parts mean fewer, bigger jobs (less per-job
    overhead in Bedrock, fewer table items).
    """

    part_records: int = 5_000
    max_line_bytes: int = 32 * 1024**2
    # Larger uploads are refused before a byte is read: ingest streams an upload once, within Lambda's 15 minutes.
    max_upload_bytes: int = 20 * 1024**3

    def part_limits(self, limits: ModelLimits) -> tuple[int, int]:
        """(records, bytes) a part may hold so that any one part alone fits in a job."""
        records = min(self.part_records, limits.max_records_per_file, limits.max_records_per_job)
        return records, min(limits.max_file_bytes, limits.max_job_bytes)


class FixedLimits:
    """The same limits for every model (or a few overrides): the fallback, and what tests use."""

    def __init__(self, default: ModelLimits, per_model: dict[str, ModelLimits] | None = None) -> None:
        self._default = default
        self._per_model = dict(per_model or {})

    def limits(self, model_id: str) -> ModelLimits:
        return self._per_model.get(model_id, self._default)
