"""`bbq status`: every upload with a progress bar, rate and ETA; each model's queue, slots and time to drain."""

import argparse
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Group

from bbq_local.commands.stack import EXIT_OK, Stack, add_stack_arguments, find, newest_upload, print_json, status_query


def positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 0.5 <= seconds <= 86_400:
        raise argparse.ArgumentTypeError(f"{text} s: give a number of seconds from 0.5 to 86400")
    return seconds


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "status", help="uploads with their progress; each model's queue, slots and time to drain"
    )
    add_stack_arguments(parser)
    parser.add_argument("file", nargs="?", metavar="FILE", help="one upload (its key under to-process/): with its jobs")
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
    from bbq import wiring
    from bbq.core.model.files import FILE_FINAL, FileStatus

    query = status_query(stack)
    if getattr(args, "file", None):
        files = [newest_upload(stack, args.file)]
    else:
        files = [
            file
            for file in query.files(FileStatus(args.status) if args.status else None)
            if not args.model or args.model in file.model_id
        ]
    files.sort(key=lambda f: (f.created_at, f.key))
    now = wiring.clock().now()  # wall time; the local stack's own clock when it runs in this process
    from bbq_sdk.views import file_view, model_progresses, model_view

    names = [*stack.models(), *(f.model_id for f in files if f.status not in FILE_FINAL)]
    progresses = model_progresses([m for m in names if not args.model or args.model in m], query, now)
    if args.model:  # the ledger's own models too
        progresses = {m: p for m, p in progresses.items() if args.model in m}
    with_jobs = bool(getattr(args, "file", None))
    rows = [file_view(f, query, now, with_jobs, progresses) for f in files]
    models = [model_view(p) for p in progresses.values()]
    return {"stack": stack.name, "files": rows, "models": models}


def render(view: dict[str, Any]) -> "Group":
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table

    files = Table(title=f"bbq stack {view['stack']}: {len(view['files'])} uploads", expand=True)
    columns = ("upload", "model", "status", "progress", "done / records", "rate, ETA", "failed", "cost $", "message")
    for column in columns:
        files.add_column(column, overflow="fold")  # wrapped, never cut
    for row in view["files"]:
        cost, estimate = row["costUsd"], row["estimatedInputCostUsd"]
        spent = f"{cost:.4f}" if isinstance(cost, int | float) else f"~{estimate:.4f} in" if estimate else "-"
        pace = f"{row['recordsPerMinute']:,.0f}/min, {row['eta'][11:16]} UTC" if row["eta"] else "-"
        files.add_row(
            row["key"].removeprefix("to-process/"),
            row["model"].split("/")[-1],
            row["status"],
            ProgressBar(total=max(row["records"], 1), completed=row["done"], width=20),
            f"{row['done']:,} / {row['records']:,} ({row['percent']:.0f}%)",
            pace,
            str(row["failed"]),
            spent,
            row["message"],
        )
    tables: list[Any] = [files]
    for row in view["files"]:
        if "jobs" in row:  # bbq status FILE: the Bedrock jobs that carry its records
            jobs = Table(title=f"jobs of {row['key'].removeprefix('to-process/')}")
            for column in ("job", "status", "attempt", "records", "processed", "message"):
                jobs.add_column(column, overflow="fold")
            for job in row["jobs"]:
                processed = "-" if job["processed"] is None else f"{job['processed']:,}"
                on_demand = " (on demand)" if job["onDemand"] else ""
                jobs.add_row(
                    job["jobId"], job["status"] + on_demand, str(job["attempt"]), f"{job['records']:,}", processed,
                    job["message"],
                )  # fmt: skip
            tables.append(jobs)
    models = Table(title="models: waiting records, jobs, slots and time to drain at the measured rate")
    for column in ("model", "waiting records", "jobs running (pending)", "slots in use / limit", "rate, drained by"):
        models.add_column(column, overflow="fold")
    for model in view["models"]:
        limit = "-" if model["slotLimit"] is None else str(model["slotLimit"])
        drain = f"{model['recordsPerMinute']:,.0f}/min, {model['drainEta'][:16]} UTC" if model["drainEta"] else "-"
        models.add_row(
            model["model"],
            f"{model['waitingRecords']:,} in {model['waitingParts']:,} parts",
            f"{model['runningJobs']} ({model['pendingJobs']})",
            f"{model['slotsInUse']} / {limit}",
            drain,
        )
    return Group(*tables, models)
