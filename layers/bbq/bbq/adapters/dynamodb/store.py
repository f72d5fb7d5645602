"""DynamoDB adapter for the Store port: one table holds files, parts, jobs and the slot ledger (the layout is in
the README, "The table").

Two sparse indexes keep reads proportional to the work at hand:
- ``QueueIndex`` (``Queue``, ``QueueOrder``) holds only what a scheduler run reads: each team's waiting parts per
  model (``parts#<model>#<invocation type>[#<team>]``, by priority, then oldest first) and each model's jobs in
  flight (``jobs#<model>``). An item leaves it when it is done, so history costs nothing.
- ``StatusIndex`` (``Status``, ``CreatedAt``) lists files and jobs by status for people and tools.
"""

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from bbq.adapters.dynamodb.budgets import DynamoBudgets
from bbq.adapters.dynamodb.items import (
    DEADLINES,
    FILE,
    JOB,
    JOIN,
    KEY_INDEX,
    LEDGER,
    PART,
    QUEUE_INDEX,
    STATS,
    SWEEP,
    TEAMS,
    file_from,
    file_item,
    job_from,
    job_item,
    part_from,
    part_item,
    to_plain,
    waiting_queue,
)
from bbq.core.model.clock import iso
from bbq.core.model.files import (
    InputFile,
    InvocationType,
    Part,
    PartStatus,
    every_attempt,
)
from bbq.core.model.jobs import Job
from bbq.core.model.join_state import JoinCheckpoint
from bbq.core.model.ports import Reservation
from bbq.core.model.states import JobStatus
from bbq.core.model.teams import DEFAULT_TEAM

if TYPE_CHECKING:  # typed clients for mypy (boto3-stubs); Lambda needs none of it
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

PAGE_SIZE = 100  # waiting parts read per query page: a run reads only as many pages as its free slots need
_BATCH_GET = 100  # DynamoDB's BatchGetItem limit


class DynamoStore(DynamoBudgets):
    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._ddb = client
        self._table = table_name

    # ---- files and parts ------------------------------------------------------------------------------------

    def get_file(self, file_id: str) -> InputFile | None:
        item = self._get(FILE + file_id)
        return file_from(item) if item else None

    def create_file(self, file: InputFile, parts: Sequence[Part]) -> bool:
        if parts and file.deadline is not None:  # runs look at the deadlines of the files named here
            self._ddb.update_item(
                TableName=self._table,
                Key={"Id": {"S": DEADLINES + file.model_id}},
                UpdateExpression="SET Kind = :kind, Files = if_not_exists(Files, :none)",
                ExpressionAttributeValues={":kind": {"S": "deadlines"}, ":none": {"M": {}}},
            )
            self._ddb.update_item(
                TableName=self._table,
                Key={"Id": {"S": DEADLINES + file.model_id}},
                UpdateExpression="SET Files.#file = :deadline",
                ExpressionAttributeNames={"#file": file.file_id},
                ExpressionAttributeValues={":deadline": {"S": iso(file.deadline)}},
            )
        if parts and file.team != DEFAULT_TEAM:  # before its parts: a run reads the queues of the teams named here
            self._ddb.update_item(
                TableName=self._table,
                Key={"Id": {"S": TEAMS + file.model_id}},
                UpdateExpression="ADD Teams :team SET Kind = :kind",
                ExpressionAttributeValues={":team": {"SS": [file.team]}, ":kind": {"S": "teams"}},
            )
        # Parts first: a file item is only ever seen with all of its parts stored.
        for part in parts:
            self._put_new(part_item(part))
        return self._put_new(file_item(file))

    def save_file(self, file: InputFile) -> bool:
        saved = file_item(file.with_changes(revision=file.revision + 1))
        # An item written before revisions existed has none: it reads as revision 0.
        condition = (
            "Revision = :read"
            if file.revision
            else "attribute_exists(Id) AND (attribute_not_exists(Revision) OR Revision = :read)"
        )
        return self._put_if(saved, condition, {":read": {"N": str(file.revision)}})

    def parts_of(self, file: InputFile) -> list[Part]:
        return every_attempt(file, self.get_parts)

    def uploads_of(self, bucket: str, key: str) -> list[InputFile]:
        pages = self._ddb.get_paginator("query").paginate(
            TableName=self._table,
            IndexName=KEY_INDEX,
            KeyConditionExpression="SourceKey = :key",
            ExpressionAttributeValues={":key": {"S": key}},
        )
        uploads = [file_from(item) for page in pages for item in page["Items"]]
        return [upload for upload in uploads if upload.bucket == bucket]

    def get_files(self, file_ids: Sequence[str]) -> list[InputFile]:
        found = {file.file_id: file for file in map(file_from, self._batch_get(FILE, file_ids))}
        return [found[fid] for fid in dict.fromkeys(file_ids) if fid in found]

    def get_parts(self, part_ids: Sequence[str]) -> list[Part]:
        found = {part.part_id: part for part in map(part_from, self._batch_get(PART, part_ids))}
        return [found[pid] for pid in dict.fromkeys(part_ids) if pid in found]

    def _batch_get(self, prefix: str, ids: Sequence[str]) -> Iterator[dict[str, Any]]:
        """Items by id, consistently, 100 a call (BatchGetItem's limit), unprocessed keys asked again."""
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), _BATCH_GET):
            keys = [{"Id": {"S": prefix + item_id}} for item_id in unique[start : start + _BATCH_GET]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = self._ddb.batch_get_item(RequestItems=request)
                yield from response["Responses"].get(self._table, [])
                request = response.get("UnprocessedKeys") or {}

    def save_part(self, part: Part, expected: PartStatus | None = None) -> bool:
        if expected is None:
            self._ddb.put_item(TableName=self._table, Item=part_item(part))
            return True
        return self._put_if(part_item(part), "PartStatus = :expected", {":expected": {"S": expected.value}})

    def add_part(self, part: Part) -> bool:
        return self._put_new(part_item(part))

    def waiting_parts(
        self, model_id: str, invocation_type: InvocationType, page_size: int = PAGE_SIZE, team: str = DEFAULT_TEAM
    ) -> Iterator[Part]:
        for item in self._queue(waiting_queue(model_id, invocation_type, team), page_size):
            yield part_from(item)

    def deadlines(self, model_id: str) -> dict[str, datetime]:
        item = self._get(DEADLINES + model_id)
        files = to_plain(item).get("Files", {}) if item else {}
        return {file_id: datetime.fromisoformat(when) for file_id, when in files.items()}

    def forget_deadline(self, model_id: str, file_id: str) -> None:
        self._ddb.update_item(
            TableName=self._table,
            Key={"Id": {"S": DEADLINES + model_id}},
            UpdateExpression="REMOVE Files.#file",
            ExpressionAttributeNames={"#file": file_id},
        )

    def job_times(self, model_id: str) -> tuple[int, float]:
        item = self._get(STATS + model_id)
        plain = to_plain(item) if item else {}
        return int(plain.get("JobRecords", 0)), float(plain.get("JobMinutes", 0))

    def add_job_time(self, model_id: str, records: int, minutes: float) -> None:
        self._ddb.update_item(
            TableName=self._table,
            Key={"Id": {"S": STATS + model_id}},
            UpdateExpression="ADD JobRecords :records, JobMinutes :minutes SET Kind = :kind",
            ExpressionAttributeValues={
                ":records": {"N": str(records)},
                ":minutes": {"N": str(round(minutes, 3))},
                ":kind": {"S": "stats"},
            },
        )

    def teams(self, model_id: str) -> list[str]:
        item = self._get(TEAMS + model_id)
        named = sorted(to_plain(item).get("Teams", ())) if item else []
        return [DEFAULT_TEAM, *(team for team in named if team != DEFAULT_TEAM)]

    # ---- jobs -----------------------------------------------------------------------------------------------

    def get_job(self, job_id: str) -> Job | None:
        item = self._get(JOB + job_id)
        return job_from(item) if item else None

    def jobs_in_flight(self, model_id: str) -> list[Job]:
        return [job_from(item) for item in self._queue(f"jobs#{model_id}")]

    def create_job(self, job: Job, parts: Sequence[Part]) -> bool:
        actions: list[TransactWriteItemTypeDef] = [
            {
                "Put": {
                    "TableName": self._table,
                    "Item": job_item(job),
                    "ConditionExpression": "attribute_not_exists(Id)",
                }
            }
        ]
        for part in parts:
            actions.append(
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": part_item(part),
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
        return self._put_if(job_item(job), "#s = :expected", status, {"#s": "Status"})

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
                # The limit it reserved under is kept for people (`bbq status`): the scheduler reads it afresh each run.
                UpdateExpression="SET Holders.#job = :now, Quota = :quota",
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
            written=saved.get("written", False),
            totals=saved["totals"],
            results=saved["results"],
            errors=saved["errors"],
        )

    def save_join(self, checkpoint: JoinCheckpoint) -> bool:
        state = {
            "holder": checkpoint.holder,
            "leaseUntil": iso(checkpoint.lease_until),
            "nextChain": checkpoint.next_chain,
            "written": checkpoint.written,
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
