"""Parquet, read and written with pyarrow (imported only when a table is read or written, so the other
functions start without it).

Reading: Parquet keeps its schema at the end of the file, so an upload is spooled to local disk (Lambda's /tmp,
in memory up to 16 MB) and read a row group's batch at a time: memory is one batch, whatever the file's size.
Writing: ``TableFile`` writes row groups as rows come, with the schema of the first batch (a later batch whose
values do not fit it has those columns written as JSON text, never dropped)."""

import tempfile
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from bbq.core.intake.tables import TableRefused

BATCH_ROWS = 4096
_SPOOL_BYTES = 16 * 1024 * 1024


def rows(chunks: Iterable[bytes]) -> Iterator[Mapping[str, Any]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    with tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES) as spool:
        for chunk in chunks:
            spool.write(chunk)
        spool.seek(0)
        try:
            table = pq.ParquetFile(spool)
            for batch in table.iter_batches(batch_size=BATCH_ROWS):
                yield from batch.to_pylist()
        except (pa.ArrowInvalid, OSError) as exc:
            raise TableRefused(f"the file is not a Parquet table pyarrow can read ({exc})") from None


class TableFile:
    """Rows into a Parquet file, a row group at a time."""

    def __init__(self, sink: IO[bytes], batch_rows: int = BATCH_ROWS) -> None:
        self._sink, self._batch_rows = sink, batch_rows
        self._pending: list[dict[str, Any]] = []
        self._writer: Any = None
        self._schema: Any = None

    def add(self, row: dict[str, Any]) -> None:
        self._pending.append(row)
        if len(self._pending) >= self._batch_rows:
            self._flush()

    def close(self) -> None:
        self._flush()
        if self._writer is None:  # no row at all: still a valid, empty table
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({}), self._sink)
            return
        self._writer.close()

    def _flush(self) -> None:
        if not self._pending:
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows, self._pending = self._pending, []
        if self._writer is None:
            batch = pa.Table.from_pylist(rows)
            # A column with no value in the first batch has no type yet: text, so later values have a home.
            fields = [pa.field(f.name, pa.string()) if pa.types.is_null(f.type) else f for f in batch.schema]
            self._schema = pa.schema(fields)
            self._writer = pq.ParquetWriter(self._sink, self._schema, compression="zstd")
        self._writer.write_table(self._fitted(rows))

    def _fitted(self, rows: list[dict[str, Any]]) -> Any:
        import pyarrow as pa

        try:
            return pa.Table.from_pylist(rows, schema=self._schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
            pass
        import orjson

        names = self._schema.names
        columns = {}
        for field in self._schema:
            values = [row.get(field.name) for row in rows]
            try:
                columns[field.name] = pa.array(values, type=field.type)
            except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
                if not pa.types.is_string(field.type):
                    raise
                columns[field.name] = pa.array(
                    [v if v is None or isinstance(v, str) else orjson.dumps(v).decode() for v in values]
                )
        return pa.table(columns, schema=self._schema).select(names)


class ParquetObjects:
    """TableWriter: a table written to local disk a row group at a time, then streamed into S3."""

    def __init__(self, objects: Any) -> None:
        self._objects = objects  # an ObjectStore

    def write_rows(self, bucket: str, key: str, rows: Iterable[dict[str, Any]]) -> None:
        with tempfile.TemporaryFile() as local:
            table = TableFile(local)
            for row in rows:
                table.add(row)
            table.close()
            local.seek(0)
            with self._objects.writer(bucket, key) as out:
                while chunk := local.read(8 * 1024 * 1024):
                    out.write(chunk)
