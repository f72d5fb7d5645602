"""Bedrock adapter for the BatchService port (Create/Get/List/StopModelInvocationJob(s)).

It turns Bedrock's answers into the core's few outcomes. The codes alone do not say everything: whether a
refusal is about the account's access to the model (the whole queue waits) or about one job's request (that
job fails) is read from the code and, for ValidationException, from whether the message is about the model.
"""

import re
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from bbq.adapters.bedrock_errors import TRANSIENT, code_and_message, model_refusal
from bbq.core.model.errors import JobNotFound, ModelUnavailable, RequestRejected, ServiceBusy, SlotUnavailable
from bbq.core.model.jobs import JobSnapshot, RecordCounts
from bbq.core.model.ports import SubmitRequest
from bbq.core.model.states import JobStatus

if TYPE_CHECKING:  # typed clients for mypy (boto3-stubs); Lambda needs none of it
    from mypy_boto3_bedrock import BedrockClient
    from mypy_boto3_bedrock.type_defs import ModelInvocationJobS3OutputDataConfigTypeDef

# ValidationException texts about the model rather than the job ("The provided model identifier is invalid",
# "Batch inference is not supported for the requested model", a modelId that fails its pattern).
_ABOUT_THE_MODEL = re.compile(r"model identifier|requested model|model id\b|at 'modelId'", re.IGNORECASE)
_NAME_IN_USE = re.compile(r"in use|already exists", re.IGNORECASE)


class BedrockBatch:
    def __init__(self, client: "BedrockClient", output_key_id: str | None = None) -> None:
        self._bedrock = client
        # The deployment's KMS key (KmsKeyArn): Bedrock encrypts each job's output with it.
        self._output_key_id = output_key_id

    def submit(self, request: SubmitRequest) -> str:
        output: ModelInvocationJobS3OutputDataConfigTypeDef = {"s3Uri": request.output_uri}
        if self._output_key_id:
            output["s3EncryptionKeyId"] = self._output_key_id
        try:
            response = self._bedrock.create_model_invocation_job(
                jobName=request.job_name,
                clientRequestToken=request.client_token,
                roleArn=request.role_arn,
                modelId=request.model_id,
                inputDataConfig={"s3InputDataConfig": {"s3Uri": request.input_uri, "s3InputFormat": "JSONL"}},
                outputDataConfig={"s3OutputDataConfig": output},
                modelInvocationType=request.invocation_type.value,
                timeoutDurationInHours=request.timeout_hours,
                tags=[{"key": k, "value": v} for k, v in request.tags.items()],
            )
        except ClientError as exc:
            code, message = code_and_message(exc)
            if code in {"ConflictException", "ValidationException"} and (
                existing := self._find_by_name(request.job_name)
            ):
                # Our own earlier create went through but its answer was lost, and the token's idempotency
                # window has passed; Bedrock answers a name in use with either code. Adopt the job.
                return existing
            raise _submit_error(code, message) from exc
        return str(response["jobArn"])

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

    def describe(self, job_arn: str, job_name: str | None) -> JobSnapshot:
        try:
            job = self._bedrock.get_model_invocation_job(jobIdentifier=job_arn)
        except ClientError as exc:
            code, message = code_and_message(exc)
            _raise_if_transient(exc)
            if code == "ResourceNotFoundException":
                if job_name and self._find_by_name(job_name):
                    # Listed under its name yet not found by ARN: a view not caught up yet. Ask again later.
                    raise ServiceBusy(f"{code}: {message} (but listed by name)") from exc
                raise JobNotFound(message) from exc
            raise  # anything else (a ValidationException included) is not proof that the job is gone
        return JobSnapshot(
            status=JobStatus(job["status"]),  # an unknown status raises: the scheduler logs it, the job waits
            message=job.get("message", ""),
            counts=RecordCounts(
                total=job.get("totalRecordCount"),
                processed=job.get("processedRecordCount"),
                success=job.get("successRecordCount"),
                error=job.get("errorRecordCount"),
            ),
            ended_at=job.get("endTime"),
        )

    def stop(self, job_arn: str) -> bool:
        try:
            self._bedrock.stop_model_invocation_job(jobIdentifier=job_arn)
        except ClientError as exc:
            code, message = code_and_message(exc)
            _raise_if_transient(exc)
            if code == "ResourceNotFoundException":
                raise JobNotFound(message) from exc
            if code == "ConflictException":
                return True  # stopping already
            if code == "ValidationException":
                return False  # it ended already: there is nothing left to stop
            raise
        return True


def _submit_error(code: str, message: str) -> Exception:
    """What a refused create means for the queue."""
    text = f"{code}: {message}"
    if code == "ServiceQuotaExceededException":
        return SlotUnavailable(message)
    if code in TRANSIENT:
        return ServiceBusy(text)
    if refusal := model_refusal(code, message):
        return refusal
    if code == "ValidationException" and _ABOUT_THE_MODEL.search(message):
        return ModelUnavailable(ModelUnavailable.UNKNOWN_MODEL, text)
    if code == "ConflictException" or (code == "ValidationException" and _NAME_IN_USE.search(message)):
        # A name in use whose job the listing does not show yet: look again on a later run.
        return ServiceBusy(text)
    if code == "ValidationException":
        return RequestRejected(text)
    return ServiceBusy(text)  # an error code we do not know: the job waits with backoff, the others go on


def _raise_if_transient(exc: ClientError) -> None:
    code, message = code_and_message(exc)
    if code in TRANSIENT:
        raise ServiceBusy(f"{code}: {message}") from exc
