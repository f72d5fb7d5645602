"""DynamoDB adapter for the JobStore port. The item layout is documented in the README ("The jobs table").

The slot ledger lives in the same table, one item per model (``JobId`` ``slots#<model>``, a map ``Holders`` of
job id to reservation time). It has no ``Status``, so it never shows in ``StatusIndex``.
"""

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from bbq.core.clock import iso
from bbq.core.jobs import Job, RecordCounts
from bbq.core.ports import Reservation
from bbq.core.states import JobStatus

STATUS_INDEX = "StatusIndex"  # partition key Status, sort key CreatedAt
LEDGER_PREFIX = "slots#"

_COUNTERS = {
    "total": "TotalRecordCount",
    "processed": "ProcessedRecordCount",
    "success": "SuccessRecordCount",
    "error": "ErrorRecordCount",
}
_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


class DynamoJobs:
    def __init__(self, client: Any, table_name: str) -> None:
        self._ddb = client
        self._table = table_name

    def create(self, job: Job) -> bool:
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=_to_item(job),
                ConditionExpression="attribute_not_exists(JobId)",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def get(self, job_id: str) -> Job | None:
        item = self._ddb.get_item(TableName=self._table, Key={"JobId": {"S": job_id}}, ConsistentRead=True)
        return _from_item(item["Item"]) if "Item" in item else None

    def list_by_status(self, statuses: Iterable[JobStatus]) -> list[Job]:
        paginator = self._ddb.get_paginator("query")
        jobs: list[Job] = []
        for status in statuses:
            pages = paginator.paginate(
                TableName=self._table,
                IndexName=STATUS_INDEX,
                KeyConditionExpression="#s = :s",
                ExpressionAttributeNames={"#s": "Status"},
                ExpressionAttributeValues={":s": {"S": status.value}},
            )
            jobs.extend(_from_item(item) for page in pages for item in page["Items"])
        return sorted(jobs, key=lambda job: (job.created_at, job.job_id))

    def save_transition(self, job: Job, expected: JobStatus) -> bool:
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item=_to_item(job),
                ConditionExpression="#s = :expected",
                ExpressionAttributeNames={"#s": "Status"},
                ExpressionAttributeValues={":expected": {"S": expected.value}},
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True


    # ---- the slot ledger ------------------------------------------------------------------------------------

    def slot_holders(self, model_id: str) -> dict[str, datetime]:
        key = _ledger_key(model_id)
        item = self._ddb.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        if item is None:
            self._create_ledger(key)
            return {}
        return {job_id: datetime.fromisoformat(value["S"]) for job_id, value in item["Holders"]["M"].items()}

    def _create_ledger(self, key: dict[str, Any]) -> None:
        """The map must exist before its members can be set one by one (the scheduler reads it before filling)."""
        try:
            self._ddb.put_item(
                TableName=self._table,
                Item={**key, "Holders": {"M": {}}},
                ConditionExpression="attribute_not_exists(JobId)",
            )
        except ClientError as exc:
            if not _conditional_failed(exc):  # another run made it first
                raise

    def reserve_slot(self, model_id: str, job_id: str, quota: int, now: datetime) -> Reservation:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_ledger_key(model_id),
                UpdateExpression="SET Holders.#job = :now",
                ConditionExpression="attribute_not_exists(Holders.#job) AND size(Holders) < :quota",
                ExpressionAttributeNames={"#job": job_id},
                ExpressionAttributeValues={":now": {"S": iso(now)}, ":quota": {"N": str(quota)}},
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise
            item: dict[str, Any] = dict(exc.response.get("Item", {}))  # type: ignore[call-overload]
            held = item.get("Holders", {}).get("M", {})
            return Reservation.TAKEN if job_id in held else Reservation.FULL
        return Reservation.RESERVED

    def hold_slot(self, model_id: str, job_id: str, now: datetime) -> None:
        self._ddb.update_item(
            TableName=self._table,
            Key=_ledger_key(model_id),
            UpdateExpression="SET Holders.#job = if_not_exists(Holders.#job, :now)",
            ExpressionAttributeNames={"#job": job_id},
            ExpressionAttributeValues={":now": {"S": iso(now)}},
        )

    def release_slot(self, model_id: str, job_id: str) -> None:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key=_ledger_key(model_id),
                UpdateExpression="REMOVE Holders.#job",
                ConditionExpression="attribute_exists(Holders)",
                ExpressionAttributeNames={"#job": job_id},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise


def _ledger_key(model_id: str) -> dict[str, Any]:
    return {"JobId": {"S": LEDGER_PREFIX + model_id}}


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _to_item(job: Job) -> dict[str, Any]:
    plain: dict[str, Any] = {
        "JobId": job.job_id,
        "Status": job.status.value,
        "ModelId": job.model_id,
        "InputUri": job.input_uri,
        "OutputUri": job.output_uri,
        "SourceBucket": job.source_bucket,
        "SourceKeys": list(job.source_keys),
        "RecordCount": job.record_count,
        "SizeBytes": job.size_bytes,
        "CreatedAt": iso(job.created_at),
        "UpdatedAt": iso(job.updated_at),
        "Message": job.message,
        "Attempt": job.attempt,
        "JobName": job.job_name,
        "JobArn": job.job_arn,
        "SubmittedAt": iso(job.submitted_at) if job.submitted_at else None,
        "EndedAt": iso(job.ended_at) if job.ended_at else None,
        "ReportUri": job.report_uri,
        "TransientErrors": job.transient_errors or None,
        "RetryAt": iso(job.retry_at) if job.retry_at else None,
    }
    plain.update({attr: getattr(job.counts, field) for field, attr in _COUNTERS.items()})
    return {name: _serialize(value) for name, value in plain.items() if value is not None}


def _from_item(item: dict[str, Any]) -> Job:
    plain = {name: _deserialize(value) for name, value in item.items()}

    def moment(name: str) -> datetime | None:
        return datetime.fromisoformat(plain[name]) if name in plain else None

    def number(name: str) -> int | None:
        return int(plain[name]) if name in plain else None

    return Job(
        job_id=plain["JobId"],
        status=JobStatus(plain["Status"]),
        model_id=plain["ModelId"],
        input_uri=plain["InputUri"],
        output_uri=plain["OutputUri"],
        source_bucket=plain["SourceBucket"],
        source_keys=tuple(plain["SourceKeys"]),
        record_count=int(plain["RecordCount"]),
        size_bytes=int(plain["SizeBytes"]),
        created_at=moment("CreatedAt"),  # type: ignore[arg-type]
        updated_at=moment("UpdatedAt"),  # type: ignore[arg-type]
        message=plain.get("Message", ""),
        attempt=int(plain.get("Attempt", 1)),
        job_name=plain.get("JobName"),
        job_arn=plain.get("JobArn"),
        submitted_at=moment("SubmittedAt"),
        ended_at=moment("EndedAt"),
        counts=RecordCounts(**{field: number(attr) for field, attr in _COUNTERS.items()}),
        report_uri=plain.get("ReportUri"),
        transient_errors=int(plain.get("TransientErrors", 0)),
        retry_at=moment("RetryAt"),
    )
