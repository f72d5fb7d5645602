"""Teams: whose an upload is, what share of its model's slots that team gets, and what it may spend (README,
"Teams, budgets and deadlines").

A file belongs to a team: object metadata ``bbq-team``, else the first folder under ``to-process/`` after an
optional model folder (not ``converse/``), else the team ``default``. The stack's ``Teams`` parameter gives a team a
weight and optional budgets; a team it does not list has weight 1 and no budget of its own. Stack-wide budgets cap
every team together."""

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum

DEFAULT_TEAM = "default"
TEAM_METADATA = "bbq-team"
PRIORITY_METADATA = "bbq-priority"
DEADLINE_METADATA = "bbq-deadline"
# A team names a queue in the table's key and a CloudWatch dimension: short, printable, no separator bbq uses.
TEAM_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class Priority(StrEnum):
    """Within a team, high-priority uploads go before normal ones, and normal before low (oldest first in each)."""

    HIGH = "high"
    NORMAL = "normal"
    LOW = "low"


@dataclass(frozen=True)
class TeamPolicy:
    weight: float = 1.0
    daily_budget_usd: float | None = None
    monthly_budget_usd: float | None = None


@dataclass(frozen=True)
class Teams:
    """The ``Teams`` parameter, and the stack's own daily and monthly budgets (None: no cap)."""

    policies: Mapping[str, TeamPolicy] = field(default_factory=dict)
    daily_budget_usd: float | None = None
    monthly_budget_usd: float | None = None

    def policy(self, team: str) -> TeamPolicy:
        return self.policies.get(team, TeamPolicy())

    def weight(self, team: str) -> float:
        return self.policy(team).weight

    @property
    def budgeted(self) -> bool:
        """Whether any budget is set (a stack without one reserves nothing before it submits)."""
        stack = (self.daily_budget_usd, self.monthly_budget_usd)
        teams = (b for p in self.policies.values() for b in (p.daily_budget_usd, p.monthly_budget_usd))
        return any(budget is not None for budget in (*stack, *teams))


_POLICY_KEYS = {"weight", "dailyBudgetUsd", "monthlyBudgetUsd"}


def parse_teams(text: str) -> dict[str, TeamPolicy]:
    """The ``Teams`` parameter: ``{"team-a": {"weight": 2, "dailyBudgetUsd": 50, "monthlyBudgetUsd": 1000}}``. A
    mistake raises ValueError saying what the JSON must be."""
    if not text.strip():
        return {}
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"Teams is not JSON ({exc.msg}); expected {_EXAMPLE}") from None
    if not isinstance(raw, dict):
        raise ValueError(f"Teams must be a JSON object of teams; expected {_EXAMPLE}")
    policies = {}
    for team, spec in raw.items():
        if not TEAM_NAME.match(team):
            raise ValueError(f"team name {team!r}: {NAME_RULE}")
        if not isinstance(spec, dict) or not spec.keys() <= _POLICY_KEYS:
            raise ValueError(f"team {team!r}: an object of {', '.join(sorted(_POLICY_KEYS))}; expected {_EXAMPLE}")
        weight = _number(team, "weight", spec.get("weight", 1), positive=True)
        policies[team] = TeamPolicy(
            weight=weight,
            daily_budget_usd=_budget(team, "dailyBudgetUsd", spec.get("dailyBudgetUsd")),
            monthly_budget_usd=_budget(team, "monthlyBudgetUsd", spec.get("monthlyBudgetUsd")),
        )
    return policies


NAME_RULE = "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"
_EXAMPLE = '{"team-a": {"weight": 2, "dailyBudgetUsd": 50, "monthlyBudgetUsd": 1000}}'


def _budget(team: str, name: str, value: object) -> float | None:
    return None if value is None else _number(team, name, value, positive=False)


def _number(team: str, name: str, value: object, *, positive: bool) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"team {team!r}: {name} must be a number, not {value!r}")
    if value < 0 or (positive and value == 0):
        raise ValueError(f"team {team!r}: {name} must be {'above' if positive else 'at least'} 0, not {value!r}")
    return float(value)


def parse_budget(raw: str) -> float | None:
    """A stack-wide budget parameter (DailyBudgetUsd, MonthlyBudgetUsd) in US dollars; "" for none."""
    if not raw.strip():
        return None
    try:
        value = float(raw)
    except ValueError:
        raise ValueError("not a number of US dollars (or empty for no budget)") from None
    if not value >= 0 or value == float("inf"):
        raise ValueError("a budget is 0 or more US dollars")
    return value


def priority_of(metadata: Mapping[str, str]) -> Priority:
    """``bbq-priority`` metadata (high, normal or low); ValueError naming the choices for anything else."""
    raw = metadata.get(PRIORITY_METADATA)
    if raw is None:
        return Priority.NORMAL
    try:
        return Priority(raw.strip().lower())
    except ValueError:
        raise ValueError(f"{PRIORITY_METADATA} metadata is {raw!r}; use high, normal or low") from None


def deadline_of(metadata: Mapping[str, str]) -> datetime | None:
    """``bbq-deadline`` metadata: an ISO 8601 time (``2026-12-05T09:00:00Z``; one without an offset is UTC)."""
    raw = metadata.get(DEADLINE_METADATA)
    if raw is None or not raw.strip():
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace("z", "Z"))
    except ValueError:
        raise ValueError(
            f"{DEADLINE_METADATA} metadata is {raw!r}; use an ISO 8601 time such as 2026-12-05T09:00:00Z"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
