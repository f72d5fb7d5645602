"""`make demo`: the whole pipeline on this machine. Call transcripts go into to-process/, the deployed
template's functions queue and submit them to the emulated Bedrock, and the results come back to disk."""

import json
import os
import time
from collections import Counter
from pathlib import Path
from typing import Any

from moto import mock_aws

from bbq_local import transcripts

STATUS_ORDER = [
    "Pending",
    "Submitted",
    "Validating",
    "Scheduled",
    "InProgress",
    "Stopping",
    "Completed",
    "PartiallyCompleted",
    "Failed",
    "Stopped",
    "Expired",
    "Invalid",
]


def _fake_credentials() -> None:
    # Everything runs against moto and the emulator: never a real account, whatever the shell has set.
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_BEDROCK", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="demo",
        AWS_SECRET_ACCESS_KEY="demo",
        AWS_DEFAULT_REGION="us-east-1",
        POWERTOOLS_METRICS_DISABLED="true",
    )


def _table(items: list[dict[str, Any]]) -> str:
    rows = [("file", "status", "records", "done", "job id", "message")]
    for item in items:
        done = item.get("ProcessedRecordCount")
        rows.append(
            (
                item["SourceKeys"][0].removeprefix("to-process/"),
                item["Status"],
                str(item["RecordCount"]),
                "-" if done is None else str(done),
                item["JobId"][:12],
                item.get("Message", "")[:60],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)


def _summary_line(pipeline: Any, items: list[dict[str, Any]]) -> str:
    counts = Counter(item["Status"] for item in items)
    elapsed = pipeline.clock.now() - pipeline.started_at
    states = "  ".join(f"{s} {counts[s]}" for s in STATUS_ORDER if counts[s])
    active = sum(pipeline.active_in_bedrock().values())
    return f"  [+{str(elapsed).split('.')[0]:>8} simulated]  {states}   (Bedrock slots in use: {active})"


def _download(pipeline: Any, output_dir: Path) -> list[Path]:
    saved = []
    pages = pipeline.s3.get_paginator("list_objects_v2").paginate(Bucket=pipeline.bucket)
    for obj in (o for page in pages for o in page.get("Contents", [])):
        if obj["Key"].startswith("processed/") or obj["Key"].endswith(".error.json"):
            target = output_dir / obj["Key"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(pipeline.s3.get_object(Bucket=pipeline.bucket, Key=obj["Key"])["Body"].read())
            saved.append(target)
    return saved


def run_demo(*, files: int, records: int, quota: int, output_dir: str) -> int:
    _fake_credentials()
    from bbq_local.pipeline import LocalPipeline  # after the variables: Powertools reads them at import

    wall_start = time.monotonic()
    with mock_aws():
        print("bbq demo: deploying template.yaml into moto (translated by aws-sam-translator) ...")
        pipeline = LocalPipeline(quota=quota, parameters={"LogLevel": "WARNING"})
        try:
            print(f"  bucket {pipeline.bucket}, table {pipeline.table}, Bedrock emulator at {pipeline.server.url}")
            print(
                f"  concurrent-job quota per model: {quota}; scheduler every "
                f"{pipeline.schedule_every // 60} simulated minutes and on every Bedrock state change\n"
            )
            for number in range(1, files + 1):
                pipeline.upload(
                    f"to-process/call-transcripts-{number:02d}.jsonl", transcripts.jsonl_file(number, records)
                )
            pipeline.upload("to-process/late-upload-too-small.jsonl", transcripts.jsonl_file(99, 40))
            print(
                f"uploaded {files} files of {records} call transcripts each, and one file of 40 "
                "(below Bedrock's 100-record minimum, to show how bad input is reported)\n"
            )
            last = ""

            def show(p: Any, _runs: Any) -> None:
                nonlocal last
                line = _summary_line(p, p.items())
                if line.split("]", 1)[1] != last:
                    print(line)
                    last = line.split("]", 1)[1]

            items = pipeline.run_until_done(step_seconds=30, on_step=show)
            print("\nEvery job is terminal:\n")
            print(_table(items))
            out = Path(output_dir).resolve()
            saved = _download(pipeline, out)
            print(
                f"\nResults copied from s3://{pipeline.bucket}/processed/ to {out}/processed/ "
                f"({len(saved)} files, one folder per input file)."
            )
            _show_sample(saved)
            print(f"\nMax Bedrock jobs at once per model: {pipeline.max_active_seen} (quota {quota}).")
            print(f"Done in {time.monotonic() - wall_start:.1f} s of wall time.")
        finally:
            pipeline.close()
    return 0


def _show_sample(saved: list[Path]) -> None:
    outputs = [p for p in saved if p.name.endswith(".jsonl.out")]
    reports = [p for p in saved if p.name.endswith(".error.json")]
    if outputs:
        line = json.loads(outputs[0].read_text().splitlines()[0])
        print(f"\nOne result from {outputs[0].name} (record {line['recordId']}):")
        print("  " + line["modelOutput"]["content"][0]["text"][:300])
    for report in reports:
        body = json.loads(report.read_text())
        print(f"\nError report next to the rejected file ({report.name}): {body['problems'][0]}")
