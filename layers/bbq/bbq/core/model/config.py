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


# Of the scheduler's 15 minutes, what a run spends on on-demand records at most (planning and submitting the rest).
ON_DEMAND_MINUTES_PER_RUN = 10


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
    # Deadlines: records a scheduler run gets through on demand per minute (one at a time, the model's on-demand
    # latency), and the models whose on-demand work goes on Bedrock's flex service tier.
    on_demand_records_per_minute: int = 60
    flex_models: tuple[str, ...] = ()

    @property
    def deadline_part_records(self) -> int:
        """A deadline upload is cut into parts one run can take on demand, should its deadline need it."""
        return max(1, self.on_demand_records_per_minute * ON_DEMAND_MINUTES_PER_RUN)

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys((self.default_model_id, *self.allowed_models)))
