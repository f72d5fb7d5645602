"""The whole pipeline on this machine: the deployed template in moto, the handlers in-process, the emulator
as Bedrock, and a manual clock. Wiring that moto cannot do (S3 -> Lambda, EventBridge -> Lambda) goes
through SQS queues that ``step`` pumps into the handlers, with the template's own filters and patterns."""

import functools
import itertools
import json
import logging
import re
import threading
import warnings
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote_plus

import boto3
from bedrock_emulator import BedrockEmulator, EmulatorServer, LimitTable, ModelLimits
from boto3.dynamodb.types import TypeDeserializer
from moto.dynamodb.models import DynamoDBBackend
from moto.s3 import notifications as s3_notifications
from moto.s3.models import FakeDeleteMarker, S3Backend

from bbq import wiring
from bbq.adapters.dynamodb.status import DynamoStatus
from bbq.core.model.clock import ManualClock, SystemClock
from bbq.core.model.files import FILE_FINAL
from bbq.core.model.states import ACTIVE
from bbq_local.functions import LocalFunction
from bbq_local.stack import DeployedStack, deploy

# moto says once per resource type it cannot create (bucket policy, invoke config); tests assert those instead.
warnings.filterwarnings("ignore", message="Tried to parse AWS::", category=UserWarning)
logging.getLogger("moto").setLevel(logging.ERROR)
_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours)\)")


def _serialize_item_writes() -> None:
    """DynamoDB applies each (conditional) write to an item atomically; moto in-process takes no lock, so
    overlapping scheduler runs on threads could interleave inside one write. One lock restores the guarantee."""
    if getattr(DynamoDBBackend, "_bbq_serialized", False):
        return
    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "get_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        @functools.wraps(original)
        def locked(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> Any:
            with lock:
                return _original(self, *args, **kwargs)

        setattr(DynamoDBBackend, name, locked)
    DynamoDBBackend._bbq_serialized = True  # type: ignore[attr-defined]


_SEQUENCE = itertools.count()


def _s3_events_carry_version_ids() -> None:
    """AWS puts the object's versionId (and a sequencer) in every event from a versioned bucket; moto's events
    have neither. Adding them lets ingest pin each upload by its version, as it does in AWS."""
    if getattr(s3_notifications, "_bbq_versioned", False):
        return
    original = s3_notifications._get_s3_event

    @functools.wraps(original)
    def with_version(event_name: str, bucket: Any, key: Any, notification_id: str) -> dict[str, Any]:
        if isinstance(key, FakeDeleteMarker):  # AWS's delete-marker event: key, versionId, sequencer; no size
            marker = {"key": quote_plus(key.name), "versionId": key.version_id}
            event = original(event_name, bucket, key.key, notification_id)
            event["Records"][0]["s3"]["object"] = marker
        else:
            event = original(event_name, bucket, key, notification_id)
        version = getattr(key, "version_id", None)
        if version and version != "null":
            obj = event["Records"][0]["s3"]["object"]
            # Increasing with every PUT, as S3's are for one key (hex; the counter breaks ties within a microsecond).
            count = next(_SEQUENCE)
            obj.update(versionId=version, sequencer=f"{int(key.last_modified.timestamp() * 1e6):016X}{count:08X}")
        return event

    s3_notifications._get_s3_event = with_version  # type: ignore[assignment]
    s3_notifications._bbq_versioned = True  # type: ignore[attr-defined]
    # moto makes a delete marker for a versioned delete but sends no event for it; S3 sends
    # s3:ObjectRemoved:DeleteMarkerCreated (S3 User Guide, "Event notification types").
    delete_object = S3Backend.delete_object

    @functools.wraps(delete_object)
    def with_marker_event(
        self: Any, bucket_name: str, key_name: str, version_id: str | None = None, **kwargs: Any
    ) -> Any:
        deleted = delete_object(self, bucket_name, key_name, version_id, **kwargs)
        bucket = self.get_bucket(bucket_name)
        marker = bucket.keys.get(key_name) if bucket.is_versioned and version_id is None else None
        if isinstance(marker, FakeDeleteMarker):
            event = s3_notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_MARKER_CREATED_EVENT
            s3_notifications.send_event(self.account_id, event, bucket, marker)
        return deleted

    S3Backend.delete_object = with_marker_event  # type: ignore[method-assign,assignment]


def schedule_seconds(expression: str) -> int:
    match = _RATE.fullmatch(expression.strip())
    if not match:
        raise ValueError(f"the local pipeline understands rate(N minutes|hours) schedules, not {expression!r}")
    return int(match.group(1)) * (60 if match.group(2).startswith("minute") else 3600)


class SteppedClock(Protocol):
    """The pipeline's time: a ManualClock in tests and the demo, scaled wall time under `bbq local up`."""

    def now(self) -> datetime: ...

    def advance(self, seconds: float) -> datetime: ...


class LocalPipeline:
    def __init__(
        self,
        *,
        parameters: dict[str, str] | None = None,
        quota: int = 2,
        stack_name: str = "bbq-local",
        clock: "SteppedClock | None" = None,
        seed: int = 0,
        log_dir: Path | None = None,
    ) -> None:
        self.parameters = {
            "MaxConcurrentJobs": str(quota),
            "ScheduleExpression": "rate(5 minutes)",
            **(parameters or {}),
        }
        # From the wall clock's now: S3 (moto) stamps objects with real time, which the sweep compares with.
        self.clock = clock or ManualClock(datetime.now(UTC).replace(microsecond=0))
        self.stack: DeployedStack = deploy(stack_name, self.parameters)
        self.bucket = self.stack.outputs["BucketName"]
        self.dead_letters = self.stack.outputs["IngestDeadLetterQueueUrl"]
        self.table = self.stack.outputs["JobsTableName"]
        self.status = DynamoStatus(boto3.client("dynamodb"), self.table)
        self.s3, self.sqs = boto3.client("s3"), boto3.client("sqs")
        # moto's CloudFormation drops the bucket's versioning: set it as the template does, so S3 events carry a
        # versionId and ingest pins each upload by it, as in AWS.
        self.s3.put_bucket_versioning(Bucket=self.bucket, VersioningConfiguration={"Status": "Enabled"})
        self.events = boto3.client("events")
        self.uploads_queue = self._route_uploads_to_queue()
        self.bedrock_queue, self.schedule_rules = self._route_rules_to_queue()
        self.schedule_every = schedule_seconds(self.parameters["ScheduleExpression"])
        self.sweep_every = schedule_seconds(self.parameters.get("SweepSchedule", "rate(1 hour)"))
        self.emulator = BedrockEmulator(
            s3_client=self.s3,
            clock=self.clock,
            seed=seed,
            events_client=self.events,
            limits=LimitTable(ModelLimits(concurrent_jobs=quota)),
        )
        self.server = EmulatorServer(self.emulator).start()
        ingest_name = self.stack.outputs["IngestFunctionName"]
        scheduler_name = self.stack.outputs["SchedulerFunctionName"]
        sweeper_name = self.stack.outputs["SweeperFunctionName"]
        endpoint = {
            "AWS_ENDPOINT_URL_BEDROCK": self.server.url,
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": self.server.url,  # InvokeModel and Converse for on-demand work
            "AWS_ENDPOINT_URL_SERVICE_QUOTAS": self.server.url,  # the emulator lists Bedrock's quotas too
            "POWERTOOLS_TRACE_DISABLED": "true",
        }
        results_name = self.stack.outputs["ResultsFunctionName"]
        functions = {
            "ingest": ingest_name,
            "scheduler": scheduler_name,
            "sweeper": sweeper_name,
            "results": results_name,
        }
        self.ingest, self.scheduler, self.sweeper, self.results = (
            LocalFunction(
                name,
                folder,
                {**self.stack.function_environment(name), **endpoint},
                log_file=log_dir / f"{folder}.log" if log_dir else None,  # their CloudWatch Logs
            )
            for folder, name in functions.items()
        )
        self.started_at = self._next_schedule = self.clock.now()
        self._next_sweep = self.started_at + timedelta(seconds=self.sweep_every)
        # Scheduler runs per trigger: more than one overlap on threads (no reserved concurrency by default).
        self.runs_per_tick = 1
        invoke_config = self.stack.translated["Resources"]["IngestFunctionEventInvokeConfig"]["Properties"]
        self.ingest_retries = int(invoke_config["MaximumRetryAttempts"])
        _serialize_item_writes()
        _s3_events_carry_version_ids()
        wiring.use_clock(self.clock)  # the handlers' time is the emulator's
        self.max_active_seen: dict[str, int] = {}
        self.sweeps: list[dict[str, Any]] = []  # what each sweeper run returned
        self._failed_joins: dict[str, datetime] = {}  # JoinQueue messages in their visibility timeout, and until when
        join_url = self.stack.outputs["JoinQueueUrl"]
        join_queue = self.sqs.get_queue_attributes(QueueUrl=join_url, AttributeNames=["QueueArn", "VisibilityTimeout"])
        self._join_queue = (
            join_url,
            join_queue["Attributes"]["QueueArn"],
            timedelta(seconds=int(join_queue["Attributes"]["VisibilityTimeout"])),
        )
        self.emulator.subscribe(self._watch_quota)

    def close(self) -> None:
        self.server.stop()
        wiring.use_clock(SystemClock())

    # ---- wiring moto cannot run -----------------------------------------------------------------------

    def _route_uploads_to_queue(self) -> str:
        """The bucket's Lambda notification (from the translated template) as an SQS notification."""
        notification = self.stack.translated["Resources"]["Bucket"]["Properties"]["NotificationConfiguration"]
        queue_url, queue_arn = self._queue("bbq-local-uploads")
        configs: list[Any] = [
            {
                "QueueArn": queue_arn,
                "Events": [c["Event"]],
                "Filter": {"Key": {"FilterRules": c["Filter"]["S3Key"]["Rules"]}},
            }
            for c in notification["LambdaConfigurations"]
        ]
        self.s3.put_bucket_notification_configuration(
            Bucket=self.bucket, NotificationConfiguration={"QueueConfigurations": configs}
        )
        return queue_url

    def _route_rules_to_queue(self) -> tuple[str, dict[str, str]]:
        """Points the deployed Bedrock state-change rule (its real pattern) at a queue instead of Lambda; the
        schedule rules' ARNs by the function each targets (the local pipeline invokes those on its clock)."""
        queue_url, queue_arn = self._queue("bbq-local-bedrock-events")
        self.notifications_queue, notifications_arn = self._queue("bbq-local-notifications")
        schedules = {}
        for rule in self.events.list_rules()["Rules"]:
            targets = self.events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
            self.events.remove_targets(Rule=rule["Name"], Ids=[t["Id"] for t in targets])
            if rule.get("EventPattern"):
                # Bedrock's state changes to the scheduler; bbq's own "file ended" events where a test reads them
                # (in AWS they go to the stack's SNS topic).
                own = json.loads(rule["EventPattern"]).get("source") == ["bbq"]
                target = notifications_arn if own else queue_arn
                self.events.put_targets(Rule=rule["Name"], Targets=[{"Id": "local-queue", "Arn": target}])
            else:
                schedules.update({target["Arn"].rsplit(":", 1)[-1]: rule["Arn"] for target in targets})
        return queue_url, schedules

    def notifications(self) -> list[dict[str, Any]]:
        """bbq's events since the last call: a file ended (EventBridge, as the stack's rule matches them)."""
        return self._drain(self.notifications_queue)

    def _queue(self, name: str) -> tuple[str, str]:
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return url, arn

    def _drain(self, queue_url: str) -> list[dict[str, Any]]:
        bodies: list[dict[str, Any]] = []
        while True:
            messages = self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                return bodies
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])

    def active_in_bedrock(self) -> Counter[str]:
        """Jobs holding a Bedrock slot right now, per model (bbq's and anyone else's)."""
        return Counter(job["modelId"] for job in self.emulator.jobs() if job["status"] in ACTIVE)

    def _watch_quota(self, event: dict[str, Any]) -> None:
        for model, count in self.active_in_bedrock().items():
            self.max_active_seen[model] = max(self.max_active_seen.get(model, 0), count)

    # ---- running ----------------------------------------------------------------------------------------

    def upload(self, key: str, body: bytes, metadata: dict[str, str] | None = None) -> None:
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=body, Metadata=metadata or {})

    def deliver_uploads(self, transform: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None) -> int:
        """Hands every queued S3 event to the ingest function (``transform`` can duplicate or alter them), as
        Lambda does an asynchronous event: an invocation that raises is tried again (the template's
        MaximumRetryAttempts), then the event goes to the dead-letter queue; the events behind it go on."""
        count = 0
        for body in self._drain(self.uploads_queue):
            if "Records" not in body:  # the test event S3 sends when a notification is configured
                continue
            for event in transform(body) if transform else [body]:
                self._invoke_async(self.ingest, event)
                count += 1
        return count

    def _invoke_async(self, function: LocalFunction, event: dict[str, Any]) -> None:
        attempts = 1 + self.ingest_retries
        for attempt in range(1, attempts + 1):
            try:
                function.invoke(event)
                return
            except Exception as exc:  # noqa: BLE001 (Lambda catches whatever the handler raises)
                if attempt == attempts:
                    self.sqs.send_message(QueueUrl=self.dead_letters, MessageBody=json.dumps(event))
                    logging.getLogger(__name__).warning("event dead-lettered after %d attempts: %s", attempts, exc)

    def lose_upload_events(self) -> int:
        """S3 events that never come (S3 delivers at least once, almost always): how many were dropped."""
        return sum(1 for body in self._drain(self.uploads_queue) if "Records" in body)

    def schedule_event(self, function: LocalFunction | None = None) -> dict[str, Any]:
        return {
            "version": "0",
            "id": "local",
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": "123456789012",
            "time": self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": "us-east-1",
            "resources": [self.schedule_rules[(function or self.scheduler).name]],
            "detail": {},
        }

    def step(self, seconds: float) -> list[dict[str, Any]]:
        """Moves time on and runs everything that time makes happen, in the order AWS would; what each
        scheduler run in this step returned."""
        self.deliver_uploads()
        self.clock.advance(seconds)
        self.emulator.advance()
        events = self._drain(self.bedrock_queue)
        runs = []
        if events:
            runs.extend(self._run_scheduler(events[-1]))
        if self.clock.now() >= self._next_schedule:
            runs.extend(self._run_scheduler(self.schedule_event()))
            self._next_schedule = self.clock.now() + timedelta(seconds=self.schedule_every)
        if self.clock.now() >= self._next_sweep:
            self.sweeps.append(self._sweep())
            self._next_sweep = self.clock.now() + timedelta(seconds=self.sweep_every)
        self.deliver_joins()
        return runs

    def _sweep(self) -> dict[str, Any]:
        """A scheduled sweep, as EventBridge invokes it: a run that raises is Lambda's failure (logged, counted by
        its alarms, dead-lettered after its retries), never the end of the whole local stack."""
        try:
            return dict(self.sweeper.invoke(self.schedule_event(self.sweeper)))
        except Exception as exc:  # noqa: BLE001 (Lambda catches whatever the handler raises)
            logging.getLogger(__name__).warning("sweeper run failed: %s", exc)
            return {"failed": f"{type(exc).__name__}: {exc}"}

    def deliver_joins(self) -> int:
        """The results function's SQS event source: each message on JoinQueue, one at a time (BatchSize 1), until
        the queue is empty (a join that pauses asks again). A message the function reports failed (or whose
        invocation raised) becomes visible again after the queue's visibility timeout on the pipeline's clock, and
        SQS's redrive policy moves it to the dead-letter queue after its receive count."""
        delivered = 0
        queue_url, arn, hidden_for = self._join_queue
        for receipt, visible_at in list(self._failed_joins.items()):  # moto hides on wall time: our clock decides
            if self.clock.now() >= visible_at:
                self.sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)
                del self._failed_joins[receipt]
        while messages := self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=1).get("Messages", []):
            (message,) = messages
            record = {
                "messageId": message["MessageId"],
                "receiptHandle": message["ReceiptHandle"],
                "body": message["Body"],
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": message["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": arn,
                "awsRegion": arn.split(":")[3],
            }
            try:
                answer = self.results.invoke({"Records": [record]})
            except Exception:  # noqa: BLE001 (a function error returns the whole batch to the queue)
                answer = {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
            delivered += 1
            if answer.get("batchItemFailures"):
                self._failed_joins[message["ReceiptHandle"]] = self.clock.now() + hidden_for
                continue
            self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return delivered

    def _run_scheduler(self, event: dict[str, Any]) -> list[Any]:
        if self.runs_per_tick == 1:
            return [self.scheduler.invoke(event)]
        return self.scheduler.invoke_concurrently([event] * self.runs_per_tick)

    def items(self, kind: str = "file") -> list[dict[str, Any]]:
        """The table's raw items of one kind (file, part or job), oldest first: for tests that check what the
        table holds. The pipeline itself and the demo read through ``status`` (StatusQuery), as people do."""
        deserialize = TypeDeserializer().deserialize
        paginator = boto3.client("dynamodb").get_paginator("scan")  # a local status view; the scheduler never scans
        items = [
            {k: deserialize(v) for k, v in item.items()}
            for page in paginator.paginate(TableName=self.table)
            for item in page["Items"]
            if item.get("Kind", {}).get("S") == kind
        ]
        return sorted(items, key=lambda item: (item.get("CreatedAt") or item.get("QueuedAt"), item["Id"]))

    def settled(self) -> bool:
        """Every upload ingested, every file in a final status and every job that carried it settled."""
        files = list(self.status.files())
        return (
            bool(files)
            and all(file.status in FILE_FINAL for file in files)
            and all(job.settled for file in files for job in self.status.jobs_of(file))
            and not self._pending_uploads()
        )

    def run_until_done(
        self,
        step_seconds: float = 30,
        max_steps: int = 2000,
        on_step: Callable[["LocalPipeline", list[dict[str, Any]]], None] | None = None,
    ) -> list[dict[str, Any]]:
        for _ in range(max_steps):
            runs = self.step(step_seconds)
            if on_step:
                on_step(self, runs)
            if self.settled():
                return self.items()
        raise RuntimeError(f"files not finished after {max_steps} steps: {[i['Status'] for i in self.items()]}")

    def _pending_uploads(self) -> bool:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.uploads_queue, AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) > 0
