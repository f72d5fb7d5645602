"""`bbq results FILE`: downloads an upload's joined results (results.jsonl, errors.jsonl, summary.json)."""

import argparse
import sys
from pathlib import Path
from typing import Any

from bbq.core.model import naming
from bbq.core.model.files import FileStatus
from bbq_local.commands.stack import (
    EXIT_ERROR,
    EXIT_NOT_READY,
    EXIT_OK,
    add_stack_arguments,
    find,
    newest_upload,
    print_json,
    status_query,
)

JOINED = ("results.jsonl", "errors.jsonl", "summary.json")


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("results", help="download an upload's joined results once it ended")
    add_stack_arguments(parser)
    parser.add_argument("file", metavar="FILE", help="its key under to-process/ (e.g. calls.jsonl, team/calls.jsonl)")
    parser.add_argument(
        "--out", type=Path, default=Path("bbq-results"), help="where to put them (default ./bbq-results)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    stack = find(args)
    file = newest_upload(stack, args.file)  # the newest upload of the key, in S3's own order (its sequencer)
    upload = (
        f"upload {file.version} of {file.key} (taken in {file.created_at:%Y-%m-%d %H:%M:%S} UTC, file {file.file_id})"
    )
    if file.status == FileStatus.SKIPPED:  # a repeat of bytes that ran under the key: the earlier run's results
        from bbq_sdk.views import repeated_upload

        earlier = repeated_upload(file, status_query(stack))
        if earlier is None:
            print(f"The newest {upload} was Skipped: {file.message}; that upload is no longer in the table")
            return EXIT_ERROR
        print(
            f"The newest {upload} repeats upload {earlier.version} (skipped, not run again): its results",
            file=sys.stderr,
        )
        file = earlier
        upload = f"upload {file.version} of {file.key} (taken in {file.created_at:%Y-%m-%d %H:%M:%S} UTC)"
    if file.status == FileStatus.REJECTED:
        report = f"; see its error report {file.report_uri}" if file.report_uri else ""
        print(f"The newest {upload} was Rejected: {file.message}. Nothing of it runs, so it has no results{report}")
        return EXIT_ERROR
    if not file.results_uri:
        print(f"The newest {upload} is {file.status.value}: {file.message}; its results come when it ends")
        return EXIT_NOT_READY
    bucket, prefix = naming.split_uri(file.results_uri)
    folder = args.out / naming.safe_path(file.key.removeprefix("to-process/").rsplit(".", 1)[0], 200)
    folder.mkdir(parents=True, exist_ok=True)
    import boto3

    s3 = boto3.client("s3")
    saved = []
    for name in JOINED:
        target = folder / name
        s3.download_file(bucket, prefix + name, str(target))
        saved.append(str(target))
    if args.json:
        print_json(
            {
                "file": file.key,
                "fileId": file.file_id,
                "version": file.version,
                "createdAt": file.created_at.isoformat(),
                "status": file.status.value,
                "results": file.results_uri,
                "saved": saved,
            }
        )
    else:
        print(f"{upload}: {file.status.value}, {file.message}")
        for path in saved:
            print(f"  {path}")
    return EXIT_OK
