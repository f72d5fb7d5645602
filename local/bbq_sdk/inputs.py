"""What people hand to ``submit``: a DataFrame, a path (CSV, Parquet, JSON lines), or an iterable of dicts,
rendered with a template into the JSONL bbq runs (written to a local file, a row at a time). A ``.jsonl`` path
without a template is taken as it is (Bedrock's own input format)."""

import tempfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from bbq.core.intake.tables import csv_rows, jsonl_rows, rendered_lines
from bbq.core.intake.templates import PromptTemplate, Renderer, parse_template

CHUNK = 1 << 20
INDEX_COLUMN = "__index__"


def load_template(template: "str | Path | PromptTemplate") -> PromptTemplate:
    """A template given as text, as a path to a template file, or parsed already."""
    if isinstance(template, PromptTemplate):
        return template
    if isinstance(template, Path) or (isinstance(template, str) and "\n" not in template and Path(template).is_file()):
        return parse_template(Path(template).read_text(encoding="utf-8-sig"))
    return parse_template(template)


def prepared(
    data: Any, template: "str | Path | PromptTemplate", id_column: str | None, converse: bool, options: dict[str, Any]
) -> tuple[Iterable[Mapping[str, Any]], PromptTemplate]:
    """The rows of ``data`` and the template with the caller's options over its own (a DataFrame's meaningful
    index is the id column unless one is named)."""
    rows, index_column = rows_of(data)
    parsed = load_template(template).with_overrides(
        id_column=id_column or index_column, converse=converse or None, **options
    )
    return rows, parsed


def file_chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def rows_of(data: Any) -> tuple[Iterable[Mapping[str, Any]], str | None]:
    """The rows of what was handed over, and the column that holds each row's DataFrame index (if any)."""
    if hasattr(data, "to_dict") and hasattr(data, "iloc"):  # a pandas DataFrame
        frame = data.reset_index(names=INDEX_COLUMN) if _named_index(data) else data
        return _frame_rows(frame), (INDEX_COLUMN if _named_index(data) else None)
    if isinstance(data, str | Path):
        path = Path(data)
        suffix = path.suffix.lower()
        if suffix == ".csv":
            return csv_rows(file_chunks(path)), None
        if suffix == ".parquet":
            from bbq.adapters.parquet_tables import rows

            return rows(file_chunks(path)), None
        if suffix in (".jsonl", ".json"):
            return jsonl_rows(file_chunks(path)), None
        raise ValueError(f"{path}: bbq reads .csv, .parquet and .jsonl tables")
    return ({str(k): v for k, v in row.items()} for row in data), None


def _named_index(frame: Any) -> bool:
    """A DataFrame whose index means something (not 0..n-1): it becomes each record's id."""
    import pandas as pd

    index = frame.index
    return not (isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1)


def _frame_rows(frame: Any, batch: int = 10_000) -> Iterator[dict[str, Any]]:
    for start in range(0, len(frame), batch):
        yield from frame.iloc[start : start + batch].to_dict(orient="records")


def render_to_file(rows: Iterable[Mapping[str, Any]], template: PromptTemplate, model_id: str) -> tuple[Path, int]:
    """The rows rendered into a temporary JSONL file (deleted by the caller); its path and row count."""
    renderer = Renderer(template, model_id)
    count = 0
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as out:
        for line in rendered_lines(rows, renderer):
            out.write(line)
            count += 1
    return Path(out.name), count


def model_inputs(
    rows: Iterable[Mapping[str, Any]], template: PromptTemplate, model_id: str
) -> Iterator[dict[str, Any]]:
    """Each row's modelInput (rows that do not render are left out of an estimate)."""
    from bbq.core.intake.templates import RowError

    renderer = Renderer(template, model_id)
    for number, row in enumerate(rows, 1):
        try:
            yield renderer.record(row, number)["modelInput"]
        except RowError:
            continue
