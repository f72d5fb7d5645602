"""The report of a file that ended, next to its results (``processed/<path>/bbq-report-<tag>.json``): its final
status and counts, where its results are, each part and attempt, and every record that failed for good with its
last error: its line, the user's recordId and bbq's beside it, taken from the joined ``errors.jsonl`` (so the report
and the errors name records alike). Written as it goes (the failures of a large file are never held in memory)."""

from collections.abc import Iterator

import orjson

from bbq.core.model import naming
from bbq.core.model.errors import ObjectMissing
from bbq.core.model.files import InputFile, Part
from bbq.core.model.lines import split_lines
from bbq.core.model.ports import ObjectStore
from bbq.core.settling.results import ERRORS, NOT_RUN

# An errors line carries a table row's columns: it may be as long as an input line, which passed ingest's limit.
_ERROR_LINE_BYTES = 1 << 30

WHAT_TO_DO = {
    "Completed": "Nothing: every record has its result.",
    "PartiallyCompleted": "Each failed record is listed with its line and last error. Errors about the record "
    "itself (400) need the line fixed; upload the fixed lines as a new file under to-process/.",
    "Failed": "No record succeeded; the message says why. Fix that and upload the file again.",
    "Stopped": "The file was stopped: records that ran have their results; upload the rest again to run them.",
}


def write_file_report(file: InputFile, parts: list[Part], objects: ObjectStore) -> str:
    """Writes the report; its URI."""
    uri = naming.file_report_uri(file.output_uri, file.file_id)
    bucket, key = naming.split_uri(uri)
    head = {
        "input": naming.s3_uri(file.bucket, file.key),
        "version": file.version,
        "fileId": file.file_id,
        "modelId": file.model_id,
        "status": file.status.value,
        "message": file.message,
        "whatToDo": WHAT_TO_DO.get(file.status.value, ""),
        "records": {
            "lines": file.line_count,
            "rejectedLines": file.rejected_lines,
            "run": file.record_count,
            "succeeded": file.counts.succeeded,
            "failed": file.counts.failed,
            "stopped": file.counts.stopped,
        },
        "errorReport": file.report_uri,
        "results": [part.results_uri for part in parts if part.results_uri],
        "parts": [_part_entry(part) for part in parts],
    }
    with objects.writer(bucket, key) as out:
        out.write(orjson.dumps(head, option=orjson.OPT_INDENT_2)[:-2] + b',\n  "failedRecords": [')
        first = True
        for line in _failed_records(objects, file):
            out.write((b"\n    " if first else b",\n    ") + line)
            first = False
        out.write(b"\n  ]\n}\n")
    return uri


def _part_entry(part: Part) -> dict[str, object]:
    return {
        "part": part.index,
        "attempt": part.attempt,
        "lines": [part.first_line, part.last_line],
        "records": part.record_count,
        "status": part.status.value,
        "succeeded": part.succeeded,
        "failed": part.failed,
        "retried": part.retried,
        "message": part.message,
    }


def _failed_records(objects: ObjectStore, file: InputFile) -> Iterator[bytes]:
    """The joined errors, one JSON object each, without the records a stop left unrun (counted as ``stopped``) and
    without a table's columns (they are in errors.jsonl and results.parquet)."""
    bucket, prefix = naming.split_uri(file.output_uri)
    try:
        for line in split_lines(objects.read_key(bucket, prefix + ERRORS), _ERROR_LINE_BYTES):
            if not line.data:
                continue
            row = orjson.loads(line.data)
            if row.get("errorMessage") == NOT_RUN:
                continue
            row.pop("columns", None)
            yield orjson.dumps(row)
    except ObjectMissing:
        return
