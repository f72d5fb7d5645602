"""The sweep finds uploads whose S3 event never came, at a bounded cost per run."""

import json
from datetime import timedelta

from bbq.core.intake.sweep import GRACE, SweepReport, sweep_uploads
from bbq.core.model.files import FileStatus
from tests.core.helpers import BUCKET, World, jsonl


def sweep(world: World, *, max_listed: int = 100, out_of_time: bool = False) -> SweepReport:
    return sweep_uploads(
        BUCKET,
        objects=world.objects,
        store=world.store,
        ingest=world.ingest,
        clock=world.clock,
        out_of_time=lambda: out_of_time,
        max_listed=max_listed,
    )


def test_uploads_whose_event_never_came_are_ingested_once_old_enough() -> None:
    world = World()
    world.upload("to-process/seen.jsonl", jsonl(100))
    lost = world.upload_without_event("to-process/lost.jsonl", jsonl(100))
    world.upload_without_event("to-process/Mixed.Jsonl", jsonl(100))  # S3's suffix filter is case-sensitive
    world.upload_without_event("to-process/notes.txt", b"not an input")
    assert sweep(world).missing == 0, "too young: its own event may still come"
    world.clock.advance(GRACE.total_seconds())
    report = sweep(world)
    assert (report.listed, report.missing, report.ingested, report.wrapped) == (4, 2, 2, True)
    keys = sorted(file.key for file in world.store.files.values())
    assert keys == ["to-process/Mixed.Jsonl", "to-process/lost.jsonl", "to-process/seen.jsonl"]
    assert all(file.status == FileStatus.QUEUED for file in world.store.files.values())
    assert sweep(world).ingested == 0, "nothing twice"
    assert world.ingest(lost).reason == "duplicate event", "its event arriving late changes nothing"


def test_a_large_bucket_is_covered_over_several_runs() -> None:
    world = World()
    for index in range(7):
        world.upload_without_event(f"to-process/f{index}.jsonl", jsonl(100))
    world.clock.advance(timedelta(hours=1).total_seconds())
    first = sweep(world, max_listed=4)
    assert (first.listed, first.ingested, first.wrapped) == (4, 4, False)
    second = sweep(world, max_listed=4)
    assert (second.listed, second.ingested, second.wrapped) == (3, 3, True)
    assert len(world.store.files) == 7
    assert sweep(world, max_listed=4).listed == 4, "the next run starts again from the top"


def test_a_sweep_out_of_time_leaves_the_page_for_the_next_run() -> None:
    world = World()
    world.upload_without_event("to-process/a.jsonl", jsonl(100))
    world.clock.advance(GRACE.total_seconds())
    assert sweep(world, out_of_time=True).ingested == 0
    assert world.store.cursors.get(BUCKET) is None
    assert sweep(world).ingested == 1


def test_an_upload_that_fails_to_ingest_does_not_stop_the_sweep() -> None:
    world = World()
    world.upload_without_event("to-process/a.jsonl", jsonl(100))
    world.upload_without_event("to-process/b.jsonl", jsonl(100))
    world.clock.advance(GRACE.total_seconds())
    real = world.ingest

    def crash_on_a(ref):  # type: ignore[no-untyped-def]
        if ref.key.endswith("a.jsonl"):
            raise RuntimeError("boom")
        return real(ref)

    report = sweep_uploads(
        BUCKET,
        objects=world.objects,
        store=world.store,
        ingest=crash_on_a,
        clock=world.clock,
        out_of_time=lambda: False,
    )
    assert (report.errors, report.ingested) == (1, 1)
    assert sweep(world).ingested == 1, "tried again on the next sweep"


def test_an_upload_bbq_ignores_by_its_name_gets_a_note_next_to_it_once() -> None:
    world = World()
    world.upload_without_event("to-process/notes.txt", b"not an input")
    world.upload_without_event("to-process/calls.jsonl.gz", b"\x1f\x8b compressed")
    world.clock.advance(GRACE.total_seconds())
    assert sweep(world).ignored == 2
    note = json.loads(world.objects.files[BUCKET, "to-process/calls.jsonl.gz.ignored.json"])
    assert note["status"] == "Ignored" and "decompress it first" in note["message"]
    assert (BUCKET, "to-process/notes.txt.ignored.json") in world.objects.files
    assert sweep(world).ignored == 0, "once: the note is in the listing from then on"
    assert world.store.files == {}, "nothing of them runs"
