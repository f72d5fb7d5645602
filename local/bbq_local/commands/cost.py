"""`bbq cost`: what the stack spends per team and model (the uploads that ended), each budget's spend, reservations
and room today and this month, and with ``--forecast`` what the queued work will cost (``bbq_sdk.costs``)."""

import argparse
from typing import Any

from bbq_local.commands.stack import EXIT_OK, add_stack_arguments, find, print_json, status_query


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "cost", help="spend per team and model, budgets (spent, reserved, left) and, with --forecast, queued work"
    )
    add_stack_arguments(parser)
    parser.add_argument("--forecast", action="store_true", help="also what the work still queued will cost")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from bbq_sdk import costs

    stack = find(args)
    report = costs.report(stack, status_query(stack), datetime.now(UTC), with_forecast=args.forecast)
    if args.json:
        print_json(report)
        return EXIT_OK
    _print(stack.name, report)
    return EXIT_OK


def _print(name: str, report: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    ended = Table(title=f"bbq stack {name}: cost of the uploads that ended (US dollars)")
    for column in ("team", "model", "files", "records", "input tokens", "output tokens", "cost $"):
        ended.add_column(column, justify="left" if column in {"team", "model"} else "right", overflow="fold")
    for row in report["ended"]:
        cost = f"{row['costUsd']:.4f}" + (f" (+{row['unpriced']} files with no price)" if row["unpriced"] else "")
        ended.add_row(row["team"], row["model"], str(row["files"]), f"{row['records']:,}",
                      f"{row['inputTokens']:,}", f"{row['outputTokens']:,}", cost)  # fmt: skip
    ended.add_row("all", "", str(report["total"]["files"]), "", "", "", f"{report['total']['costUsd']:.4f}")
    console.print(ended)
    if report["budgets"]:
        table = Table(title="budgets (reserved: jobs submitted or waiting to be, at their estimate)")
        for column in ("budget", "spent $", "reserved $", "budget $", "left $", "used", "resets (UTC)"):
            table.add_column(column, justify="left" if column == "budget" else "right")
        for row in report["budgets"]:
            who = "stack" if row["owner"] == "stack" else f"team {row['owner']}"
            table.add_row(
                f"{who}, {'today' if row['period'] == 'day' else 'this month'}",
                f"{row['spentUsd']:.4f}",
                f"{row['reservedUsd']:.4f}",
                "-" if row["budgetUsd"] is None else f"{row['budgetUsd']:.2f}",
                "-" if row["remainingUsd"] is None else f"{row['remainingUsd']:.4f}",
                "-" if row["usedPercent"] is None else f"{row['usedPercent']}%",
                row["resetsAt"][:16].replace("T", " "),
            )
        console.print(table)
    if "forecast" in report:
        table = Table(
            title="queued work, at the batch price (estimate: staged bytes x the model's settled tokens per byte)"
        )
        for column in ("team", "model", "records", "estimated $"):
            table.add_column(column, justify="left" if column in {"team", "model"} else "right", overflow="fold")
        for row in report["forecast"]:
            table.add_row(row["team"], row["model"], f"{row['records']:,}", f"{row['estimatedUsd']:.4f}")
        console.print(table)
