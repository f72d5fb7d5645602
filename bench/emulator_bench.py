"""The emulator in standalone mode, measured: wall time for a 150-record job to finish at a time scale,
and GetModelInvocationJob calls per second over HTTP, side by side with moto's own server answering
S3 HeadObject (the baseline: another local AWS stand-in on the same machine). Usage: python bench/emulator_bench.py
"""

import argparse
import logging
import os
import time

import boto3
from bedrock_emulator.standalone import free_port, launch, wait_healthy
from moto.server import ThreadedMotoServer

from bbq.core.model.states import BEDROCK_TERMINAL

os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's server logs every request


def calls_per_second(call, seconds: float) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        call()
        count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-scale", type=float, default=100.0)
    parser.add_argument("--records", type=int, default=150)
    parser.add_argument("--seconds", type=float, default=3.0, help="how long each throughput run lasts")
    args = parser.parse_args()

    moto = ThreadedMotoServer(port=free_port(), verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    s3_url = f"http://{host}:{port}"
    s3 = boto3.client("s3", endpoint_url=s3_url)
    s3.create_bucket(Bucket="bench")
    from bbq_local.transcripts import jsonl_file

    s3.put_object(Bucket="bench", Key="in/calls.jsonl", Body=jsonl_file(1, args.records))
    emulator_port = free_port()
    process = launch(emulator_port, s3_url, "--time-scale", str(args.time_scale))
    url = f"http://127.0.0.1:{emulator_port}"
    try:
        wait_healthy(url)
        bedrock = boto3.client("bedrock", endpoint_url=url)
        start = time.perf_counter()
        arn = bedrock.create_model_invocation_job(
            jobName="bench",
            roleArn="arn:aws:iam::123456789012:role/bench",
            modelId="anthropic.claude-3-haiku-20240307-v1:0",
            inputDataConfig={"s3InputDataConfig": {"s3Uri": "s3://bench/in/calls.jsonl"}},
            outputDataConfig={"s3OutputDataConfig": {"s3Uri": "s3://bench/out/"}},
        )["jobArn"]
        while (status := bedrock.get_model_invocation_job(jobIdentifier=arn)["status"]) not in BEDROCK_TERMINAL:
            time.sleep(0.02)
        to_terminal = time.perf_counter() - start
        emulator_rate = calls_per_second(lambda: bedrock.get_model_invocation_job(jobIdentifier=arn), args.seconds)
        moto_rate = calls_per_second(lambda: s3.head_object(Bucket="bench", Key="in/calls.jsonl"), args.seconds)
    finally:
        process.terminate()
        process.wait(timeout=10)
        moto.stop()
    print(f"{args.records}-record job at time scale x{args.time_scale:g}: {status} after {to_terminal:.2f} s wall")
    print(f"{'':44}{'calls/s':>10}")
    print(f"{'emulator GetModelInvocationJob (HTTP)':44}{emulator_rate:10.0f}")
    print(f"{'baseline: moto server S3 HeadObject (HTTP)':44}{moto_rate:10.0f}")
    print(f"ratio emulator/baseline: {emulator_rate / moto_rate:.2f}x")


if __name__ == "__main__":
    main()
