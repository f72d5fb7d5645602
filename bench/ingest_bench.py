"""How fast ingest checks a file: bbq's validate_jsonl against the bare minimum (json.loads of every line),
on a 50,000-record file of call transcripts, and what that means for the largest file one ingest can take.
Usage: python bench/ingest_bench.py
"""

import argparse
import json
import time
from collections.abc import Callable

from bbq.core.validation import InputLimits, validate_jsonl
from bbq_local.transcripts import jsonl_file

INGEST_TIMEOUT_S = 900  # the ingest function's timeout in template.yaml


def best_of(runs: int, work: Callable[[], None]) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    lines = jsonl_file(1, args.records).splitlines(keepends=True)
    size_mb = sum(map(len, lines)) / 1e6

    def baseline() -> None:
        for line in lines:
            json.loads(line)

    def bbq() -> None:
        assert validate_jsonl(lines, InputLimits()).valid

    base, ours = best_of(args.runs, baseline), best_of(args.runs, bbq)
    print(f"{args.records} records, {size_mb:.1f} MB, best of {args.runs}")
    print(f"{'':34}{'seconds':>9}{'MB/s':>8}")
    print(f"{'baseline: json.loads every line':34}{base:9.2f}{size_mb / base:8.0f}")
    print(f"{'bbq validate_jsonl':34}{ours:9.2f}{size_mb / ours:8.0f}")
    print(f"ratio bbq/baseline: {ours / base:.2f}x time")
    capacity_gb = size_mb / ours * INGEST_TIMEOUT_S / 1000
    print(f"at this rate one ingest ({INGEST_TIMEOUT_S} s timeout) checks ~{capacity_gb:.0f} GB, before S3 read time")


if __name__ == "__main__":
    main()
