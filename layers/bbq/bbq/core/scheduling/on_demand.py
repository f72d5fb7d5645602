"""Running a small job's records on demand (SmallWork on-demand): records that stayed under Bedrock's minimum per
batch job past CompanionWaitMinutes go one by one through InvokeModel or Converse, at the on-demand price, and
their results are written in Bedrock's batch output format (``{recordId, modelInput, modelOutput}`` or
``{recordId, modelInput, error}``) to ``<the job's place>on-demand/<part>.out``, so they are read like the rest.
A transient error stops the job for this run; the next run does it again from the start (each output is written
whole at the end, so a record never appears twice)."""

import logging
from dataclasses import dataclass

import orjson

from bbq.core.model import naming
from bbq.core.model.errors import RecordRejected
from bbq.core.model.jobs import Job, RecordCounts
from bbq.core.model.lines import split_lines
from bbq.core.model.ports import ObjectStore, OnDemandService, Store

log = logging.getLogger(__name__)
ON_DEMAND_FOLDER = "on-demand/"


@dataclass
class OnDemandTally:
    records: int = 0
    succeeded: int = 0
    failed: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


def output_uri(batch_output_uri: str) -> str:
    """Where an on-demand job writes: beside where a batch job of the same parts would."""
    return f"{batch_output_uri}{ON_DEMAND_FOLDER}"


def run_job(
    job: Job,
    *,
    store: Store,
    objects: ObjectStore,
    service: OnDemandService,
    max_line_bytes: int,
    service_tier: str | None = None,
) -> Job:
    """Runs every record of the job's parts; the job with its counts and tokens (its output is read back like a
    batch job's when it is settled). Why it runs on demand is the job's ``on_demand_reason`` (a deadline), or
    the small-work policy."""
    why = job.on_demand_reason or "SmallWork on-demand"
    tier = f" on the {service_tier} service tier" if service_tier else ""
    tally = OnDemandTally()
    for part in store.get_parts(job.part_ids):
        bucket, key = naming.split_uri(part.staged_uri)
        out_bucket, out_key = naming.split_uri(naming.results_uri(job.output_uri, None, part.input_name or ""))
        with objects.writer(out_bucket, out_key) as out:
            for line in split_lines(objects.read_key(bucket, key), max_line_bytes):
                if line.data:
                    out.write(_run_record(job, line.data, service, tally, service_tier) + b"\n")
    counts = RecordCounts(tally.records, tally.records, tally.succeeded, tally.failed)
    log.info(
        "ran on demand",
        extra={"job_id": job.job_id, "records": tally.records, "failed": tally.failed, "tokens": tally.input_tokens},
    )
    return job.with_changes(
        counts=counts,
        input_tokens=tally.input_tokens,
        output_tokens=tally.output_tokens,
        message=(
            f"Ran on demand through {job.invocation_type.value}{tier} at the on-demand price ({why}): "
            f"{tally.succeeded} of {tally.records} records succeeded, {tally.input_tokens} input and "
            f"{tally.output_tokens} output tokens"
        ),
    )


def _run_record(
    job: Job, data: bytes, service: OnDemandService, tally: OnDemandTally, service_tier: str | None
) -> bytes:
    record = orjson.loads(data)  # a staged line: bbq wrote it, it parses
    tally.records += 1
    line: dict[str, object] = {"recordId": record["recordId"], "modelInput": record["modelInput"]}
    try:
        result = service.invoke(job.model_id, job.invocation_type, record["modelInput"], service_tier)
    except RecordRejected as exc:
        tally.failed += 1
        line["error"] = {"errorCode": 400, "errorMessage": str(exc)}
        return orjson.dumps(line)
    tally.succeeded += 1
    tally.input_tokens += result.input_tokens
    tally.output_tokens += result.output_tokens
    line["modelOutput"] = result.output
    return orjson.dumps(line)
