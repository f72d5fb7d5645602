"""What a stack spends, as people see it (``bbq cost``, ``Client.costs()``): the uploads that ended per team and
model, each budget line of today and this month (spent, reserved for jobs running, limit, room, reset), and with
``forecast`` what the queued work will cost at the batch price (``model.budgets``'s estimate). One definition for
the CLI and the SDK."""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from bbq.core.model import budgets
from bbq.core.model.budgets import Spend
from bbq.core.model.files import InputFile
from bbq.core.model.prices import PriceTable
from bbq.core.model.states import JobStatus
from bbq.core.model.teams import Teams, parse_budget, parse_teams
from bbq_sdk.stacks import StackInfo


def report(info: StackInfo, query: Any, now: datetime, with_forecast: bool = False) -> dict[str, Any]:
    """``bbq cost --json`` and ``Client.costs()``: ``ended`` per team and model, ``budgets`` (today's and this
    month's lines), ``total``, and with ``with_forecast`` the queued work's ``forecast``."""
    files = list(query.files())
    teams_config = stack_teams(info)
    teams = sorted({f.team for f in files} | set(teams_config.policies) | {"default"})
    ended = ended_costs(files)
    result: dict[str, Any] = {
        "ended": ended,
        "budgets": budget_lines(teams, teams_config, query, now),
        "total": {"costUsd": round(sum(r["costUsd"] for r in ended), 6), "files": sum(r["files"] for r in ended)},
    }
    if with_forecast:
        models = sorted({f.model_id for f in files if f.model_id} | set(info.models()))
        result["forecast"] = forecast(models, query, stack_prices(info))
    return result


def stack_teams(info: StackInfo) -> Teams:
    """The stack's Teams, DailyBudgetUsd and MonthlyBudgetUsd parameters as the scheduler reads them."""
    p = info.parameters
    return Teams(
        parse_teams(p.get("Teams", "")),
        parse_budget(p.get("DailyBudgetUsd", "")),
        parse_budget(p.get("MonthlyBudgetUsd", "")),
    )


def stack_prices(info: StackInfo) -> PriceTable:
    """The stack's ModelPrices merged over bbq's table, as its functions price."""
    return PriceTable.with_overrides(info.parameters.get("ModelPrices", ""))


def ended_costs(files: Iterable[InputFile]) -> list[dict[str, Any]]:
    """Per team and model, the uploads that ended: files, records that succeeded, tokens and US dollars."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for file in files:
        if not file.results_uri:
            continue
        row = rows.setdefault(
            (file.team, file.model_id),
            {"team": file.team, "model": file.model_id, "files": 0, "records": 0, "inputTokens": 0,
             "outputTokens": 0, "costUsd": 0.0, "unpriced": 0},
        )  # fmt: skip
        row["files"] += 1
        row["records"] += file.counts.succeeded
        row["inputTokens"] += file.input_tokens
        row["outputTokens"] += file.output_tokens
        if file.cost_usd is not None:
            row["costUsd"] = round(row["costUsd"] + file.cost_usd, 6)
        else:
            row["unpriced"] += 1
    return [rows[key] for key in sorted(rows)]


def budget_lines(teams: Iterable[str], config: Teams, query: Any, now: datetime) -> list[dict[str, Any]]:
    """Today's and this month's line of each team and of the stack, with what is spent, reserved and left."""
    lines = {line.key: line for team in teams for line in budgets.lines_for(team, config, now)}
    spends = query.spends(list(lines))
    rows = []
    for key, line in sorted(lines.items(), key=lambda kv: (kv[1].owner == budgets.STACK, kv[0])):
        spend = spends.get(key, Spend())
        if line.limit_usd is None and not spend.committed:
            continue  # a line with no budget and no spend says nothing
        rows.append(
            {
                "owner": line.owner,
                "period": line.period.value,
                "line": key,
                "spentUsd": round(spend.spent, 6),
                "reservedUsd": round(spend.reserved, 6),
                "budgetUsd": line.limit_usd,
                "remainingUsd": None if line.limit_usd is None else round(line.limit_usd - spend.committed, 6),
                "usedPercent": None if not line.limit_usd else round(100 * spend.committed / line.limit_usd, 1),
                "resetsAt": line.resets_at.isoformat(),
            }
        )
    return rows


def forecast(models: Iterable[str], query: Any, prices: PriceTable) -> list[dict[str, Any]]:
    """Per team and model, what the work still queued will cost at the batch price: waiting parts and planned
    jobs not yet reserved, priced as the scheduler reserves them (staged bytes, the model's tokens per byte)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for model in models:
        per_byte = budgets.calibration(*query.model_tokens(model))

        def add(team: str, records: int, size_bytes: int, model: str = model, per_byte: Any = per_byte) -> None:
            row = rows.setdefault((team, model), {"team": team, "model": model, "records": 0, "estimatedUsd": 0.0})
            row["records"] += records
            cost = budgets.estimate_cost(model, size_bytes, prices, per_byte)
            row["estimatedUsd"] = round(row["estimatedUsd"] + cost, 6)

        for part in query.waiting_parts(model):
            add(part.team, part.record_count, part.size_bytes)
        for job in query.jobs_in_flight(model):
            if job.status == JobStatus.PENDING and job.budget_at is None:
                share = budgets.split_by_team(1.0, job.team_records or {"default": job.record_count})
                for team, fraction in share.items():
                    add(team, round(job.record_count * fraction), round(job.size_bytes * fraction))
    return [rows[key] for key in sorted(rows)]
