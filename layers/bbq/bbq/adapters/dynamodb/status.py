"""DynamoDB adapter for the StatusQuery port: files by status (StatusIndex), an upload by its key (KeyIndex), and
every file or slot ledger (a Scan: people's views, never the pipeline's)."""

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from bbq.adapters.dynamodb.items import FILE, KEY_INDEX, LEDGER, STATUS_INDEX, file_from
from bbq.core.model.files import FileStatus, InputFile

if TYPE_CHECKING:  # typed clients for mypy (boto3-stubs); Lambda needs none of it
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoStatus:
    def __init__(self, client: "DynamoDBClient", table_name: str) -> None:
        self._ddb = client
        self._table = table_name

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

    def newest_upload(self, key: str) -> InputFile | None:
        found = self._ddb.query(
            TableName=self._table,
            IndexName=KEY_INDEX,
            KeyConditionExpression="SourceKey = :key",
            ExpressionAttributeValues={":key": {"S": key}},
            ScanIndexForward=False,  # newest first
            Limit=1,
        )["Items"]
        return file_from(found[0]) if found else None

    def slots_in_use(self) -> dict[str, int]:
        pages = self._ddb.get_paginator("scan").paginate(
            TableName=self._table,
            FilterExpression="begins_with(Id, :ledger)",
            ExpressionAttributeValues={":ledger": {"S": LEDGER}},
        )
        held: dict[str, Any] = {}
        for page in pages:
            for item in page["Items"]:
                held[item["Id"]["S"].removeprefix(LEDGER)] = len(item.get("Holders", {}).get("M", {}))
        return held
