"""Sweeper Lambda: on its schedule, finds uploads under to-process/ that have no item (their S3 event never came,
their ingest was dead-lettered, or S3's case-sensitive suffix filter let them by) and ingests them, at a bounded
cost per run (bbq.core.intake.sweep)."""

import os

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from bbq import wiring
from bbq.adapters import parquet_tables
from bbq.adapters.aws_errors import is_aws_trouble
from bbq.core.intake.ingest import IngestOutcome, ingest_object
from bbq.core.intake.sweep import sweep_uploads
from bbq.core.model.ports import ObjectRef
from bbq.observability import logger, metrics, tracer
from bbq.settings import Settings

# Time kept back for the ingest under way when the sweep stops starting new ones (a large upload takes minutes).
RESERVE_MS = 5 * 60 * 1000


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, object]:
    settings = Settings.from_env(os.environ)
    metrics.set_default_dimensions(Stack=settings.stack_name)
    store, objects, limits = wiring.store(settings), wiring.objects(), wiring.limits(settings)
    config, clock = settings.pipeline(), wiring.clock()

    unexpected = 0

    def ingest(ref: ObjectRef) -> IngestOutcome:
        nonlocal unexpected
        outcome = ingest_object(
            ref,
            objects=objects,
            store=store,
            limits=limits,
            config=config,
            clock=clock,
            transient=is_aws_trouble,
            parquet_rows=parquet_tables.rows,
        )
        unexpected += outcome.unexpected
        return outcome

    report = sweep_uploads(
        os.environ["BUCKET_NAME"],
        objects=objects,
        store=store,
        ingest=ingest,
        clock=clock,
        out_of_time=lambda: context.get_remaining_time_in_millis() < RESERVE_MS,
    )
    metrics.add_metric(name="UploadsWithoutEvent", unit=MetricUnit.Count, value=report.missing)
    metrics.add_metric(name="UploadsSwept", unit=MetricUnit.Count, value=report.ingested)
    metrics.add_metric(name="SweepErrors", unit=MetricUnit.Count, value=report.errors)
    metrics.add_metric(name="UploadsUnexpectedErrors", unit=MetricUnit.Count, value=unexpected)
    metrics.add_metric(name="UploadsIgnored", unit=MetricUnit.Count, value=report.ignored)
    logger.info("sweep done", listed=report.listed, missing=report.missing, ingested=report.ingested)
    return {
        "listed": report.listed,
        "missing": report.missing,
        "ingested": report.ingested,
        "errors": report.errors,
        "wrapped": report.wrapped,
        "ignored": report.ignored,
    }
