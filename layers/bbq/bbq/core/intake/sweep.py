"""The sweep: uploads under to-process/ whose S3 event never came (S3 delivers at least once, almost always) or
whose ingest gave up (dead-lettered after Lambda's retries), or that S3's case-sensitive suffix filter let by
(``.Jsonl``), are found and ingested.

Each run lists at most ``max_listed`` current objects, from where the previous run stopped (a cursor in the
table), so a bucket of any size is covered over several runs at a bounded cost per run; one BatchGetItem per
100 listed uploads checks which have no item. Uploads younger than ``grace`` are left to their own event. An
upload is the current version of its key: an overwritten version whose event was lost is not ingested.
Ingesting twice is harmless (the file id comes from the upload's version, every write is conditional), so a
sweep that overlaps the event's own ingest changes nothing.
"""

import logging
import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from bbq.core.intake.tables import FOLDER_TEMPLATE
from bbq.core.model import naming
from bbq.core.model.clock import Clock
from bbq.core.model.ports import Listed, ObjectRef, ObjectStore, Store

log = logging.getLogger(__name__)

IGNORED = (
    "bbq runs only .jsonl files (one JSON object per line, UTF-8, uncompressed), and .csv or .parquet tables with "
    "a prompt template, under to-process/; this one is not run. Rename it if it is one, or decompress it first "
    "(.jsonl.gz)"
)
GRACE = timedelta(minutes=15)  # an upload's own event and ingest come within seconds; retries within minutes
MAX_LISTED = 10_000  # current objects looked at per run: ten ListObjectVersions pages, 100 BatchGetItem calls


@dataclass
class SweepReport:
    listed: int = 0
    missing: int = 0  # uploads with no item
    ingested: int = 0
    errors: int = 0  # ingests that raised (logged); tried again on a later run
    ignored: int = 0  # uploads that are not .jsonl (nor a table), told so with a note next to them (once)
    wrapped: bool = False  # the listing reached the end of to-process/ and starts again next run


def sweep_uploads(
    bucket: str,
    *,
    objects: ObjectStore,
    store: Store,
    ingest: Callable[[ObjectRef], object],
    clock: Clock,
    out_of_time: Callable[[], bool],
    grace: timedelta = GRACE,
    max_listed: int = MAX_LISTED,
) -> SweepReport:
    report = SweepReport()
    cursor = store.sweep_cursor(bucket)
    for page, next_cursor in objects.list_uploads(bucket, naming.INPUT_PREFIX, cursor):
        report.listed += len(page)
        settled_before = clock.now() - grace
        candidates = {
            naming.file_id_for(upload.ref.bucket, upload.ref.key, upload.ref.version): upload.ref
            for upload in page
            if naming.is_input_key(upload.ref.key) and upload.last_modified <= settled_before
        }
        note_ignored(bucket, page, settled_before, objects, report)
        known = store.known_files(list(candidates))
        for file_id, ref in candidates.items():
            if file_id in known:
                continue
            report.missing += 1
            if out_of_time():
                log.warning("sweep out of time; the rest of this page is looked at again next run")
                return report  # the cursor stays before this page
            try:
                ingest(ref)
            except Exception:  # one upload's failure must not stop the sweep
                report.errors += 1
                log.exception("sweep could not ingest an upload; trying again next sweep", extra={"key": ref.key})
                continue
            report.ingested += 1
            log.warning("ingested an upload whose event never came", extra={"key": ref.key, "file_id": file_id})
        store.save_sweep_cursor(bucket, next_cursor)
        if next_cursor is None:
            report.wrapped = True
            break
        if report.listed >= max_listed:
            break
    return report


def note_ignored(
    bucket: str, page: list[Listed], settled_before: datetime, objects: ObjectStore, report: SweepReport
) -> None:
    """An upload bbq will never run because of its name (.txt, .jsonl.gz, .csv) gets a one-line note next to
    it, ``<key>.ignored.json``, once (the note itself is in the listing after that). Keys with a problem that
    still end in .jsonl get their report from ingest."""
    listed = {upload.ref.key for upload in page}
    for upload in page:
        key = upload.ref.key
        if key.lower().endswith(naming.INPUT_SUFFIXES) or upload.last_modified > settled_before:
            continue
        if posixpath.basename(key) == FOLDER_TEMPLATE:  # a folder's prompt template: read, never run
            continue
        note = naming.ignored_note_key(key)
        if note is None or note in listed:
            continue
        objects.put_json(bucket, note, {"key": key, "status": "Ignored", "message": IGNORED})
        report.ignored += 1
        log.warning("upload ignored: not a .jsonl or a table", extra={"key": ascii(key)[:300]})
