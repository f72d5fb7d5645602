"""`bbq local emulator` as its own process, on wall time scaled, against a moto S3 server."""

from collections.abc import Iterator

import boto3
import pytest
from bedrock_emulator.standalone import free_port, launch, wait_healthy, wait_until
from moto.server import ThreadedMotoServer

from tests.conftest import REGION, put_records
from tests.emulator.helpers import TERMINAL, create


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
    process = launch(port, moto_s3, "--time-scale", "100", "--quota", "3")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url)
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
