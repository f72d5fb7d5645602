"""Scheduler Lambda: on the schedule and on Bedrock job state changes, reconcile each model's jobs in flight,
plan jobs from its waiting parts and fill its free slots. Every trigger runs the same full pass, so a lost event
costs nothing; runs may overlap (the core claims parts and reserves slots atomically)."""

import os

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from bbq import wiring
from bbq.core.scheduling.run import RunReport
from bbq.core.scheduling.scheduler import run_scheduler
from bbq.observability import logger, metrics, tracer
from bbq.settings import Settings


def _model_metrics(report: RunReport) -> None:
    """Per model (dimension Model): slots in use and how long its oldest waiting work has waited."""
    for model, active in report.active_per_model.items():
        with single_metric(
            name="SlotsInUse", unit=MetricUnit.Count, value=active, default_dimensions=metrics.default_dimensions
        ) as metric:
            metric.add_dimension(name="Model", value=model)
        waited = report.oldest_waiting.get(model, 0.0)
        with single_metric(
            name="ModelOldestWaitingSeconds",
            unit=MetricUnit.Seconds,
            value=waited,
            default_dimensions=metrics.default_dimensions,
        ) as metric:
            metric.add_dimension(name="Model", value=model)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, object]:
    if event.source == "aws.bedrock":
        # Strings on purpose: Bedrock's time fields are not ISO 8601.
        logger.info("Bedrock state change", job_arn=event.detail.get("batchJobArn"), status=event.detail.get("status"))
    settings = Settings.from_env(os.environ)
    metrics.set_default_dimensions(Stack=settings.stack_name)
    report = run_scheduler(
        store=wiring.store(settings),
        batch=wiring.batch(settings),
        objects=wiring.objects(),
        limits=wiring.limits(settings),
        config=settings.pipeline(),
        clock=wiring.clock(),
        joins=wiring.joins(settings),
        on_demand=wiring.on_demand(),
        quotas=wiring.quotas(),
    )
    metrics.add_metric(name="JobsPlanned", unit=MetricUnit.Count, value=report.planned)
    metrics.add_metric(name="JobsSubmitted", unit=MetricUnit.Count, value=report.submitted)
    metrics.add_metric(name="JobsDeferred", unit=MetricUnit.Count, value=report.deferred)
    metrics.add_metric(name="JobsPending", unit=MetricUnit.Count, value=report.pending_left)
    metrics.add_metric(name="JobsSetAside", unit=MetricUnit.Count, value=report.set_aside)
    metrics.add_metric(name="ModelsPaused", unit=MetricUnit.Count, value=len(report.paused))
    metrics.add_metric(name="RunErrors", unit=MetricUnit.Count, value=report.errors)
    metrics.add_metric(name="PartsFailedBySmallWorkPolicy", unit=MetricUnit.Count, value=report.small_work_failed)
    metrics.add_metric(name="RecordsRunOnDemand", unit=MetricUnit.Count, value=report.ran_on_demand)
    metrics.add_metric(name="JobsRetried", unit=MetricUnit.Count, value=report.retried)
    metrics.add_metric(name="JobsPastTimeout", unit=MetricUnit.Count, value=report.past_timeout)
    metrics.add_metric(name="JobsSettled", unit=MetricUnit.Count, value=report.settled)
    metrics.add_metric(name="JoinsRequested", unit=MetricUnit.Count, value=len(report.joins_requested))
    _model_metrics(report)
    metrics.add_metric(name="ModelsWaitingTooLong", unit=MetricUnit.Count, value=len(report.waiting_too_long))
    # The longest wait over the models: what an alarm on a queue that does not move watches.
    longest = max(report.oldest_waiting.values(), default=0.0)
    metrics.add_metric(name="OldestWaitingSeconds", unit=MetricUnit.Seconds, value=longest)
    # The fullest budget line (committed over its limit), whichever team or the stack: what the budget alarms watch.
    fullest = max(report.budgets_used.values(), default=0.0)
    metrics.add_metric(name="BudgetUsedPercent", unit=MetricUnit.Percent, value=round(100 * fullest, 2))
    metrics.add_metric(name="TeamsWaitingForBudget", unit=MetricUnit.Count, value=len(report.held_by_budget))
    for team, line in report.held_by_budget.items():
        logger.warning("a team's work waits for budget", team=team, budget=line)
    for model, why in report.paused.items():
        logger.error("model paused: its jobs wait until Bedrock accepts it", model_id=model, what_to_do=why)
    for status, count in report.finished.items():
        metrics.add_metric(name=f"Jobs{status}", unit=MetricUnit.Count, value=count)
    logger.info(
        "scheduler run done",
        planned=report.planned,
        submitted=report.submitted,
        parts_read=report.parts_read,
        deferred=report.deferred,
        pending=report.pending_left,
        active=report.active_per_model,
        finished=dict(report.finished),
        paused=sorted(report.paused),
        oldest_waiting_s=report.oldest_waiting,
        errors=report.errors,
    )
    return {
        "planned": report.planned,
        "submitted": report.submitted,
        "partsRead": report.parts_read,
        "ranOnDemand": report.ran_on_demand,
        "retried": report.retried,
        "pastTimeout": report.past_timeout,
        "settled": report.settled,
        "joinsRequested": report.joins_requested,
        "waitingTooLong": report.waiting_too_long,
        "oldestWaitingSeconds": report.oldest_waiting,
        "deferred": report.deferred,
        "pendingLeft": report.pending_left,
        "activePerModel": report.active_per_model,
        "finished": dict(report.finished),
        "paused": report.paused,
        "errors": report.errors,
        "heldByBudget": report.held_by_budget,
        "budgetsUsed": report.budgets_used,
    }
