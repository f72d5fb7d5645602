"""Where a file's results join stands, kept in the store between the invocations that carry it out."""

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Self


@dataclass(frozen=True)
class JoinCheckpoint:
    file_id: str
    # Each save adds one, and a save is refused unless the stored one is the step before: two invocations that
    # read the same checkpoint cannot both go on.
    step: int
    holder: str  # the invocation carrying the join out, until lease_until
    lease_until: datetime
    next_chain: int = 0  # chains (a part and its later attempts, in line order) joined and written so far
    totals: dict[str, Any] = field(default_factory=dict)  # what the joined chains added up to
    results: dict[str, Any] = field(default_factory=dict)  # the results writer's state, to resume it
    errors: dict[str, Any] = field(default_factory=dict)  # the errors writer's state
    # Both objects are complete: a retry (the invocation died before the file was saved ended) only ends the file;
    # resuming a writer then would write into an upload S3 has already completed.
    written: bool = False

    def with_changes(self, **changes: object) -> Self:
        return replace(self, **changes)  # type: ignore[arg-type]
