"""What users drop, good and bad: each kind of upload with the outcome it must have. Every case runs beside a good
file, which must be unaffected, and the original upload must stay as it was."""

import json
from dataclasses import replace
from typing import Any

import orjson
import pytest

from bbq.core.files import FileStatus
from bbq.core.ingest import ingest_object
from bbq.core.limits import SplitPolicy
from bbq.core.ports import ObjectRef
from tests.core.helpers import BUCKET, CONFIG, World, jsonl, record

GOOD = json.dumps(record(1)).encode()
# The product's default line limit (32 MiB), so a 2 MB image line is an ordinary line.
CORPUS_CONFIG = replace(CONFIG, split=SplitPolicy(part_records=5_000))


def lines(*rows: bytes, sep: bytes = b"\n") -> bytes:
    return sep.join(rows) + sep


def numbered(count: int) -> list[bytes]:
    return [json.dumps(record(i)).encode() for i in range(count)]


def case(kind: str, key: str, body: bytes, status: FileStatus | None, rejected: int, records: int, phrase: str) -> Any:
    return pytest.param(key, body, status, rejected, records, phrase, id=kind)


# key, body, expected status (None: not taken at all), rejected lines, records queued, a phrase the user reads
CASES = [
    case(
        "invalid-json",
        "to-process/a.jsonl",
        lines(*numbered(120), b"{oops}"),
        FileStatus.QUEUED,
        1,
        120,
        "not valid JSON",
    ),
    case(
        "truncated-last-line",
        "to-process/a.jsonl",
        lines(*numbered(120)) + b'{"modelInput": {',
        FileStatus.QUEUED,
        1,
        120,
        "end of data",
    ),
    case(
        "non-utf8",
        "to-process/a.jsonl",
        lines(*numbered(120), b'{"modelInput": {"t": "\xff"}}'),
        FileStatus.QUEUED,
        1,
        120,
        "UTF-8",
    ),
    case("bom", "to-process/a.jsonl", b"\xef\xbb\xbf" + lines(*numbered(120)), FileStatus.QUEUED, 0, 120, ""),
    case("crlf", "to-process/a.jsonl", lines(*numbered(120), sep=b"\r\n"), FileStatus.QUEUED, 0, 120, ""),
    case("zero-bytes", "to-process/a.jsonl", b"", FileStatus.REJECTED, 0, 0, "no valid record"),
    case("only-blank-lines", "to-process/a.jsonl", b"\n\n  \r\n\n", FileStatus.REJECTED, 0, 0, "no valid record"),
    case(
        "missing-modelInput",
        "to-process/a.jsonl",
        lines(*numbered(120), b'{"recordId": "x"}'),
        FileStatus.QUEUED,
        1,
        120,
        '"modelInput"',
    ),
    case(
        "modelInput-not-object",
        "to-process/a.jsonl",
        lines(*numbered(120), b'{"modelInput": [1]}'),
        FileStatus.QUEUED,
        1,
        120,
        '"modelInput"',
    ),
    case(
        "numeric-recordId",
        "to-process/a.jsonl",
        lines(*numbered(120), b'{"recordId": 5, "modelInput": {}}'),
        FileStatus.QUEUED,
        1,
        120,
        '"recordId"',
    ),
    case(
        "long-recordId",
        "to-process/a.jsonl",
        lines(*numbered(120), b'{"recordId": "' + b"r" * 65 + b'", "modelInput": {}}'),
        FileStatus.QUEUED,
        1,
        120,
        '"recordId"',
    ),
    case(
        "duplicate-recordIds",
        "to-process/a.jsonl",
        lines(*numbered(120), GOOD),
        FileStatus.QUEUED,
        1,
        120,
        "earlier line",
    ),
    case(
        "two-megabyte-line",
        "to-process/a.jsonl",
        lines(*numbered(120), orjson.dumps({"modelInput": {"image": "A" * 2_000_000}})),
        FileStatus.QUEUED,
        0,
        121,
        "",
    ),
    case(
        "nested-100000-deep",
        "to-process/a.jsonl",
        lines(*numbered(120), b'{"modelInput": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"),
        FileStatus.QUEUED,
        1,
        120,
        "nested",
    ),
    case(
        "nan-literal",
        "to-process/a.jsonl",
        lines(*numbered(120), b'{"modelInput": {"t": NaN}}'),
        FileStatus.QUEUED,
        1,
        120,
        "NaN",
    ),
    case(
        "not-an-object",
        "to-process/a.jsonl",
        lines(*numbered(120), b"[1, 2]"),
        FileStatus.QUEUED,
        1,
        120,
        "not an object",
    ),
    case("ten-records", "to-process/a.jsonl", lines(*numbered(10)), FileStatus.QUEUED, 0, 10, "waiting to be packed"),
    case("50001-records", "to-process/a.jsonl", lines(*numbered(50_001)), FileStatus.QUEUED, 0, 50_001, ""),
    case("key-with-spaces", "to-process/team a/calls 1.jsonl", lines(*numbered(120)), FileStatus.QUEUED, 0, 120, ""),
    case("key-with-plus", "to-process/a+b=c.jsonl", lines(*numbered(120)), FileStatus.QUEUED, 0, 120, ""),
    case("unicode-key", "to-process/résumés/日本語.jsonl", lines(*numbered(120)), FileStatus.QUEUED, 0, 120, ""),
    case("dot-dot-key", "to-process/../secrets/a.jsonl", lines(*numbered(120)), None, 0, 0, "not a .jsonl file"),
    case("nested-folders", "to-process/x/y/z/a.jsonl", lines(*numbered(120)), FileStatus.QUEUED, 0, 120, ""),
    case("upper-case-suffix", "to-process/A.JSONL", lines(*numbered(120)), FileStatus.QUEUED, 0, 120, ""),
    case("txt", "to-process/a.txt", lines(*numbered(120)), None, 0, 0, "not a .jsonl file"),
    case("gzip", "to-process/a.jsonl.gz", b"\x1f\x8b\x08\x00", None, 0, 0, "not a .jsonl file"),
    case(
        "unknown-model-folder",
        "to-process/anthropic.claude-v2/a.jsonl",
        lines(*numbered(120)),
        FileStatus.REJECTED,
        0,
        0,
        "AllowedModels",
    ),
]


@pytest.mark.parametrize(("key", "body", "status", "rejected", "records", "phrase"), CASES)
def test_each_kind_of_upload_gets_its_outcome_where_the_user_looks(
    key: str, body: bytes, status: FileStatus | None, rejected: int, records: int, phrase: str
) -> None:
    world = World(config=CORPUS_CONFIG)
    good = world.upload("to-process/good.jsonl", jsonl(150))
    outcome = world.upload(key, body)
    assert outcome.status == status and outcome.rejected_lines == rejected
    if status is None:
        assert phrase in outcome.reason and outcome.file_id is None
    else:
        file = world.store.get_file(outcome.file_id or "")
        assert file and file.record_count == records and file.rejected_lines == rejected
        if phrase:
            report = world.objects.files.get((BUCKET, f"{key}.error.json"), b"").decode()
            assert phrase in file.message or phrase in report, (file.message, report[:300])
        if rejected or status == FileStatus.REJECTED:
            assert file.report_uri == f"s3://{BUCKET}/{key}.error.json"
        assert sum(p.record_count for p in world.store.parts_of(file)) == records
    assert world.objects.files[BUCKET, key] == body, "the upload is never changed"
    assert world.store.get_file(good.file_id or "").status == FileStatus.QUEUED, "the other file is unaffected"  # type: ignore[union-attr]


def test_an_upload_deleted_right_after_upload_queues_nothing() -> None:
    world = World(config=CORPUS_CONFIG)
    ref = ObjectRef(BUCKET, "to-process/gone.jsonl", "e", 10)
    outcome = ingest_object(
        ref, objects=world.objects, store=world.store, limits=world.limits, config=world.config, clock=world.clock
    )
    assert outcome.status is None and outcome.reason == "object no longer exists" and not world.store.files
