"""`bbq status`: every upload with a progress bar, and each model's slots."""

import argparse
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Group

    from bbq.core.model.files import InputFile

from bbq_local.commands.stack import EXIT_OK, Stack, add_stack_arguments, find, print_json, status_query

FINAL = {"Completed", "PartiallyCompleted", "Failed", "Stopped", "Rejected"}


def positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.5 <= seconds <= 86_400:
        raise argparse.ArgumentTypeError(f"{text} s: give a number of seconds from 0.5 to 86400")
    return seconds


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("status", help="uploads with their progress, and each model's slots")
    add_stack_arguments(parser)
    parser.add_argument("--status", help="only files in this status (Queued, Running, Completed, ...)")
    parser.add_argument("--model", help="only files on this model (a substring of its id)")
    parser.add_argument("--watch", type=positive_seconds, metavar="SECONDS", help="refresh every SECONDS until Ctrl-C")
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
    from bbq.core.model.files import FileStatus

    query = status_query(stack)
    files = [
        file
        for file in query.files(FileStatus(args.status) if args.status else None)
        if not args.model or args.model in file.model_id
    ]
    files.sort(key=lambda f: (f.created_at, f.key))
    limit = int(stack.parameters.get("MaxConcurrentJobs", "0") or 0)  # the fallback; `bbq quota` reads the quota
    models = [{"model": m, "slotsInUse": held, "fallbackLimit": limit} for m, held in query.slots_in_use().items()]
    return {"stack": stack.name, "files": [_file_row(f) for f in files], "models": models}


def _file_row(file: "InputFile") -> dict[str, Any]:
    counts = file.counts
    done = file.record_count if file.status.value in FINAL else counts.succeeded + counts.failed + counts.stopped
    return {
        "key": file.key,
        "fileId": file.file_id,
        "model": file.model_id,
        "status": file.status.value,
        "records": file.record_count,
        "done": done,
        "succeeded": counts.succeeded,
        "failed": counts.failed,
        "rejectedLines": file.rejected_lines,
        "costUsd": file.cost_usd,
        "message": file.message,
        "results": file.results_uri,
    }


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
