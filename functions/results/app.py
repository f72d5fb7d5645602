"""Results Lambda: for each file whose last record is final (a message on its queue, from the scheduler or from
its own previous invocation), joins its results, writes its report, tells EventBridge and ends the file. A join
that outlasts one invocation stops a few minutes before the timeout at a checkpoint and asks to go on; one that
raises is delivered again by SQS, then dead-lettered (an alarm watches). No scheduler run waits for it."""

import json
import os

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from bbq import wiring
from bbq.adapters import parquet_tables
from bbq.core.settling.joining import JoinOutcome, join_file
from bbq.core.settling.progress import Ending
from bbq.observability import logger, metrics, tracer
from bbq.settings import Settings

# Stop starting chains this long before Lambda's timeout: one chain (a part's outputs) takes seconds to minutes.
RESERVE_MS = 180_000
processor = BatchProcessor(event_type=EventType.SQS)


class JoinHeld(Exception):
    """Another invocation holds the file's join (a duplicate delivery, or one that died with its lease live)."""


@tracer.capture_method
def join(record: SQSRecord, settings: Settings, context: LambdaContext) -> None:
    file_id = json.loads(record.body)["fileId"]
    config, objects = settings.pipeline(), wiring.objects()
    outcome, ended = join_file(
        file_id,
        store=wiring.store(settings),
        objects=objects,
        clock=wiring.clock(),
        ending=Ending(
            config.prices,
            config.split.max_line_bytes,
            wiring.file_events(settings),
            parquet_tables.ParquetObjects(objects),
        ),
        holder=context.aws_request_id,
        out_of_time=lambda: context.get_remaining_time_in_millis() < RESERVE_MS,
    )
    logger.info("join", file_id=file_id, outcome=outcome.value)
    if outcome == JoinOutcome.BUSY:  # back to the queue: by its next delivery the holder has ended it, or died
        raise JoinHeld(f"file {file_id}'s join is held by another invocation; it is delivered again later")
    if outcome == JoinOutcome.PAUSED:
        wiring.joins(settings).request(file_id)  # goes on in the next invocation, from its checkpoint
    metrics.add_metric(name="JoinsPaused", unit=MetricUnit.Count, value=int(outcome == JoinOutcome.PAUSED))
    if ended is not None:
        metrics.add_metric(name="FilesEnded", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="RecordsSucceeded", unit=MetricUnit.Count, value=ended.counts.succeeded)
        metrics.add_metric(name="RecordsFailed", unit=MetricUnit.Count, value=ended.counts.failed)
        metrics.add_metric(name="InputTokens", unit=MetricUnit.Count, value=ended.input_tokens)
        metrics.add_metric(name="OutputTokens", unit=MetricUnit.Count, value=ended.output_tokens)
        metrics.add_metric(name="CostUsd", unit=MetricUnit.NoUnit, value=ended.cost_usd or 0.0)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, object], context: LambdaContext) -> PartialItemFailureResponse:
    settings = Settings.from_env(os.environ)  # once per invocation, as the other handlers do
    metrics.set_default_dimensions(Stack=settings.stack_name)
    return process_partial_response(
        event=event,
        record_handler=lambda record: join(record, settings, context),
        processor=processor,
        context=context,
    )
