"""The table's layout: each item's key and attributes, to and from the core's types. One table holds files,
parts, jobs, the slot ledger, the sweep's cursor and join checkpoints (the README, "The table")."""

from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

from bbq.core.model.clock import iso
from bbq.core.model.files import (
    FileCounts,
    FileStatus,
    InputFile,
    InvocationType,
    Part,
    PartStatus,
    WaitReason,
)
from bbq.core.model.jobs import Job, JobNote, RecordCounts
from bbq.core.model.states import JobStatus, is_terminal
from bbq.core.model.teams import DEFAULT_TEAM, Priority

QUEUE_INDEX = "QueueIndex"
STATUS_INDEX = "StatusIndex"
KEY_INDEX = "KeyIndex"
FILE, PART, JOB, LEDGER, SWEEP, JOIN = "file#", "part#", "job#", "slots#", "sweep#", "join#"
# Per model: the teams that ever queued work for it (the queues a run reads), its files with deadlines and its
# statistics (tokens and throughput of its settled jobs); and the budget lines.
TEAMS, BUDGET, DEADLINES, STATS = "teams#", "budget#", "deadlines#", "stats#"

_COUNTERS = {
    "total": "TotalRecordCount",
    "processed": "ProcessedRecordCount",
    "success": "SuccessRecordCount",
    "error": "ErrorRecordCount",
}
_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


def to_item(plain: dict[str, Any]) -> dict[str, Any]:
    return {name: _serialize(value) for name, value in plain.items() if value is not None and value != ""}


def to_plain(item: dict[str, Any]) -> dict[str, Any]:
    return {name: _deserialize(value) for name, value in item.items()}


def moment(plain: dict[str, Any], name: str) -> datetime | None:
    return datetime.fromisoformat(plain[name]) if name in plain else None


def file_item(file: InputFile) -> dict[str, Any]:
    return to_item(
        {
            "Id": FILE + file.file_id,
            "Kind": "file",
            "FileId": file.file_id,
            "Status": file.status.value,
            "SourceBucket": file.bucket,
            "SourceKey": file.key,
            "Version": file.version,
            "ModelId": file.model_id,
            "InvocationType": file.invocation_type.value,
            "LineCount": file.line_count,
            "RecordCount": file.record_count,
            "RejectedLines": file.rejected_lines,
            "SizeBytes": file.size_bytes,
            "PartCount": file.part_count,
            "OutputUri": file.output_uri,
            "ReportUri": file.report_uri,
            "Message": file.message,
            "CreatedAt": iso(file.created_at),
            "UpdatedAt": iso(file.updated_at),
            "RecordsSucceeded": file.counts.succeeded,
            "RecordsFailed": file.counts.failed,
            "RecordsStopped": file.counts.stopped,
            "RecordsPending": file.counts.pending,
            "ResultsReportUri": file.results_report_uri,
            "StopRequested": file.stop_requested or None,
            "ResultsUri": file.results_uri,
            "InputTokenCount": file.input_tokens or None,
            "OutputTokenCount": file.output_tokens or None,
            "CostUsd": money(file.cost_usd),
            "EstimatedInputTokenCount": file.estimated_input_tokens or None,
            "EstimatedInputCostUsd": money(file.estimated_input_cost_usd),
            "JoinRequestedAt": iso(file.join_requested_at) if file.join_requested_at else None,
            "WaitingFor": file.waiting_for.value if file.waiting_for else None,
            "Revision": file.revision,
            "Sequencer": file.sequencer or None,
            "RowsUri": file.rows_uri,
            "OutputSchema": file.output_schema,
            "ETag": file.etag or None,
            "Team": _team(file.team),
            "Priority": _priority(file.priority),
            "Deadline": iso(file.deadline) if file.deadline else None,
        }
    )


def money(dollars: float | None) -> Decimal | None:
    """DynamoDB numbers are decimals: US dollars go through their shortest repr, to the microdollar."""
    return Decimal(repr(round(dollars, 6))) if dollars is not None else None


def file_from(item: dict[str, Any]) -> InputFile:
    plain = to_plain(item)
    return InputFile(
        file_id=plain["FileId"],
        bucket=plain["SourceBucket"],
        key=plain["SourceKey"],
        version=plain["Version"],
        model_id=plain.get("ModelId", ""),
        invocation_type=InvocationType(plain["InvocationType"]),
        status=FileStatus(plain["Status"]),
        line_count=int(plain["LineCount"]),
        record_count=int(plain["RecordCount"]),
        rejected_lines=int(plain["RejectedLines"]),
        size_bytes=int(plain["SizeBytes"]),
        part_count=int(plain["PartCount"]),
        output_uri=plain["OutputUri"],
        created_at=datetime.fromisoformat(plain["CreatedAt"]),
        updated_at=datetime.fromisoformat(plain["UpdatedAt"]),
        report_uri=plain.get("ReportUri"),
        message=plain.get("Message", ""),
        counts=FileCounts(
            succeeded=int(plain.get("RecordsSucceeded", 0)),
            failed=int(plain.get("RecordsFailed", 0)),
            stopped=int(plain.get("RecordsStopped", 0)),
            pending=int(plain.get("RecordsPending", 0)),
        ),
        results_report_uri=plain.get("ResultsReportUri"),
        stop_requested=bool(plain.get("StopRequested", False)),
        results_uri=plain.get("ResultsUri"),
        input_tokens=int(plain.get("InputTokenCount", 0)),
        output_tokens=int(plain.get("OutputTokenCount", 0)),
        cost_usd=float(plain["CostUsd"]) if "CostUsd" in plain else None,
        estimated_input_tokens=int(plain.get("EstimatedInputTokenCount", 0)),
        estimated_input_cost_usd=float(plain["EstimatedInputCostUsd"]) if "EstimatedInputCostUsd" in plain else None,
        join_requested_at=moment(plain, "JoinRequestedAt"),
        waiting_for=WaitReason(plain["WaitingFor"]) if "WaitingFor" in plain else None,
        revision=int(plain.get("Revision", 0)),
        sequencer=plain.get("Sequencer", ""),
        rows_uri=plain.get("RowsUri"),
        output_schema=plain.get("OutputSchema"),
        etag=plain.get("ETag", ""),
        team=plain.get("Team", DEFAULT_TEAM),
        priority=Priority(plain.get("Priority", Priority.NORMAL)),
        deadline=moment(plain, "Deadline"),
    )


def _team(team: str) -> str | None:
    return None if team == DEFAULT_TEAM else team


def _priority(priority: Priority) -> str | None:
    return None if priority == Priority.NORMAL else priority.value


def waiting_queue(model_id: str, invocation_type: InvocationType, team: str) -> str:
    """A team's queue of waiting parts for one model and invocation type (the default team's is the model's)."""
    base = f"parts#{model_id}#{invocation_type.value}"
    return base if team == DEFAULT_TEAM else f"{base}#{team}"


# Within a team's queue, high priority sorts before any time and low after every one (ISO times start with a digit).
_PRIORITY_MARK = {Priority.HIGH: "!", Priority.NORMAL: "", Priority.LOW: "~"}


def part_item(part: Part) -> dict[str, Any]:
    waiting = part.status == PartStatus.WAITING
    queued_at = iso(part.queued_at)
    return to_item(
        {
            "Id": PART + part.part_id,
            "Kind": "part",
            "FileId": part.file_id,
            "PartIndex": part.index,
            "PartStatus": part.status.value,
            "ModelId": part.model_id,
            "InvocationType": part.invocation_type.value,
            "StagedUri": part.staged_uri,
            "PartCount": part.part_count,
            "OutputUri": part.output_uri,
            "FirstLine": part.first_line,
            "LastLine": part.last_line,
            "RecordCount": part.record_count,
            "SizeBytes": part.size_bytes,
            "QueuedAt": queued_at,
            "JobId": part.job_id,
            "InputName": part.input_name,
            "Message": part.message,
            "Attempt": part.attempt,
            "RecordsSucceeded": part.succeeded,
            "RecordsFailed": part.failed,
            "RecordsRetried": part.retried,
            "ResultsUri": part.results_uri,
            "FailuresKey": part.failures_key,
            "Team": _team(part.team),
            "Priority": _priority(part.priority),
            "InputTokenCount": part.input_tokens or None,
            "OutputTokenCount": part.output_tokens or None,
            "Deadline": iso(part.deadline) if part.deadline else None,
            "MaxOutputTokens": part.max_output_tokens or None,
            # In its team's queue for the model only while it waits.
            "Queue": waiting_queue(part.model_id, part.invocation_type, part.team) if waiting else None,
            "QueueOrder": f"{_PRIORITY_MARK[part.priority]}{queued_at}#{part.part_id}" if waiting else None,
        }
    )


def part_from(item: dict[str, Any]) -> Part:
    plain = to_plain(item)
    return Part(
        file_id=plain["FileId"],
        index=int(plain["PartIndex"]),
        model_id=plain["ModelId"],
        invocation_type=InvocationType(plain["InvocationType"]),
        staged_uri=plain["StagedUri"],
        part_count=int(plain["PartCount"]),
        output_uri=plain["OutputUri"],
        first_line=int(plain["FirstLine"]),
        last_line=int(plain["LastLine"]),
        record_count=int(plain["RecordCount"]),
        size_bytes=int(plain["SizeBytes"]),
        queued_at=datetime.fromisoformat(plain["QueuedAt"]),
        status=PartStatus(plain["PartStatus"]),
        job_id=plain.get("JobId"),
        input_name=plain.get("InputName"),
        message=plain.get("Message", ""),
        attempt=int(plain.get("Attempt", 1)),
        succeeded=int(plain.get("RecordsSucceeded", 0)),
        failed=int(plain.get("RecordsFailed", 0)),
        retried=int(plain.get("RecordsRetried", 0)),
        results_uri=plain.get("ResultsUri"),
        failures_key=plain.get("FailuresKey"),
        team=plain.get("Team", DEFAULT_TEAM),
        priority=Priority(plain.get("Priority", Priority.NORMAL)),
        input_tokens=int(plain.get("InputTokenCount", 0)),
        output_tokens=int(plain.get("OutputTokenCount", 0)),
        deadline=moment(plain, "Deadline"),
        max_output_tokens=int(plain.get("MaxOutputTokens", 0)),
    )


def job_item(job: Job) -> dict[str, Any]:
    created_at = iso(job.created_at)
    gone = is_terminal(job.status) and job.settled
    plain: dict[str, Any] = {
        "Id": JOB + job.job_id,
        "Kind": "job",
        "JobId": job.job_id,
        "Status": job.status.value,
        "ModelId": job.model_id,
        "InvocationType": job.invocation_type.value,
        "PartIds": list(job.part_ids),
        "InputUri": job.input_uri,
        "OutputUri": job.output_uri,
        "RecordCount": job.record_count,
        "SizeBytes": job.size_bytes,
        "CreatedAt": created_at,
        "UpdatedAt": iso(job.updated_at),
        "Message": job.message,
        "Attempt": job.attempt,
        "JobName": job.job_name,
        "JobArn": job.job_arn,
        "SubmittedAt": iso(job.submitted_at) if job.submitted_at else None,
        "EndedAt": iso(job.ended_at) if job.ended_at else None,
        "TransientErrors": job.transient_errors or None,
        "RetryAt": iso(job.retry_at) if job.retry_at else None,
        "QueuedAt": iso(job.queued_at) if job.queued_at else None,
        "OnDemand": job.on_demand or None,
        "OnDemandReason": job.on_demand_reason or None,
        "PreviousJobArns": list(job.previous_arns) or None,
        "InputTokenCount": job.input_tokens,
        "OutputTokenCount": job.output_tokens,
        "Settled": job.settled or None,
        "Note": job.note.value if job.note else None,
        "Ledger": job.ledger or None,
        "TeamRecords": dict(job.team_records) or None,
        "EstimatedCostUsd": money(job.estimated_cost_usd),
        "BudgetAt": iso(job.budget_at) if job.budget_at else None,
        "BudgetSettled": job.budget_settled or None,
        # In the model's queue of jobs in flight until it ends and is settled.
        "Queue": None if gone else f"jobs#{job.model_id}",
        "QueueOrder": None if gone else f"{created_at}#{job.job_id}",
    }
    plain.update({attr: getattr(job.counts, name) for name, attr in _COUNTERS.items()})
    return to_item(plain)


def job_from(item: dict[str, Any]) -> Job:
    plain = to_plain(item)

    def number(name: str) -> int | None:
        return int(plain[name]) if name in plain else None

    return Job(
        job_id=plain["JobId"],
        status=JobStatus(plain["Status"]),
        model_id=plain["ModelId"],
        invocation_type=InvocationType(plain["InvocationType"]),
        part_ids=tuple(plain["PartIds"]),
        input_uri=plain["InputUri"],
        output_uri=plain["OutputUri"],
        record_count=int(plain["RecordCount"]),
        size_bytes=int(plain["SizeBytes"]),
        created_at=datetime.fromisoformat(plain["CreatedAt"]),
        updated_at=datetime.fromisoformat(plain["UpdatedAt"]),
        message=plain.get("Message", ""),
        attempt=int(plain.get("Attempt", 1)),
        job_name=plain.get("JobName"),
        job_arn=plain.get("JobArn"),
        submitted_at=moment(plain, "SubmittedAt"),
        ended_at=moment(plain, "EndedAt"),
        counts=RecordCounts(**{name: number(attr) for name, attr in _COUNTERS.items()}),
        transient_errors=int(plain.get("TransientErrors", 0)),
        retry_at=moment(plain, "RetryAt"),
        queued_at=moment(plain, "QueuedAt"),
        on_demand=bool(plain.get("OnDemand", False)),
        on_demand_reason=plain.get("OnDemandReason", ""),
        previous_arns=tuple(plain.get("PreviousJobArns", ())),
        input_tokens=number("InputTokenCount"),
        output_tokens=number("OutputTokenCount"),
        settled=bool(plain.get("Settled", False)),
        note=JobNote(plain["Note"]) if "Note" in plain else None,
        ledger=plain.get("Ledger", ""),
        team_records={team: int(n) for team, n in plain.get("TeamRecords", {}).items()},
        estimated_cost_usd=float(plain["EstimatedCostUsd"]) if "EstimatedCostUsd" in plain else None,
        budget_at=moment(plain, "BudgetAt"),
        budget_settled=bool(plain.get("BudgetSettled", False)),
    )
