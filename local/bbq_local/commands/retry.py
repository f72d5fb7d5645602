"""`bbq retry FILE`: runs again the records of an ended upload that never succeeded and may succeed if sent again
(their last error was transient, or they went missing, were not run or lost their output: ``retry.
worth_sending_again``); with ``--all``, every record that did not succeed. Their lines, taken from the upload in
its version (or, for a table, from the rows its template rendered), go up as a new file beside it
(``<name>.retry-<n>.jsonl``) at their original line numbers: the lines between are left blank, which ingest skips
but counts, so the retry's results and errors name the same lines as the upload's."""

import argparse
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

import orjson

from bbq.core.model import naming
from bbq.core.model.files import InputFile
from bbq.core.model.lines import split_lines
from bbq.core.model.retry import worth_sending_again
from bbq.core.settling.results import ERRORS
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
SPOOL = 64 * 1024**2  # a retry file is built in memory up to this, then on disk


def add_parser(commands: Any) -> None:
    parser = commands.add_parser(
        "retry", help="run again the records of an ended upload that failed for a reason worth retrying"
    )
    add_stack_arguments(parser)
    parser.add_argument("file", metavar="FILE", help="its key under to-process/")
    parser.add_argument(
        "--all", action="store_true", help="every record that did not succeed, errors about the record itself too"
    )
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
    # bbq's line splitter, as for the upload: botocore's iter_lines is quadratic in a line's length (a table's
    # errors carry its columns).
    errors = s3.get_object(Bucket=bucket, Key=prefix + ERRORS)["Body"].iter_chunks(READ_CHUNK)
    rows = (orjson.loads(line.data) for line in split_lines(errors, MAX_LINE) if line.data)
    wanted, left_out = chosen(rows, every=args.all)
    result: dict[str, Any] = {"file": file.key, "records": 0, "leftOut": left_out, "uploaded": None}
    if wanted:
        key = _retry_key(s3, file.bucket, file.key)
        with tempfile.SpooledTemporaryFile(SPOOL) as body:
            for line in at_their_numbers(_source_lines(s3, file), wanted):
                body.write(line + b"\n")
            body.seek(0)
            metadata = _metadata(s3, file)
            s3.upload_fileobj(body, file.bucket, key, ExtraArgs={"Metadata": metadata} if metadata else None)
        result |= {"records": len(wanted), "uploaded": f"s3://{file.bucket}/{key}"}
    if args.json:
        print_json(result)
        return EXIT_OK
    if wanted:
        print(f"{len(wanted)} records of {file.key} go again as {result['uploaded']}, at their original line numbers")
    else:
        print(f"{file.key}: no record to send again")
    if left_out:
        print(
            f"{left_out} records failed for a reason about the record itself (such as a 400): sent again unchanged "
            "they fail the same way, and cost again. Fix those lines (errors.jsonl lists them), or pass --all"
        )
    return EXIT_OK


def chosen(errors: Iterable[dict[str, Any]], every: bool) -> tuple[set[int], int]:
    """The line numbers to send again, and how many records were left out as not worth it."""
    wanted: set[int] = set()
    left_out = 0
    for row in errors:
        line = row.get("line")
        if not isinstance(line, int):
            continue
        lines = range(line, int(row.get("lastLine") or line) + 1)  # a row may stand for lines whose input is gone
        if every or worth_sending_again(row.get("errorCode")):
            wanted.update(lines)
        else:
            left_out += len(lines)
    return wanted, left_out


def at_their_numbers(lines: Iterable[tuple[int, bytes | None]], wanted: set[int]) -> Iterator[bytes]:
    """The wanted lines at their own numbers, the others blank, up to the last wanted one."""
    last = max(wanted)
    for number, data in lines:
        if number > last:
            return
        yield (data or b"") if number in wanted else b""


def _source_lines(s3: Any, file: InputFile) -> Iterator[tuple[int, bytes | None]]:
    """The upload's lines, numbered as ingest numbered them (a leading BOM dropped, CRLF and long lines alike);
    for a table, the rows its template rendered (line n is row n), kept until the file's staged data expires."""
    try:
        if file.rows_uri:
            bucket, key = naming.split_uri(file.rows_uri)
            body = s3.get_object(Bucket=bucket, Key=key)["Body"]
        elif naming.is_etag(file.version):  # an unversioned bucket: the upload as it is
            body = s3.get_object(Bucket=file.bucket, Key=file.key)["Body"]
        else:
            body = s3.get_object(Bucket=file.bucket, Key=file.key, VersionId=file.version)["Body"]
    except s3.exceptions.NoSuchKey:
        what = "the rows its template rendered have expired with its staged data" if file.rows_uri else "it is gone"
        raise CommandError(f"{file.key} cannot be read again ({what}): upload the records again") from None
    for line in split_lines(body.iter_chunks(READ_CHUNK), MAX_LINE):
        yield line.number, line.data


def _metadata(s3: Any, file: InputFile) -> dict[str, str]:
    """The upload's own metadata (its template, for a schema), without a force: a retry is new bytes anyway."""
    from bbq.core.intake.repeats import FORCE_METADATA

    version = {} if naming.is_etag(file.version) else {"VersionId": file.version}
    try:
        metadata = s3.head_object(Bucket=file.bucket, Key=file.key, **version).get("Metadata", {})
    except s3.exceptions.ClientError:
        return {}
    return {name: value for name, value in metadata.items() if name.lower() != FORCE_METADATA}


def _retry_key(s3: Any, bucket: str, key: str) -> str:
    stem = next((key[: -len(s)] for s in naming.INPUT_SUFFIXES if key.lower().endswith(s)), key)
    for attempt in range(1, 1000):
        candidate = f"{stem}.retry-{attempt}.jsonl"
        if "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix=candidate, MaxKeys=1):
            return candidate
    raise CommandError(f"{key} has been retried 999 times already")
