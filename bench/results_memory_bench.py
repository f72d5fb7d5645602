"""Joining a file's results: peak memory and time of writing results.jsonl/errors.jsonl/summary.json, for files of
5,000 and 50,000 records cut into parts of 1,000 (in memory; what is written is handed on, as S3 takes it). Memory
should stay flat: the 8 MiB read chunks and one part's results, whatever the file's size. Prints one JSON line each.

Usage: python bench/results_memory_bench.py
"""

import json
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

import bbq.core.progress as progress
from bbq.core.limits import SplitPolicy
from bbq.core.states import JobStatus
from tests.core.fakes import FakeObjects
from tests.core.helpers import CONFIG, World, jsonl, run


class _Sink:
    def write(self, data: bytes) -> None:
        pass


def measure(records: int) -> dict[str, Any]:
    world = World(config=replace(CONFIG, split=SplitPolicy(part_records=1000)), objects=FakeObjects(chunk=8 << 20))
    file_id = world.upload("to-process/big.jsonl", jsonl(records)).file_id or ""
    kept = world.objects.writer

    @contextmanager
    def writer(bucket: str, key: str) -> Iterator[Any]:
        if key.endswith(("results.jsonl", "errors.jsonl")):
            yield _Sink()  # S3 takes what is written: the fake's copy is not the code's memory
        else:
            with kept(bucket, key) as out:
                yield out

    world.objects.writer = writer  # type: ignore[method-assign]
    real, seen = progress.write_results, {}

    def measured(*args: Any, **kwargs: Any) -> Any:
        tracemalloc.start()
        start = time.perf_counter()
        totals = real(*args, **kwargs)
        seen["seconds"], seen["peak_mb"] = time.perf_counter() - start, tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        return totals

    progress.write_results = measured  # type: ignore[assignment]
    try:
        for _ in range(records // 1000 + 2):
            run(world, quota=10)
            for arn in [a for a in world.batch.snapshots if world.batch.active(a)]:
                world.batch.end(arn, JobStatus.COMPLETED)
            world.clock.advance(3600)
    finally:
        progress.write_results = real
    outputs = sum(len(body) for (_, key), body in world.objects.files.items() if key.endswith(".out"))
    return {
        "records": records,
        "status": world.store.files[file_id].status.value,
        "outputs_mb": round(outputs / 1e6, 1),
        "peak_mb_during_join": round(seen["peak_mb"], 1),
        "join_s": round(seen["seconds"], 2),
    }


if __name__ == "__main__":
    for size in (5_000, 50_000):
        print(json.dumps(measure(size)))
