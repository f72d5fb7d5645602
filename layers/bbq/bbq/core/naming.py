"""Deterministic names: the same S3 object always maps to the same JobId, job name and request token,
so a duplicated event or a retried run can never create a second job."""

import hashlib
import posixpath

INPUT_PREFIX = "to-process/"
OUTPUT_PREFIX = "processed/"
STAGED_PREFIX = "staged/"
ERROR_REPORT_SUFFIX = ".error.json"

# Bedrock: jobName [a-zA-Z0-9]{1,63}(-*[a-zA-Z0-9\+\-\.]){0,63}, at most 63 characters.
MAX_JOB_NAME = 63


def job_id_for(bucket: str, key: str, version: str) -> str:
    """JobId of one uploaded object; ``version`` is the S3 version id, or the ETag when unversioned."""
    digest = hashlib.sha256(f"{bucket}\n{key}\n{version}".encode()).hexdigest()
    return digest[:24]


def job_name(prefix: str, job_id: str, attempt: int) -> str:
    name = f"{prefix}-{job_id}-a{attempt}"
    if len(name) > MAX_JOB_NAME:
        raise ValueError(f"job name {name!r} is longer than {MAX_JOB_NAME} characters: shorten JobNamePrefix")
    return name


def client_request_token(job_id: str, attempt: int) -> str:
    """Bedrock's idempotency token: the same job and attempt always send the same token."""
    return f"{job_id}a{attempt}"


def output_uri_for(bucket: str, source_key: str) -> str:
    """Where Bedrock writes a file's results: processed/<path under to-process without .jsonl>/.

    Bedrock adds ``<bedrock job id>/<file name>.out`` below it, so re-uploads never overwrite results.
    """
    relative = source_key.removeprefix(INPUT_PREFIX)
    stem, _ = posixpath.splitext(relative)
    return f"s3://{bucket}/{OUTPUT_PREFIX}{stem}/"


def staged_key(job_id: str, source_key: str) -> str:
    """The frozen copy of a validated upload that Bedrock reads: an overwrite of the original cannot change it.

    The file name is kept because Bedrock names its output after it (``<file>.jsonl.out``).
    """
    return f"{STAGED_PREFIX}{job_id}/{posixpath.basename(source_key)}"


def error_report_key(source_key: str) -> str:
    """The error report written next to a rejected file (its suffix does not retrigger ingest)."""
    return source_key + ERROR_REPORT_SUFFIX


def s3_uri(bucket: str, key: str) -> str:
    return f"s3://{bucket}/{key}"
