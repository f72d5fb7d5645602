"""The writes of a run's plan: each planned job stored with its parts claimed in one transaction (None when
another run claimed one first), small work failed by policy."""

import logging
import posixpath
from datetime import datetime

from bbq.core.model import naming
from bbq.core.model.files import (
    InvocationType,
    Part,
    PartStatus,
)
from bbq.core.model.jobs import Job
from bbq.core.model.limits import ModelLimits
from bbq.core.model.states import JobStatus
from bbq.core.scheduling import budgeting
from bbq.core.scheduling import on_demand as on_demand_run
from bbq.core.scheduling.budgeting import PartPrice
from bbq.core.scheduling.decisions import TypePlan
from bbq.core.scheduling.planner import PlannedJob
from bbq.core.scheduling.run import Run, files_changed
from bbq.core.scheduling.submitting import reserve_or_hold
from bbq.core.settling.settle import fail_whole_part

log = logging.getLogger(__name__)


def store_plans(
    run: Run, model: str, plans: list[TypePlan], limits: ModelLimits, ledger: str, price: PartPrice | None = None
) -> tuple[list[Job], list[Job]]:
    """Each planned job stored with its parts claimed (batch jobs, and on-demand jobs for small work), and small
    work failed by policy; the jobs stored (another run may have claimed some parts first)."""
    batch: list[Job] = []
    on_demand: list[Job] = []
    now = run.clock.now()
    for planned in plans:
        run.report.parts_read += planned.parts_read
        kind = planned.invocation_type
        made = [
            job for plan in planned.batch if (job := store_job(run, plan, model, kind, now, ledger=ledger, price=price))
        ]
        if price is not None and run.config.teams.budgeted:
            # Reserved as soon as planned: what the next plan may take counts every job waiting for a slot.
            made = [reserved for job in made if (reserved := reserve_or_hold(run, job, price)) is not None]
        run.report.planned += len(made)
        batch += made
        if planned.fail:
            fail_small_work(run, list(planned.fail), limits)
        if planned.on_demand:
            job = store_job(run, PlannedJob(planned.on_demand), model, kind, now, on_demand=True, price=price)
            on_demand += [job] if job else []
    return batch, on_demand


def store_job(
    run: Run,
    planned: PlannedJob,
    model: str,
    invocation_type: InvocationType,
    now: datetime,
    on_demand: bool = False,
    ledger: str = "",
    price: PartPrice | None = None,
    reason: str = "",
) -> Job | None:
    """Stores the planned job with its parts claimed and their files' statuses updated; None if another run
    took any of its parts first."""
    job, parts = job_for(planned, model, invocation_type, now, on_demand)
    job = job.with_changes(ledger="" if on_demand or ledger == model else ledger, on_demand_reason=reason)
    if price is not None and run.config.teams.budgeted:
        job = budgeting.estimated(job, parts, price)
    if not run.store.create_job(job, parts):
        log.info("parts taken by another run; planning again next run", extra={"model_id": model})
        return None
    run.claimed[job.job_id] = parts
    files_changed(run, parts)
    log.info(
        "job planned",
        extra={
            "job_id": job.job_id,
            "model_id": model,
            "records": job.record_count,
            "parts": len(parts),
            "on_demand": on_demand,
        },
    )
    return job


def job_for(
    planned: PlannedJob, model: str, invocation_type: InvocationType, now: datetime, on_demand: bool = False
) -> tuple[Job, list[Part]]:
    """The job for these parts and where its input and output are: one part is read where it was staged; all
    of one file's first parts, from the file's staged folder; any other set, from copies under the job's own folder.
    An on-demand job reads each part where it was staged and writes beside where a batch job would."""
    parts = list(planned.parts)
    job_id = naming.job_id_for([part.part_id for part in parts])
    first = parts[0]
    bucket = naming.split_uri(first.staged_uri)[0]
    one_file = all(part.file_id == first.file_id for part in parts)
    copies = False
    if len(parts) == 1:
        input_uri = first.staged_uri
    elif one_file and len(parts) == first.part_count and all(part.attempt == 1 for part in parts):
        input_uri = naming.s3_uri(bucket, naming.staged_prefix(first.file_id))
    else:
        input_uri, copies = naming.s3_uri(bucket, naming.packed_input_prefix(job_id)), True
    tagged = copies or on_demand  # names that stay apart however many files share the job
    claimed = []
    for part in parts:
        key = naming.split_uri(part.staged_uri)[1]
        name = naming.packed_input_name(part.file_id, key) if tagged else posixpath.basename(key)
        claimed.append(part.with_changes(status=PartStatus.IN_JOB, job_id=job_id, input_name=name))
    output_uri = first.output_uri if one_file else naming.packed_output_uri(bucket, job_id)
    job = Job(
        job_id=job_id,
        status=JobStatus.PENDING,
        model_id=model,
        invocation_type=invocation_type,
        part_ids=tuple(part.part_id for part in parts),
        input_uri=input_uri,
        output_uri=output_uri if not on_demand else on_demand_run.output_uri(output_uri),
        record_count=planned.record_count,
        size_bytes=planned.size_bytes,
        created_at=now,
        updated_at=now,
        queued_at=min(part.queued_at for part in parts),
        on_demand=on_demand,
        team_records=records_by_team(parts),
    )
    return job, claimed


def records_by_team(parts: list[Part]) -> dict[str, int]:
    records: dict[str, int] = {}
    for part in parts:
        records[part.team] = records.get(part.team, 0) + part.record_count
    return records


def fail_small_work(run: Run, parts: list[Part], limits: ModelLimits) -> None:
    records = sum(part.record_count for part in parts)
    short_by = limits.min_records_per_job - records
    message = (
        f"Failed: only {records} records waiting for model {parts[0].model_id} after "
        f"{run.config.companion_wait}; Bedrock needs at least {limits.min_records_per_job} per job, so "
        f"{short_by} more records are missing (SmallWork is fail). Upload them together with more records."
    )
    max_line_bytes = run.config.split.max_line_bytes
    failed = [
        part
        for part in (fail_whole_part(part, message, run.objects, max_line_bytes) for part in parts)
        if run.store.save_part(part, expected=PartStatus.WAITING)  # not if a run packed it a moment ago
    ]
    run.report.small_work_failed += len(failed)
    files_changed(run, failed)
    log.warning("small work failed by policy", extra={"model_id": parts[0].model_id, "records": records})
