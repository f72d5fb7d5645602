"""The emulator in standalone mode, measured: wall time for a 150-record job to finish at a time scale,
and GetModelInvocationJob calls per second over HTTP, side by side with moto's own server answering
S3 HeadObject (the baseline: another local AWS stand-in on the same machine, each in a process of its own, so
neither shares the measuring client's GIL). Prints one JSON line; exits non-zero if the job does not complete.
Usage: python bench/emulator_bench.py
"""

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

import boto3
from bedrock_emulator.standalone import free_port, launch, wait_healthy, wait_until

from bbq.core.model.states import BEDROCK_TERMINAL

os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")


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

    moto_port = free_port()
    moto = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(moto_port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    s3_url = f"http://127.0.0.1:{moto_port}"
    emulator_port = free_port()
    process = launch(emulator_port, s3_url, "--time-scale", str(args.time_scale))
    url = f"http://127.0.0.1:{emulator_port}"
    try:
        s3 = boto3.client("s3", endpoint_url=s3_url)
        wait_until(lambda: _answers(s3), 30)
        s3.create_bucket(Bucket="bench")
        from bbq_local.transcripts import jsonl_file

        s3.put_object(Bucket="bench", Key="in/calls.jsonl", Body=jsonl_file(1, args.records))
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
        for child in (process, moto):
            child.terminate()
            child.wait(timeout=10)
    figures = {
        "bench": "emulator",
        "records": args.records,
        "time_scale": args.time_scale,
        "job_status": status,
        "job_wall_s": round(to_terminal, 2),
        "emulator_get_job_calls_s": round(emulator_rate),
        "baseline_moto_head_object_calls_s": round(moto_rate),
        "emulator_over_baseline": round(emulator_rate / moto_rate, 2),
    }
    print(json.dumps(figures))
    if status != "Completed":
        sys.exit(f"the emulator's job ended {status}, not Completed")


def _answers(s3: Any) -> bool:
    try:
        s3.list_buckets()
    except Exception:
        return False
    return True


if __name__ == "__main__":
    main()
