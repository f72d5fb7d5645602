"""The AWS CLI, unmodified, talks to the emulator through AWS_ENDPOINT_URL_BEDROCK."""

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.conftest import put_records
from tests.emulator.helpers import create, run_to_end

AWS = str(Path(sys.executable).parent / "aws")


def aws(url: str, *args: str) -> Any:
    env = {**os.environ, "AWS_ENDPOINT_URL_BEDROCK": url, "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run([AWS, "bedrock", *args, "--output", "json"], env=env, capture_output=True, text=True)
    return done.returncode, json.loads(done.stdout) if done.stdout.strip() else None, done.stderr


def test_the_aws_cli_lists_gets_and_stops_jobs(emulator_url: str, bedrock: Any, s3: Any, clock: Any) -> None:
    s3.create_bucket(Bucket="data")
    finished = create(bedrock, put_records(s3, "data", "in/calls.jsonl", 120), name="cli-done")
    run_to_end(bedrock, clock, finished)
    running = create(bedrock, "s3://data/in/calls.jsonl", name="cli-running")

    code, listed, _ = aws(emulator_url, "list-model-invocation-jobs", "--status-equals", "Completed")
    assert code == 0 and [j["jobName"] for j in listed["invocationJobSummaries"]] == ["cli-done"]
    code, job, _ = aws(emulator_url, "get-model-invocation-job", "--job-identifier", finished)
    assert code == 0 and (job["status"], job["successRecordCount"]) == ("Completed", 120)
    code, _, _ = aws(emulator_url, "stop-model-invocation-job", "--job-identifier", running)
    assert code == 0 and bedrock.get_model_invocation_job(jobIdentifier=running)["status"] == "Stopping"

    code, _, stderr = aws(emulator_url, "get-model-invocation-job", "--job-identifier", "abcdefabcdef")
    assert code != 0 and "ResourceNotFoundException" in stderr
