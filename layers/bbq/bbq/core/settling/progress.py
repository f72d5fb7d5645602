"""A file's status, counts and message follow its parts: derived from all of them (every attempt included) each
time some of them change. Once its last record is final its results join is asked for; the join ends the file
(``end_file``: final status, counts, cost and its report next to its results)."""

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from bbq.core.model.clock import Clock
from bbq.core.model.file_updates import ATTEMPTS, update_file
from bbq.core.model.files import (
    FILE_DONE,
    PART_FAILED,
    FileCounts,
    FileStatus,
    InputFile,
    Part,
    PartStatus,
    WaitReason,
    every_attempt_of,
    file_counts,
    file_status,
)
from bbq.core.model.jobs import Job
from bbq.core.model.limits import SplitPolicy
from bbq.core.model.messages import PACKING_NOTE
from bbq.core.model.ports import Files, JoinRequests, ObjectStore, TableWriter
from bbq.core.model.prices import DEFAULT as DEFAULT_PRICES
from bbq.core.model.prices import PriceTable
from bbq.core.settling.reports import write_file_report
from bbq.core.settling.results import Totals

log = logging.getLogger(__name__)


RESULTS_BEING_WRITTEN = "All records are final; results being written"


@dataclass(frozen=True)
class Ending:
    """What happens when a file ends: its joined results and report are written with these prices and line limit,
    then ``notify`` is told (at least once: before the item says so, so a crash between repeats it)."""

    prices: PriceTable = DEFAULT_PRICES
    max_line_bytes: int = SplitPolicy().max_line_bytes
    notify: Callable[[InputFile], None] | None = None
    tables: TableWriter | None = None  # results.parquet beside results.jsonl, where a writer is given


def update_files(store: Files, clock: Clock, parts: Iterable[Part], joins: JoinRequests) -> list[str]:
    """Each file's status is derived from all of its parts. Written on the revision read (a stop or a sibling run
    that wrote since wins, and this one reads again), then checked again: a run that finished a sibling part at
    the same moment may have read the parts before this one's change; the last writer's check sees every part.
    A file whose last record is final is not ended here: its results join is asked for (once), and it says so
    until the join ends it. The files asked for.

    The files a change touches are read together, round by round (their items, then their parts, a batch read
    each), so a packed job's fifty files cost a few reads and one write each, not five calls each."""
    asked = []
    pending = list(dict.fromkeys(part.file_id for part in parts))
    for _ in range(ATTEMPTS):
        # Ended by its join (or gone): nothing changes it any more.
        files = [file for file in store.get_files(pending) if file.status not in FILE_DONE]
        parts_of = every_attempt_of(files, store.get_parts)
        pending = []
        for file in files:
            every = _stop_waiting(store, file, parts_of[file.file_id])
            status, message, waiting_for = _derived(file, every)
            changes: dict[str, object] = {"waiting_for": waiting_for} if waiting_for != file.waiting_for else {}
            if status in FILE_DONE:
                status, message = FileStatus.RUNNING, RESULTS_BEING_WRITTEN
                if file.join_requested_at is None:
                    joins.request(file.file_id)  # first: a crash before the write asks again; a join is idempotent
                    changes["join_requested_at"] = clock.now()
                    asked.append(file.file_id)
            counts = file_counts(every)
            if not changes and status == file.status and message == file.message and counts == file.counts:
                continue
            changed = file.with_changes(
                status=status, message=message, counts=counts, updated_at=clock.now(), **changes
            )
            # Saved on the revision read, or lost to a writer since; either way read again: a sibling run that
            # finished a part at the same moment may have read the parts before this one's change and found the
            # file already right, so the last writer's check is the one that sees every part.
            store.save_file(changed)
            pending.append(file.file_id)
        if not pending:
            break
    return asked


def _stop_waiting(store: Files, file: InputFile, parts: list[Part]) -> list[Part]:
    """A file asked to stop runs nothing more: a part that went back to the queue after the stop's own pass (a
    retry written by a run that read the file before the stop) leaves it here, before any run can plan it."""
    if not file.stop_requested:
        return parts
    stopped = []
    for part in parts:
        if part.status == PartStatus.WAITING:
            late = part.with_changes(status=PartStatus.STOPPED, message="Stopped on request before it ran")
            if store.save_part(late, expected=PartStatus.WAITING):
                part = late
        stopped.append(part)
    return stopped


def end_file(file: InputFile, parts: list[Part], totals: Totals, objects: ObjectStore, clock: Clock) -> InputFile:
    """The file as it ends, once its results are written: final status and message, counts, tokens, cost and its
    report (the caller tells ``ending.notify``, then saves it)."""
    status, message, _ = _derived(file, parts)
    counts = file_counts(parts)
    if totals.lost:  # outputs deleted after their parts settled: they did not succeed after all
        counts = replace(counts, succeeded=counts.succeeded - totals.lost, failed=counts.failed + totals.lost)
        status = FileStatus.FAILED if counts.succeeded == 0 else FileStatus.PARTIALLY_COMPLETED
        message = (
            f"{counts.succeeded} records succeeded, {counts.failed} failed: {totals.lost} records ran but their "
            "output was deleted before the results were joined (listed in errors.jsonl; bbq retry runs them again)"
        )
    if counts.succeeded != totals.succeeded:
        log.error(
            "joined rows and counted records disagree",
            extra={"file_id": file.file_id, "rows": totals.succeeded, "counted": counts.succeeded},
        )
    file = file.with_changes(
        status=status,
        message=message,
        waiting_for=None,
        counts=counts,
        updated_at=clock.now(),
        results_uri=file.output_uri,
        input_tokens=totals.input_tokens,
        output_tokens=totals.output_tokens,
        cost_usd=totals.cost,
    )
    file = file.with_changes(results_report_uri=write_file_report(file, parts, objects))
    log.info(
        "file ended",
        extra={
            "file_id": file.file_id,
            "status": file.status.value,
            "succeeded": file.counts.succeeded,
            "failed": file.counts.failed,
            "stopped": file.counts.stopped,
            "cost_usd": file.cost_usd,
        },
    )
    return file


def _derived(file: InputFile, parts: list[Part]) -> tuple[FileStatus, str, WaitReason | None]:
    """The file's status, message and what it waits for, from its parts and what it waited for."""
    status = file_status(parts)
    if status in FILE_DONE:
        message = _final_message(status, file_counts(parts), parts)
        refused = (
            f"; {file.rejected_lines} lines refused at upload (see the error report)" if file.rejected_lines else ""
        )
        return status, message + refused, None
    if file.waiting_for == WaitReason.MODEL_ACCESS:
        return status, file.message, file.waiting_for  # what to fix stays in view until it has run
    retrying = next((p.message for p in parts if p.status == PartStatus.RETRIED), "")
    if file.waiting_for in {WaitReason.SLOTS, WaitReason.BUDGET} and status != FileStatus.QUEUED:
        return status, retrying, None  # its work left the queue: the notice that it waited long no longer holds
    if file.waiting_for == WaitReason.COMPANIONS and status != FileStatus.QUEUED:
        return status, retrying or _without_packing_note(file.message), None  # packed into a job at last
    return status, retrying or file.message, file.waiting_for


def _final_message(status: FileStatus, counts: FileCounts, parts: list[Part]) -> str:
    # What went wrong: a part with records that failed for good says how; else any part that did not complete.
    why = next((p.message for p in parts if p.message and (p.failed or p.status in PART_FAILED)), "") or next(
        (p.message for p in parts if p.message and p.status != PartStatus.COMPLETED), ""
    )
    note = next((p.message for p in parts if p.message and p.status == PartStatus.COMPLETED), "")  # on demand
    again = sum(p.retried for p in parts if p.attempt == 1)
    if status == FileStatus.COMPLETED:
        retried = f", {again} of them after going again" if again else ""
        return f"All {counts.succeeded} records succeeded{retried}" + (f"; {note}" if note else "")
    if status == FileStatus.STOPPED:
        return f"Stopped: {counts.succeeded} records succeeded, {counts.stopped} were not run, {counts.failed} failed"
    if status == FileStatus.FAILED:
        return f"No record succeeded: {why}"
    return (
        f"{counts.succeeded} records succeeded, {counts.failed} failed for good (each listed with its last error "
        f"in the report): {why}"
    )


def _without_packing_note(message: str) -> str:
    """The message ingest wrote, less the note it ends with (the rest says which lines were refused)."""
    if PACKING_NOTE not in message:
        return message
    head = message.partition(PACKING_NOTE)[0]
    return head.rsplit(";", 1)[0] if ";" in head else ""


def tell_files(store: Files, clock: Clock, job: Job, message: str, waiting_for: WaitReason | None = None) -> None:
    """Puts a job's news where users look: on the files its parts come from, with what they wait for now."""
    now = clock.now()

    def told(file: InputFile) -> InputFile | None:
        if (file.message, file.waiting_for) == (message, waiting_for) or file.status in FILE_DONE:
            return None
        return file.with_changes(message=message, waiting_for=waiting_for, updated_at=now)

    for file_id in dict.fromkeys(part.file_id for part in store.get_parts(job.part_ids)):
        update_file(store, file_id, told)
