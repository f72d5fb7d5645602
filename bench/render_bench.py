"""Tables in and out at scale: rendering N rows of a Parquet table with a template into Bedrock records (what
ingest and `bbq submit --template` do), and reading an N-row results.parquet back as a DataFrame (what
`run.results()` does). One JSON line of figures.

Floors, measured beside it in the same run on the same file: reading the table's rows alone (pyarrow's
iter_batches + to_pylist, what any renderer must do), and that plus an f-string prompt and orjson.dumps of a
fixed-shape Anthropic body per row (the least a renderer can do). Peak memory is this process's own VmHWM
(Linux), read after each phase; the figures are a baseline's, not a gate.

    python bench/render_bench.py --rows 1000000
"""

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bbq.adapters.parquet_tables import TableFile, rows
from bbq.core.intake.tables import rendered_lines
from bbq.core.intake.templates import Renderer, parse_template

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
TEMPLATE = "---\nmax_tokens: 200\nid_column: id\n---\nSummarize the review by {{ author }}: {{ review }}"


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def table(path: Path, count: int) -> None:
    writer = None
    for start in range(0, count, 100_000):
        n = min(100_000, count - start)
        batch = pa.table(
            {
                "id": [f"r{i}" for i in range(start, start + n)],
                "author": [f"author {i % 977}" for i in range(start, start + n)],
                "review": [f"Review {i}: the product works, shipping took {i % 9} days, would buy again." for i in
                           range(start, start + n)],
                "stars": [i % 5 for i in range(start, start + n)],
            }
        )  # fmt: skip
        writer = writer or pq.ParquetWriter(path, batch.schema)
        writer.write_table(batch)
    assert writer is not None
    writer.close()


def chunks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            yield chunk


def timed(work: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    count = work()
    return time.perf_counter() - start, count


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "reviews.parquet"
        table(source, args.rows)
        before = peak_mb()

        def read_only() -> int:
            return sum(1 for _ in rows(chunks(source)))

        def floor() -> int:
            count = 0
            for row in rows(chunks(source)):
                prompt = f"Summarize the review by {row['author']}: {row['review']}"
                body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200,
                        "messages": [{"role": "user", "content": [{"type": "text", "text": prompt}]}]}  # fmt: skip
                orjson.dumps({"recordId": row["id"], "modelInput": body, "columns": row})
                count += 1
            return count

        renderer = Renderer(parse_template(TEMPLATE), MODEL)

        def bbq() -> int:
            return sum(1 for _ in rendered_lines(rows(chunks(source)), renderer))

        read_s, read_n = timed(read_only)
        floor_s, floor_n = timed(floor)
        bbq_s, bbq_n = timed(bbq)
        render_peak = peak_mb()
        assert read_n == floor_n == bbq_n == args.rows

        results = Path(folder) / "results.parquet"
        with results.open("wb") as out:
            writer = TableFile(out)
            for i in range(args.rows):
                writer.add({"line": i + 1, "recordId": f"r{i}", "author": f"author {i % 977}",
                            "text": f"The reviewer {i} is happy.", "stopReason": "end_turn", "inputTokens": 40,
                            "outputTokens": 8, "errorCode": None, "errorMessage": None, "attempts": None})  # fmt: skip
            writer.close()
        start = time.perf_counter()
        frame = pd.read_parquet(results, dtype_backend="pyarrow")
        read_back_s = time.perf_counter() - start
        assert len(frame) == args.rows
        results_mb = results.stat().st_size / 2**20
    print(
        json.dumps(
            {
                "bench": "render",
                "rows": args.rows,
                "bbq_rows_per_s": round(bbq_n / bbq_s),
                "floor_rows_per_s": round(floor_n / floor_s),
                "read_only_rows_per_s": round(read_n / read_s),
                "ratio_to_floor": round(bbq_s / floor_s, 2),
                "peak_rss_mb_before": round(before, 1),
                "peak_rss_mb_after_render": round(render_peak, 1),
                "results_parquet_mb": round(results_mb, 1),
                "results_read_back_s": round(read_back_s, 2),
                "peak_rss_mb_after_read_back": round(peak_mb(), 1),
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
