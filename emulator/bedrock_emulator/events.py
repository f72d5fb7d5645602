"""Bedrock's state-change events, in the EventBridge envelope they arrive in."""

import json
import uuid
from datetime import UTC
from typing import Any

from bedrock_emulator.api import Status
from bedrock_emulator.job import EmulatedJob

EVENT_SOURCE = "aws.bedrock"
EVENT_DETAIL_TYPE = "Batch Inference Job State Change"
Event = dict[str, Any]


def state_change(job: EmulatedJob, *, account_id: str, region: str, event_id: uuid.UUID) -> Event:
    at = job.last_modified or job.submit_time
    return {
        "version": "0",
        "id": str(event_id),
        "detail-type": EVENT_DETAIL_TYPE,
        "source": EVENT_SOURCE,
        "account": account_id,
        "time": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [job.arn],
        "detail": {
            "version": "0.0",
            "accountId": account_id,
            "batchJobName": job.name,
            "batchJobArn": job.arn,
            "batchModelId": job.model_id,
            "status": job.status.value,
            "failureMessage": (job.message or "") if job.status == Status.FAILED else "",
            # Bedrock's own time strings are not ISO 8601 (nanosecond precision): modelled on purpose.
            "creationTime": job.submit_time.strftime("%Y-%m-%dT%H:%M:%S.%f000Z"),
        },
    }


def put_on_eventbridge(events_client: Any, event: Event, bus: str) -> None:
    events_client.put_events(
        Entries=[
            {
                "Source": event["source"],
                "DetailType": event["detail-type"],
                "Resources": event["resources"],
                "Detail": json.dumps(event["detail"]),
                "EventBusName": bus,
            }
        ]
    )
