"""Bedrock's per-model quotas and limits, and the pace at which emulated jobs move."""

from dataclasses import dataclass, field, replace
from typing import Any

from bedrock_emulator.models import base_model


@dataclass(frozen=True)
class ModelLimits:
    concurrent_jobs: int = 10  # Submitted + Validating + Scheduled + InProgress + Stopping, per model
    min_records_per_job: int = 100
    max_records_per_job: int = 50_000
    max_records_per_file: int = 50_000
    max_file_bytes: int = 1024**3
    max_job_bytes: int = 5 * 1024**3


@dataclass
class LimitTable:
    default: ModelLimits = field(default_factory=ModelLimits)
    per_model: dict[str, ModelLimits] = field(default_factory=dict)

    def for_model(self, model_id: str) -> ModelLimits:
        """Limits set for this id, else for the model behind it (an ARN or a cross-Region profile), else the default."""
        return self.per_model.get(model_id) or self.per_model.get(base_model(model_id)) or self.default

    def set(self, model_id: str | None, **changes: Any) -> None:
        """Changes the default limits (model_id None) or one model's."""
        if model_id is None:
            self.default = replace(self.default, **changes)
        else:
            self.per_model[model_id] = replace(self.for_model(model_id), **changes)


@dataclass(frozen=True)
class Timing:
    """Simulated seconds each phase lasts (scaled by Faults.slowdown for new jobs)."""

    submitted: float = 30.0
    validating: float = 60.0
    scheduled: float = 60.0
    records_per_second: float = 2.0
    stopping: float = 10.0
