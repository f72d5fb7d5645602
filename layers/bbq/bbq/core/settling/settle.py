"""Settling a job that ended: each of its parts learns, record by record, what became of it.

The job's output for a part (Bedrock's ``<name>.out``, in no particular order) is joined with the part's staged
input on bbq's record id. Each record then:
- succeeded (a ``modelOutput`` line);
- goes again, when its error is about the service at that moment (``retry.record_error_is_transient``) or it is
  missing from the output: it is written to the part's next attempt, a new part that waits in the model's queue
  and is packed with other work like any part, until ``PipelineConfig.max_attempts``;
- failed for good (an error about the record itself, or its last attempt): listed with its error among the
  part's failures, which the file's report gathers.
A stopped job keeps what ran; what did not run is not run again when the stop was asked through bbq (the file's
flag), and goes again like missing records when Bedrock reports a stop no one asked of bbq.
A job that failed or expired (after its own attempts) fails its parts whole, with its message.

Every write is idempotent (deterministic keys, conditional creates, the same content again), so a run that dies
half-way is finished by the next one: the job stays in its model's queue until it is marked settled.
"""

import logging
from contextlib import ExitStack
from dataclasses import dataclass

import orjson

from bbq.core.model import naming, retry
from bbq.core.model.clock import Clock
from bbq.core.model.config import PipelineConfig
from bbq.core.model.errors import ObjectMissing
from bbq.core.model.files import PART_STATUS_OF_JOB, Part, PartStatus
from bbq.core.model.jobs import Job
from bbq.core.model.lines import split_lines
from bbq.core.model.ports import Files, ObjectStore, ObjectWriter
from bbq.core.model.record_ids import line_of, record_id_of_staged
from bbq.core.model.states import JobStatus
from bbq.core.settling import model_output

log = logging.getLogger(__name__)

# Jobs whose output is read record by record; the others (Failed, Expired) produced nothing to read.
READS_OUTPUT = frozenset({JobStatus.COMPLETED, JobStatus.PARTIALLY_COMPLETED, JobStatus.STOPPED})
Error = tuple[object, str]  # (errorCode, errorMessage) as Bedrock wrote them
_MISSING: Error = (None, retry.MISSING)


def settle_job(job: Job, *, store: Files, objects: ObjectStore, config: PipelineConfig, clock: Clock) -> list[Part]:
    """Settles each part the job carried that is not settled yet; every part of the job, as it is now."""
    parts = []
    stop_asked: dict[str, bool] = {}  # per file: a packed job carries many parts of few files
    for part in store.get_parts(job.part_ids):
        if part.job_id == job.job_id and part.status == PartStatus.IN_JOB:
            if part.file_id not in stop_asked:
                stop_asked[part.file_id] = _stop_asked(store, part)
            part = _settle_part(
                job, part, stop_asked[part.file_id], store=store, objects=objects, config=config, clock=clock
            )
            store.save_part(part)
        parts.append(part)
    return parts


def _stop_asked(store: Files, part: Part) -> bool:
    file = store.get_file(part.file_id)
    return file is not None and file.stop_requested


def _settle_part(
    job: Job,
    part: Part,
    stop_asked: bool,
    *,
    store: Files,
    objects: ObjectStore,
    config: PipelineConfig,
    clock: Clock,
) -> Part:
    if job.status not in READS_OUTPUT:
        whole = fail_whole_part(part, job.message, objects, config.split.max_line_bytes)
        return whole.with_changes(status=PART_STATUS_OF_JOB[job.status])
    name = part.input_name or ""
    results_uri = naming.results_uri(job.output_uri, job.job_arn, name)
    results, tokens = _read_results(objects, results_uri, config.split.max_line_bytes)
    # Only a stop asked through bbq (the file's flag) keeps records from running again. A job Bedrock reports
    # Stopped when no file asked (someone stopped it in the console or the API) is told apart: its records that
    # did not run are missing from its output and go again like any missing record.
    stopped = stop_asked
    stopped_elsewhere = job.status == JobStatus.STOPPED and not stop_asked
    sort = _Sorter(part, objects, retries=not stopped and part.attempt < config.max_attempts, stopped=stopped)
    if sum(error is None for error in results.values()) == part.record_count:
        sort.succeeded = part.record_count  # every record succeeded: no need to read the input
    else:
        try:
            with ExitStack() as open_writers:
                sort.open_writers = open_writers
                bucket, key = naming.split_uri(part.staged_uri)
                for line in split_lines(objects.read_key(bucket, key), config.split.max_line_bytes):
                    if line.data:
                        record_id = record_id_of_staged(line.data)
                        sort.add(record_id, line.data, results.get(record_id, _MISSING))
        except ObjectMissing:  # what succeeded is kept; the rest cannot be told apart, let alone run again
            succeeded = sum(error is None for error in results.values())
            return input_gone(part, succeeded).with_changes(
                results_uri=results_uri, input_tokens=tokens[0], output_tokens=tokens[1]
            )
    settled = part.with_changes(
        input_tokens=tokens[0],
        output_tokens=tokens[1],
        succeeded=sort.succeeded,
        failed=sort.failed,
        retried=sort.retried,
        results_uri=results_uri,
        failures_key=sort.failures_key if sort.failed else None,
    )
    if stopped:
        not_run = part.record_count - sort.succeeded - sort.failed
        return settled.with_changes(status=PartStatus.STOPPED, message=f"Stopped: {not_run} records were not run")
    if sort.retried:
        store.add_part(sort.next_attempt(clock))  # before the part says so: a crash in between only repeats this
        log.info(
            "records go again as the part's next attempt",
            extra={"part_id": part.part_id, "records": sort.retried, "attempt": part.attempt + 1},
        )
        and_failed = f"; {sort.failed} failed for good: {sort.first_error}" if sort.failed else ""
        why = (
            f"Bedrock reported job {job.job_arn} Stopped, but no stop was asked through bbq (it was stopped in the "
            "console or the API): "
            if stopped_elsewhere
            else ""
        )
        return settled.with_changes(
            status=PartStatus.RETRIED,
            message=f"{why}{sort.retried} records failed or went missing and go again as attempt {part.attempt + 1}"
            + and_failed,
        )
    if sort.failed:
        return settled.with_changes(
            status=PartStatus.PARTIALLY_COMPLETED,
            message=f"{sort.failed} of {part.record_count} records failed for good: {sort.first_error}",
        )
    # A job run on demand says so (and at what price) on each of its parts.
    return settled.with_changes(status=PartStatus.COMPLETED, message=job.message if job.on_demand else "")


def input_gone(part: Part, succeeded: int = 0) -> Part:
    """A part whose staged input is gone (deleted, or expired by the bucket's lifecycle): what did not run fails,
    with a message naming the key and the lines, and nothing waits for it any more."""
    failed = part.record_count - succeeded
    message = (
        f"Its staged input {part.staged_uri} is gone (deleted, or expired after StagedDataDays): {failed} records "
        f"(lines {part.first_line}-{part.last_line}) could not run. Upload those lines again."
    )
    status = PartStatus.PARTIALLY_COMPLETED if succeeded else PartStatus.FAILED
    return part.with_changes(status=status, message=message, succeeded=succeeded, failed=failed, failures_key=None)


def fail_whole_part(part: Part, message: str, objects: ObjectStore, max_line_bytes: int) -> Part:
    """A part none of whose records ran (its job failed or expired, or the small-work policy failed it): each
    record is listed among its failures with the reason, so the file's report names every record that failed."""
    bucket, key = naming.split_uri(part.staged_uri)
    failures_key = naming.failures_key(part.file_id, part.part_id)
    try:
        with objects.writer(bucket, failures_key) as failures:
            for line in split_lines(objects.read_key(bucket, key), max_line_bytes):
                if line.data:
                    record_id = record_id_of_staged(line.data)
                    entry = {
                        "recordId": record_id,
                        "line": line_of(record_id),
                        "errorCode": None,
                        "errorMessage": message,
                        "attempts": part.attempt,
                    }
                    failures.write(orjson.dumps(entry) + b"\n")
    except ObjectMissing:
        return input_gone(part)
    return part.with_changes(
        status=PartStatus.FAILED, message=message, failed=part.record_count, failures_key=failures_key
    )


def _read_results(
    objects: ObjectStore, uri: str, max_line_bytes: int
) -> tuple[dict[str, Error | None], tuple[int, int]]:
    """Each record id in the output file, with its error (None when it succeeded), and the input and output tokens
    its successes used (what budgets are charged). A record whose line is unreadable counts as missing."""
    bucket, key = naming.split_uri(uri)
    results: dict[str, Error | None] = {}
    input_tokens = output_tokens = 0
    try:
        # An output line holds the record's input and the model's answer: allow it more room than an input line.
        for line in split_lines(objects.read_key(bucket, key), 4 * max_line_bytes):
            if not line.data:
                continue
            try:
                result = orjson.loads(line.data)
                record_id = result["recordId"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                continue
            error = result.get("error")
            if "modelOutput" in result and not error:
                if results.get(record_id, 0) is not None:  # each record's tokens once
                    reading = model_output.read(result["modelOutput"])
                    input_tokens += reading.input_tokens
                    output_tokens += reading.output_tokens
                results[record_id] = None
            elif record_id not in results:  # a success elsewhere in the file wins
                error = error if isinstance(error, dict) else {}
                results[record_id] = (error.get("errorCode"), str(error.get("errorMessage") or "no message"))
    except ObjectMissing:
        pass  # nothing ran (a job stopped early): every record is missing
    return results, (input_tokens, output_tokens)


@dataclass
class _Sorter:
    """Sorts a part's records into succeeded, failed for good (written to its failures) and going again (written
    to its next attempt's staged input); each object is written only if something goes in it."""

    part: Part
    objects: ObjectStore
    retries: bool
    stopped: bool
    open_writers: ExitStack | None = None
    succeeded: int = 0
    failed: int = 0
    retried: int = 0
    retried_bytes: int = 0
    first_line: int = 0
    last_line: int = 0
    first_error: str = ""
    _failures: ObjectWriter | None = None
    _again: ObjectWriter | None = None

    @property
    def bucket(self) -> str:
        return naming.split_uri(self.part.staged_uri)[0]

    @property
    def failures_key(self) -> str:
        return naming.failures_key(self.part.file_id, self.part.part_id)

    @property
    def again_key(self) -> str:
        key = naming.split_uri(self.part.staged_uri)[1]
        return naming.attempt_key(self.part.file_id, key, self.part.attempt + 1)

    def add(self, record_id: str, data: bytes, error: Error | None) -> None:
        if error is None:
            self.succeeded += 1
            return
        code, message = error
        if self.retries and (error is _MISSING or retry.record_error_is_transient(code)):
            self._write_again(record_id, data)
            return
        if self.stopped and error is _MISSING:
            return  # not run: the job was stopped before it
        self.failed += 1
        if not self.first_error:
            self.first_error = f"{code} {message}" if code is not None else message
        entry = {
            "recordId": record_id,
            "line": line_of(record_id),
            "errorCode": code,
            "errorMessage": message,
            "attempts": self.part.attempt,
        }
        if self._failures is None:
            self._failures = self._writer(self.failures_key)
        self._failures.write(orjson.dumps(entry) + b"\n")

    def _write_again(self, record_id: str, data: bytes) -> None:
        if self._again is None:
            self._again = self._writer(self.again_key)
        self._again.write(data + b"\n")
        self.retried += 1
        self.retried_bytes += len(data) + 1
        line = line_of(record_id) or 0
        self.first_line = min(self.first_line or line, line)
        self.last_line = max(self.last_line, line)

    def _writer(self, key: str) -> ObjectWriter:
        assert self.open_writers is not None
        return self.open_writers.enter_context(self.objects.writer(self.bucket, key))

    def next_attempt(self, clock: Clock) -> Part:
        """The part of the records that go again: it waits in the queue (from now) like any other."""
        return Part(
            file_id=self.part.file_id,
            index=self.part.index,
            model_id=self.part.model_id,
            invocation_type=self.part.invocation_type,
            staged_uri=naming.s3_uri(self.bucket, self.again_key),
            part_count=self.part.part_count,
            output_uri=self.part.output_uri,
            first_line=self.first_line,
            last_line=self.last_line,
            record_count=self.retried,
            size_bytes=self.retried_bytes,
            queued_at=clock.now(),
            attempt=self.part.attempt + 1,
            team=self.part.team,
            priority=self.part.priority,
            deadline=self.part.deadline,
        )
