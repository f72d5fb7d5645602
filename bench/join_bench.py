"""Joining a large file's results in the results function: time per record, peak memory and invocations needed,
beside the floor (reading the same outputs and parsing and writing each record once, no join), in one process.

The file is synthetic and never held whole: each part's staged input, Bedrock output and the upload are made as
they are read (the same bytes for bbq and the floor), and what the join writes is counted, not kept. It runs the
real core (``join_file``) with a time budget per invocation: ``--budget`` seconds of this machine's wall time
stand for what one Lambda invocation has (900 s less the 180 s the function keeps in reserve), so a join larger
than one invocation pauses at a checkpoint and goes on, as the results function does.

    python bench/join_bench.py [--records 5000000] [--part-records 5000] [--budget 720]

With ``--real-writer`` the join writes through bbq's own S3 adapter to a moto server in its own process, for its
memory with the real multipart buffers (the time then includes the uploads). Prints one JSON line.
"""

import argparse
import json
import resource
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from bbq.core.model import naming
from bbq.core.model.clock import ManualClock
from bbq.core.model.files import FileStatus, InputFile, InvocationType, Part, PartStatus
from bbq.core.model.lines import split_lines
from bbq.core.model.ports import ObjectRef, StoredObject
from bbq.core.model.record_ids import staged_record_id
from bbq.core.settling.joining import JoinOutcome, join_file
from bbq.core.settling.progress import Ending
from bbq_local.fakes import InMemoryStore

BUCKET, MODEL = "bucket", "anthropic.claude-3-haiku-20240307-v1:0"
T0 = datetime(2026, 1, 1, tzinfo=UTC)
CHUNK = 8 * 1024**2  # as S3Objects reads
FILE_ID = "f" * 24


def _output_line(record_id: str, line: int) -> bytes:
    """Bedrock's output for a Claude record: about 600 bytes, as a short summary makes."""
    return orjson.dumps(
        {
            "recordId": record_id,
            "modelInput": {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200, "messages": []},
            "modelOutput": {
                "id": f"msg_{line:020d}",
                "type": "message",
                "role": "assistant",
                "model": "claude-3-haiku-20240307",
                "content": [{"type": "text", "text": f"Summary of call {line}: the customer asked about an order."}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 120, "output_tokens": 40},
            },
        }
    )


class SyntheticObjects:
    """S3 for one file of ``records`` records in parts of ``per_part``: made as read, written only counted."""

    def __init__(self, records: int, per_part: int) -> None:
        self.records, self.per_part = records, per_part
        self.written: dict[str, int] = {}
        self.json: dict[str, Mapping[str, object]] = {}

    def lines(self, index: int) -> range:
        first = (index - 1) * self.per_part + 1
        return range(first, min(first + self.per_part, self.records + 1))

    def body(self, key: str) -> Iterator[bytes]:
        kind, index = key.rsplit("/", 1)[-1].split("-")
        rows = self.lines(int(index.split(".")[0]))
        make = _output_line if kind == "out" else (lambda rid, _: b'{"recordId":"' + rid.encode() + b'"}')
        block = b"\n".join(make(staged_record_id(FILE_ID, n), n) for n in rows) + b"\n"
        return (block[i : i + CHUNK] for i in range(0, len(block), CHUNK))

    def read_key(self, bucket: str, key: str) -> Iterator[bytes]:
        if key in self.written:  # what the join wrote (its errors.jsonl, read for the report): only counted
            if self.written[key]:
                raise AssertionError(f"{key} was written with {self.written[key]} bytes; this bench keeps none")
            return iter(())
        return self.body(key)

    def read(self, ref: ObjectRef) -> StoredObject:
        def upload() -> Iterator[bytes]:
            for start in range(1, self.records + 1, 50_000):
                stop = min(start + 50_000, self.records + 1)
                yield b"".join(b'{"recordId":"CALL%09d","modelInput":{}}\n' % n for n in range(start, stop))

        return StoredObject({}, upload())

    def resumable_writer(self, bucket: str, key: str, state: Mapping[str, object] | None) -> "_Counted":
        return _Counted(self, key, state)

    def put_json(self, bucket: str, key: str, body: Mapping[str, object]) -> None:
        self.json[key] = body

    def tag(self, bucket: str, key: str, tags: Mapping[str, str]) -> None:
        pass  # the ended file's staged data: what the lifecycle reads is not what this bench measures

    @contextmanager
    def writer(self, bucket: str, key: str) -> Iterator["_Counted"]:  # the file's report
        counted = _Counted(self, key, None)
        yield counted
        counted.complete()


class _Counted:
    def __init__(self, objects: SyntheticObjects, key: str, state: Mapping[str, object] | None) -> None:
        self.objects, self.key = objects, key
        self.bytes = int(str(state["written"])) if state else 0

    def write(self, data: bytes) -> None:
        self.bytes += len(data)

    def checkpoint(self) -> dict[str, object]:
        return {"written": self.bytes}

    def complete(self) -> None:
        self.objects.written[self.key] = self.bytes


class RealWrites(SyntheticObjects):
    """What the join writes goes through bbq's own S3 adapter to a moto server in its own process (its multipart
    buffers are the join's memory too); what it reads is still made as read."""

    def __init__(self, records: int, per_part: int, s3: Any) -> None:
        super().__init__(records, per_part)
        from bbq.adapters.s3_objects import S3Objects

        self.s3, self.real = s3, S3Objects(s3)

    def read_key(self, bucket: str, key: str) -> Iterator[bytes]:
        return self.real.read_key(BUCKET, key) if key.startswith("processed/big/") else self.body(key)

    def resumable_writer(self, bucket: str, key: str, state: Mapping[str, object] | None) -> Any:
        return self.real.resumable_writer(BUCKET, key, state)

    @contextmanager
    def writer(self, bucket: str, key: str) -> Iterator[Any]:
        with self.real.writer(BUCKET, key) as out:
            yield out

    def put_json(self, bucket: str, key: str, body: Mapping[str, object]) -> None:
        super().put_json(bucket, key, body)
        self.real.put_json(BUCKET, key, body)


def moto_s3() -> tuple[Any, Any]:
    """A moto server in a process of its own, and an S3 client of it with the Lambda's checksum settings."""
    import os
    import subprocess
    import sys

    import boto3
    from bedrock_emulator.standalone import free_port, wait_until
    from botocore.config import Config

    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench", AWS_DEFAULT_REGION="us-east-1")
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    config = Config(request_checksum_calculation="when_required", response_checksum_validation="when_required")
    s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", config=config)

    def created() -> bool:
        try:
            s3.create_bucket(Bucket=BUCKET)
        except Exception:
            return False
        return True

    wait_until(created, 30)
    return server, s3


def the_file(records: int, per_part: int) -> tuple[InMemoryStore, InputFile]:
    parts_count = -(-records // per_part)
    output_uri = naming.s3_uri(BUCKET, "processed/big/")
    file = InputFile(
        FILE_ID, BUCKET, "to-process/big.jsonl", "v1", MODEL, InvocationType.INVOKE_MODEL, FileStatus.RUNNING,
        records, records, 0, records * 300, parts_count, output_uri, T0, T0,
    )  # fmt: skip
    store = InMemoryStore()
    store.files[FILE_ID] = file
    for index in range(1, parts_count + 1):
        first = (index - 1) * per_part + 1
        count = min(per_part, records - first + 1)
        part = Part(
            FILE_ID, index, MODEL, InvocationType.INVOKE_MODEL, f"s3://{BUCKET}/staged/in-{index}.jsonl",
            parts_count, output_uri, first, first + count - 1, count, count * 300, T0,
            status=PartStatus.COMPLETED, succeeded=count, results_uri=f"s3://{BUCKET}/processed/out-{index}.out",
        )  # fmt: skip
        store.parts[part.part_id] = part
    return store, file


def floor(records: int, per_part: int) -> float:
    """The least a join does: each output line read, parsed, and one row written back."""
    objects, written = SyntheticObjects(records, per_part), 0
    start = time.process_time()
    for index in range(1, -(-records // per_part) + 1):
        for line in split_lines(objects.body(f"processed/out-{index}.out"), 64 * 1024**2):
            if line.data:
                written += len(orjson.dumps(orjson.loads(line.data)["modelOutput"]))
    return time.process_time() - start


def bbq_join(records: int, per_part: int, budget: float, s3: Any = None) -> dict[str, Any]:
    store, file = the_file(records, per_part)
    objects = SyntheticObjects(records, per_part) if s3 is None else RealWrites(records, per_part, s3)
    clock = ManualClock(T0)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    invocations, cpu = 0, 0.0
    outcome = JoinOutcome.PAUSED
    while outcome == JoinOutcome.PAUSED:
        invocations += 1
        started = time.process_time()
        outcome, _ = join_file(
            FILE_ID,
            store=store,
            objects=objects,  # type: ignore[arg-type]
            clock=clock,
            ending=Ending(),
            holder=f"invocation-{invocations}",
            out_of_time=lambda began=started: time.process_time() - began > budget,  # type: ignore[misc]
            checkpoint_every=timedelta(seconds=60),
        )
        cpu += time.process_time() - started
        clock.advance(1)
    assert outcome == JoinOutcome.ENDED, outcome
    rows = objects.json["processed/big/summary.json"]["records"]["succeeded"]  # type: ignore[index]
    assert rows == records, f"{rows} of {records} records joined"
    return {
        "cpu_s": cpu,
        "invocations": invocations,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_before_mb": round(rss_before, 1),
        "results_mb": round(_size(objects, "processed/big/results.jsonl") / 1e6, 1),
        "status": store.files[FILE_ID].status.value,
    }


def _size(objects: SyntheticObjects, key: str) -> int:
    if isinstance(objects, RealWrites):
        return int(objects.s3.head_object(Bucket=BUCKET, Key=key)["ContentLength"])
    return objects.written[key]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=5_000_000)
    parser.add_argument("--part-records", type=int, default=5_000)
    parser.add_argument("--budget", type=float, default=720.0, help="CPU seconds one invocation may join for")
    parser.add_argument(
        "--real-writer",
        action="store_true",
        help="write through bbq's S3 adapter to a moto server: the join's memory with its real writer (its CPU then "
        "includes the uploads, so compare memory, not time)",
    )
    args = parser.parse_args()
    server, s3 = moto_s3() if args.real_writer else (None, None)
    try:
        bbq = bbq_join(args.records, args.part_records, args.budget, s3)
    finally:
        if server is not None:
            server.terminate()
    base = floor(args.records, args.part_records)
    print(
        json.dumps(
            {
                "bench": "join",
                "writer": "bbq's S3 adapter, to moto" if args.real_writer else "a counting sink",
                "records": args.records,
                "part_records": args.part_records,
                "budget_s_per_invocation": args.budget,
                "bbq_us_per_record": round(bbq["cpu_s"] / args.records * 1e6, 2),
                "floor_us_per_record": round(base / args.records * 1e6, 2),
                "ratio": round(bbq["cpu_s"] / base, 2),
                **{k: v for k, v in bbq.items() if k != "cpu_s"},
            }
        )
    )


if __name__ == "__main__":
    main()
