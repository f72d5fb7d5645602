"""`bbq retry FILE`: runs again the records of an ended upload that never succeeded: their original lines, taken
from the upload in its version, go up as a new file (``<name>.retry-<n>.jsonl`` beside it), which bbq runs like
any other."""

import argparse
from typing import Any

import orjson

from bbq.core.model import naming
from bbq.core.model.lines import split_lines
from bbq_local.commands.stack import (
    EXIT_NOT_READY,
    EXIT_OK,
    CommandError,
    add_stack_arguments,
    find,
    newest_upload,
    print_json,
)

READ_CHUNK = 8 * 1024**2
MAX_LINE = 1024**3  # the lines to send again passed ingest's MaxLineBytes already: keep them whole


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("retry", help="run again the records of an ended upload that never succeeded")
    add_stack_arguments(parser)
    parser.add_argument("file", metavar="FILE", help="its key under to-process/")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    stack = find(args)
    file = newest_upload(stack, args.file)
    if not file.results_uri:
        print(f"{file.key} is {file.status.value}: it can be retried once it ends")
        return EXIT_NOT_READY
    import boto3

    s3 = boto3.client("s3")
    bucket, prefix = naming.split_uri(file.results_uri)
    errors = s3.get_object(Bucket=bucket, Key=prefix + "errors.jsonl")["Body"].read().splitlines()
    wanted = {orjson.loads(line)["line"] for line in errors if line}
    if not wanted:
        print(f"{file.key}: every record succeeded; nothing to retry")
        return EXIT_OK
    if naming.is_etag(file.version):  # an unversioned bucket: the upload as it is
        body = s3.get_object(Bucket=file.bucket, Key=file.key)["Body"]
    else:
        body = s3.get_object(Bucket=file.bucket, Key=file.key, VersionId=file.version)["Body"]
    # Numbered as ingest numbered them (a leading BOM dropped, CRLF and long lines alike).
    lines = [line.data or b"" for line in split_lines(body.iter_chunks(READ_CHUNK), MAX_LINE) if line.number in wanted]
    key = _retry_key(s3, file.bucket, file.key)
    s3.put_object(Bucket=file.bucket, Key=key, Body=b"\n".join(lines) + b"\n")
    result = {"file": file.key, "records": len(lines), "uploaded": f"s3://{file.bucket}/{key}"}
    if args.json:
        print_json(result)
    else:
        print(f"{len(lines)} records of {file.key} go again as {result['uploaded']}")
    return EXIT_OK


def _retry_key(s3: Any, bucket: str, key: str) -> str:
    stem = key[: -len(".jsonl")] if key.lower().endswith(".jsonl") else key
    for attempt in range(1, 1000):
        candidate = f"{stem}.retry-{attempt}.jsonl"
        if "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=candidate, MaxKeys=1):
            return candidate
    raise CommandError(f"{key} has been retried 999 times already")
