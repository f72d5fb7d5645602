"""What the core needs to know about the deployment, already parsed and validated."""

from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum

from bbq.core.model.limits import SplitPolicy
from bbq.core.model.prices import DEFAULT as DEFAULT_PRICES
from bbq.core.model.prices import PriceTable
from bbq.core.model.teams import Teams


class RejectedLines(StrEnum):
    """What happens to a file some of whose lines are refused."""

    RUN_VALID = "run-valid"  # its valid lines run; the report lists the others (the default)
    REJECT_FILE = "reject-file"  # nothing of it runs until a corrected file is uploaded


class SmallWork(StrEnum):
    """What happens to a model's waiting records that stay under Bedrock's minimum per job for longer than
    ``PipelineConfig.companion_wait`` (no other upload came to pack them with)."""

    WAIT = "wait"  # keep waiting for more uploads (the default)
    FAIL = "fail"  # fail the files, saying how many more records would let them run
    ON_DEMAND = "on-demand"  # run them one by one through InvokeModel or Converse, at the on-demand price


@dataclass(frozen=True)
class PipelineConfig:
    default_model_id: str
    role_arn: str
    job_name_prefix: str
    allowed_models: tuple[str, ...] = ()  # the default model is always allowed
    timeout_hours: int = 72
    max_attempts: int = 3  # submissions of a job's parts when Bedrock fails or expires the job
    split: SplitPolicy = field(default_factory=SplitPolicy)
    rejected_lines: RejectedLines = RejectedLines.RUN_VALID
    small_work: SmallWork = SmallWork.WAIT
    companion_wait: timedelta = timedelta(hours=1)
    stuck_after: timedelta = timedelta(hours=24)  # work waiting longer is surfaced (log, metric, file message)
    prices: PriceTable = DEFAULT_PRICES
    teams: Teams = field(default_factory=Teams)  # weights and budgets (the Teams, *BudgetUsd parameters)

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.default_model_id, *self.allowed_models)))
