"""`bbq cost`: tokens and US dollars of the uploads that ended, per model, and in all."""

import argparse
from typing import Any

from bbq_local.commands.stack import EXIT_OK, add_stack_arguments, find, print_json, status_query


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("cost", help="tokens and cost of the uploads that ended, per model")
    add_stack_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    stack = find(args)
    per_model: dict[str, dict[str, Any]] = {}
    for file in status_query(stack).files():
        if not file.results_uri:
            continue
        row = per_model.setdefault(
            file.model_id,
            {
                "model": file.model_id,
                "files": 0,
                "records": 0,
                "inputTokens": 0,
                "outputTokens": 0,
                "costUsd": 0.0,
                "unpriced": 0,
            },
        )
        row["files"] += 1
        row["records"] += file.counts.succeeded
        row["inputTokens"] += file.input_tokens
        row["outputTokens"] += file.output_tokens
        if file.cost_usd is not None:
            row["costUsd"] += file.cost_usd
        else:
            row["unpriced"] += 1
    rows = sorted(per_model.values(), key=lambda r: r["model"])
    total = {"costUsd": round(sum(r["costUsd"] for r in rows), 6), "files": sum(r["files"] for r in rows)}
    if args.json:
        print_json({"models": rows, "total": total})
        return EXIT_OK
    table = Table(title=f"bbq stack {stack.name}: cost of the uploads that ended (US dollars)")
    for column in ("model", "files", "records", "input tokens", "output tokens", "cost $"):
        table.add_column(column, justify="right" if column != "model" else "left")
    for row in rows:
        cost = f"{row['costUsd']:.4f}" + (f" (+{row['unpriced']} files with no price)" if row["unpriced"] else "")
        table.add_row(
            row["model"],
            str(row["files"]),
            f"{row['records']:,}",
            f"{row['inputTokens']:,}",
            f"{row['outputTokens']:,}",
            cost,
        )
    table.add_row("all", str(total["files"]), "", "", "", f"{total['costUsd']:.4f}")
    Console().print(table)
    return EXIT_OK
