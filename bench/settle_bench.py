"""Settling an ended job: what joining its output with its input record by record costs, beside the floor: the
output's lines split, and the input's only when some records go again. In-memory S3 (the figures are CPU, not
network); one part of N records of ~1.5 KB, its output with 1% of records errored and 0.5% missing (they go to a
retry part), and the same part all succeeded (then the input is not read). Prints one JSON line.

Usage: python bench/settle_bench.py [--records 5000]
"""

import argparse
import json
import time

import orjson

from bbq.core.model import naming
from bbq.core.model.clock import ManualClock
from bbq.core.model.config import PipelineConfig
from bbq.core.model.files import InvocationType, Part, PartStatus
from bbq.core.model.jobs import Job
from bbq.core.model.lines import split_lines
from bbq.core.model.record_ids import staged_record_id
from bbq.core.model.states import JobStatus
from bbq.core.settling.settle import settle_job
from bbq_local.fakes import FakeObjects, InMemoryStore

FILE_ID = "f" * 24
ARN = "arn:aws:bedrock:us-east-1:123456789012:model-invocation-job/abcdef123456"


def build(records: int, errors: bool) -> tuple[InMemoryStore, FakeObjects, Job]:
    objects, store, clock = FakeObjects(chunk=8 * 1024**2), InMemoryStore(), ManualClock()
    text = "x" * 1400
    staged, output = [], []
    for n in range(1, records + 1):
        record = {"recordId": staged_record_id(FILE_ID, n), "modelInput": {"messages": [{"content": text}]}}
        staged.append(orjson.dumps(record))
        if errors and n % 200 == 0:
            continue  # missing
        if errors and n % 100 == 0:
            output.append(orjson.dumps({**record, "error": {"errorCode": 429, "errorMessage": "Throttled"}}))
        else:
            output.append(orjson.dumps({**record, "modelOutput": {"content": [{"type": "text", "text": text}]}}))
    objects.files["b", f"staged/{FILE_ID}/x-p00001.jsonl"] = b"\n".join(staged) + b"\n"
    objects.files["b", "processed/x/abcdef123456/x-p00001.jsonl.out"] = b"\n".join(output) + b"\n"
    part = Part(
        FILE_ID, 1, "m", InvocationType.INVOKE_MODEL, f"s3://b/staged/{FILE_ID}/x-p00001.jsonl", 1,
        "s3://b/processed/x/", 1, records, records, 0, clock.now(), PartStatus.IN_JOB, "j", "x-p00001.jsonl",
    )  # fmt: skip
    store.parts[part.part_id] = part
    job = Job(
        "j", JobStatus.PARTIALLY_COMPLETED, "m", InvocationType.INVOKE_MODEL, (part.part_id,), part.staged_uri,
        "s3://b/processed/x/", records, 0, clock.now(), clock.now(), job_arn=ARN,
    )  # fmt: skip
    return store, objects, job


def baseline(objects: FakeObjects, reads_input: bool) -> float:
    """The floor: the output's lines split (every record's outcome is on its line), and when some records go
    again, the input's lines split too (theirs are copied into the retry part). Settling parses no more of a line
    than it must, so parsing every output line would flatter it."""
    start = time.perf_counter()
    for bucket, key in list(objects.files):
        if key.endswith(".out") or reads_input:
            for _ in split_lines(objects.read_key(bucket, key), 32 * 1024**2):
                pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000)
    args = parser.parse_args()
    config = PipelineConfig("m", "arn:aws:iam::123456789012:role/r", "bbq")
    cases = []
    for case, errors in (("1% errored, 0.5% missing", True), ("all succeeded", False)):
        store, objects, job = build(args.records, errors)
        size = sum(len(body) for body in objects.files.values())
        base = baseline(objects, reads_input=errors)
        start = time.perf_counter()
        (part,) = settle_job(job, store=store, objects=objects, config=config, clock=ManualClock())
        took = time.perf_counter() - start
        cases.append(
            {
                "case": case,
                "records": args.records,
                "mb_read": round(size / 1e6, 1),
                "baseline_s": round(base, 3),
                "settle_s": round(took, 3),
                "settle_over_baseline": round(took / base, 2),
                "records_per_s": int(args.records / took),
                "succeeded": part.succeeded,
                "retried": part.retried,
                "retry_part_written": naming.attempt_key(FILE_ID, "x-p00001.jsonl", 2).split("/")[-1]
                if part.retried
                else None,
            }
        )
    print(json.dumps({"bench": "settle", "cases": cases}))


if __name__ == "__main__":
    main()
