"""DynamoDB adapter for the StatusQuery port: files by status (StatusIndex), an upload by its key (KeyIndex), a
file's jobs (its parts, then their jobs, by key), a model's queues (QueueIndex), and every file or slot ledger (a
Scan: people's views, never the pipeline's)."""

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from bbq.adapters.dynamodb.items import FILE, KEY_INDEX, LEDGER, STATUS_INDEX, file_from
from bbq.adapters.dynamodb.store import DynamoStore
from bbq.core.model.budgets import Spend
from bbq.core.model.files import FileStatus, InputFile, InvocationType, Part, newest_upload
from bbq.core.model.jobs import Job
from bbq.core.model.ports import ModelSlots

if TYPE_CHECKING:  # typed clients for mypy (boto3-stubs); Lambda needs none of it
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoStatus:
    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._ddb = client
        self._table = table_name
        self._store = DynamoStore(client, table_name)  # its reads by key: a file's parts, then their jobs

    def files(self, status: FileStatus | None = None) -> Iterator[InputFile]:
        if status is None:
            pages = self._ddb.get_paginator("scan").paginate(
                TableName=self._table,
                FilterExpression="begins_with(Id, :file)",
                ExpressionAttributeValues={":file": {"S": FILE}},
            )
        else:  # files and jobs share the index: only files are kept
            pages = self._ddb.get_paginator("query").paginate(
                TableName=self._table,
                IndexName=STATUS_INDEX,
                KeyConditionExpression="#status = :status",
                FilterExpression="begins_with(Id, :file)",
                ExpressionAttributeNames={"#status": "Status"},
                ExpressionAttributeValues={":status": {"S": status.value}, ":file": {"S": FILE}},
            )
        for page in pages:
            yield from (file_from(item) for item in page["Items"])

    def file(self, file_id: str) -> InputFile | None:
        return self._store.get_file(file_id)

    def spends(self, keys: Sequence[str]) -> dict[str, Spend]:
        return self._store.spends(keys)

    def model_tokens(self, model_id: str) -> tuple[int, int, int]:
        return self._store.model_tokens(model_id)

    def teams(self, model_id: str) -> list[str]:
        return self._store.teams(model_id)

    def uploads(self, key: str) -> list[InputFile]:
        pages = self._ddb.get_paginator("query").paginate(
            TableName=self._table,
            IndexName=KEY_INDEX,
            KeyConditionExpression="SourceKey = :key",
            ExpressionAttributeValues={":key": {"S": key}},
        )
        return [file_from(item) for page in pages for item in page["Items"]]

    def newest_upload(self, key: str) -> InputFile | None:
        # Every upload of the key (a handful): S3's sequencer, not the time bbq took each in, says which is newest.
        return newest_upload(self.uploads(key))

    def slots(self) -> dict[str, ModelSlots]:
        pages = self._ddb.get_paginator("scan").paginate(
            TableName=self._table,
            FilterExpression="begins_with(Id, :ledger)",
            ExpressionAttributeValues={":ledger": {"S": LEDGER}},
        )
        held: dict[str, ModelSlots] = {}
        for page in pages:
            for item in page["Items"]:
                limit = int(item["Quota"]["N"]) if "Quota" in item else None
                held[item["Id"]["S"].removeprefix(LEDGER)] = ModelSlots(
                    len(item.get("Holders", {}).get("M", {})), limit
                )
        return held

    def waiting_parts(self, model_id: str) -> list[Part]:
        teams = self._store.teams(model_id)
        return [
            part
            for kind in InvocationType
            for team in teams
            for part in self._store.waiting_parts(model_id, kind, team=team)
        ]

    def jobs_in_flight(self, model_id: str) -> list[Job]:
        return self._store.jobs_in_flight(model_id)

    def parts_of(self, file: InputFile) -> list[Part]:
        return self._store.parts_of(file)

    def jobs_of(self, file: InputFile, parts: list[Part] | None = None) -> list[Job]:
        parts = self.parts_of(file) if parts is None else parts
        job_ids = dict.fromkeys(part.job_id for part in parts if part.job_id)
        jobs = [job for job_id in job_ids if (job := self._store.get_job(job_id)) is not None]
        return sorted(jobs, key=lambda job: (job.created_at, job.job_id))
