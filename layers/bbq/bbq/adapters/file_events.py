"""EventBridge adapter: bbq's own events on the default bus when a file ends (``source`` ``bbq``, detail-type
``bbq File Completed``, ``... PartiallyCompleted``, ``... Failed``, ``... Stopped``), with its counts and where its
results are. The template routes them to the stack's SNS topic; anyone can add rules of their own."""

import json
from typing import TYPE_CHECKING

from bbq.core.model.files import InputFile

if TYPE_CHECKING:  # typed clients for mypy (boto3-stubs); Lambda needs none of it
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

SOURCE = "bbq"
DETAIL_TYPE = "bbq File {status}"


class FileEvents:
    def __init__(self, client: "EventBridgeClient", stack_name: str) -> None:
        self._events = client
        self._stack = stack_name

    def __call__(self, file: InputFile) -> None:
        entry: PutEventsRequestEntryTypeDef = {
            "Source": SOURCE,
            "DetailType": DETAIL_TYPE.format(status=file.status.value),
            "Detail": json.dumps(detail(file, self._stack)),
        }
        response = self._events.put_events(Entries=[entry])
        if response.get("FailedEntryCount"):
            failure = response["Entries"][0]
            why = f"{failure.get('ErrorCode')} {failure.get('ErrorMessage')}"
            raise RuntimeError(f"EventBridge refused the file event: {why}")  # the next run tells it again


def detail(file: InputFile, stack: str) -> dict[str, object]:
    return {
        "stack": stack,
        "fileId": file.file_id,
        "status": file.status.value,
        "input": f"s3://{file.bucket}/{file.key}",
        "version": file.version,
        "modelId": file.model_id,
        "message": file.message,
        "records": {
            "run": file.record_count,
            "succeeded": file.counts.succeeded,
            "failed": file.counts.failed,
            "stopped": file.counts.stopped,
            "rejectedLines": file.rejected_lines,
        },
        "tokens": {"input": file.input_tokens, "output": file.output_tokens},
        "costUsd": file.cost_usd,
        "results": file.results_uri,
        "report": file.results_report_uri,
    }
