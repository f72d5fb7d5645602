"""Budgets in a scheduler run (``model.budgets`` has the rules): what the planner may still take per team, a job's
reservation before it is submitted, and its actual cost when it settles. A stack with no budget set does none
of it."""

import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bbq.core.model import budgets
from bbq.core.model.budgets import BudgetLine, Calibration, Spend
from bbq.core.model.clock import Clock
from bbq.core.model.config import PipelineConfig
from bbq.core.model.files import Part
from bbq.core.model.jobs import Job, JobNote
from bbq.core.model.ports import BudgetReservation, Budgets
from bbq.core.model.prices import BATCH_DISCOUNT
from bbq.core.model.teams import DEFAULT_TEAM

log = logging.getLogger(__name__)

# A job a budget refused waits this long before its next try (a budget raised, or spend settled lower than
# reserved, frees room before any reset).
RECHECK = timedelta(minutes=15)


@dataclass
class Allowance:
    """What the planner may still take this run: per team, the room under its own lines; for all teams together,
    the room under the stack's. A team whose next part does not fit is held (with the line that holds it)."""

    cost: Mapping[str, float]  # per team, dollars still allowed under its own lines
    shared: float  # dollars still allowed under the stack's lines
    price: "PartPrice"
    spends: Mapping[str, Spend]
    lines: Mapping[str, list[BudgetLine]]
    held: dict[str, "Held"] = field(default_factory=dict)
    taken: dict[str, float] = field(default_factory=dict)

    def admit(self, part: Part) -> bool:
        dollars = self.price(part)
        team_total = self.taken.get(part.team, 0.0) + dollars
        all_total = sum(self.taken.values()) + dollars
        if team_total <= self.cost.get(part.team, math.inf) and all_total <= self.shared:
            self.taken[part.team] = team_total
            return True
        # What each of its lines would carry: the team's own this run's total, the stack's all teams'.
        charges = {ln: team_total if ln.owner == part.team else all_total for ln in self.lines[part.team]}
        line = budgets.holding_line(charges, self.spends)
        spend = self.spends.get(line.key, Spend())
        taken = charges[line] - dollars  # this run's jobs, reserved next
        message = budgets.waiting_message(line, Spend(spend.spent, spend.reserved + taken), dollars)
        self.held[part.team] = Held(line, message, part)
        return False


@dataclass(frozen=True)
class Held:
    """A team's queue stopped by a budget this run: the line, what its file is told, and its next part."""

    line: BudgetLine
    message: str
    part: Part


class PartPrice:
    """A part's expected batch cost: the same sum a job's reservation uses, so a plan within its allowance is
    one the reservation takes."""

    def __init__(self, config: PipelineConfig, model_id: str, calibration: Calibration | None = None) -> None:
        self._config, self._model, self._calibration = config, model_id, calibration or Calibration()

    def __call__(self, part: Part) -> float:
        return self.of_bytes(part.size_bytes, part.max_output_tokens)

    def of_bytes(self, size_bytes: int, max_output_tokens: int = 0) -> float:
        return budgets.estimate_cost(self._model, size_bytes, self._config.prices, self._calibration, max_output_tokens)


def budget_keys(teams: Iterable[str], config: PipelineConfig, now: datetime) -> list[str]:
    return [line.key for team in teams for line in budgets.lines_for(team, config.teams, now)]


def allowance(
    teams: Iterable[str], spends: Mapping[str, Spend], config: PipelineConfig, now: datetime, price: PartPrice
) -> Allowance:
    lines = {team: budgets.lines_for(team, config.teams, now) for team in teams}
    own = {
        team: budgets.room([ln for ln in team_lines if ln.owner == team], spends) for team, team_lines in lines.items()
    }
    stack = budgets.room([ln for ln in budgets.lines_for("-", config.teams, now) if ln.owner == budgets.STACK], spends)
    return Allowance(own, stack, price, spends, lines)


def used(teams: Iterable[str], spends: Mapping[str, Spend], config: PipelineConfig, now: datetime) -> dict[str, float]:
    """Each limited line's committed dollars over its limit (1.0 and more: spent; a zero budget is spent)."""
    shares = {}
    for team in teams:
        for line in budgets.lines_for(team, config.teams, now):
            if line.limit_usd is not None:
                committed = spends.get(line.key, Spend()).committed
                shares[line.key] = committed / line.limit_usd if line.limit_usd else 1.0
    return shares


def estimated(job: Job, parts: Iterable[Part], price: PartPrice) -> Job:
    return _priced(job, sum(price(part) for part in parts))


def _priced(job: Job, batch_dollars: float) -> Job:
    """To the microdollar, as the table keeps it: the reservation and its settling split the same number. A job run
    on demand pays the full price: twice the batch price."""
    factor = 1 / BATCH_DISCOUNT if job.on_demand else 1.0
    return job.with_changes(estimated_cost_usd=round(factor * batch_dollars, 6))


def reserve(
    store: Budgets, config: PipelineConfig, clock: Clock, job: Job, price: PartPrice
) -> tuple[Job, BudgetReservation | None]:
    """The job reserved against its lines, with RESERVED; as it was, with None, when nothing is budgeted or it was
    reserved before, or with TAKEN when another run reserved it; or, REFUSED, set aside until RECHECK with a
    message (its ``message``) saying which budget holds it."""
    if not config.teams.budgeted or job.budget_at is not None:
        return job, None
    now = clock.now()
    if job.estimated_cost_usd is None:  # planned before budgets were set: priced from its size
        job = _priced(job, price.of_bytes(job.size_bytes))
    estimate = job.estimated_cost_usd or 0.0
    charges = budgets.charges(budgets.split_by_team(estimate, _teams_of(job)), config.teams, now)
    outcome = store.reserve_budget(job, charges, now)
    if outcome == BudgetReservation.RESERVED:
        return job.with_changes(budget_at=now), outcome
    if outcome == BudgetReservation.TAKEN:
        return job, outcome
    spends = store.spends([line.key for line in charges])
    line = budgets.holding_line(charges, spends)
    message = budgets.waiting_message(line, spends.get(line.key, Spend()), estimate)
    log.warning("job waits for budget", extra={"job_id": job.job_id, "budget": line.key, "estimate_usd": estimate})
    held = job.with_changes(note=JobNote.BUDGET, message=message, retry_at=now + RECHECK, updated_at=now)
    return held, outcome


def settle_spend(store: Budgets, config: PipelineConfig, clock: Clock, job: Job, parts: Iterable[Part]) -> Job:
    """The job's reservation replaced by what its records cost (tokens from its output, at the batch price, or
    on demand for a job run record by record), per team; the job as marked."""
    if not config.teams.budgeted or job.budget_settled:
        return job
    at = job.budget_at or clock.now()
    reserved = (
        budgets.charges(budgets.split_by_team(job.estimated_cost_usd or 0.0, _teams_of(job)), config.teams, at)
        if job.budget_at
        else {}
    )
    tokens = _tokens_by_team(job, parts)
    cost = {
        team: config.prices.cost(job.model_id, used[0], used[1], on_demand=job.on_demand) or 0.0
        for team, used in tokens.items()
    }
    actual = budgets.charges(cost, config.teams, at)
    # The staged bytes its tokens came from: its parts' in this job (what the model's calibration divides by).
    staged = job.size_bytes if job.on_demand else sum(p.size_bytes for p in parts if p.job_id == job.job_id)
    total = (sum(t[0] for t in tokens.values()), sum(t[1] for t in tokens.values()), staged)
    if store.settle_budget(job, reserved, actual, total):
        log.info(
            "job's spend settled",
            extra={"job_id": job.job_id, "estimate_usd": job.estimated_cost_usd, "cost_usd": sum(cost.values())},
        )
    return job.with_changes(budget_settled=True)


def _teams_of(job: Job) -> Mapping[str, int]:
    return job.team_records or {DEFAULT_TEAM: job.record_count}


def _tokens_by_team(job: Job, parts: Iterable[Part]) -> dict[str, tuple[int, int]]:
    if job.on_demand:  # run record by record: the job holds the tokens
        share = budgets.split_by_team(1.0, _teams_of(job))
        return {t: (round((job.input_tokens or 0) * s), round((job.output_tokens or 0) * s)) for t, s in share.items()}
    used: dict[str, tuple[int, int]] = {}
    for part in parts:
        if part.job_id == job.job_id:
            seen = used.get(part.team, (0, 0))
            used[part.team] = (seen[0] + part.input_tokens, seen[1] + part.output_tokens)
    return used
