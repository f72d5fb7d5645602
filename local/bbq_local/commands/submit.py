"""`bbq submit FILE...`: uploads files under to-process/ (a model's folder with --model), with progress."""

import argparse
from pathlib import Path
from typing import Any

from bbq.core.model import naming
from bbq_local.commands.stack import EXIT_OK, CommandError, Stack, add_stack_arguments, find, print_json


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("submit", help="upload .jsonl files for bbq to run")
    add_stack_arguments(parser)
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE")
    parser.add_argument("--model", help="a model or inference profile in the stack's AllowedModels")
    parser.add_argument("--converse", action="store_true", help="each line's modelInput is a Converse request")
    parser.add_argument("--prefix", default="", help="a folder under to-process/ to upload into")
    parser.set_defaults(func=run)


def key_for(path: Path, model: str | None, converse: bool, prefix: str) -> str:
    folders = [f for f in (model, "converse" if converse else None, prefix.strip("/") or None) if f]
    return "/".join(["to-process", *folders, path.name])


def stack_models(stack: Stack) -> list[str]:
    """The models the stack runs, as its parameters name them: ModelId, then each of AllowedModels."""
    allowed = [m.strip() for m in stack.parameters.get("AllowedModels", "").split(",") if m.strip()]
    return [model for model in dict.fromkeys([stack.parameters.get("ModelId", ""), *allowed]) if model]


def checked(args: argparse.Namespace, stack: Stack) -> list[str]:
    """Every upload's key, or a CommandError saying what to change; nothing is uploaded before all pass."""
    if args.model:
        models = stack_models(stack)
        folders = {model.rsplit("/", 1)[-1]: model for model in models}
        if models and args.model not in models and args.model not in folders:
            raise CommandError(
                f"--model {args.model!r} is not a model this stack runs; use one of: {', '.join(models)} "
                "(or add it to the stack's AllowedModels parameter)"
            )
    missing = [str(p) for p in args.files if not p.is_file()]
    if missing:
        raise CommandError(f"no such file: {', '.join(missing)}")
    keys = []
    for path in args.files:
        model = args.model.rsplit("/", 1)[-1] if args.model else None
        key = key_for(path, model, args.converse, args.prefix)
        if problem := naming.key_problem(key):
            raise CommandError(f"{path} would be uploaded as {key!r}, which bbq never runs: {problem}")
        keys.append(key)
    return keys


def run(args: argparse.Namespace) -> int:
    import boto3
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

    stack = find(args)
    keys = checked(args, stack)
    s3 = boto3.client("s3")
    uploaded = []
    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, disable=args.json) as progress:
        for path, key in zip(args.files, keys, strict=True):
            task = progress.add_task(key.removeprefix("to-process/"), total=path.stat().st_size)
            s3.upload_file(str(path), stack.bucket, key, Callback=lambda sent, t=task: progress.advance(t, sent))
            version = s3.head_object(Bucket=stack.bucket, Key=key).get("VersionId")
            uploaded.append({"file": str(path), "uri": f"s3://{stack.bucket}/{key}", "version": version})
    if args.json:
        print_json(uploaded)
    else:
        for item in uploaded:
            print(f"uploaded {item['file']} to {item['uri']}")
        print("watch it with: bbq status" + (" --local" if args.local else f" --stack {stack.name}"))
    return EXIT_OK
