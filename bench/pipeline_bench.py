"""How much sooner work finishes when refill follows Bedrock's events instead of a 15-minute poll.

Both runs deploy the real template into moto and use the emulator's default pace (150 s of Submitted,
Validating and Scheduled, then 2 records a second). The baseline is the seed post's design: the schedule
alone, so a freed slot waits for the next poll. bbq adds the state-change rule. Printed as one JSON line:
simulated time until every file is done, average share of the quota in use, and the ratios; exits non-zero if
any file does not complete. Usage: python bench/pipeline_bench.py
"""

import argparse
import contextlib
import json
import logging
import os
import sys
import time

from moto import mock_aws

os.environ.update(
    AWS_ACCESS_KEY_ID="bench",
    AWS_SECRET_ACCESS_KEY="bench",
    AWS_DEFAULT_REGION="us-east-1",
    POWERTOOLS_METRICS_DISABLED="true",
    POWERTOOLS_TRACE_DISABLED="true",
)
os.environ.pop("AWS_ENDPOINT_URL_BEDROCK", None)

from bbq_local import transcripts  # noqa: E402
from bbq_local.pipeline import LocalPipeline  # noqa: E402


def run(*, files: int, records: int, quota: int, events: bool, step: int) -> dict[str, float]:
    with mock_aws():
        pipeline = LocalPipeline(
            quota=quota, parameters={"ScheduleExpression": "rate(15 minutes)", "LogLevel": "ERROR"}
        )
        try:
            if not events:
                pipeline.emulator.faults.update({"drop_event_rate": 1.0})
            for number in range(files):
                pipeline.upload(f"to-process/f{number:03d}.jsonl", transcripts.jsonl_file(number, records))
            start, wall = pipeline.clock.now(), time.perf_counter()
            samples: list[int] = []

            def sample(p: LocalPipeline, _runs: object) -> None:
                samples.append(sum(p.active_in_bedrock().values()))

            items = pipeline.run_until_done(step_seconds=step, on_step=sample, max_steps=100_000)
            if len(items) != files or any(item["Status"] != "Completed" for item in items):
                sys.exit(f"not every file completed: {sorted(str(item['Status']) for item in items)}")
            makespan = (pipeline.clock.now() - start).total_seconds()
            return {
                "makespan_min": makespan / 60,
                "utilisation": sum(samples) / (len(samples) * quota),
                "scheduler_runs": pipeline.scheduler.invocations,
                "wall_s": time.perf_counter() - wall,
            }
        finally:
            pipeline.close()


def main() -> None:
    logging.disable(logging.INFO)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=12)
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--quota", type=int, default=3)
    parser.add_argument("--step", type=int, default=30, help="simulated seconds per step")
    args = parser.parse_args()
    common = {"files": args.files, "records": args.records, "quota": args.quota, "step": args.step}
    with contextlib.redirect_stdout(sys.stderr):  # the handlers' logs and metrics: stdout carries the figures
        baseline = run(events=False, **common)
        bbq = run(events=True, **common)
    figures = {
        "bench": "pipeline",
        "files": args.files,
        "records": args.records,
        "quota": args.quota,
        "baseline_poll_makespan_min": round(baseline["makespan_min"], 1),
        "bbq_makespan_min": round(bbq["makespan_min"], 1),
        "makespan_ratio": round(bbq["makespan_min"] / baseline["makespan_min"], 2),
        "baseline_slot_use": round(baseline["utilisation"], 3),
        "bbq_slot_use": round(bbq["utilisation"], 3),
        "baseline_scheduler_runs": baseline["scheduler_runs"],
        "bbq_scheduler_runs": bbq["scheduler_runs"],
        "wall_s": round(baseline["wall_s"] + bbq["wall_s"], 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
