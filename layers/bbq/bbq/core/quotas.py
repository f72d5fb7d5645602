"""Per-model concurrent-job quotas."""

from collections.abc import Mapping


class FixedQuotas:
    """A configured quota per model with a default; the fallback when Service Quotas cannot be read."""

    def __init__(self, default: int, per_model: Mapping[str, int] | None = None) -> None:
        if default < 1:
            raise ValueError("the concurrent-job quota must be at least 1")
        self._default = default
        self._per_model = dict(per_model or {})

    def concurrent_jobs(self, model_id: str) -> int:
        return self._per_model.get(model_id, self._default)
