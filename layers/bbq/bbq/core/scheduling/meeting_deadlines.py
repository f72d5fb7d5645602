"""A run's deadline step (``deadlines`` has the rules): read the model's files with a deadline and their waiting
parts, where the fair-share order has them, decide, claim what must go on demand in jobs of its own (the run runs
them once its batch jobs went out), and tell each file at risk."""

import logging
from collections.abc import Mapping, Sequence

from bbq.core.model.file_updates import update_file
from bbq.core.model.files import FILE_DONE, InputFile, InvocationType, Part, PartStatus, every_attempt_of
from bbq.core.model.jobs import Job
from bbq.core.scheduling import deadlines
from bbq.core.scheduling.budgeting import PartPrice
from bbq.core.scheduling.decisions import ModelSnapshot
from bbq.core.scheduling.fair_share import fair_order
from bbq.core.scheduling.planner import PlannedJob
from bbq.core.scheduling.planning import store_job
from bbq.core.scheduling.run import Run

log = logging.getLogger(__name__)

LOOK_AHEAD = 2_000  # parts read to place a deadline file in its queue (further back: at least that much ahead)


def claim_for_deadlines(
    run: Run, snapshot: ModelSnapshot, in_flight: Sequence[Job], team_records: Mapping[str, int], price: PartPrice
) -> list[Job]:
    """The on-demand jobs made for deadlines; ``in_flight``: the model's running and ready jobs (what batch does
    before anything waiting), ``team_records`` what each team has in them (``fair_share.records_in_flight``)."""
    model, limits = snapshot.model, snapshot.limits
    due = run.store.deadlines(model)
    if not due:
        return []
    files = {file.file_id: file for file in run.store.get_files(list(due))}
    parts_of = every_attempt_of(files.values(), run.store.get_parts)
    waiting: dict[str, list[Part]] = {}
    for file_id in due:
        file = files.get(file_id)
        parts = [p for p in parts_of.get(file_id, []) if p.status == PartStatus.WAITING]
        if file is None or file.status in FILE_DONE or file.stop_requested or not parts:
            run.store.forget_deadline(model, file_id)  # nothing of it waits: no later run needs to look
            continue
        waiting[file_id] = parts
    if not waiting or run.on_demand is None:
        return []
    left_in_flight = sum(job.record_count - (job.counts.processed or 0) for job in in_flight)
    at_risk = []
    for kind in InvocationType:
        of_kind = {fid: parts for fid, parts in waiting.items() if files[fid].invocation_type == kind}
        if not of_kind:
            continue
        # Fresh reads of the queues the snapshot named: the planner consumes the snapshot's own after this step.
        queues = {team: run.store.waiting_parts(model, kind, team=team) for team in snapshot.teams}
        order = fair_order(queues, run.config.teams.weight, team_records)
        ahead = deadlines.ahead_of(of_kind, order, left_in_flight, LOOK_AHEAD)
        at_risk += [deadlines.AtRisk(fid, due[fid], parts, ahead[fid]) for fid, parts in of_kind.items()]
    rate = deadlines.batch_rate(limits, *run.store.job_times(model))
    tier = "flex" if model in run.config.flex_models else ""
    plan = deadlines.decide(
        at_risk, run.clock.now(), rate, run.config.on_demand_records_per_minute, run.config.deadline_part_records, tier
    )
    for file_id, message in plan.messages.items():
        _tell(run, files[file_id], message)
    run.report.deadlines_missed += len(plan.missed)
    jobs = []
    for file_id, parts in plan.on_demand.items():
        file = files[file_id]
        reason = f"to meet its deadline {file.deadline:%Y-%m-%d %H:%M} UTC" if file.deadline else "for its deadline"
        job = store_job(
            run, PlannedJob(tuple(parts)), model, file.invocation_type, run.clock.now(), on_demand=True,
            price=price, reason=reason,
        )  # fmt: skip
        if job is not None:
            log.info("deadline work runs on demand", extra={"file_id": file_id, "records": job.record_count})
            run.report.deadline_records_on_demand += job.record_count
            jobs.append(job)
    return jobs


def _tell(run: Run, file: InputFile, message: str) -> None:
    def told(current: InputFile) -> InputFile | None:
        if current.message == message or current.status in FILE_DONE:
            return None
        return current.with_changes(message=message, updated_at=run.clock.now())

    update_file(run.store, file.file_id, told)
