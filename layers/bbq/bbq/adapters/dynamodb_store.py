"""DynamoDB adapter for the Store port: one table holds files, parts, jobs and the slot ledger (the layout is in
the README, "The table").

Two sparse indexes keep reads proportional to the work at hand:
- ``QueueIndex`` (``Queue``, ``QueueOrder``) holds only what a scheduler run reads: each model's waiting parts
  (``parts#<model>#<invocation type>``, oldest first) and its jobs in flight (``jobs#<model>``). An item leaves
  it when it is done, so history costs nothing.
- ``StatusIndex`` (``Status``, ``CreatedAt``) lists files and jobs by status for people and tools.
"""

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from bbq.core.model.clock import iso
from bbq.core.model.files import (
    FileCounts,
    FileStatus,
    InputFile,
    InvocationType,
    Part,
    PartStatus,
    WaitReason,
    every_attempt,
)
from bbq.core.model.jobs import Job, RecordCounts
from bbq.core.model.join_state import JoinCheckpoint
from bbq.core.model.ports import Reservation
from bbq.core.model.states import JobStatus, is_terminal

if TYPE_CHECKING:  # typed clients for mypy (boto3-stubs); Lambda needs none of it
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

QUEUE_INDEX = "QueueIndex"
STATUS_INDEX = "StatusIndex"
FILE, PART, JOB, LEDGER, SWEEP, JOIN = "file#", "part#", "job#", "slots#", "sweep#", "join#"
PAGE_SIZE = 100  # waiting parts read per query page: a run reads only as many pages as its free slots need
_BATCH_GET = 100  # DynamoDB's BatchGetItem limit

_COUNTERS = {
    "total": "TotalRecordCount",
    "processed": "ProcessedRecordCount",
    "success": "SuccessRecordCount",
    "error": "ErrorRecordCount",
}
_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


class DynamoStore:
    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._ddb = client
        self._table = table_name

    # ---- files and parts ------------------------------------------------------------------------------------

    def get_file(self, file_id: str) -> InputFile | None:
        item = self._get(FILE + file_id)
        return _file_from(item) if item else None

    def create_file(self, file: InputFile, parts: Sequence[Part]) -> bool:
        # Parts first: a file item is only ever seen with all of its parts stored.
        for part in parts:
            self._put_new(_part_item(part))
        return self._put_new(_file_item(file))

    def save_file(self, file: InputFile) -> None:
        self._ddb.put_item(TableName=self._table, Item=_file_item(file))

    def parts_of(self, file: InputFile) -> list[Part]:
        return every_attempt(file, self.get_parts)

    def get_parts(self, part_ids: Sequence[str]) -> list[Part]:
        found: dict[str, Part] = {}
        ids = list(dict.fromkeys(part_ids))
        for start in range(0, len(ids), _BATCH_GET):
            keys = [{"Id": {"S": PART + pid}} for pid in ids[start : start + _BATCH_GET]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = self._ddb.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self._table, []):
                    part = _part_from(item)
                    found[part.part_id] = part
                request = response.get("UnprocessedKeys") or {}
        return [found[pid] for pid in ids if pid in found]

    def save_part(self, part: Part, expected: PartStatus | None = None) -> bool:
        if expected is None:
            self._ddb.put_item(TableName=self._table, Item=_part_item(part))
            return True
        return self._put_if(_part_item(part), "PartStatus = :expected", {":expected": {"S": expected.value}})

    def add_part(self, part: Part) -> bool:
        return self._put_new(_part_item(part))

    def waiting_parts(
        self, model_id: str, invocation_type: InvocationType, page_size: int = PAGE_SIZE
    ) -> Iterator[Part]:
        for item in self._queue(f"parts#{model_id}#{invocation_type.value}", page_size):
            yield _part_from(item)

    # ---- jobs -----------------------------------------------------------------------------------------------

    def get_job(self, job_id: str) -> Job | None:
        item = self._get(JOB + job_id)
        return _job_from(item) if item else None

    def jobs_in_flight(self, model_id: str) -> list[Job]:
        return [_job_from(item) for item in self._queue(f"jobs#{model_id}")]

    def create_job(self, job: Job, parts: Sequence[Part]) -> bool:
        actions: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": _job_item(job),
                    "ConditionExpression": "attribute_not_exists(Id)",
                }
            }
        ]
        for part in parts:
            actions.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _part_item(part),
                        "ConditionExpression": "PartStatus = :waiting",
                        "ExpressionAttributeValues": {":waiting": {"S": PartStatus.WAITING.value}},
                    }
                }
            )
        try:
            self._ddb.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                return False
            raise
        return True

    def save_job(self, job: Job, expected: JobStatus) -> bool:
        status = {":expected": {"S": expected.value}}
        return self._put_if(_job_item(job), "#s = :expected", status, {"#s": "Status"})

    # ---- the slot ledger ------------------------------------------------------------------------------------

    def slot_holders(self, model_id: str) -> dict[str, datetime]:
        item = self._get(LEDGER + model_id)
        if item is None:
            self._put_new({"Id": {"S": LEDGER + model_id}, "Holders": {"M": {}}})  # members are set one by one
            return {}
        return {job_id: datetime.fromisoformat(value["S"]) for job_id, value in item["Holders"]["M"].items()}

    def reserve_slot(self, model_id: str, job_id: str, quota: int, now: datetime) -> Reservation:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"Id": {"S": LEDGER + model_id}},
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
            Key={"Id": {"S": LEDGER + model_id}},
            UpdateExpression="SET Holders.#job = if_not_exists(Holders.#job, :now)",
            ExpressionAttributeNames={"#job": job_id},
            ExpressionAttributeValues={":now": {"S": iso(now)}},
        )

    def release_slot(self, model_id: str, job_id: str) -> None:
        try:
            self._ddb.update_item(
                TableName=self._table,
                Key={"Id": {"S": LEDGER + model_id}},
                UpdateExpression="REMOVE Holders.#job",
                ConditionExpression="attribute_exists(Holders)",
                ExpressionAttributeNames={"#job": job_id},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):
                raise

    # ---- the sweep ------------------------------------------------------------------------------------------

    def known_files(self, file_ids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        ids = list(dict.fromkeys(file_ids))
        for start in range(0, len(ids), _BATCH_GET):
            keys = [{"Id": {"S": FILE + fid}} for fid in ids[start : start + _BATCH_GET]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ProjectionExpression": "Id"}}
            while request:
                response = self._ddb.batch_get_item(RequestItems=request)
                found.update(item["Id"]["S"].removeprefix(FILE) for item in response["Responses"].get(self._table, []))
                request = response.get("UnprocessedKeys") or {}
        return found

    def sweep_cursor(self, bucket: str) -> str | None:
        item = self._get(SWEEP + bucket)
        return item["Cursor"]["S"] if item and "Cursor" in item else None

    def save_sweep_cursor(self, bucket: str, cursor: str | None) -> None:
        item = {"Id": {"S": SWEEP + bucket}, "Kind": {"S": "sweep"}}
        self._ddb.put_item(TableName=self._table, Item=item | ({"Cursor": {"S": cursor}} if cursor else {}))

    # ---- results joins --------------------------------------------------------------------------------------

    def get_join(self, file_id: str) -> JoinCheckpoint | None:
        item = self._get(JOIN + file_id)
        if item is None:
            return None
        saved = json.loads(item["State"]["S"])
        return JoinCheckpoint(
            file_id=file_id,
            step=int(item["Step"]["N"]),
            holder=saved["holder"],
            lease_until=datetime.fromisoformat(saved["leaseUntil"]),
            next_chain=saved["nextChain"],
            totals=saved["totals"],
            results=saved["results"],
            errors=saved["errors"],
        )

    def save_join(self, checkpoint: JoinCheckpoint) -> bool:
        state = {
            "holder": checkpoint.holder,
            "leaseUntil": iso(checkpoint.lease_until),
            "nextChain": checkpoint.next_chain,
            "totals": checkpoint.totals,
            "results": checkpoint.results,
            "errors": checkpoint.errors,
        }
        item = {
            "Id": {"S": JOIN + checkpoint.file_id},
            "Kind": {"S": "join"},
            "Step": {"N": str(checkpoint.step)},
            "State": {"S": json.dumps(state)},  # one string: the writers' states are nested and schemaless
        }
        if checkpoint.step == 1:
            return self._put_new(item)
        return self._put_if(item, "Step = :previous", {":previous": {"N": str(checkpoint.step - 1)}})

    # ---- helpers --------------------------------------------------------------------------------------------

    def _get(self, item_id: str) -> dict[str, Any] | None:
        response = self._ddb.get_item(TableName=self._table, Key={"Id": {"S": item_id}}, ConsistentRead=True)
        item: dict[str, Any] | None = response.get("Item")
        return item

    def _put_new(self, item: dict[str, Any]) -> bool:
        return self._put_if(item, "attribute_not_exists(Id)")

    def _put_if(
        self,
        item: dict[str, Any],
        condition: str,
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
    ) -> bool:
        """Writes ``item`` if ``condition`` holds; False if it did not (nothing written)."""
        request: dict[str, Any] = {"TableName": self._table, "Item": item, "ConditionExpression": condition}
        if values:
            request["ExpressionAttributeValues"] = values
        if names:
            request["ExpressionAttributeNames"] = names
        try:
            self._ddb.put_item(**request)
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def _queue(self, queue: str, page_size: int = PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """One queue of QueueIndex in order, a page at a time, only as far as the caller reads."""
        pages = self._ddb.get_paginator("query").paginate(
            TableName=self._table,
            IndexName=QUEUE_INDEX,
            KeyConditionExpression="#q = :q",
            ExpressionAttributeNames={"#q": "Queue"},
            ExpressionAttributeValues={":q": {"S": queue}},
            PaginationConfig={"PageSize": page_size},
        )
        for page in pages:
            yield from page["Items"]


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def _item(plain: dict[str, Any]) -> dict[str, Any]:
    return {name: _serialize(value) for name, value in plain.items() if value is not None and value != ""}


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserialize(value) for name, value in item.items()}


def _moment(plain: dict[str, Any], name: str) -> datetime | None:
    return datetime.fromisoformat(plain[name]) if name in plain else None


def _file_item(file: InputFile) -> dict[str, Any]:
    return _item(
        {
            "Id": FILE + file.file_id,
            "Kind": "file",
            "FileId": file.file_id,
            "Status": file.status.value,
            "SourceBucket": file.bucket,
            "SourceKey": file.key,
            "Version": file.version,
            "ModelId": file.model_id,
            "InvocationType": file.invocation_type.value,
            "LineCount": file.line_count,
            "RecordCount": file.record_count,
            "RejectedLines": file.rejected_lines,
            "SizeBytes": file.size_bytes,
            "PartCount": file.part_count,
            "OutputUri": file.output_uri,
            "ReportUri": file.report_uri,
            "Message": file.message,
            "CreatedAt": iso(file.created_at),
            "UpdatedAt": iso(file.updated_at),
            "RecordsSucceeded": file.counts.succeeded,
            "RecordsFailed": file.counts.failed,
            "RecordsStopped": file.counts.stopped,
            "RecordsPending": file.counts.pending,
            "ResultsReportUri": file.results_report_uri,
            "StopRequested": file.stop_requested or None,
            "ResultsUri": file.results_uri,
            "InputTokenCount": file.input_tokens or None,
            "OutputTokenCount": file.output_tokens or None,
            "CostUsd": _money(file.cost_usd),
            "EstimatedInputTokenCount": file.estimated_input_tokens or None,
            "EstimatedInputCostUsd": _money(file.estimated_input_cost_usd),
            "JoinRequestedAt": iso(file.join_requested_at) if file.join_requested_at else None,
            "WaitingFor": file.waiting_for.value if file.waiting_for else None,
        }
    )


def _money(dollars: float | None) -> Decimal | None:
    """DynamoDB numbers are decimals: US dollars go through their shortest repr, to the microdollar."""
    return Decimal(repr(round(dollars, 6))) if dollars is not None else None


def _file_from(item: dict[str, Any]) -> InputFile:
    plain = _plain(item)
    return InputFile(
        file_id=plain["FileId"],
        bucket=plain["SourceBucket"],
        key=plain["SourceKey"],
        version=plain["Version"],
        model_id=plain.get("ModelId", ""),
        invocation_type=InvocationType(plain["InvocationType"]),
        status=FileStatus(plain["Status"]),
        line_count=int(plain["LineCount"]),
        record_count=int(plain["RecordCount"]),
        rejected_lines=int(plain["RejectedLines"]),
        size_bytes=int(plain["SizeBytes"]),
        part_count=int(plain["PartCount"]),
        output_uri=plain["OutputUri"],
        created_at=datetime.fromisoformat(plain["CreatedAt"]),
        updated_at=datetime.fromisoformat(plain["UpdatedAt"]),
        report_uri=plain.get("ReportUri"),
        message=plain.get("Message", ""),
        counts=FileCounts(
            succeeded=int(plain.get("RecordsSucceeded", 0)),
            failed=int(plain.get("RecordsFailed", 0)),
            stopped=int(plain.get("RecordsStopped", 0)),
            pending=int(plain.get("RecordsPending", 0)),
        ),
        results_report_uri=plain.get("ResultsReportUri"),
        stop_requested=bool(plain.get("StopRequested", False)),
        results_uri=plain.get("ResultsUri"),
        input_tokens=int(plain.get("InputTokenCount", 0)),
        output_tokens=int(plain.get("OutputTokenCount", 0)),
        cost_usd=float(plain["CostUsd"]) if "CostUsd" in plain else None,
        estimated_input_tokens=int(plain.get("EstimatedInputTokenCount", 0)),
        estimated_input_cost_usd=float(plain["EstimatedInputCostUsd"]) if "EstimatedInputCostUsd" in plain else None,
        join_requested_at=_moment(plain, "JoinRequestedAt"),
        waiting_for=WaitReason(plain["WaitingFor"]) if "WaitingFor" in plain else None,
    )


def _part_item(part: Part) -> dict[str, Any]:
    waiting = part.status == PartStatus.WAITING
    queued_at = iso(part.queued_at)
    return _item(
        {
            "Id": PART + part.part_id,
            "Kind": "part",
            "FileId": part.file_id,
            "PartIndex": part.index,
            "PartStatus": part.status.value,
            "ModelId": part.model_id,
            "InvocationType": part.invocation_type.value,
            "StagedUri": part.staged_uri,
            "PartCount": part.part_count,
            "OutputUri": part.output_uri,
            "FirstLine": part.first_line,
            "LastLine": part.last_line,
            "RecordCount": part.record_count,
            "SizeBytes": part.size_bytes,
            "QueuedAt": queued_at,
            "JobId": part.job_id,
            "InputName": part.input_name,
            "Message": part.message,
            "Attempt": part.attempt,
            "RecordsSucceeded": part.succeeded,
            "RecordsFailed": part.failed,
            "RecordsRetried": part.retried,
            "ResultsUri": part.results_uri,
            "FailuresKey": part.failures_key,
            # In the model's queue only while it waits.
            "Queue": f"parts#{part.model_id}#{part.invocation_type.value}" if waiting else None,
            "QueueOrder": f"{queued_at}#{part.part_id}" if waiting else None,
        }
    )


def _part_from(item: dict[str, Any]) -> Part:
    plain = _plain(item)
    return Part(
        file_id=plain["FileId"],
        index=int(plain["PartIndex"]),
        model_id=plain["ModelId"],
        invocation_type=InvocationType(plain["InvocationType"]),
        staged_uri=plain["StagedUri"],
        part_count=int(plain["PartCount"]),
        output_uri=plain["OutputUri"],
        first_line=int(plain["FirstLine"]),
        last_line=int(plain["LastLine"]),
        record_count=int(plain["RecordCount"]),
        size_bytes=int(plain["SizeBytes"]),
        queued_at=datetime.fromisoformat(plain["QueuedAt"]),
        status=PartStatus(plain["PartStatus"]),
        job_id=plain.get("JobId"),
        input_name=plain.get("InputName"),
        message=plain.get("Message", ""),
        attempt=int(plain.get("Attempt", 1)),
        succeeded=int(plain.get("RecordsSucceeded", 0)),
        failed=int(plain.get("RecordsFailed", 0)),
        retried=int(plain.get("RecordsRetried", 0)),
        results_uri=plain.get("ResultsUri"),
        failures_key=plain.get("FailuresKey"),
    )


def _job_item(job: Job) -> dict[str, Any]:
    created_at = iso(job.created_at)
    gone = is_terminal(job.status) and job.settled
    plain: dict[str, Any] = {
        "Id": JOB + job.job_id,
        "Kind": "job",
        "JobId": job.job_id,
        "Status": job.status.value,
        "ModelId": job.model_id,
        "InvocationType": job.invocation_type.value,
        "PartIds": list(job.part_ids),
        "InputUri": job.input_uri,
        "OutputUri": job.output_uri,
        "RecordCount": job.record_count,
        "SizeBytes": job.size_bytes,
        "CreatedAt": created_at,
        "UpdatedAt": iso(job.updated_at),
        "Message": job.message,
        "Attempt": job.attempt,
        "JobName": job.job_name,
        "JobArn": job.job_arn,
        "SubmittedAt": iso(job.submitted_at) if job.submitted_at else None,
        "EndedAt": iso(job.ended_at) if job.ended_at else None,
        "TransientErrors": job.transient_errors or None,
        "RetryAt": iso(job.retry_at) if job.retry_at else None,
        "QueuedAt": iso(job.queued_at) if job.queued_at else None,
        "OnDemand": job.on_demand or None,
        "PreviousJobArns": list(job.previous_arns) or None,
        "InputTokenCount": job.input_tokens,
        "OutputTokenCount": job.output_tokens,
        "Settled": job.settled or None,
        # In the model's queue of jobs in flight until it ends and is settled.
        "Queue": None if gone else f"jobs#{job.model_id}",
        "QueueOrder": None if gone else f"{created_at}#{job.job_id}",
    }
    plain.update({attr: getattr(job.counts, name) for name, attr in _COUNTERS.items()})
    return _item(plain)


def _job_from(item: dict[str, Any]) -> Job:
    plain = _plain(item)

    def number(name: str) -> int | None:
        return int(plain[name]) if name in plain else None

    return Job(
        job_id=plain["JobId"],
        status=JobStatus(plain["Status"]),
        model_id=plain["ModelId"],
        invocation_type=InvocationType(plain["InvocationType"]),
        part_ids=tuple(plain["PartIds"]),
        input_uri=plain["InputUri"],
        output_uri=plain["OutputUri"],
        record_count=int(plain["RecordCount"]),
        size_bytes=int(plain["SizeBytes"]),
        created_at=datetime.fromisoformat(plain["CreatedAt"]),
        updated_at=datetime.fromisoformat(plain["UpdatedAt"]),
        message=plain.get("Message", ""),
        attempt=int(plain.get("Attempt", 1)),
        job_name=plain.get("JobName"),
        job_arn=plain.get("JobArn"),
        submitted_at=_moment(plain, "SubmittedAt"),
        ended_at=_moment(plain, "EndedAt"),
        counts=RecordCounts(**{name: number(attr) for name, attr in _COUNTERS.items()}),
        transient_errors=int(plain.get("TransientErrors", 0)),
        retry_at=_moment(plain, "RetryAt"),
        queued_at=_moment(plain, "QueuedAt"),
        on_demand=bool(plain.get("OnDemand", False)),
        previous_arns=tuple(plain.get("PreviousJobArns", ())),
        input_tokens=number("InputTokenCount"),
        output_tokens=number("OutputTokenCount"),
        settled=bool(plain.get("Settled", False)),
    )
