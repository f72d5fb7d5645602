"""What one scheduler run reads from the table, whatever the backlog and history: the deployed table's schema in
moto, N waiting files, M finished files with their parts and jobs, a few jobs in flight; one run of the real
scheduler (Bedrock scripted in memory). Counts items returned by every DynamoDB call and the S3 copies packed jobs
make, beside the floor: the least a run that decides the same must read (the jobs in flight, the parts the planned
jobs take, the model's ledger item) and what a full Scan would read. Files of --file-records records (1,000, or 10
for many small uploads). Prints one JSON line.
Usage: python bench/scheduler_reads_bench.py [--waiting 10000] [--finished 100000] [--file-records 1000]
"""

import argparse
import json
import os
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import boto3
from moto import mock_aws

from bbq.adapters.dynamodb import DynamoStore
from bbq.adapters.dynamodb.items import file_item, job_item, part_item
from bbq.core.model.clock import ManualClock
from bbq.core.model.config import PipelineConfig
from bbq.core.model.files import FileStatus, InputFile, InvocationType, Part, PartStatus
from bbq.core.model.jobs import Job
from bbq.core.model.limits import FixedLimits, ModelLimits
from bbq.core.model.states import JobStatus
from bbq.core.scheduling.scheduler import run_scheduler
from bbq_local.fakes import FakeBatch, FakeJoins, FakeObjects
from bbq_local.stack import load_template

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def table_schema() -> dict[str, Any]:
    props = load_template()["Resources"]["JobsTable"]["Properties"]
    return {k: props[k] for k in ("AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")}


RECORDS = [1000]  # records per file (--file-records)


def a_file(file_id: str, status: FileStatus) -> InputFile:
    n = RECORDS[0]
    return InputFile(
        file_id, "b", f"to-process/{file_id}.jsonl", "v", MODEL, InvocationType.INVOKE_MODEL, status,
        n, n, 0, n * 1000, 1, f"s3://b/processed/{file_id}/", T0, T0,
    )  # fmt: skip


def a_part(file_id: str, seconds: int, status: PartStatus, job_id: str | None) -> Part:
    n = RECORDS[0]
    return Part(
        file_id, 1, MODEL, InvocationType.INVOKE_MODEL, f"s3://b/staged/{file_id}/x-p00001.jsonl", 1,
        f"s3://b/processed/{file_id}/", 1, n, n, n * 1000, T0 + timedelta(seconds=seconds), status, job_id,
    )  # fmt: skip


def a_job(job_id: str, part_id: str, status: JobStatus) -> Job:
    arn = f"arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/{job_id[:12]}"
    return Job(
        job_id, status, MODEL, InvocationType.INVOKE_MODEL, (part_id,), "s3://b/staged/x/", "s3://b/processed/x/",
        1000, 10**6, T0, T0, job_name=f"bbq-{job_id[:20]}-a1", job_arn=arn,
        settled=status == JobStatus.COMPLETED,  # history: read, told and out of the queue long ago
    )  # fmt: skip


def fill(ddb: Any, table: str, waiting: int, finished: int, active: int) -> None:
    items: list[dict[str, Any]] = []
    for i in range(waiting):
        fid = f"w{i:09d}"
        items += [file_item(a_file(fid, FileStatus.QUEUED)), part_item(a_part(fid, i, PartStatus.WAITING, None))]
    for i in range(finished + active):
        fid, jid = f"d{i:09d}", f"j{i:023d}"
        done = i < finished
        items += [
            file_item(a_file(fid, FileStatus.COMPLETED if done else FileStatus.RUNNING)),
            part_item(a_part(fid, i, PartStatus.COMPLETED if done else PartStatus.IN_JOB, jid)),
            job_item(a_job(jid, f"{fid}-p00001", JobStatus.COMPLETED if done else JobStatus.IN_PROGRESS)),
        ]
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        ddb.batch_write_item(RequestItems={table: batch})


class _StagedElsewhere(FakeObjects):
    """Copies of staged parts for packed jobs are S3's work, not the table's: counted, not made."""

    copies = 0

    def copy(self, bucket: str, source_key: str, key: str) -> None:
        self.copies += 1


def _skip_mocks_rollback_copy() -> None:
    """moto backs up the whole table for every item of a TransactWriteItems (a deep copy each), which on a table
    of 100,000 items costs gigabytes and minutes per planned job. DynamoDB does nothing of the sort; the copy only
    serves a rollback this single run never needs, so the benchmark leaves it out."""
    import moto.dynamodb.models as dynamodb_models

    dynamodb_models.copy = SimpleNamespace(deepcopy=lambda value: value)  # type: ignore[assignment]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--finished", type=int, default=100_000)
    parser.add_argument("--active", type=int, default=7)
    parser.add_argument("--quota", type=int, default=10)
    parser.add_argument("--file-records", type=int, default=1000)
    args = parser.parse_args()
    RECORDS[0] = args.file_records
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    _skip_mocks_rollback_copy()
    with mock_aws():
        ddb = boto3.client("dynamodb")
        ddb.create_table(TableName="jobs", **table_schema())
        fill(ddb, "jobs", args.waiting, args.finished, args.active)
        read = {"items": 0, "calls": 0}

        def count(parsed: dict[str, Any], **_: Any) -> None:
            read["calls"] += 1
            if "Items" in parsed:
                read["items"] += len(parsed["Items"])
            elif "Item" in parsed:
                read["items"] += 1
            elif "Responses" in parsed:
                read["items"] += sum(len(v) for v in parsed["Responses"].values())

        ddb.meta.events.register("after-call.dynamodb", count)
        batch = FakeBatch()
        for i in range(args.active):
            arn = f"arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/{f'j{args.finished + i:023d}'[:12]}"
            batch.snapshots[arn] = batch.snapshots.get(arn) or _running()
        limits = ModelLimits(args.quota, 100, 50_000, 50_000, 1024**3, 5 * 1024**3)
        objects = _StagedElsewhere()
        start = time.perf_counter()
        report = run_scheduler(
            store=DynamoStore(ddb, "jobs"),
            batch=batch,
            objects=objects,
            limits=FixedLimits(limits),
            config=PipelineConfig(MODEL, "arn:aws:iam::123456789012:role/r", "bbq"),
            clock=ManualClock(T0 + timedelta(days=1)),
            joins=FakeJoins(),
        )
        seconds = time.perf_counter() - start
        ddb.meta.events.unregister("after-call.dynamodb", count)
        total = ddb.describe_table(TableName="jobs")["Table"]["ItemCount"]
        planned_parts = sum(len(job.part_ids) for job in _new_jobs(ddb))
        minimum = args.active + planned_parts + 1  # jobs in flight, the parts planned jobs take, the ledger
    print(
        json.dumps(
            {
                "bench": "scheduler_reads",
                "waiting_files": args.waiting,
                "finished_files": args.finished,
                "active_jobs": args.active,
                "quota": args.quota,
                "items_in_table": total,
                "file_records": args.file_records,
                "items_read": read["items"],
                "minimum_items": minimum,
                "items_over_minimum": round(read["items"] / minimum, 2),
                "dynamodb_calls": read["calls"],
                "s3_copies": objects.copies,
                "full_scan_would_read": total,
                "planned": report.planned,
                "submitted": report.submitted,
                "wall_s": round(seconds, 3),
            }
        )
    )


def _new_jobs(ddb: Any) -> list[Job]:
    """The jobs this run planned (the history's are Completed, the ones in flight InProgress)."""
    from bbq.adapters.dynamodb.items import job_from

    pages = ddb.get_paginator("scan").paginate(
        TableName="jobs",
        FilterExpression="begins_with(Id, :job) AND #s <> :done AND #s <> :running",
        ExpressionAttributeNames={"#s": "Status"},
        ExpressionAttributeValues={":job": {"S": "job#"}, ":done": {"S": "Completed"}, ":running": {"S": "InProgress"}},
    )
    return [job_from(item) for page in pages for item in page["Items"]]


def _running() -> Any:
    from bbq.core.model.jobs import JobSnapshot, RecordCounts

    return JobSnapshot(JobStatus.IN_PROGRESS, "", RecordCounts(1000, 10, 10, 0), None)


if __name__ == "__main__":
    main()
