"""Joined results of a file that ended, under its place in processed/ (Bedrock's raw ``.out`` files stay):

- ``results.jsonl``: one line per record that succeeded, in the upload's line order: its line, the user's
  ``recordId`` (bbq's when the line had none), the model's text or embedding, stop reason, tokens and the full
  ``modelOutput``;
- ``errors.jsonl``: every record that never succeeded: line, recordId, last error code and message, attempts
  (or that it was not run, for a stopped file);
- ``summary.json``: counts, tokens, cost, durations, attempts and the Bedrock jobs.

However the file was split, packed, retried or partly run on demand. The merge walks the file's parts in line
order; for each it holds only that part's results (every attempt's ``.out``, at most PartRecords records), and
reads the staged input (the valid records in line order) and the upload (the user's record ids) as streams, so
memory stays flat whatever the file's size.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Self

import orjson

from bbq.core.model import naming
from bbq.core.model.errors import ObjectMissing
from bbq.core.model.files import InputFile, Part, PartStatus
from bbq.core.model.lines import split_lines
from bbq.core.model.ports import ObjectRef, ObjectStore, ObjectWriter, Store
from bbq.core.model.prices import PriceTable
from bbq.core.model.record_ids import line_of, record_id_of_staged
from bbq.core.settling import model_output, refused, structured

RESULTS, ERRORS, SUMMARY = "results.jsonl", "errors.jsonl", "summary.json"
NOT_RUN = "not run: the file was stopped"
INPUT_GONE = (
    "records of these lines could not run: their staged input is gone (deleted, or expired after StagedDataDays); "
    "upload those lines again"
)
OUTPUT_LOST = (
    "its result is gone: the record ran, but Bedrock's output for it was deleted before bbq joined the results; "
    "run it again (bbq retry)"
)


@dataclass
class Totals:
    succeeded: int = 0
    failed: int = 0
    not_run: int = 0
    lost: int = 0  # counted as succeeded when their part settled, but their output was gone at the join
    input_tokens: int = 0
    output_tokens: int = 0
    batch_cost: float = 0.0
    on_demand_cost: float = 0.0
    priced: bool = True  # False when the model has no price (see ModelPrices)
    jobs: list[str] = field(default_factory=list)

    @property
    def cost(self) -> float | None:
        return round(self.batch_cost + self.on_demand_cost, 6) if self.priced else None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> Self:
        return cls(**saved)


class Merge:
    """A file's results, joined a chain (a part and its later attempts) at a time in line order, so a join can
    stop after any chain and go on later from the next (``totals`` carries what the joined ones added up to)."""

    def __init__(
        self,
        file: InputFile,
        parts: list[Part],
        *,
        store: Store,
        objects: ObjectStore,
        prices: PriceTable,
        max_line_bytes: int,
        totals: Totals | None = None,
    ) -> None:
        self.file, self.chains = file, _chains(parts)
        self._store, self._objects, self._prices, self._max_line = store, objects, prices, max_line_bytes
        self.totals = totals or Totals(priced=prices.price(file.model_id) is not None)
        self._user_ids: _UserIds | None = None  # opened at the first chain joined, read in step from there
        self._schema = orjson.loads(file.output_schema) if file.output_schema else None

    def join(self, index: int, results: ObjectWriter, errors: ObjectWriter) -> None:
        """Writes chain ``index``'s rows: each record's result, or its error, in line order."""
        chain, totals = self.chains[index], self.totals
        if self._user_ids is None:
            self._user_ids = _UserIds(self._objects, self.file, self._max_line)
        joined = _Joined.of(chain, store=self._store, objects=self._objects, max_line_bytes=self._max_line)
        totals.jobs += [job for job in joined.jobs if job not in totals.jobs]
        stopped = chain[-1].status == PartStatus.STOPPED
        try:
            self._join_records(chain, joined, stopped, results, errors)
        except ObjectMissing:  # its staged input is gone: what is known, then one row for what cannot be told
            self._join_without_input(chain, joined, results, errors)

    def _join_records(
        self, chain: list[Part], joined: "_Joined", stopped: bool, results: ObjectWriter, errors: ObjectWriter
    ) -> None:
        totals = self.totals
        assert self._user_ids is not None
        for record_id in _staged_ids(self._objects, chain[0], self._max_line):
            line = line_of(record_id) or 0
            user_id, columns = self._user_ids.at(line)
            user_id = user_id or record_id
            if record_id in joined.outputs:
                output, on_demand = joined.outputs[record_id]
                _write_result(
                    results, line, user_id, record_id, output, on_demand, self.file, self._prices, totals,
                    columns=columns, schema=self._schema,
                )  # fmt: skip
                continue
            if record_id in joined.failures:
                entry = joined.failures[record_id]
                totals.failed += 1
            elif stopped:
                totals.not_run += 1
                entry = {"bbqRecordId": record_id, "errorCode": None, "errorMessage": NOT_RUN}
            else:  # never silently dropped: the file's counts and summary say so too (progress.end_file)
                totals.lost += 1
                entry = {"bbqRecordId": record_id, "errorCode": None, "errorMessage": OUTPUT_LOST}
            row = {"line": line, "recordId": user_id, **entry} | ({"columns": columns} if columns else {})
            errors.write(orjson.dumps(row) + b"\n")

    def _join_without_input(
        self, chain: list[Part], joined: "_Joined", results: ObjectWriter, errors: ObjectWriter
    ) -> None:
        first, totals = chain[0], self.totals
        for record_id in sorted(joined.outputs, key=lambda rid: line_of(rid) or 0):
            output, on_demand = joined.outputs[record_id]
            line = line_of(record_id) or 0
            _write_result(results, line, record_id, record_id, output, on_demand, self.file, self._prices, totals)
        for record_id in sorted(joined.failures, key=lambda rid: line_of(rid) or 0):
            totals.failed += 1
            row = {"line": line_of(record_id), "recordId": record_id, **joined.failures[record_id]}
            errors.write(orjson.dumps(row) + b"\n")
        unknown = first.record_count - len(joined.outputs) - len(joined.failures)
        if unknown > 0:
            totals.failed += unknown
            row = {
                "line": first.first_line,
                "lastLine": first.last_line,
                "recordId": None,
                "records": unknown,
                "errorCode": None,
                "errorMessage": f"{INPUT_GONE} ({first.staged_uri})",
            }
            errors.write(orjson.dumps(row) + b"\n")

    def write_summary(self, ended: InputFile, parts: list[Part], now: datetime, table: str | None = None) -> None:
        """summary.json of the file as it ends (its final status), naming every file beside it: the refused
        lines' report is copied there too."""
        bucket, prefix = naming.split_uri(ended.output_uri)
        summary = _summary(ended, parts, self.totals, now)
        summary["resultsTable"] = table
        summary["refusedLines"] = refused.copy_report(self._objects, ended)
        self._objects.put_json(bucket, prefix + SUMMARY, summary)


def _write_result(
    out: ObjectWriter,
    line: int,
    user_id: str,
    record_id: str,
    output: dict[str, object],
    on_demand: bool,
    file: InputFile,
    prices: PriceTable,
    totals: Totals,
    *,
    columns: dict[str, Any] | None = None,
    schema: dict[str, Any] | None = None,
) -> None:
    reading = model_output.read(output)
    totals.succeeded += 1
    totals.input_tokens += reading.input_tokens
    totals.output_tokens += reading.output_tokens
    cost = prices.cost(file.model_id, reading.input_tokens, reading.output_tokens, on_demand=on_demand) or 0.0
    if on_demand:
        totals.on_demand_cost += cost
    else:
        totals.batch_cost += cost
    row: dict[str, object] = {"line": line, "recordId": user_id, "bbqRecordId": record_id}
    if columns:
        row["columns"] = columns
    if reading.embedding is not None:
        row["embedding"] = reading.embedding
    else:
        row["text"] = reading.text
    if schema is not None:
        parsed, problem = structured.parse(reading.text, schema)
        row["parsed" if problem is None else "parseError"] = parsed if problem is None else problem
    row |= {
        "stopReason": reading.stop_reason,
        "inputTokens": reading.input_tokens,
        "outputTokens": reading.output_tokens,
        "onDemand": on_demand,
        "modelOutput": output,
    }
    out.write(orjson.dumps(row) + b"\n")


def _chains(parts: list[Part]) -> list[list[Part]]:
    """Each part with its later attempts, in line order."""
    by_index: dict[int, list[Part]] = {}
    for part in parts:
        by_index.setdefault(part.index, []).append(part)
    return [sorted(chain, key=lambda p: p.attempt) for _, chain in sorted(by_index.items())]


@dataclass
class _Joined:
    """One part's outcome over all its attempts: each record's output (and whether it ran on demand) or its final
    failure."""

    outputs: dict[str, tuple[dict[str, object], bool]]
    failures: dict[str, dict[str, object]]
    jobs: list[str]

    @classmethod
    def of(cls, chain: list[Part], *, store: Store, objects: ObjectStore, max_line_bytes: int) -> "_Joined":
        joined = cls({}, {}, [])
        for part in chain:
            job = store.get_job(part.job_id) if part.job_id else None
            on_demand = bool(job and job.on_demand)
            if job is not None:
                joined.jobs += [arn for arn in (*job.previous_arns, job.job_arn) if arn and arn not in joined.jobs]
            if part.results_uri:
                for result in json_lines(objects, part.results_uri, 4 * max_line_bytes):
                    if "modelOutput" in result and not result.get("error"):
                        joined.outputs.setdefault(result["recordId"], (result["modelOutput"], on_demand))
            if part.failures_key:
                bucket = naming.split_uri(part.staged_uri)[0]
                for entry in json_lines(objects, naming.s3_uri(bucket, part.failures_key), max_line_bytes):
                    record_id = entry.pop("recordId")
                    entry.pop("line", None)
                    joined.failures[record_id] = {"bbqRecordId": record_id, **entry}
        return joined


def json_lines(objects: ObjectStore, uri: str, max_line_bytes: int) -> Iterator[dict[str, Any]]:
    bucket, key = naming.split_uri(uri)
    try:
        for line in split_lines(objects.read_key(bucket, key), max_line_bytes):
            if line.data:
                try:
                    value = orjson.loads(line.data)
                except orjson.JSONDecodeError:
                    continue
                if isinstance(value, dict) and "recordId" in value:
                    yield value
    except ObjectMissing:
        return


def _staged_ids(objects: ObjectStore, part: Part, max_line_bytes: int) -> Iterator[str]:
    """The part's valid records, in line order: its first attempt's staged input."""
    bucket, key = naming.split_uri(part.staged_uri)
    for line in split_lines(objects.read_key(bucket, key), max_line_bytes):
        if line.data:
            yield record_id_of_staged(line.data)


class _UserIds:
    """The user's own recordId of each line and the columns it carried (a rendered table's other columns), read
    in step with the merge (line numbers only go up) from the upload, or for a table from its rendered rows;
    (None, None) for a line without them, or when that object is no longer there."""

    def __init__(self, objects: ObjectStore, file: InputFile, max_line_bytes: int) -> None:
        def chunks() -> Iterable[bytes]:
            if file.rows_uri:
                return objects.read_key(*naming.split_uri(file.rows_uri))
            version_id = None if naming.is_etag(file.version) else file.version
            return objects.read(ObjectRef(file.bucket, file.key, file.version, file.size_bytes, version_id)).chunks

        self._lines = self._open(chunks, max_line_bytes)

    @staticmethod
    def _open(chunks: Callable[[], Iterable[bytes]], max_line_bytes: int) -> Iterator[tuple[int, bytes | None]]:
        try:
            for line in split_lines(chunks(), max_line_bytes):
                yield line.number, line.data
        except ObjectMissing:
            return

    def at(self, number: int) -> tuple[str | None, dict[str, Any] | None]:
        for line, data in self._lines:
            if line == number:
                return _user_id(data)
            if line > number:
                return None, None
        return None, None


def _user_id(data: bytes | None) -> tuple[str | None, dict[str, Any] | None]:
    if not data:
        return None, None
    try:
        record = orjson.loads(data.lstrip(b"\xef\xbb\xbf"))
    except orjson.JSONDecodeError:
        return None, None
    if not isinstance(record, dict):
        return None, None
    value, columns = record.get("recordId"), record.get("columns")
    return (value if isinstance(value, str) else None), (columns if isinstance(columns, dict) else None)


def _summary(file: InputFile, parts: list[Part], totals: Totals, now: datetime) -> dict[str, object]:
    return {
        "input": naming.s3_uri(file.bucket, file.key),
        "version": file.version,
        "fileId": file.file_id,
        "modelId": file.model_id,
        "status": file.status.value,
        "records": {
            "lines": file.line_count,
            "rejectedLines": file.rejected_lines,
            "run": file.record_count,
            # The item's counts, reconciled with the rows written (progress.end_file): the two always agree.
            "succeeded": file.counts.succeeded,
            "failed": file.counts.failed,
            "notRun": file.counts.stopped,
            "outputLost": totals.lost,
        },
        "tokens": {"input": totals.input_tokens, "output": totals.output_tokens},
        "costUsd": {
            "batch": round(totals.batch_cost, 6) if totals.priced else None,
            "onDemand": round(totals.on_demand_cost, 6) if totals.priced else None,
            "total": totals.cost,
            "note": "" if totals.priced else f"no price for {file.model_id}: set it in the ModelPrices parameter",
        },
        "durations": {
            "createdAt": file.created_at.isoformat(),
            "endedAt": now.isoformat(),
            "seconds": round((now - file.created_at).total_seconds()),
        },
        "attempts": {
            "most": max((part.attempt for part in parts), default=1),
            "recordsThatWentAgain": sum(part.retried for part in parts if part.attempt == 1),
        },
        "bedrockJobs": totals.jobs,
        "results": RESULTS,
        "errors": ERRORS,
    }
