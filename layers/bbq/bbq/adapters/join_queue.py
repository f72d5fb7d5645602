"""SQS adapter for the JoinRequests port: one message per file whose results are to be joined, on the queue the
results function reads (the template's JoinQueue; after its retries a join that keeps failing goes to the
queue's dead-letter queue, which an alarm watches)."""

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # typed clients for mypy (boto3-stubs); Lambda needs none of it
    from mypy_boto3_sqs import SQSClient


class JoinQueue:
    def __init__(self, client: "SQSClient", queue_url: str) -> None:
        self._sqs = client
        self._url = queue_url

    def request(self, file_id: str) -> None:
        self._sqs.send_message(QueueUrl=self._url, MessageBody=json.dumps({"fileId": file_id}))
