"""``bbq stop``: stop an upload (by its key, S3 URI or file id) or one job.

It talks to the stack's table, S3, Bedrock and the results queue with the caller's credentials (it needs
dynamodb:GetItem, PutItem, BatchGetItem on the table and Query on its KeyIndex (a key's newest upload), S3
HeadObject on an upload named by s3:// URI,
bedrock:StopModelInvocationJob, sqs:SendMessage on the stack's JoinQueue); the scheduler finishes what it starts:
it reads each stopped job's partial output, and the file's results join ends it ``Stopped``.
"""

import argparse
import json
from typing import Any

from bbq_sdk.views import stop_view as describe

from bbq.core.model import naming
from bbq.core.model.clock import SystemClock
from bbq.core.scheduling.stopping import stop_file, stop_job
from bbq_local.commands.stack import (
    EXIT_OK,
    CommandError,
    Stack,
    add_stack_arguments,
    find,
    newest_upload,
    print_json,
)


def run(args: argparse.Namespace) -> int:
    import boto3

    from bbq.adapters.bedrock_batch import BedrockBatch
    from bbq.adapters.dynamodb import DynamoStore
    from bbq.adapters.join_queue import JoinQueue

    stack = find(args)
    ports: dict[str, Any] = {
        "store": DynamoStore(boto3.client("dynamodb"), stack.table),
        "batch": BedrockBatch(boto3.client("bedrock")),
        "clock": SystemClock(),
    }
    try:
        if args.job:
            outcome = stop_job(args.job, **ports)
        else:
            joins = JoinQueue(boto3.client("sqs"), stack.outputs["JoinQueueUrl"])
            outcome = stop_file(file_id_for_args(args, stack), joins=joins, **ports)
    except KeyError as exc:
        raise CommandError(str(exc.args[0])) from exc
    if args.json:
        print_json(describe(outcome))
    else:
        print(json.dumps(describe(outcome), indent=2))
    return EXIT_OK


def file_id_for_args(args: argparse.Namespace, stack: Stack) -> str:
    """The upload to stop: a file id as given; an S3 URI (its current or given version); or a key, whose newest
    upload the table knows (S3's order, as ``bbq results`` takes it)."""
    if args.file_id:
        return str(args.file_id)
    if args.file.startswith("s3://"):
        return file_id_of(args.file, args.version)
    key = args.file if args.file.startswith("to-process/") else f"to-process/{args.file}"
    if args.version:
        return naming.file_id_for(stack.bucket, key, args.version)
    return newest_upload(stack, key).file_id


def file_id_of(uri: str, version: str | None) -> str:
    """The id ingest gave the upload: from its version id (or ETag, in a bucket without versioning)."""
    import boto3

    bucket, key = naming.split_uri(uri)
    if version is None:
        head = boto3.client("s3").head_object(Bucket=bucket, Key=key)
        version = head.get("VersionId") or head["ETag"].strip('"')
    return naming.file_id_for(bucket, key, version)


def add_parser(commands: Any) -> None:
    stop = commands.add_parser("stop", help="stop an upload or a job: what ran is kept, nothing more runs")
    add_stack_arguments(stop)
    which = stop.add_mutually_exclusive_group(required=True)
    which.add_argument("file", nargs="?", help="the upload: its key under to-process/, or s3://<bucket>/<key>")
    which.add_argument("--file-id", help="the upload's FileId (the table's file#<FileId> item)")
    which.add_argument("--job", help="a JobId (the table's job#<JobId> item); stops every file it carries")
    stop.add_argument("--version", help="with a file: the upload's S3 version id (default: the current one)")
    stop.set_defaults(func=run)
