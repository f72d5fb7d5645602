"""A file's results join, off the scheduler's critical path: carried out by its own function when the file's last
record is final, over as many invocations as it takes.

The join walks the file's chains (a part and its later attempts) in line order and writes results.jsonl and
errors.jsonl through resumable writers. Every ``checkpoint_every`` (and before it stops for time) it saves a
checkpoint at a chain's end: the next chain, the totals so far and both writers' states. An invocation that runs
out of time stops after a chain and asks for the join to go on; one that dies is retried from the last
checkpoint. Rows after a checkpoint are written again from it, never twice into the object. Two invocations of
one file cannot both go on: each save must follow the stored step, and a live lease keeps a second one out.
"""

import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from enum import StrEnum
from typing import Any

from bbq.core.model import naming
from bbq.core.model.clock import Clock
from bbq.core.model.file_updates import update_file
from bbq.core.model.files import FILE_DONE, InputFile, file_status
from bbq.core.model.join_state import JoinCheckpoint
from bbq.core.model.ports import ObjectStore, ResumableWriter, Store, TableWriter
from bbq.core.settling import latest, staged_data
from bbq.core.settling.progress import Ending, end_file
from bbq.core.settling.refused import refused_rows
from bbq.core.settling.results import ERRORS, RESULTS, Merge, Totals, json_lines
from bbq.core.settling.results_table import RESULTS_TABLE, table_rows

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=16)  # longer than an invocation may run (15 minutes)
CHECKPOINT_EVERY = timedelta(seconds=60)


class JoinOutcome(StrEnum):
    ENDED = "ended"  # the file ended now, or had ended before
    PAUSED = "paused"  # out of time: a checkpoint is saved, and the join must be asked for again
    BUSY = "busy"  # another invocation holds the join
    NOT_READY = "not ready"  # some of its records are not final yet
    GONE = "gone"  # no such file


def join_file(
    file_id: str,
    *,
    store: Store,
    objects: ObjectStore,
    clock: Clock,
    ending: Ending,
    holder: str,
    out_of_time: Callable[[], bool],
    checkpoint_every: timedelta = CHECKPOINT_EVERY,
) -> tuple[JoinOutcome, InputFile | None]:
    """Joins what it can of the file's results; the file when this call ended it."""
    file = store.get_file(file_id)
    if file is None:
        return JoinOutcome.GONE, None
    if file.status in FILE_DONE:  # a request delivered again (the last one died after ending the file)
        staged_data.release(file, store.parts_of(file), objects)
        return JoinOutcome.ENDED, None
    parts = store.parts_of(file)
    if file_status(parts) not in FILE_DONE:
        return JoinOutcome.NOT_READY, None
    now = clock.now()
    stored = store.get_join(file_id)
    if stored and stored.holder != holder and stored.lease_until > now:
        return JoinOutcome.BUSY, None
    checkpoint = (stored or JoinCheckpoint(file_id, 0, holder, now)).with_changes(
        step=(stored.step if stored else 0) + 1, holder=holder, lease_until=now + LEASE
    )
    if not store.save_join(checkpoint):
        return JoinOutcome.BUSY, None
    totals = Totals.from_dict(checkpoint.totals) if checkpoint.totals else None
    merge = Merge(
        file, parts, store=store, objects=objects, prices=ending.prices, max_line_bytes=ending.max_line_bytes,
        totals=totals,
    )  # fmt: skip
    started = checkpoint.next_chain
    try:
        if not checkpoint.written:
            bucket, prefix = naming.split_uri(file.output_uri)
            results = objects.resumable_writer(bucket, prefix + RESULTS, checkpoint.results or None)
            errors = objects.resumable_writer(bucket, prefix + ERRORS, checkpoint.errors or None)
            saved_at = clock.now()
            for index in range(started, len(merge.chains)):
                if index > started and out_of_time():  # the lease is given up: the next invocation goes on at once
                    saved = _save(store, checkpoint, index, merge.totals, results, errors, clock, lease=timedelta(0))
                    return (JoinOutcome.PAUSED if saved else JoinOutcome.BUSY), None
                merge.join(index, results, errors)
                if clock.now() - saved_at >= checkpoint_every and index + 1 < len(merge.chains):
                    saved = _save(store, checkpoint, index + 1, merge.totals, results, errors, clock)
                    if saved is None:
                        return JoinOutcome.BUSY, None  # taken over: what this one wrote since is left out
                    checkpoint, saved_at = saved, clock.now()
            results.complete()
            errors.complete()
            written = checkpoint.with_changes(
                step=checkpoint.step + 1, next_chain=len(merge.chains), totals=merge.totals.as_dict(), written=True
            )
            if not store.save_join(written):
                return JoinOutcome.BUSY, None
            checkpoint = written

        if ending.tables is not None:  # written again on a redelivered request: the same rows, the same table
            _write_table(file, objects, ending.tables, ending.max_line_bytes)

        def finish(current: InputFile) -> InputFile | None:
            """Ended from the file as it is now (a stop may have landed during the join); None if it has ended."""
            if current.status in FILE_DONE:
                return None
            ended = end_file(current, parts, merge.totals, objects, clock)
            merge.write_summary(ended, parts, clock.now(), RESULTS_TABLE if ending.tables else None)
            latest.point_to(ended, objects)
            if ending.notify:  # before the item says it ended: a crash between repeats the event, at least once
                ending.notify(ended)
            return ended

        ended = update_file(store, file_id, finish) or store.get_file(file_id) or file
        staged_data.release(ended, parts, objects)  # only now may the bucket's lifecycle expire its staged data
    except Exception:
        # The last checkpoint stands; its lease is given up, so the retry goes on from it at once.
        store.save_join(checkpoint.with_changes(step=checkpoint.step + 1, lease_until=clock.now()))
        raise
    log.info("results joined", extra={"file_id": file_id, "chains": len(merge.chains), "invocation_from": started})
    return JoinOutcome.ENDED, ended


def _save(
    store: Store,
    checkpoint: JoinCheckpoint,
    next_chain: int,
    totals: Totals,
    results: ResumableWriter,
    errors: ResumableWriter,
    clock: Clock,
    lease: timedelta = LEASE,
) -> JoinCheckpoint | None:
    """Saves where the join stands after ``next_chain`` chains, holding it for ``lease`` more; None if another
    invocation took it over."""
    saved = checkpoint.with_changes(
        step=checkpoint.step + 1,
        next_chain=next_chain,
        totals=totals.as_dict(),
        results=results.checkpoint(),
        errors=errors.checkpoint(),
        lease_until=clock.now() + lease,
    )
    return saved if store.save_join(saved) else None


def _write_table(file: InputFile, objects: ObjectStore, tables: TableWriter, max_line_bytes: int) -> None:
    bucket, prefix = naming.split_uri(file.output_uri)

    def rows(name: str) -> Callable[[], Iterable[dict[str, Any]]]:
        return lambda: json_lines(objects, naming.s3_uri(bucket, prefix + name), 4 * max_line_bytes)

    def refused() -> Iterable[dict[str, Any]]:
        return refused_rows(objects, file)

    tables.write_rows(bucket, prefix + RESULTS_TABLE, table_rows(rows(RESULTS), rows(ERRORS), refused))
