"""Bedrock adapter for the BatchService port (Create/GetModelInvocationJob)."""

from typing import Any

from botocore.exceptions import ClientError

from bbq.core.errors import JobNotFound, RequestRejected, ServiceBusy, SlotUnavailable
from bbq.core.jobs import JobSnapshot, RecordCounts
from bbq.core.ports import SubmitRequest
from bbq.core.states import JobStatus

# Errors that go away by waiting: the job keeps its place and a later run asks again.
_TRANSIENT = {"ThrottlingException", "InternalServerException", "ServiceUnavailableException"}
# Errors that will not go away by asking again: the job fails with Bedrock's own message.
_REJECTIONS = {"ValidationException", "AccessDeniedException", "ResourceNotFoundException", "ConflictException"}


class BedrockBatch:
    def __init__(self, client: Any) -> None:
        self._bedrock = client

    def submit(self, request: SubmitRequest) -> str:
        try:
            response = self._bedrock.create_model_invocation_job(
                jobName=request.job_name,
                clientRequestToken=request.client_token,
                roleArn=request.role_arn,
                modelId=request.model_id,
                inputDataConfig={"s3InputDataConfig": {"s3Uri": request.input_uri, "s3InputFormat": "JSONL"}},
                outputDataConfig={"s3OutputDataConfig": {"s3Uri": request.output_uri}},
                timeoutDurationInHours=request.timeout_hours,
                tags=[{"key": k, "value": v} for k, v in request.tags.items()],
            )
        except ClientError as exc:
            code, message = _error(exc)
            if code == "ConflictException" and (existing := self._find_by_name(request.job_name)):
                # Our own earlier create went through but its answer was lost, and the token's idempotency
                # window has passed: the job exists, so adopt it rather than fail the file.
                return existing
            if code == "ServiceQuotaExceededException":
                raise SlotUnavailable(message) from exc
            _raise_if_transient(exc)
            if code in _REJECTIONS:
                raise RequestRejected(f"{code}: {message}") from exc
            raise
        return response["jobArn"]

    def _find_by_name(self, job_name: str) -> str | None:
        pages = self._bedrock.get_paginator("list_model_invocation_jobs").paginate(nameContains=job_name)
        try:
            for page in pages:
                for job in page["invocationJobSummaries"]:
                    if job["jobName"] == job_name:
                        return str(job["jobArn"])
        except ClientError as exc:
            _raise_if_transient(exc)
            raise
        return None

    def describe(self, job_arn: str) -> JobSnapshot:
        try:
            job = self._bedrock.get_model_invocation_job(jobIdentifier=job_arn)
        except ClientError as exc:
            code, message = _error(exc)
            _raise_if_transient(exc)
            if code in {"ResourceNotFoundException", "ValidationException"}:
                raise JobNotFound(message) from exc
            raise
        return JobSnapshot(
            status=JobStatus(job["status"]),
            message=job.get("message", ""),
            counts=RecordCounts(
                total=job.get("totalRecordCount"),
                processed=job.get("processedRecordCount"),
                success=job.get("successRecordCount"),
                error=job.get("errorRecordCount"),
            ),
            ended_at=job.get("endTime"),
        )


def _raise_if_transient(exc: ClientError) -> None:
    code, message = _error(exc)
    if code in _TRANSIENT:
        raise ServiceBusy(f"{code}: {message}") from exc


def _error(exc: ClientError) -> tuple[str, str]:
    error = exc.response.get("Error", {})
    return error.get("Code", ""), error.get("Message", "")
