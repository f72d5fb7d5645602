"""Ingest against in-memory ports: lines validated one by one, valid ones staged in parts, the rest reported."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

import orjson

from bbq.core.intake import repeats
from bbq.core.intake.ingest import ingest_object
from bbq.core.model.config import RejectedLines
from bbq.core.model.files import FileStatus, InputFile, PartStatus
from bbq.core.model.limits import FixedLimits, SplitPolicy
from bbq.core.model.ports import ObjectRef, StoredObject
from bbq_local.fakes import FakeObjects
from tests.conftest import CLAUDE
from tests.core.helpers import BUCKET, CONFIG, LIMITS, NOVA, World, jsonl, record


def staged_lines(world: World, uri: str) -> list[dict[str, object]]:
    key = uri.removeprefix(f"s3://{BUCKET}/")
    return [json.loads(line) for line in world.objects.files[BUCKET, key].splitlines()]


def test_a_good_file_becomes_parts_of_at_most_part_records() -> None:
    world = World()
    outcome = world.upload("to-process/calls/jan.jsonl", jsonl(600))
    assert outcome.status == FileStatus.QUEUED and outcome.parts == 3 and outcome.created
    file = world.store.get_file(outcome.file_id or "")
    assert file and file.record_count == 600 and file.line_count == 600 and file.model_id == CLAUDE
    parts = world.store.parts_of(file)
    assert [(p.first_line, p.last_line, p.record_count) for p in parts] == [
        (1, 250, 250),
        (251, 500, 250),
        (501, 600, 100),
    ]
    assert all(p.status == PartStatus.WAITING for p in parts)
    first = staged_lines(world, parts[0].staged_uri)
    # bbq's record ids name the file and the line; the model input is kept as it was.
    assert first[0] == {"recordId": f"{file.file_id[:10]}L1", "modelInput": record(0)["modelInput"]}
    assert parts[0].staged_uri.endswith("/jan-p00001.jsonl")
    assert world.objects.files[BUCKET, "to-process/calls/jan.jsonl"] == jsonl(600), "the upload is never changed"


def test_bad_lines_are_reported_and_the_valid_ones_run() -> None:
    world = World()
    lines = [
        json.dumps(record(1)).encode(),
        b'{"recordId": "x", "modelInput": ',  # truncated
        b"\xff\xfe not utf-8",
        b"",  # blank: ignored
        b'{"recordId": "R000001", "modelInput": {}}',  # duplicate id
        b'{"modelInput": {"a": NaN}}',
        b"[" * 5000 + b"]" * 5000,
        b'{"recordId": 7, "modelInput": {}}',
        b'{"recordId": "ok", "modelInput": "text"}',
        b"[1, 2]",
        json.dumps(record(2)).encode(),
    ]
    outcome = world.upload("to-process/mixed.jsonl", b"\r\n".join(lines))
    assert outcome.status == FileStatus.QUEUED and outcome.rejected_lines == 8
    file = world.store.get_file(outcome.file_id or "")
    assert file and file.record_count == 2 and file.line_count == 11
    assert file.report_uri == f"s3://{BUCKET}/to-process/mixed.jsonl.error.json"
    assert file.message.startswith("line 2 and 7 more refused (the line is not valid JSON")
    report = world.objects.json(BUCKET, "to-process/mixed.jsonl.error.json")
    reasons = {entry["line"]: entry["reason"] for entry in report["rejectedLines"]}
    assert sorted(reasons) == [2, 3, 5, 6, 7, 8, 9, 10]
    assert "UTF-8" in reasons[3]
    assert "appears on an earlier line" in reasons[5]
    assert "NaN" in reasons[6]
    assert "nested more than 254 levels" in reasons[7]
    assert '"recordId" must be' in reasons[8]
    assert 'no "modelInput" object' in reasons[9]
    assert "not an object" in reasons[10]
    assert report["rejectedLineCount"] == 8 and report["status"] == "Queued"
    assert "modelInput" not in json.dumps(report["rejectedLines"]).replace('no \\"modelInput\\" object', "")


def test_reject_file_policy_runs_nothing_of_a_file_with_bad_lines() -> None:
    world = World(config=CONFIG.__class__(**{**CONFIG.__dict__, "rejected_lines": RejectedLines.REJECT_FILE}))
    outcome = world.upload("to-process/a.jsonl", jsonl(300) + b"not json\n")
    assert outcome.status == FileStatus.REJECTED and outcome.parts == 0
    assert not [key for (_, key) in world.objects.files if key.startswith("staged/")], "staged parts removed"


def test_a_line_over_the_limit_is_refused_without_being_held() -> None:
    world = World()
    big = orjson.dumps({"modelInput": {"image": "A" * 100_000}})
    outcome = world.upload("to-process/big.jsonl", jsonl(150) + big + b"\n")
    assert outcome.rejected_lines == 1 and outcome.status == FileStatus.QUEUED
    report = world.objects.json(BUCKET, "to-process/big.jsonl.error.json")
    assert report["rejectedLines"][0]["line"] == 151 and "MaxLineBytes" in report["rejectedLines"][0]["reason"]


def test_empty_and_blank_files_are_rejected_with_a_report() -> None:
    world = World()
    for key, body in (("to-process/empty.jsonl", b""), ("to-process/blank.jsonl", b"\n\r\n  \n")):
        outcome = world.upload(key, body)
        assert outcome.status == FileStatus.REJECTED
        assert world.store.get_file(outcome.file_id or "").message.startswith("no valid record")  # type: ignore[union-attr]


def test_small_files_wait_to_be_packed() -> None:
    world = World()
    outcome = world.upload("to-process/few.jsonl", jsonl(30))
    file = world.store.get_file(outcome.file_id or "")
    assert file and file.status == FileStatus.QUEUED and "waiting to be packed" in file.message


def test_the_model_comes_from_the_folder_or_metadata() -> None:
    world = World()
    nova = world.upload(f"to-process/{NOVA}/a.jsonl", jsonl(120))
    converse = world.upload(f"to-process/{NOVA}/converse/b.jsonl", jsonl(120))
    meta = world.upload("to-process/c.jsonl", jsonl(120), {"bbq-model": NOVA, "bbq-invocation-type": "Converse"})
    unknown = world.upload("to-process/anthropic.claude-v2/d.jsonl", jsonl(120))
    files = {o.key: world.store.get_file(o.file_id or "") for o in (nova, converse, meta, unknown)}
    assert files[nova.key].model_id == NOVA and files[nova.key].invocation_type == "InvokeModel"  # type: ignore[union-attr]
    assert files[converse.key].invocation_type == "Converse"  # type: ignore[union-attr]
    assert files[meta.key].model_id == NOVA and files[meta.key].invocation_type == "Converse"  # type: ignore[union-attr]
    assert unknown.status == FileStatus.REJECTED and "not one this stack runs" in unknown.reason
    report = world.objects.json(BUCKET, "to-process/anthropic.claude-v2/d.jsonl.error.json")
    assert "AllowedModels" in report["message"]


def test_duplicate_events_change_nothing_and_vanished_uploads_queue_nothing() -> None:
    world = World()
    first = world.upload("to-process/a.jsonl", jsonl(120))
    ref = ObjectRef(BUCKET, "to-process/a.jsonl", "etag1", 1)
    again = ingest_object(
        ref, objects=world.objects, store=world.store, limits=world.limits, config=world.config, clock=world.clock
    )
    assert first.created and not again.created and again.reason == "duplicate event"
    gone = ObjectRef(BUCKET, "to-process/gone.jsonl", "etag9", 1)
    outcome = ingest_object(
        gone, objects=world.objects, store=world.store, limits=world.limits, config=world.config, clock=world.clock
    )
    assert outcome.status is None and outcome.reason == "object no longer exists"
    skipped = world.upload("to-process/notes.txt", b"hello")
    assert skipped.file_id is None and len(world.store.files) == 1


def test_the_same_bytes_again_under_the_same_key_are_skipped_unless_forced_or_the_earlier_did_not_run() -> None:
    world = World()
    body = jsonl(150)
    first = world.upload("to-process/a.jsonl", body, etag="md5-of-a")
    again = world.upload("to-process/a.jsonl", body, etag="md5-of-a")  # S3: a new version, the same ETag
    assert first.status == FileStatus.QUEUED and again.created and again.status == FileStatus.SKIPPED
    skipped = world.store.files[again.file_id or ""]
    assert skipped.message.startswith("Skipped: these bytes") and "bbq-force=true" in skipped.message
    assert first.file_id and skipped.message.count(world.store.files[first.file_id].version) == 1
    assert (skipped.record_count, skipped.part_count, world.store.parts_of(skipped)) == (0, 0, [])
    assert skipped.model_id == CLAUDE, "listed under its model"
    other_key = world.upload("to-process/b.jsonl", body, etag="md5-of-a")
    changed = world.upload("to-process/a.jsonl", jsonl(151), etag="md5-of-a-151")
    forced = world.upload("to-process/a.jsonl", body, {"bbq-force": "TRUE"}, etag="md5-of-a")
    assert [o.status for o in (other_key, changed, forced)] == [FileStatus.QUEUED] * 3, "another key, bytes, a force"
    assert not repeats.forced({"bbq-force": "no"}) and repeats.forced({"bbq-force": " yes "})
    # An earlier upload that did not run its records (rejected, failed, stopped) is no reason to skip.
    stopped = world.store.files[first.file_id].with_changes(status=FileStatus.STOPPED)
    ref = ObjectRef(BUCKET, "to-process/a.jsonl", "md5-of-a", len(body))
    assert repeats.ran_already(ref, lambda: [stopped]) is None
    assert repeats.ran_already(
        ref, lambda: [stopped.with_changes(status=FileStatus.COMPLETED)]
    ) == stopped.with_changes(status=FileStatus.COMPLETED)
    table = ObjectRef(BUCKET, "to-process/a.csv", "md5-of-a", len(body))
    assert (
        repeats.ran_already(table, lambda: [stopped.with_changes(status=FileStatus.COMPLETED, key=table.key)]) is None
    ), "a table may meet another template: rendered and run again"

    def unread() -> list[InputFile]:
        raise AssertionError("the key's uploads were queried for an upload that cannot repeat one")

    assert repeats.ran_already(table, unread) is None


class _GeneratedUpload(FakeObjects):
    """A 1 GB upload generated as it is read, and parts counted rather than kept: the size without the memory."""

    def __init__(self, lines: int, line: bytes) -> None:
        super().__init__()
        self.lines, self.line = lines, line
        self.written: dict[str, int] = {}

    def read(self, ref: ObjectRef) -> StoredObject:
        per_chunk = 8
        chunks = (self.line * per_chunk for _ in range(self.lines // per_chunk))
        return StoredObject({}, chunks)

    @contextmanager
    def writer(self, bucket: str, key: str) -> Iterator[Any]:
        def count(data: bytes) -> None:
            self.written[key] = self.written.get(key, 0) + len(data)

        yield SimpleNamespace(write=count)


def test_a_gigabyte_upload_is_cut_by_bytes_as_well_as_records() -> None:
    line = orjson.dumps({"modelInput": {"image": "A" * (1024**2 - 40)}}) + b"\n"  # 1 MiB records
    world = World(
        objects=_GeneratedUpload(1024, line),
        limits=FixedLimits(replace(LIMITS, max_file_bytes=300 * 1024**2)),
        config=replace(CONFIG, split=SplitPolicy(part_records=1_000)),  # the default 32 MiB line limit
    )
    outcome = world.upload("to-process/images.jsonl", b"")
    file = world.store.get_file(outcome.file_id or "")
    assert file and file.record_count == 1024 and outcome.parts == 4
    parts = world.store.parts_of(file)
    assert all(p.size_bytes <= 300 * 1024**2 for p in parts) and sum(p.record_count for p in parts) == 1024
    assert [(p.first_line, p.record_count) for p in parts] == [(1, 299), (300, 299), (599, 299), (898, 127)]
    assert sum(world.objects.written.values()) == sum(p.size_bytes for p in parts)  # type: ignore[attr-defined]
