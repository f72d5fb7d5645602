"""Ingest: one upload becomes an input file item and its staged parts, each waiting in its model's queue.

The upload is read once, as a stream: valid lines go to parts (staged copies Bedrock reads, so an overwrite of
the original changes nothing), refused lines to an error report next to the upload. The upload itself is never
changed or moved.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace

from bbq.core.intake import repeats
from bbq.core.intake.routing import Route, RouteRefused, route
from bbq.core.intake.staging import StagingResult, stage_lines
from bbq.core.intake.table_uploads import TableRefused, table_upload
from bbq.core.intake.tables import RowReader
from bbq.core.model import naming
from bbq.core.model.clock import Clock
from bbq.core.model.config import PipelineConfig, RejectedLines
from bbq.core.model.errors import ObjectMissing
from bbq.core.model.files import FileStatus, InputFile, InvocationType, Part, WaitReason
from bbq.core.model.limits import ModelLimits
from bbq.core.model.messages import PACKING_NOTE
from bbq.core.model.ports import Files, LimitsProvider, ObjectRef, ObjectStore
from bbq.core.model.prices import BYTES_PER_TOKEN

log = logging.getLogger(__name__)

FIX_AND_UPLOAD = "Fix the lines listed and upload the corrected file under to-process/ again"


@dataclass(frozen=True)
class IngestOutcome:
    key: str
    file_id: str | None
    status: FileStatus | None
    created: bool
    reason: str = ""
    parts: int = 0
    rejected_lines: int = 0
    unexpected: bool = False  # rejected because of an error bbq did not expect: counted, alarmed
    ignored: bool = False  # a .jsonl key bbq never reads (a report next to it says why)


def ingest_object(
    ref: ObjectRef,
    *,
    objects: ObjectStore,
    store: Files,
    limits: LimitsProvider,
    config: PipelineConfig,
    clock: Clock,
    transient: Callable[[Exception], bool] = lambda exc: True,
    parquet_rows: RowReader | None = None,
) -> IngestOutcome:
    """Every upload ends in a file item and a report. An error ``transient`` calls AWS's trouble (throttling,
    a service down) is raised, for Lambda to try the event again; any other is a surprise about this upload: it
    is Rejected with the error in its message and report (``unexpected`` on the outcome, for a metric and an
    alarm), rather than left to a dead-letter queue where no one sees it."""
    try:
        return _ingest(
            ref, objects=objects, store=store, limits=limits, config=config, clock=clock, parquet_rows=parquet_rows
        )
    except Exception as exc:
        if transient(exc):
            raise
        log.exception("unexpected error reading an upload; the file is rejected", extra={"key": ref.key})
        file_id = naming.file_id_for(ref.bucket, ref.key, ref.version)
        reason = (
            f"bbq could not read this upload ({type(exc).__name__}: {str(exc)[:200]}). This is bbq's fault, not "
            "your data's as far as bbq knows: upload it again, and if it fails the same way, report it with this "
            "message"
        )
        refused = _refuse(ref, file_id, reason, objects, store, clock)
        return replace(refused, unexpected=True)


def _ingest(
    ref: ObjectRef,
    *,
    objects: ObjectStore,
    store: Files,
    limits: LimitsProvider,
    config: PipelineConfig,
    clock: Clock,
    parquet_rows: RowReader | None,
) -> IngestOutcome:
    if problem := naming.key_problem(ref.key):
        # Never read. A .jsonl under to-process/ gets a report next to it saying why (S3 takes such keys).
        log.warning("upload not processed", extra={"key": ascii(ref.key)[:300], "reason": problem})
        reported = ref.key.startswith(naming.INPUT_PREFIX) and ref.key.lower().endswith(naming.INPUT_SUFFIXES)
        if reported:
            objects.put_json(ref.bucket, naming.error_report_key(ref.key), _key_refused(problem))
        return IngestOutcome(ref.key, None, None, created=False, reason=problem, ignored=reported)
    file_id = naming.file_id_for(ref.bucket, ref.key, ref.version)
    existing = store.get_file(file_id)
    if existing is not None:
        # A duplicated or retried event: the file is known, reading it again would change nothing.
        log.info("duplicate event ignored", extra={"file_id": file_id, "key": ref.key})
        return IngestOutcome(ref.key, file_id, existing.status, created=False, reason="duplicate event")
    if ref.size > config.split.max_upload_bytes:
        return _refuse(ref, file_id, _too_large(ref.size, config.split.max_upload_bytes), objects, store, clock)
    try:
        upload = objects.read(ref)
        earlier = repeats.ran_already(ref, lambda: store.uploads_of(ref.bucket, ref.key))
        if earlier is not None and not repeats.forced(upload.metadata):
            return _skip(ref, file_id, earlier, store, clock)
        try:
            target = route(ref.key, upload.metadata, config.models, config.default_model_id)
        except RouteRefused as exc:
            return _refuse(ref, file_id, str(exc), objects, store, clock)
        try:
            table = table_upload(ref, upload.metadata, upload.chunks, target, file_id, objects, parquet_rows)
        except TableRefused as exc:
            return _refuse(ref, file_id, str(exc), objects, store, clock)
        target = table.route
        model_limits = limits.limits(target.model_id)
        records, size = config.split.part_limits(model_limits)
        if target.deadline is not None:  # parts one run can take on demand, should the deadline need it
            records = min(records, config.deadline_part_records)
        with table.rows_writer() as rows_out:
            staged, report = stage_lines(
                ref,
                file_id,
                table.lines(rows_out),
                part_records=records,
                part_bytes=size,
                max_line_bytes=config.split.max_line_bytes,
                objects=objects,
            )
    except ObjectMissing:
        log.warning("upload gone before ingest; nothing queued", extra={"file_id": file_id, "key": ref.key})
        return IngestOutcome(ref.key, file_id, None, created=False, reason="object no longer exists")
    except TableRefused as exc:  # found only while reading it (a CSV that stops being UTF-8 half way)
        return _refuse(ref, file_id, str(exc), objects, store, clock)
    file = _estimated(_file(file_id, ref, target, staged, model_limits, config, clock), staged, config)
    file = file.with_changes(rows_uri=table.rows_uri, output_schema=table.schema)
    parts = [] if file.status == FileStatus.REJECTED else _parts(file, staged)
    if report is not None:
        report.finish(_outcome(file))
    elif file.status == FileStatus.REJECTED:  # nothing refused line by line (an empty file): still say why
        file = _report_whole_file(file, objects)
    if not parts:
        for part in staged.parts:  # a file rejected whole leaves no staged data behind
            objects.delete(ref.bucket, part.key)
    created = store.create_file(file, parts)
    log.info(
        "file queued" if parts else "file rejected",
        extra={
            "file_id": file_id,
            "key": ref.key,
            "model_id": target.model_id,
            "records": staged.record_count,
            "parts": len(parts),
            "rejected_lines": staged.rejected,
        },
    )
    return IngestOutcome(
        ref.key,
        file_id,
        file.status,
        created=created,
        reason="" if created else "duplicate event",
        parts=len(parts),
        rejected_lines=staged.rejected,
    )


def _file(
    file_id: str,
    ref: ObjectRef,
    target: Route,
    staged: StagingResult,
    limits: ModelLimits,
    config: PipelineConfig,
    clock: Clock,
) -> InputFile:
    now = clock.now()
    status, message, waiting_for = FileStatus.QUEUED, "", None
    if staged.rejected:
        first = staged.first_rejection
        assert first is not None
        more = f" and {staged.rejected - 1} more" if staged.rejected > 1 else ""
        message = f"line {first.line}{more} refused ({first.reason}); see the error report"
    if staged.record_count == 0:
        status = FileStatus.REJECTED
        message = f"no valid record in {staged.line_count} lines" + (f": {message}" if message else "")
    elif staged.rejected and config.rejected_lines == RejectedLines.REJECT_FILE:
        status = FileStatus.REJECTED
        message = f"{message}. Nothing of this file runs (RejectedLines is {config.rejected_lines.value})"
    elif staged.record_count < limits.min_records_per_job:
        note = (
            f"{staged.record_count} records, under Bedrock's minimum of {limits.min_records_per_job} per job: "
            f"{PACKING_NOTE}"
        )
        message = f"{message}; {note}" if message else note
        waiting_for = WaitReason.COMPANIONS
    return InputFile(
        file_id=file_id,
        bucket=ref.bucket,
        key=ref.key,
        version=ref.version,
        model_id=target.model_id,
        invocation_type=target.invocation_type,
        status=status,
        line_count=staged.line_count,
        record_count=staged.record_count if status != FileStatus.REJECTED else 0,
        rejected_lines=staged.rejected,
        size_bytes=ref.size,
        part_count=len(staged.parts) if status != FileStatus.REJECTED else 0,
        output_uri=naming.output_uri_for(ref.bucket, ref.key, naming.upload_tag(now, file_id)),
        created_at=now,
        updated_at=now,
        sequencer=ref.sequencer or "",
        etag=ref.etag,
        report_uri=naming.s3_uri(ref.bucket, staged.report_key) if staged.report_key else None,
        message=message,
        waiting_for=waiting_for,
        team=target.team,
        priority=target.priority,
        deadline=target.deadline,
    )


def _estimated(file: InputFile, staged: StagingResult, config: PipelineConfig) -> InputFile:
    """The input side of what the file will cost, from the bytes staged for Bedrock."""
    if file.status == FileStatus.REJECTED:
        return file
    tokens = sum(part.size_bytes for part in staged.parts) // BYTES_PER_TOKEN
    return file.with_changes(
        estimated_input_tokens=tokens,
        estimated_input_cost_usd=config.prices.cost(file.model_id, tokens, 0),
    )


def _parts(file: InputFile, staged: StagingResult) -> list[Part]:
    return [
        Part(
            file_id=file.file_id,
            index=part.index,
            model_id=file.model_id,
            invocation_type=file.invocation_type,
            staged_uri=naming.s3_uri(file.bucket, part.key),
            part_count=len(staged.parts),
            output_uri=file.output_uri,
            first_line=part.first_line,
            last_line=part.last_line,
            record_count=part.record_count,
            size_bytes=part.size_bytes,
            queued_at=file.created_at,
            team=file.team,
            priority=file.priority,
            deadline=file.deadline,
            max_output_tokens=part.max_output_tokens,
        )
        for part in staged.parts
    ]


def _outcome(file: InputFile) -> dict[str, object]:
    runs = file.status != FileStatus.REJECTED
    return {
        "fileId": file.file_id,
        "status": file.status.value,
        "lines": file.line_count,
        "recordsQueued": file.record_count,
        "rejectedLineCount": file.rejected_lines,
        "message": file.message,
        "whatToDo": (
            f"The other {file.record_count} records run. {FIX_AND_UPLOAD} (only those lines, or the whole file)."
            if runs
            else f"{FIX_AND_UPLOAD}; no Bedrock job was started for this file."
        ),
    }


def _key_refused(problem: str) -> dict[str, object]:
    return {
        "status": "Ignored",
        "message": f"bbq never reads this upload: {problem}",
        "whatToDo": "Upload it again under a key of printable characters, with no '.' or '..' folder, under "
        "to-process/ (nothing of it ran; no file item was made)",
    }


def _too_large(size: int, limit: int) -> str:
    return (
        f"the upload is {size:,} bytes; bbq takes uploads of at most {limit:,} bytes (MaxUploadBytes), what ingest "
        "reads within its 15 minutes. Split it into several files under to-process/."
    )


def _refuse(
    ref: ObjectRef, file_id: str, reason: str, objects: ObjectStore, store: Files, clock: Clock
) -> IngestOutcome:
    """A file refused before its lines are read (a model this stack does not run)."""
    file = _unread(ref, file_id, FileStatus.REJECTED, f"Refused: {reason}", clock)
    file = _report_whole_file(file, objects)
    created = store.create_file(file, [])
    log.warning("file refused", extra={"file_id": file_id, "key": ref.key, "reason": reason})
    return IngestOutcome(ref.key, file_id, file.status, created=created, reason=reason)


def _skip(ref: ObjectRef, file_id: str, earlier: InputFile, store: Files, clock: Clock) -> IngestOutcome:
    """The same bytes ran under this key already: an item saying so and where its results are, nothing run. No
    report next to the upload: ``<key>.error.json`` may be the earlier upload's, which its results still copy."""
    message = repeats.skip_message(earlier)
    file = _unread(ref, file_id, FileStatus.SKIPPED, message, clock).with_changes(model_id=earlier.model_id)
    created = store.create_file(file, [])
    log.info("repeat upload skipped", extra={"file_id": file_id, "key": ref.key, "earlier": earlier.file_id})
    return IngestOutcome(ref.key, file_id, file.status, created=created, reason=message)


def _unread(ref: ObjectRef, file_id: str, status: FileStatus, message: str, clock: Clock) -> InputFile:
    """The item of an upload none of whose lines was read."""
    now = clock.now()
    return InputFile(
        file_id=file_id,
        bucket=ref.bucket,
        key=ref.key,
        version=ref.version,
        model_id="",
        invocation_type=InvocationType.INVOKE_MODEL,
        status=status,
        line_count=0,
        record_count=0,
        rejected_lines=0,
        size_bytes=ref.size,
        part_count=0,
        output_uri=naming.output_uri_for(ref.bucket, ref.key, naming.upload_tag(now, file_id)),
        created_at=now,
        updated_at=now,
        sequencer=ref.sequencer or "",
        etag=ref.etag,
        message=message,
    )


def _report_whole_file(file: InputFile, objects: ObjectStore) -> InputFile:
    """The error report of a file refused with no line to list (an empty file, a model this stack does not run),
    in the same shape as one listing refused lines; the file with where its report is."""
    report_key = naming.error_report_key(file.key)
    file = file.with_changes(report_uri=naming.s3_uri(file.bucket, report_key))
    body = {"input": naming.s3_uri(file.bucket, file.key), "rejectedLines": [], **_outcome(file)}
    objects.put_json(file.bucket, report_key, body)
    return file
