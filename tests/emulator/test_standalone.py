"""`bbq local emulator` as its own process, on wall time scaled, against a moto S3 server."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

from tests.conftest import REGION, put_records
from tests.emulator.helpers import TERMINAL, create


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(check: Any, seconds: float) -> Any:
    """Polls a real process (wall time is the point of standalone mode); bounded, never a performance assert."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"not reached within {seconds} s")


@pytest.fixture
def moto_s3() -> Iterator[str]:
    server = ThreadedMotoServer(port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def test_standalone_emulator_runs_a_job_to_completion(moto_s3: str) -> None:
    s3 = boto3.client("s3", endpoint_url=moto_s3, region_name=REGION)
    s3.create_bucket(Bucket="data")
    uri = put_records(s3, "data", "in/calls.jsonl", 150)
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bbq_local.cli",
            "local",
            "emulator",
            "--port",
            str(port),
            "--s3-endpoint-url",
            moto_s3,
            "--time-scale",
            "100",
            "--quota",
            "3",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=os.environ.copy(),
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"{url}/_emulator/health") as response:
                    return response.status == 200
            except OSError:
                return False

        wait_until(healthy, 30)
        bedrock = boto3.client("bedrock", region_name=REGION, endpoint_url=url)
        arn = create(bedrock, uri)

        def finished() -> str | None:
            status = bedrock.get_model_invocation_job(jobIdentifier=arn)["status"]
            return status if status in TERMINAL else None

        assert wait_until(finished, 60) == "Completed"
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="data", Prefix="out/")["Contents"]}
        assert f"out/{arn.rsplit('/', 1)[1]}/calls.jsonl.out" in keys
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0].decode()
    assert "export AWS_ENDPOINT_URL_BEDROCK=" in output
