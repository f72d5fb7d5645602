"""Ingest Lambda: S3 ObjectCreated under to-process/ -> an input file item and its staged parts, queued for
their model (or a Rejected file item and an error report next to the upload)."""

import os
from urllib.parse import unquote_plus

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import S3Event, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from bbq import wiring
from bbq.adapters import parquet_tables
from bbq.adapters.aws_errors import is_aws_trouble
from bbq.core.intake.ingest import ingest_object
from bbq.core.model.ports import ObjectRef
from bbq.core.scheduling.cancelling import cancel_deleted
from bbq.observability import logger, metrics, tracer
from bbq.settings import Settings


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@event_source(data_class=S3Event)
def lambda_handler(event: S3Event, context: LambdaContext) -> dict[str, list[dict[str, object]]]:
    settings = Settings.from_env(os.environ)
    metrics.set_default_dimensions(Stack=settings.stack_name)
    store, objects, limits = wiring.store(settings), wiring.objects(), wiring.limits(settings)
    outcomes: list[dict[str, object]] = []
    for record in event.records:
        obj = record.s3.get_object
        # S3 URL-encodes keys in events (spaces as "+"); Powertools' S3Object.key hands them over raw.
        key, sequencer = unquote_plus(obj.key), obj.sequencer or None
        if record.event_name.startswith("ObjectRemoved"):  # a delete marker: an upload deleted before it ran
            marker = ObjectRef(record.s3.bucket.name, key, "", 0, obj.version_id, sequencer)
            cancelled = cancel_deleted(marker, store=store, clock=wiring.clock(), joins=wiring.joins(settings))
            metrics.add_metric(name="UploadsCancelled", unit=MetricUnit.Count, value=int(cancelled is not None))
            outcomes.append({"key": key, "fileId": cancelled, "status": "Cancelled" if cancelled else None})
            continue
        ref = ObjectRef(record.s3.bucket.name, key, obj.etag, obj.size, obj.version_id, sequencer)
        outcome = ingest_object(
            ref,
            objects=objects,
            store=store,
            limits=limits,
            config=settings.pipeline(),
            clock=wiring.clock(),
            transient=is_aws_trouble,
            parquet_rows=parquet_tables.rows,
        )
        metrics.add_metric(name="FilesReceived", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="UploadsUnexpectedErrors", unit=MetricUnit.Count, value=int(outcome.unexpected))
        metrics.add_metric(name="UploadsIgnored", unit=MetricUnit.Count, value=int(outcome.ignored))
        if outcome.created:
            metrics.add_metric(name=f"Files{outcome.status}", unit=MetricUnit.Count, value=1)
            metrics.add_metric(name="LinesRejected", unit=MetricUnit.Count, value=outcome.rejected_lines)
        outcomes.append(
            {
                "key": outcome.key,
                "fileId": outcome.file_id,
                "status": outcome.status,
                "created": outcome.created,
                "reason": outcome.reason,
                "parts": outcome.parts,
                "rejectedLines": outcome.rejected_lines,
            }
        )
    return {"outcomes": outcomes}
