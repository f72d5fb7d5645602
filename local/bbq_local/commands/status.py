"""`bbq status`: every upload with a progress bar, and each model's slots."""

import argparse
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Group

from bbq_local.commands.stack import EXIT_OK, Stack, add_stack_arguments, find, items, print_json, slots_in_use

FINAL = {"Completed", "PartiallyCompleted", "Failed", "Stopped", "Rejected"}


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("status", help="uploads with their progress, and each model's slots")
    add_stack_arguments(parser)
    parser.add_argument("--status", help="only files in this status (Queued, Running, Completed, ...)")
    parser.add_argument("--model", help="only files on this model (a substring of its id)")
    parser.add_argument("--watch", type=float, metavar="SECONDS", help="refresh every SECONDS until Ctrl-C")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.live import Live

    stack = find(args)
    if args.json:
        print_json(snapshot(stack, args))
        return EXIT_OK
    console = Console()
    if not args.watch:
        console.print(render(snapshot(stack, args)))
        return EXIT_OK
    with Live(render(snapshot(stack, args)), console=console, refresh_per_second=1) as live:
        try:
            while True:
                time.sleep(args.watch)
                live.update(render(snapshot(stack, args)))
        except KeyboardInterrupt:
            pass
    return EXIT_OK


def snapshot(stack: Stack, args: argparse.Namespace) -> dict[str, Any]:
    files = [
        file
        for file in items(stack, "file")
        if (not args.status or file["Status"] == args.status)
        and (not args.model or args.model in file.get("ModelId", ""))
    ]
    files.sort(key=lambda f: (f["CreatedAt"], f["SourceKey"]))
    return {"stack": stack.name, "files": [_file_row(f) for f in files], "models": _models(stack)}


def _file_row(file: dict[str, Any]) -> dict[str, Any]:
    records = int(file.get("RecordCount", 0))
    succeeded, failed = int(file.get("RecordsSucceeded", 0)), int(file.get("RecordsFailed", 0))
    stopped = int(file.get("RecordsStopped", 0))
    done = records if file["Status"] in FINAL else succeeded + failed + stopped
    return {
        "key": file["SourceKey"],
        "fileId": file["FileId"],
        "model": file.get("ModelId", ""),
        "status": file["Status"],
        "records": records,
        "done": done,
        "succeeded": succeeded,
        "failed": failed,
        "rejectedLines": int(file.get("RejectedLines", 0)),
        "costUsd": file.get("CostUsd"),
        "message": file.get("Message", ""),
        "results": file.get("ResultsUri"),
    }


def _models(stack: Stack) -> list[dict[str, Any]]:
    """Each model's slots held by bbq (its ledger), and the limit bbq falls back to (`bbq quota` reads the quota)."""
    limit = int(stack.parameters.get("MaxConcurrentJobs", "0") or 0)
    return [{"model": model, "slotsInUse": held, "fallbackLimit": limit} for model, held in slots_in_use(stack).items()]


def render(view: dict[str, Any]) -> "Group":
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table

    files = Table(title=f"bbq stack {view['stack']}: {len(view['files'])} uploads", expand=True)
    for column in ("upload", "model", "status", "progress", "records", "failed", "cost $", "message"):
        files.add_column(column, overflow="fold" if column in {"upload", "message"} else "ellipsis")
    for row in view["files"]:
        cost = row["costUsd"]
        files.add_row(
            row["key"].removeprefix("to-process/"),
            row["model"].split("/")[-1][:28],
            row["status"],
            ProgressBar(total=max(row["records"], 1), completed=row["done"], width=20),
            str(row["records"]),
            str(row["failed"]),
            f"{cost:.4f}" if isinstance(cost, int | float) else "-",
            row["message"][:80],
        )
    models = Table(title="models")
    for column in ("model", "slots in use", "limit (fallback)"):
        models.add_column(column)
    for model in view["models"]:
        models.add_row(model["model"], str(model["slotsInUse"]), str(model["fallbackLimit"]))
    return Group(files, models)
