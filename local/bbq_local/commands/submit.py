"""`bbq submit FILE...`: uploads files under to-process/ (a model's folder with --model), with progress; with
--template, a table (CSV, Parquet, JSON lines) is rendered here into the model's request bodies first, through
the SDK (bbq_sdk.Client.submit). `--dry-run` (and `bbq estimate`) say what it would cost and upload nothing."""

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bbq_sdk.stacks import upload_key, upload_metadata

from bbq.core.model import naming
from bbq_local.commands.stack import EXIT_OK, CommandError, Stack, add_stack_arguments, find, print_json

if TYPE_CHECKING:
    from bbq_sdk import Client


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("submit", help="upload .jsonl files, or tables with a template, for bbq to run")
    add_stack_arguments(parser)
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument("--model", help="a model or inference profile in the stack's AllowedModels")
    parser.add_argument("--converse", action="store_true", help="each line's modelInput is a Converse request")
    parser.add_argument("--prefix", default="", help="a folder under to-process/ to upload into")
    add_template_arguments(parser)
    parser.add_argument("--dry-run", action="store_true", help="print what it would cost; upload nothing")
    parser.add_argument(
        "--force", action="store_true", help="run it even if the same bytes ran under the same key already"
    )
    parser.add_argument("--team", help="the team it belongs to (its share of the slots and the budget it spends)")
    parser.add_argument("--priority", choices=["high", "normal", "low"], help="its place within its team's queue")
    parser.add_argument("--deadline", help="when it must be done by, ISO 8601 (2026-12-05T09:00:00Z): bbq runs "
                        "on demand what batch would finish later")  # fmt: skip
    parser.set_defaults(func=run)
    estimate = commands.add_parser("estimate", help="what running a file would cost, before it runs")
    add_stack_arguments(estimate)
    estimate.add_argument("files", nargs="+", type=Path, metavar="FILE")
    estimate.add_argument("--model", help="a model or inference profile in the stack's AllowedModels")
    estimate.add_argument("--converse", action="store_true", help="render Converse request bodies")
    add_template_arguments(estimate)
    estimate.set_defaults(func=run, dry_run=True, prefix="", force=False, team=None, priority=None, deadline=None)


def add_template_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--template", type=Path, help="a prompt template file: each row of a table becomes a record")
    parser.add_argument("--id-column", help="the column whose value is each record's id (default: the row number)")


def checked(args: argparse.Namespace, stack: Stack) -> list[str]:
    """Every upload's key, or a CommandError saying what to change; nothing is uploaded before all pass."""
    if args.model:
        try:
            stack.model_for(args.model)
        except ValueError as exc:
            raise CommandError(f"--model {exc}") from None
    try:
        args.metadata = upload_metadata(
            force=args.force, team=args.team, priority=args.priority, deadline=args.deadline
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from None
    missing = [str(p) for p in [*args.files, *([args.template] if args.template else [])] if not p.is_file()]
    if missing:
        raise CommandError(f"no such file: {', '.join(missing)}")
    keys = []
    for path in args.files:
        name = f"{path.stem}.jsonl" if args.template else path.name  # a table rendered here goes up as JSONL
        key = upload_key(name, args.model, args.converse, args.prefix)
        if problem := naming.key_problem(key):
            raise CommandError(f"{path} would be uploaded as {key!r}, which bbq never runs: {problem}")
        keys.append(key)
    return keys


def sdk_client(stack: Stack) -> "Client":
    """The SDK on the stack ``find`` found (for --local, ``find`` has pointed the environment at it)."""
    from bbq_sdk import Client

    return Client.for_stack(stack)


def run(args: argparse.Namespace) -> int:
    stack = find(args)
    keys = checked(args, stack)
    if args.dry_run:
        return _estimate(args, stack)
    if args.template:
        return _rendered(args, stack, keys)
    return _raw(args, stack, keys)


def _estimate(args: argparse.Namespace, stack: Stack) -> int:
    from bbq.core.intake.templates import TemplateProblem

    client = sdk_client(stack)
    found = []
    for path in args.files:
        try:
            figures = client.estimate(
                path, model=args.model, template=args.template, id_column=args.id_column, converse=args.converse
            )
        except (TemplateProblem, ValueError) as exc:
            raise CommandError(f"{path}: {exc}") from None
        found.append({"file": str(path), **figures})
    if args.json:
        print_json(found)
        return EXIT_OK
    for item in found:
        batch, on_demand = item["batchUsd"], item["onDemandUsd"]
        print(f"{item['file']}: {item['records']:,} records on {item['model']}")
        print(f"  input: ~{item['estimatedInputTokens']:,} tokens; output: at most {item['maxOutputTokens']:,} tokens")
        if batch["input"] is None:
            print("  cost: no price for this model (set it in the stack's ModelPrices parameter)")
        else:
            print(
                f"  batch: ~${batch['input']:.4f} input + at most ${batch['outputAtMost']:.4f} output "
                f"(on demand: ~${on_demand['input']:.4f} + at most ${on_demand['outputAtMost']:.4f})"
            )
        print(f"  ({item['method']})")
    return EXIT_OK


def _rendered(args: argparse.Namespace, stack: Stack, keys: list[str]) -> int:
    from bbq.core.intake.tables import TableRefused
    from bbq.core.intake.templates import TemplateProblem

    client = sdk_client(stack)
    uploaded = []
    for path, key in zip(args.files, keys, strict=True):
        try:
            submitted = client.submit(
                path, model=args.model, template=args.template, id_column=args.id_column, converse=args.converse,
                name=Path(key).name, prefix=args.prefix, force=args.force, team=args.team, priority=args.priority,
                deadline=args.deadline,
            )  # fmt: skip
        except (TemplateProblem, TableRefused, ValueError) as exc:
            raise CommandError(f"{path}: {exc}") from None
        uploaded.append(
            {"file": str(path), "uri": f"s3://{stack.bucket}/{submitted.key}", "version": submitted.version}
        )
    return _said(args, stack, uploaded)


def _raw(args: argparse.Namespace, stack: Stack, keys: list[str]) -> int:
    import boto3
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    s3 = boto3.client("s3")
    extra = {"Metadata": args.metadata} if args.metadata else None
    uploaded = []
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, disable=args.json) as progress:
        for path, key in zip(args.files, keys, strict=True):
            task = progress.add_task(key.removeprefix("to-process/"), total=path.stat().st_size)
            s3.upload_file(
                str(path), stack.bucket, key, ExtraArgs=extra, Callback=lambda sent, t=task: progress.advance(t, sent)
            )
            version = s3.head_object(Bucket=stack.bucket, Key=key).get("VersionId")
            uploaded.append({"file": str(path), "uri": f"s3://{stack.bucket}/{key}", "version": version})
    return _said(args, stack, uploaded)


def _said(args: argparse.Namespace, stack: Stack, uploaded: list[dict[str, Any]]) -> int:
    if args.json:
        print_json(uploaded)
    else:
        for item in uploaded:
            print(f"uploaded {item['file']} to {item['uri']}")
        print("watch it with: bbq status" + (" --local" if args.local else f" --stack {stack.name}"))
    return EXIT_OK
