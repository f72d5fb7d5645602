"""Tables in: the rows of a CSV, Parquet or JSON-lines table, rendered with a prompt template into the JSONL
bbq stages (templates.py), as a stream: memory stays flat whatever the table's size.

Where a table upload finds its template (README, "Tables and templates"): object metadata ``bbq-template``
naming an object under ``templates/`` (``bbq-template: reviews.txt`` is ``templates/reviews.txt``), else a
``_template.txt`` in the upload's own folder. A ``.jsonl`` upload with ``bbq-template`` is already rendered
(``bbq submit`` renders before it uploads): its template gives only its output schema.
"""

import codecs
import csv
import posixpath
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import orjson

from bbq.core.intake.templates import PromptTemplate, Renderer, TemplateProblem, parse_template
from bbq.core.model import naming
from bbq.core.model.errors import ObjectMissing
from bbq.core.model.lines import split_lines
from bbq.core.model.ports import ObjectStore

TEMPLATE_METADATA = "bbq-template"
TEMPLATES_PREFIX = "templates/"
FOLDER_TEMPLATE = "_template.txt"
MAX_TEMPLATE_BYTES = 256 * 1024

Rows = Iterator[Mapping[str, Any]]
RowReader = Callable[[Iterable[bytes]], Rows]


class TableRefused(ValueError):
    """The table cannot be read at all (no template, a template that is wrong, not a table): nothing runs."""


def template_key(upload_key: str, metadata: Mapping[str, str]) -> tuple[str, bool]:
    """The key of the upload's template, and whether the upload named it (metadata) or it is the folder's."""
    named = metadata.get(TEMPLATE_METADATA)
    if named:
        return (named if named.startswith(TEMPLATES_PREFIX) else TEMPLATES_PREFIX + named.lstrip("/")), True
    return posixpath.join(posixpath.dirname(upload_key), FOLDER_TEMPLATE), False


def load_template(objects: ObjectStore, bucket: str, upload_key: str, metadata: Mapping[str, str]) -> PromptTemplate:
    key, named = template_key(upload_key, metadata)
    try:
        source = b"".join(objects.read_key(bucket, key))
    except ObjectMissing:
        how = f"its {TEMPLATE_METADATA} metadata names s3://{bucket}/{key}" if named else "none was found"
        raise TableRefused(
            f"a table needs a prompt template and {how}: upload the template to s3://{bucket}/{key}"
            + ("" if named else f", or name one under {TEMPLATES_PREFIX} with {TEMPLATE_METADATA} metadata")
            + ", then upload the table again"
        ) from None
    if len(source) > MAX_TEMPLATE_BYTES:
        raise TableRefused(f"the template s3://{bucket}/{key} is over {MAX_TEMPLATE_BYTES} bytes")
    try:
        return parse_template(source.decode("utf-8-sig"))
    except (TemplateProblem, UnicodeDecodeError) as exc:
        raise TableRefused(f"the template s3://{bucket}/{key} is wrong: {exc}") from None


def csv_rows(chunks: Iterable[bytes]) -> Rows:
    """A CSV's rows as column -> text, the header naming the columns (UTF-8, a BOM allowed)."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")

    def text_lines() -> Iterator[str]:
        pending = ""
        for chunk in chunks:
            pending += decoder.decode(chunk)
            *complete, pending = pending.split("\n")
            for line in complete:
                yield line + "\n"
        pending += decoder.decode(b"", final=True)
        if pending:
            yield pending

    reader = csv.DictReader(text_lines())
    try:
        if not reader.fieldnames:
            return
        for row in reader:
            yield {name: value for name, value in row.items() if name is not None}
    except UnicodeDecodeError as exc:
        raise TableRefused(f"the CSV is not UTF-8 ({exc}): save it as UTF-8") from None
    except csv.Error as exc:
        raise TableRefused(f"the CSV cannot be read at line {reader.line_num}: {exc}") from None


def jsonl_rows(chunks: Iterable[bytes]) -> Rows:
    """A JSON-lines table: one object a line (blank lines skipped)."""
    for line in split_lines(chunks, 16 * 1024 * 1024):
        if line.data and not line.data.isspace():
            try:
                row = orjson.loads(line.data)
            except orjson.JSONDecodeError as exc:
                raise TableRefused(f"line {line.number} of the table is not JSON: {exc}") from None
            if not isinstance(row, dict):
                raise TableRefused(f"line {line.number} of the table is not a JSON object")
            yield row


def rendered_lines(rows: Iterable[Mapping[str, Any]], renderer: Renderer) -> Iterator[bytes]:
    """Each row as its JSONL line (line n is row n: the line numbers in reports are the table's rows)."""
    line = renderer.line
    for number, row in enumerate(rows, 1):
        yield line(row, number)


def table_format(key: str) -> str | None:
    """ "csv" or "parquet" for a table upload, None for a JSONL one."""
    lowered = key.lower()
    return next((suffix.lstrip(".") for suffix in naming.TABLE_SUFFIXES if lowered.endswith(suffix)), None)
