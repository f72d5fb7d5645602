"""Budgets that hold: what a job is expected to cost, the budget lines it is charged to, and how much a team may
still commit. Pure: the store keeps each line's committed dollars (spent + reserved) and enforces the limit with
one conditional transaction per job (``ports.Budgets``).

A job's cost is reserved before it is submitted, split between its teams by their records, against each team's
daily and monthly line and the stack's; when the job settles the reservation is replaced by what its records
actually cost. So spend passes a budget only by the error of the estimates still reserved, never by a job that
was not reserved. The estimate (README, "Teams, budgets and deadlines") is calibrated per model: its settled jobs'
input and output tokens per staged byte, times the job's staged bytes; before the model settled one, the staged
bytes over ``BYTES_PER_TOKEN`` as input tokens and ``DEFAULT_OUTPUT_RATIO`` times as many output tokens."""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum

from bbq.core.model.prices import BYTES_PER_TOKEN, PriceTable
from bbq.core.model.teams import Teams

# Before any job of the model settled: as many output tokens as input (answers as long as their prompts). Output
# costs 4-5x input per token, so this errs high for classification and extraction, low for long generation.
DEFAULT_OUTPUT_RATIO = 1.0
STACK = "stack"  # the line every team's spend is charged to as well


class Period(Enum):
    DAY = "day"
    MONTH = "month"


@dataclass(frozen=True)
class BudgetLine:
    """One budget a job is charged to: a team's or the stack's, for the day or month of its reservation."""

    owner: str  # a team, or STACK
    period: Period
    starts: datetime  # 00:00 UTC of the day, or of the 1st
    limit_usd: float | None  # None: counted, never refused

    @property
    def key(self) -> str:
        stamp = self.starts.strftime("%Y-%m-%d" if self.period == Period.DAY else "%Y-%m")
        return f"{self.owner}#{self.period.value}#{stamp}"

    @property
    def resets_at(self) -> datetime:
        if self.period == Period.DAY:
            return self.starts + timedelta(days=1)
        year, month = divmod(self.starts.month, 12)
        return self.starts.replace(year=self.starts.year + year, month=month + 1)

    def describe(self) -> str:
        who = "the stack" if self.owner == STACK else f"team {self.owner}"
        when = "today" if self.period == Period.DAY else "this month"
        return f"{who} {when}"


@dataclass(frozen=True)
class Spend:
    """A line's dollars: spent by settled jobs, and reserved for jobs not settled yet."""

    spent: float = 0.0
    reserved: float = 0.0

    @property
    def committed(self) -> float:
        return self.spent + self.reserved


def lines_for(team: str, teams: Teams, at: datetime) -> list[BudgetLine]:
    """The team's daily and monthly lines and the stack's, for the moment ``at`` (UTC)."""
    day = at.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    month = day.replace(day=1)
    policy = teams.policy(team)
    return [
        BudgetLine(team, Period.DAY, day, policy.daily_budget_usd),
        BudgetLine(team, Period.MONTH, month, policy.monthly_budget_usd),
        BudgetLine(STACK, Period.DAY, day, teams.daily_budget_usd),
        BudgetLine(STACK, Period.MONTH, month, teams.monthly_budget_usd),
    ]


def room(lines: Iterable[BudgetLine], spends: Mapping[str, Spend]) -> float:
    """What may still be committed under every limited line (infinite when none is limited)."""
    left = [line.limit_usd - spends.get(line.key, Spend()).committed for line in lines if line.limit_usd is not None]
    return max(0.0, min(left)) if left else math.inf


def holding_line(charges: Mapping[BudgetLine, float], spends: Mapping[str, Spend]) -> BudgetLine:
    """Of the limited lines charged, the first these charges take past its limit (else the first limited one)."""
    limited = [line for line in charges if line.limit_usd is not None]
    over = (ln for ln in limited if spends.get(ln.key, Spend()).committed + charges[ln] > (ln.limit_usd or 0.0))
    return next(over, limited[0])


@dataclass(frozen=True)
class Calibration:
    """A model's tokens per staged byte, from its settled jobs (input and output)."""

    input_per_byte: float = 1 / BYTES_PER_TOKEN
    output_per_byte: float = DEFAULT_OUTPUT_RATIO / BYTES_PER_TOKEN


def calibration(input_tokens: int, output_tokens: int, staged_bytes: int) -> Calibration:
    """From the model's settled jobs' totals; the default before any (staged bytes / 4 in, as many out)."""
    if staged_bytes <= 0 or input_tokens <= 0:
        return Calibration()
    return Calibration(input_tokens / staged_bytes, output_tokens / staged_bytes)


def estimate_cost(
    model_id: str, size_bytes: int, prices: PriceTable, tokens_per_byte: Calibration, max_output_tokens: int = 0
) -> float:
    """A job's (or a part's) expected batch cost in US dollars from its staged bytes, its output capped by what its
    requests allow (``max_output_tokens``, 0 when unknown); 0 for a model bbq has no price for (its work is counted
    but never held back: ModelPrices gives it one)."""
    used_in = round(size_bytes * tokens_per_byte.input_per_byte)
    used_out = round(size_bytes * tokens_per_byte.output_per_byte)
    if max_output_tokens > 0:
        used_out = min(used_out, max_output_tokens)
    return prices.cost(model_id, used_in, used_out) or 0.0


def split_by_team(total: float, team_records: Mapping[str, int]) -> dict[str, float]:
    """A job's dollars shared between its teams in proportion to their records."""
    records = sum(team_records.values())
    if not records:
        return {}
    return {team: total * count / records for team, count in team_records.items()}


def charges(per_team: Mapping[str, float], teams: Teams, at: datetime) -> dict[BudgetLine, float]:
    """Each line's share of a job's dollars: every team's own lines, and the stack's lines for the whole."""
    charged: dict[BudgetLine, float] = {}
    for team, dollars in per_team.items():
        for line in lines_for(team, teams, at):
            charged[line] = charged.get(line, 0.0) + dollars
    # To the microdollar, as the table keeps them: a reservation taken back is exactly what was added.
    return {line: round(dollars, 6) for line, dollars in charged.items()}


def waiting_message(line: BudgetLine, spend: Spend, needed: float) -> str:
    limit = line.limit_usd or 0.0
    resets = "00:00 UTC" if line.period == Period.DAY else f"{line.resets_at:%Y-%m-%d} 00:00 UTC"
    return (
        f"Waiting for budget: {line.describe()} has committed {usd(spend.committed)} of {usd(limit)} "
        f"({usd(spend.spent)} spent, {usd(spend.reserved)} reserved for jobs running); the next job needs about "
        f"{usd(needed)}. It resumes at {resets} or when the budget is raised (Teams, DailyBudgetUsd, "
        "MonthlyBudgetUsd). Nothing is lost."
    )


def usd(dollars: float) -> str:
    """Cents, or to the hundredth of a cent under a dollar (a small budget's figures must add up on the page)."""
    return f"${dollars:,.2f}" if abs(dollars) >= 1 or dollars == 0 else f"${dollars:.4f}"
