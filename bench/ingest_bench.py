"""Ingest of one upload from S3 (a moto server in its own process): validation and staging together, beside a
bare read + json.loads of every line in the same process, with the peak RSS of each. Also bbq with the staged
parts written nowhere, which separates bbq's own work from the cost of storing the parts in the server.

Each size runs in a fresh child process, so each peak is its own. Prints one JSON line per size.
Usage: python bench/ingest_bench.py [--sizes-mb 10 100 1000] [--line-kb 1.5]
"""

import argparse
import json
import os
import resource
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
from botocore.config import Config

BUCKET = "bench"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def client(endpoint: str) -> Any:
    # Without "when_required", a large put into moto is quadratic (checksum of a streamed body).
    config = Config(request_checksum_calculation="when_required", response_checksum_validation="when_required")
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", config=config)


def lines(total_bytes: int, line_bytes: int) -> Iterator[bytes]:
    record = {"modelInput": {"messages": [{"role": "user", "content": "x"}]}}
    pad = max(0, line_bytes - len(json.dumps(record)) - 40)
    written = index = 0
    while written < total_bytes:
        body = {"recordId": f"R{index}", "modelInput": {"messages": [{"role": "user", "content": "y" * pad}]}}
        line = json.dumps(body).encode() + b"\n"
        written += len(line)
        index += 1
        yield line


class _Stream:
    """A generated file as a file object, so uploading it never holds it in memory."""

    def __init__(self, source: Iterator[bytes]) -> None:
        self._source, self._buffer = source, b""

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            try:
                self._buffer += next(self._source)
            except StopIteration:
                break
        if size < 0:
            size = len(self._buffer)
        chunk, self._buffer = self._buffer[:size], self._buffer[size:]
        return chunk


def child(endpoint: str, key: str, mode: str) -> None:
    """One measurement in a fresh process: prints seconds and peak RSS."""
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    s3 = client(endpoint)
    head = s3.head_object(Bucket=BUCKET, Key=key)
    start = time.perf_counter()
    if mode == "baseline":
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"]
        for line in body.iter_lines(chunk_size=1024**2):  # a fair baseline: large chunks
            json.loads(line)
    else:
        import contextlib

        from bbq.adapters.s3_objects import S3Objects

        class _NullWrites(S3Objects):
            """Reads from S3, writes nowhere: bbq's own work without the cost of storing the parts."""

            @contextlib.contextmanager
            def writer(self, bucket: str, key: str) -> Any:
                yield SimpleNamespace(write=lambda data: None)

        objects = S3Objects(s3) if mode == "bbq" else _NullWrites(s3)
        from bbq.core.intake.ingest import ingest_object
        from bbq.core.model.clock import SystemClock
        from bbq.core.model.config import PipelineConfig
        from bbq.core.model.limits import FixedLimits, ModelLimits
        from bbq.core.model.ports import ObjectRef
        from bbq_local.fakes import InMemoryStore

        limits = ModelLimits(10, 100, 50_000, 50_000, 1024**3, 5 * 1024**3)
        outcome = ingest_object(
            ObjectRef(BUCKET, key, head["ETag"].strip('"'), head["ContentLength"]),
            objects=objects,
            store=InMemoryStore(),
            limits=FixedLimits(limits),
            config=PipelineConfig("m", "arn:aws:iam::123456789012:role/r", "bbq"),
            clock=SystemClock(),
        )
        assert outcome.status == "Queued" and outcome.rejected_lines == 0, outcome
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb}))


def measure(endpoint: str, key: str, mode: str) -> dict[str, float]:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run(
        [sys.executable, __file__, "--child", endpoint, key, mode],
        check=True,
        capture_output=True,
        text=True,
        cwd=root,
        env={**os.environ, "PYTHONPATH": root},
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes-mb", type=int, nargs="+", default=[10, 100, 1000])
    parser.add_argument("--line-kb", type=float, default=1.5)
    parser.add_argument("--child", nargs=3, metavar=("ENDPOINT", "KEY", "MODE"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    port = free_port()
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
        s3 = client(endpoint)
        for _ in range(100):
            try:
                s3.create_bucket(Bucket=BUCKET)
                break
            except Exception:
                time.sleep(0.1)  # the server is starting (a benchmark, not a test)
        sizes = []
        for size_mb in args.sizes_mb:
            key = f"to-process/{size_mb}mb.jsonl"
            s3.upload_fileobj(_Stream(lines(size_mb * 10**6, int(args.line_kb * 1024))), BUCKET, key)
            base = measure(endpoint, key, "baseline")
            ours = measure(endpoint, key, "bbq")
            checks = measure(endpoint, key, "bbq-without-writes")
            s3.delete_object(Bucket=BUCKET, Key=key)
            sizes.append(
                {
                    "size_mb": size_mb,
                    "line_kb": args.line_kb,
                    "baseline_s": round(base["seconds"], 2),
                    "bbq_s": round(ours["seconds"], 2),
                    "bbq_over_baseline": round(ours["seconds"] / base["seconds"], 2),
                    "bbq_without_writes_s": round(checks["seconds"], 2),
                    "bbq_without_writes_over_baseline": round(checks["seconds"] / base["seconds"], 2),
                    "baseline_mb_s": round(size_mb / base["seconds"], 1),
                    "bbq_mb_s": round(size_mb / ours["seconds"], 1),
                    "baseline_peak_rss_mb": round(base["peak_rss_mb"]),
                    "bbq_peak_rss_mb": round(ours["peak_rss_mb"]),
                }
            )
        print(json.dumps({"bench": "ingest", "sizes": sizes}))
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
