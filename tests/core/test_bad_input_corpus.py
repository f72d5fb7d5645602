"""What users drop, good and bad: each kind of upload with the outcome it must have. Every case runs beside a good
file, which must be unaffected, and the original upload must stay as it was."""

import json
from dataclasses import replace
from typing import Any

import orjson
import pytest

from bbq.core.intake.ingest import ingest_object
from bbq.core.model import naming
from bbq.core.model.files import FileStatus
from bbq.core.model.limits import SplitPolicy
from bbq.core.model.ports import ObjectRef
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
    # Whole files in a shape bbq does not read: the first refused line says what happened to the file.
    case(
        "gzip-named-jsonl",
        "to-process/a.jsonl",
        b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + bytes(range(256)),
        FileStatus.REJECTED,
        2,  # byte 10 is a line break
        0,
        "gzip-compressed",
    ),
    case(
        "utf-16",
        "to-process/a.jsonl",
        "\ufeff".encode("utf-16-le") + lines(*numbered(3)).decode().encode("utf-16-le"),
        FileStatus.REJECTED,
        4,
        0,
        "UTF-16",
    ),
    case(
        "lone-cr-endings", "to-process/a.jsonl", lines(*numbered(120), sep=b"\r"), FileStatus.REJECTED, 1, 0, "CR alone"
    ),
    case(
        "pretty-printed",
        "to-process/a.jsonl",
        json.dumps(record(1), indent=2).encode() + b"\n",
        FileStatus.REJECTED,
        11,
        0,
        "one object per line",
    ),
    case(
        "latin-1",
        "to-process/a.jsonl",
        lines(*numbered(120), '{"modelInput": {"t": "caf\u00e9"}}'.encode("latin-1")),
        FileStatus.QUEUED,
        1,
        120,
        "Latin-1 or Windows-1252",
    ),
    # Lines orjson would stage changed: refused, with what to do, beside the good ones.
    case(
        "big-integer",
        "to-process/a.jsonl",
        lines(*numbered(120), b'{"modelInput": {"id": 98765432109876543210}}'),
        FileStatus.QUEUED,
        1,
        120,
        "does not fit in 64 bits",
    ),
    case(
        "underflowing-number",
        "to-process/a.jsonl",
        lines(*numbered(120), b'{"modelInput": {"t": 1e-400}}'),
        FileStatus.QUEUED,
        1,
        120,
        "would be staged as 0.0",
    ),
    case(
        "duplicate-keys",
        "to-process/a.jsonl",
        lines(*numbered(120), b'{"modelInput": {"max_tokens": 1, "max_tokens": 2}}'),
        FileStatus.QUEUED,
        1,
        120,
        "appears twice",
    ),
    case(
        "nested-300-levels",
        "to-process/a.jsonl",
        lines(*numbered(120), b'{"modelInput": {"x": ' + b"[" * 298 + b"]" * 298 + b"}}"),
        FileStatus.QUEUED,
        1,
        120,
        "nested more than 254",
    ),
    case(
        "recordId-with-newline",
        "to-process/a.jsonl",
        lines(*numbered(120), b'{"recordId": "a\\n", "modelInput": {}}'),
        FileStatus.QUEUED,
        1,
        120,
        '"recordId"',
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
    case("dot-dot-key", "to-process/../secrets/a.jsonl", lines(*numbered(120)), None, 0, 0, "'..' folder"),
    case("dot-folder-key", "to-process/./a.jsonl", lines(*numbered(120)), None, 0, 0, "'.' or '..' folder"),
    case("outside-to-process", "processed/a.jsonl", lines(*numbered(120)), None, 0, 0, "not a .jsonl, .csv or"),
    case("newline-in-key", "to-process/a\nFAKE LOG LINE.jsonl", lines(*numbered(120)), None, 0, 0, "control"),
    case("escape-in-key", "to-process/\x1b[2Ja.jsonl", lines(*numbered(120)), None, 0, 0, "control"),
    case("c1-control-in-key", "to-process/a\x85b.jsonl", lines(*numbered(120)), None, 0, 0, "control"),
    case("key-over-1024-bytes", "to-process/" + "é" * 507 + ".jsonl", lines(*numbered(120)), None, 0, 0, "1024 bytes"),
    case("nested-folders", "to-process/x/y/z/a.jsonl", lines(*numbered(120)), FileStatus.QUEUED, 0, 120, ""),
    case("upper-case-suffix", "to-process/A.JSONL", lines(*numbered(120)), FileStatus.QUEUED, 0, 120, ""),
    case("txt", "to-process/a.txt", lines(*numbered(120)), None, 0, 0, "not a .jsonl, .csv or .parquet file"),
    case("gzip", "to-process/a.jsonl.gz", b"\x1f\x8b\x08\x00", None, 0, 0, "not a .jsonl, .csv or .parquet file"),
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
        if key.startswith("to-process/") and key.lower().endswith(".jsonl"):  # a report next to it says why
            report = json.loads(world.objects.files[BUCKET, naming.error_report_key(key)])
            assert phrase in report["message"] and report["status"] == "Ignored" and outcome.ignored
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


def test_an_upload_over_max_upload_bytes_is_refused_before_a_byte_is_read() -> None:
    world = World(config=replace(CORPUS_CONFIG, split=SplitPolicy(max_upload_bytes=1_000_000)))
    body = lines(*numbered(120))
    ref = world.upload_without_event("to-process/huge.jsonl", body)
    reads = world.objects.reads
    outcome = world.ingest(replace(ref, size=30 * 1024**3))  # the size S3's event reports
    assert outcome.status == FileStatus.REJECTED and world.objects.reads == reads, "nothing read"
    file = world.store.get_file(outcome.file_id or "")
    assert file and "MaxUploadBytes" in file.message and "Split it" in file.message
    report = json.loads(world.objects.files[BUCKET, "to-process/huge.jsonl.error.json"])
    assert "MaxUploadBytes" in json.dumps(report)
    assert world.objects.files[BUCKET, "to-process/huge.jsonl"] == body
    assert world.upload("to-process/fits.jsonl", jsonl(150)).status == FileStatus.QUEUED


CANARY = "C4N4RY-customer-text"


def test_no_report_or_message_ever_echoes_a_lines_content() -> None:
    """Transcripts are customer data: a refused line is named by its number and what is wrong, never quoted."""
    world = World(config=CORPUS_CONFIG)
    bad = [
        f'{{"modelInput": "{CANARY}", oops}}'.encode(),  # invalid JSON around the text
        orjson.dumps({"recordId": CANARY + "!" * 70, "modelInput": {"t": 1}}),  # a bad recordId
        orjson.dumps({CANARY: 1}),  # no modelInput
        orjson.dumps([CANARY]),  # not an object
        orjson.dumps({"modelInput": {"t": CANARY}, "recordId": "r1"}),
        orjson.dumps({"modelInput": {"t": CANARY}, "recordId": "r1"}),  # a duplicate of the line before
        b'{"modelInput": {"t": "' + CANARY.encode() + b'\xff"}}',  # not UTF-8
        b'{"modelInput": ' + b"[" * 5000 + CANARY.encode() + b"]" * 5000 + b"}",  # nested past the parser's depth
    ]
    outcome = world.upload("to-process/leaky.jsonl", lines(*numbered(120), *bad))
    assert outcome.rejected_lines == len(bad) - 1
    file = world.store.get_file(outcome.file_id or "")
    report = world.objects.files[BUCKET, "to-process/leaky.jsonl.error.json"].decode()
    assert file and CANARY not in file.message and CANARY not in report
    assert "recordId" in report


def test_an_upload_deleted_right_after_upload_queues_nothing() -> None:
    world = World(config=CORPUS_CONFIG)
    ref = ObjectRef(BUCKET, "to-process/gone.jsonl", "e", 10)
    outcome = ingest_object(
        ref, objects=world.objects, store=world.store, limits=world.limits, config=world.config, clock=world.clock
    )
    assert outcome.status is None and outcome.reason == "object no longer exists" and not world.store.files
