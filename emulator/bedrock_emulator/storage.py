"""Bedrock's side of S3: reading and checking a job's input (the Validating step) and writing its output."""

import json
import posixpath
import random
from typing import Any

from bedrock_emulator.job import EmulatedJob, InputFile, tally


class JobStorage:
    def __init__(self, s3_client: Any, seed: int) -> None:
        self.s3 = s3_client
        self._seed = seed

    def load_input(self, job: EmulatedJob) -> str | None:
        """Reads and validates the job's input as Bedrock's Validating step does; the failure message or None."""
        uri = job.request["inputDataConfig"]["s3InputDataConfig"]["s3Uri"]
        bucket, key = _split(uri)
        limits = job.limits
        try:
            keys = self._input_keys(bucket, key)
            if not keys:
                return f"No .jsonl input files were found at {uri}."
            total_bytes = 0
            for object_key in keys:
                body = self.s3.get_object(Bucket=bucket, Key=object_key)["Body"].read()
                total_bytes += len(body)
                name = posixpath.basename(object_key)
                if len(body) > limits.max_file_bytes:
                    return f"Input file {name} is {len(body)} bytes, above the limit of {limits.max_file_bytes} bytes."
                records, problem = _parse_records(name, body)
                if problem:
                    return problem
                if len(records) > limits.max_records_per_file:
                    return (
                        f"Input file {name} has {len(records)} records, above the limit of "
                        f"{limits.max_records_per_file} records per file."
                    )
                job.files.append(InputFile(object_key, records))
            self._check_output_bucket(job)
        except self.s3.exceptions.NoSuchBucket:
            return f"Unable to access the S3 location {uri}: the bucket does not exist or the role cannot read it."
        except self.s3.exceptions.NoSuchKey:
            return f"Unable to access the S3 location {uri}: the object does not exist."
        except _OutputUnwritable as exc:
            return str(exc)
        count = sum(len(f.records) for f in job.files)
        if count < limits.min_records_per_job:
            return (
                f"The job has {count} records, below the minimum of {limits.min_records_per_job} records "
                "per batch inference job."
            )
        if count > limits.max_records_per_job:
            return f"The job has {count} records, above the limit of {limits.max_records_per_job} records per job."
        if total_bytes > limits.max_job_bytes:
            return f"The job's input is {total_bytes} bytes, above the limit of {limits.max_job_bytes} bytes per job."
        return None

    def _input_keys(self, bucket: str, key: str) -> list[str]:
        if key.endswith(".jsonl"):
            listed = self.s3.list_objects_v2(Bucket=bucket, Prefix=key).get("Contents", [])
            return [key] if any(o["Key"] == key for o in listed) else []
        paginator = self.s3.get_paginator("list_objects_v2")
        return [
            obj["Key"]
            for page in paginator.paginate(Bucket=bucket, Prefix=key)
            for obj in page.get("Contents", [])
            if obj["Key"].endswith(".jsonl")
        ]

    def _check_output_bucket(self, job: EmulatedJob) -> None:
        bucket, _ = _split(job.request["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"])
        try:
            self.s3.head_bucket(Bucket=bucket)
        except Exception as exc:
            raise _OutputUnwritable(f"Unable to write to the output S3 location s3://{bucket}: {exc}") from exc

    def write_output(self, job: EmulatedJob, limit: int) -> None:
        """Writes ``{output}/{jobId}/{file}.out`` for the first ``limit`` records, and the manifest."""
        out_bucket, out_key = _split(job.request["outputDataConfig"]["s3OutputDataConfig"]["s3Uri"])
        base = posixpath.join(out_key, job.job_id) if out_key else job.job_id
        done = job.results[:limit]
        rng = random.Random(f"{self._seed}:{job.job_id}:order")
        for index, input_file in enumerate(job.files):
            lines = [json.dumps(r.line) for r in done if r.file_index == index and r.line is not None]
            rng.shuffle(lines)  # Bedrock does not keep input order: consumers must join on recordId
            body = "".join(line + "\n" for line in lines).encode()
            self.s3.put_object(Bucket=out_bucket, Key=f"{base}/{input_file.name}.out", Body=body)
        written = [r for r in done if r.line is not None]
        job.processed, job.success, job.error = tally(done)
        manifest = {
            "totalRecordCount": job.total,
            "processedRecordCount": job.processed,
            "successRecordCount": job.success,
            "errorRecordCount": job.error,
            "inputTokenCount": sum(r.input_tokens for r in written),
            "outputTokenCount": sum(r.output_tokens for r in written),
        }
        self.s3.put_object(Bucket=out_bucket, Key=f"{base}/manifest.json.out", Body=json.dumps(manifest).encode())


class _OutputUnwritable(Exception):
    pass


def _split(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _parse_records(name: str, body: bytes) -> tuple[list[dict[str, Any]], str | None]:
    records = []
    for number, raw in enumerate(body.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except ValueError:
            return [], f"Invalid JSON on line {number} of input file {name}."
        if not isinstance(record, dict) or "modelInput" not in record:
            return [], f"Line {number} of input file {name} has no modelInput field."
        records.append(record)
    return records, None
