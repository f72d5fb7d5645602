"""What ingest reads from an upload: its own lines (JSONL), or a table's rows rendered by its template, with
the rendered lines kept (``staged/rows/<FileId>.jsonl``) so the results can carry each row's id and columns."""

from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace

import orjson

from bbq.core.intake.routing import Route
from bbq.core.intake.tables import (
    TEMPLATE_METADATA,
    RowReader,
    TableRefused,
    csv_rows,
    load_template,
    rendered_lines,
    table_format,
)
from bbq.core.intake.templates import PromptTemplate, Renderer, TemplateProblem
from bbq.core.model import naming
from bbq.core.model.files import InvocationType
from bbq.core.model.ports import ObjectRef, ObjectStore, ObjectWriter

__all__ = ["TableRefused", "TableUpload", "table_upload"]


@dataclass
class TableUpload:
    route: Route
    chunks: Iterable[bytes]
    renderer: Renderer | None = None
    rows_uri: str | None = None
    schema: str | None = None  # JSON text
    objects: ObjectStore | None = None

    def rows_writer(self) -> AbstractContextManager[ObjectWriter | None]:
        """Where the rendered lines are kept (nothing for a JSONL upload)."""
        if self.rows_uri is None or self.objects is None:
            return nullcontext()
        return self.objects.writer(*naming.split_uri(self.rows_uri))

    def lines(self, kept: ObjectWriter | None) -> Iterable[bytes]:
        if kept is None:
            return self.chunks
        return _tee(self.chunks, kept)


def _tee(lines: Iterable[bytes], kept: ObjectWriter) -> Iterator[bytes]:
    for line in lines:
        kept.write(line)
        yield line


def table_upload(
    ref: ObjectRef,
    metadata: Mapping[str, str],
    chunks: Iterable[bytes],
    route: Route,
    file_id: str,
    objects: ObjectStore,
    parquet_rows: RowReader | None,
) -> TableUpload:
    """The upload as ingest reads it. A table is rendered with its template (refused whole without one); a JSONL
    upload naming a template takes only the template's output schema."""
    kind = table_format(ref.key)
    if kind is None and not metadata.get(TEMPLATE_METADATA):
        return TableUpload(route, chunks)
    template = load_template(objects, ref.bucket, ref.key, metadata)
    schema = orjson.dumps(template.schema).decode() if template.schema is not None else None
    if kind is None:
        return TableUpload(route, chunks, schema=schema)
    converse = template.converse or route.invocation_type == InvocationType.CONVERSE
    route = replace(route, invocation_type=InvocationType.CONVERSE if converse else InvocationType.INVOKE_MODEL)
    renderer = _renderer(template.with_overrides(converse=converse), route.model_id)
    if kind == "csv":
        rows = csv_rows(chunks)
    elif parquet_rows is None:
        raise TableRefused("this deployment cannot read Parquet; upload the table as CSV")
    else:
        rows = parquet_rows(chunks)
    rows_uri = naming.s3_uri(ref.bucket, naming.rows_key(file_id))
    return TableUpload(route, rendered_lines(rows, renderer), renderer, rows_uri, schema, objects)


def _renderer(template: PromptTemplate, model_id: str) -> Renderer:
    try:
        return Renderer(template, model_id)
    except TemplateProblem as exc:
        raise TableRefused(f"the template cannot render for {model_id}: {exc}") from None
