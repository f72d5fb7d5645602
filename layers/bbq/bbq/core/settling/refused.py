"""The lines ingest refused, as the results see them: read from the upload's error report (its
``rejectedLines``: line, reason, the user's recordId), and copied into the results folder so everything about
an upload's outcome is in one place (``refused-lines.json``, named in summary.json)."""

from collections.abc import Iterator
from typing import Any

import orjson

from bbq.core.model import naming
from bbq.core.model.errors import ObjectMissing
from bbq.core.model.files import InputFile
from bbq.core.model.ports import ObjectStore

REFUSED_LINES = "refused-lines.json"
REFUSED_AT_INGEST = "refused at ingest: "


def _report(objects: ObjectStore, file: InputFile) -> bytes | None:
    if not file.report_uri or not file.rejected_lines:
        return None
    try:
        return b"".join(objects.read_key(*naming.split_uri(file.report_uri)))
    except ObjectMissing:
        return None


def refused_rows(objects: ObjectStore, file: InputFile) -> Iterator[dict[str, Any]]:
    body = _report(objects, file)
    if body is None:
        return
    for entry in orjson.loads(body).get("rejectedLines", []):
        reason = REFUSED_AT_INGEST + str(entry.get("reason", ""))
        yield {"line": entry.get("line"), "recordId": entry.get("recordId"), "errorCode": None, "errorMessage": reason}


def copy_report(objects: ObjectStore, file: InputFile) -> str | None:
    """The report beside the results (copied inside S3); its name there, or None when no line was refused."""
    if not file.report_uri or not file.rejected_lines:
        return None
    bucket, prefix = naming.split_uri(file.output_uri)
    try:
        objects.copy(bucket, naming.split_uri(file.report_uri)[1], prefix + REFUSED_LINES)
    except ObjectMissing:
        return None
    return REFUSED_LINES
