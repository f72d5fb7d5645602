"""Ingest of one upload from S3 (a moto server in its own process), beside its floors on the same bytes, read
through the same adapter and client settings as the Lambda:
- read: the upload's chunks, nothing done with them;
- floor: each line split out and parsed with orjson.loads (what any validation must at least do);
- bbq's own work: validation and staging with the parts written nowhere;
- read + write: the same bytes read and written back to S3 as one multipart object (the floor of storing parts);
- bbq: validation and staging with the parts stored.
Each figure comes from a fresh child process; memory is each child's own peak (VmHWM, which exec resets; a
child's ru_maxrss keeps its parent's). Prints one JSON line. Usage: python bench/ingest_bench.py [--sizes-mb 10
100 1000] [--line-kb 1.5]
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import orjson
from botocore.config import Config

BUCKET = "bench"
MODES = ("read", "floor", "bbq-without-writes", "read-write", "bbq")


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
    from bbq.adapters.s3_objects import S3Objects
    from bbq.core.model.ports import ObjectRef

    ref = ObjectRef(BUCKET, key, head["ETag"].strip('"'), head["ContentLength"])
    ingest = _ingest(s3, ref, mode) if mode.startswith("bbq") else None  # imported before the clock starts
    start = time.perf_counter()
    if ingest is not None:
        ingest()
    elif mode == "read":
        for _ in S3Objects(s3).read(ref).chunks:
            pass
    elif mode == "floor":
        carry = b""
        for chunk in S3Objects(s3).read(ref).chunks:
            pieces = (carry + chunk).split(b"\n")
            carry = pieces.pop()
            for piece in pieces:
                orjson.loads(piece)
        if carry:
            orjson.loads(carry)
    else:
        objects = S3Objects(s3)
        with objects.writer(BUCKET, f"copies/{key}") as out:
            for chunk in objects.read(ref).chunks:
                out.write(chunk)
    seconds = time.perf_counter() - start
    print(json.dumps({"seconds": seconds, "peak_rss_mb": own_peak_mb()}))


def _ingest(s3: Any, ref: Any, mode: str) -> Any:
    """bbq's ingest of ``ref``, ready to run: with the parts stored in S3, or (``bbq-without-writes``) nowhere."""
    import contextlib

    from bbq.adapters.s3_objects import S3Objects
    from bbq.core.intake.ingest import ingest_object
    from bbq.core.model.clock import SystemClock
    from bbq.core.model.config import PipelineConfig
    from bbq.core.model.limits import FixedLimits, ModelLimits
    from bbq_local.fakes import InMemoryStore

    class _NullWrites(S3Objects):
        """Reads from S3, writes nowhere: bbq's own work without the cost of storing the parts."""

        @contextlib.contextmanager
        def writer(self, bucket: str, key: str) -> Any:
            yield SimpleNamespace(write=lambda data: None)

    objects = S3Objects(s3) if mode == "bbq" else _NullWrites(s3)
    limits = ModelLimits(10, 100, 50_000, 50_000, 1024**3, 5 * 1024**3)

    def run() -> None:
        outcome = ingest_object(
            ref,
            objects=objects,
            store=InMemoryStore(),
            limits=FixedLimits(limits),
            config=PipelineConfig("m", "arn:aws:iam::123456789012:role/r", "bbq"),
            clock=SystemClock(),
        )
        if outcome.status != "Queued" or outcome.rejected_lines:
            sys.exit(f"ingest did not queue the upload: {outcome}")

    return run


def own_peak_mb() -> float:
    """This process's own peak resident memory (VmHWM): exec resets it, unlike ru_maxrss."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


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
            run = {mode: measure(endpoint, key, mode) for mode in MODES}
            s3.delete_object(Bucket=BUCKET, Key=key)
            mb = s3.head_object(Bucket=BUCKET, Key=f"copies/{key}")["ContentLength"] / 1e6
            s3.delete_object(Bucket=BUCKET, Key=f"copies/{key}")
            seconds = {mode: figures["seconds"] for mode, figures in run.items()}
            sizes.append(
                {
                    "size_mb": round(mb, 1),
                    "line_kb": args.line_kb,
                    **{f"{mode.replace('-', '_')}_s": round(value, 3) for mode, value in seconds.items()},
                    "own_work_over_floor": round(seconds["bbq-without-writes"] / seconds["floor"], 2),
                    "bbq_over_read_write": round(seconds["bbq"] / seconds["read-write"], 2),
                    "floor_mb_s": round(mb / seconds["floor"], 1),
                    "bbq_mb_s": round(mb / seconds["bbq"], 1),
                    **{f"{mode.replace('-', '_')}_peak_mb": round(run[mode]["peak_rss_mb"]) for mode in MODES},
                }
            )
        print(json.dumps({"bench": "ingest", "sizes": sizes}))
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
