"""`make demo`: the whole pipeline on this machine. Call transcripts go into to-process/, the deployed
template's functions queue and submit them to the emulated Bedrock, and the results come back to disk."""

import json
import os
import shutil
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moto import mock_aws

from bbq_local import AWS_VARIABLES_TO_CLEAR, transcripts

if TYPE_CHECKING:
    from datetime import datetime

    from bbq.core.model.files import InputFile
    from bbq.core.model.jobs import Job

STATUS_ORDER = ["Queued", "Running", "Completed", "PartiallyCompleted", "Failed", "Rejected"]
NOVA = "amazon.nova-lite-v1:0"
PART_RECORDS = 200
MAX_JOB_RECORDS = 1_000
# A team with a daily budget that runs out mid-tour (its first files cost about $0.007 each in the emulator), and
# the on-demand pace deadlines plan with.
MARKETING_BUDGET_USD = 0.03
ON_DEMAND_PER_MINUTE = 30


def _fake_credentials() -> None:
    # Everything runs against moto and the emulator: never a real account, whatever the shell has set.
    for name in AWS_VARIABLES_TO_CLEAR:
        os.environ.pop(name, None)
    os.environ.update(
        AWS_ACCESS_KEY_ID="demo",
        AWS_SECRET_ACCESS_KEY="demo",
        AWS_DEFAULT_REGION="us-east-1",
    )


def _rows(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)) for row in rows)


def _short_model(model_id: str) -> str:
    return model_id.split(".")[1].split("-v")[0] if "." in model_id else "-"


def _files_table(files: list["InputFile"], jobs_of: dict[str, list["Job"]]) -> str:
    rows: list[tuple[str, ...]] = [("file", "model", "status", "records", "refused", "parts", "jobs", "message")]
    for file in sorted(files, key=lambda f: f.key):
        rows.append(
            (
                file.key.removeprefix("to-process/"),
                _short_model(file.model_id),
                file.status.value,
                str(file.record_count),
                str(file.rejected_lines),
                str(file.part_count),
                str(len(jobs_of[file.file_id])),
                file.message[:70],
            )
        )
    return _rows(rows)


def _jobs_table(jobs_of: dict[str, list["Job"]]) -> str:
    files_of: dict[str, set[str]] = {}
    jobs: dict[str, Job] = {}
    for file_id, file_jobs in jobs_of.items():
        for job in file_jobs:
            files_of.setdefault(job.job_id, set()).add(file_id)
            jobs[job.job_id] = job
    rows: list[tuple[str, ...]] = [("job", "model", "status", "records", "parts", "files", "input")]
    for job in sorted(jobs.values(), key=lambda j: (j.created_at, j.job_id)):
        rows.append(
            (
                job.job_id[:12],
                _short_model(job.model_id),
                job.status.value,
                str(job.record_count),
                str(len(job.part_ids)),
                str(len(files_of[job.job_id])),
                job.input_uri.split("/", 3)[3][:60],
            )
        )
    return _rows(rows)


def _summary_line(pipeline: Any, files: list["InputFile"]) -> str:
    counts = Counter(file.status.value for file in files)
    elapsed = pipeline.clock.now() - pipeline.started_at
    states = "  ".join(f"{s} {counts[s]}" for s in STATUS_ORDER if counts[s])
    active = sum(pipeline.active_in_bedrock().values())
    return f"  [+{str(elapsed).split('.')[0]:>8} simulated]  files: {states}   (Bedrock slots in use: {active})"


def _upload_tour(pipeline: Any, files: int, records: int) -> None:
    for number in range(1, files + 1):
        pipeline.upload(f"to-process/call-transcripts-{number:02d}.jsonl", transcripts.jsonl_file(number, records))
    print(f"uploaded {files} files of {records} call transcripts each, and:")
    pipeline.upload("to-process/archive/big-export.jsonl", transcripts.jsonl_file(50, 2_400))
    print(
        f"  - archive/big-export.jsonl: 2,400 records, split into parts of {PART_RECORDS} (PartRecords) that run "
        f"in several jobs (the demo's Bedrock takes {MAX_JOB_RECORDS} records a job)"
    )
    for team in ("north", "south", "east", "west"):
        pipeline.upload(f"to-process/{team}/calls.jsonl", transcripts.jsonl_file(60 + len(team), 30))
    print("  - {north,south,east,west}/calls.jsonl: 30 records each, under the minimum of 100: packed into one job")
    good = transcripts.jsonl_file(70, 150).splitlines(keepends=True)
    bad = [b'{"recordId": "CALL-x", "modelInput": \n', b"not json at all\n", b'{"modelInput": {"n": NaN}}\n']
    pipeline.upload("to-process/with-bad-lines.jsonl", b"".join(good[:50] + bad + good[50:]))
    print("  - with-bad-lines.jsonl: 150 good lines and 3 bad ones: the good ones run, the bad ones are reported")
    pipeline.upload(f"to-process/{NOVA}/nova-calls.jsonl", transcripts.jsonl_file(80, 120))
    print(f"  - {NOVA}/nova-calls.jsonl: routed to Amazon Nova Lite by its folder (AllowedModels)")
    pipeline.upload("to-process/anthropic.claude-v2/old-model.jsonl", transcripts.jsonl_file(90, 120))
    print("  - anthropic.claude-v2/old-model.jsonl: a model this stack does not run: refused with a report")
    for number in range(1, 6):
        pipeline.upload(f"to-process/marketing/campaign-{number}.jsonl", transcripts.jsonl_file(100 + number, 200))
    print(
        f"  - marketing/campaign-{{1..5}}.jsonl: team marketing, whose daily budget (Teams) is "
        f"${MARKETING_BUDGET_USD}: what does not fit today waits for tomorrow"
    )
    deadline = pipeline.clock.now() + timedelta(minutes=45)
    pipeline.upload(
        "to-process/support/escalations.jsonl",
        transcripts.jsonl_file(120, 600),
        {"bbq-deadline": deadline.strftime("%Y-%m-%dT%H:%M:%SZ")},
    )
    print(
        f"  - support/escalations.jsonl: 600 records due in 45 minutes (bbq-deadline {deadline:%H:%M} UTC), behind "
        "everything above: bbq runs on demand what batch would finish too late"
    )
    pipeline.emulator.faults.update({"record_errors": {"ThrottlingException": 0.01}, "missing_record_rate": 0.005})
    print(
        "  - and Bedrock throttles 1% of records and leaves 0.5% out of its output: they go again, packed with "
        "other work or, when few are left, on demand\n"
    )


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
    out = Path(output_dir).resolve()
    shutil.rmtree(out / "logs", ignore_errors=True)  # this run's logs only
    with mock_aws():
        print("bbq demo: deploying template.yaml into moto (translated by aws-sam-translator) ...")
        pipeline = LocalPipeline(
            quota=quota,
            # Leftovers under Bedrock's minimum wait 10 simulated minutes for companions, not the default hour.
            parameters={
                "LogLevel": "ERROR",
                "AllowedModels": NOVA,
                "PartRecords": str(PART_RECORDS),
                "CompanionWaitMinutes": "10",
                "Teams": json.dumps({"marketing": {"dailyBudgetUsd": MARKETING_BUDGET_USD}}),
                "OnDemandRecordsPerMinute": str(ON_DEMAND_PER_MINUTE),
            },
            log_dir=out / "logs",  # the functions' logs and metrics (EMF), as CloudWatch Logs would hold them
        )
        # A small figure, so a laptop-sized tour shows splitting (Bedrock's real limit is 50,000 a job): the
        # emulated Bedrock enforces it and lists it in Service Quotas, where bbq reads it.
        pipeline.emulator.limits.set(None, max_records_per_job=MAX_JOB_RECORDS, max_records_per_file=MAX_JOB_RECORDS)
        try:
            print(f"  bucket {pipeline.bucket}, table {pipeline.table}, Bedrock emulator at {pipeline.server.url}")
            print(
                f"  concurrent-job quota per model: {quota}; scheduler every "
                f"{pipeline.schedule_every // 60} simulated minutes and on every Bedrock state change\n"
            )
            _upload_tour(pipeline, files, records)
            sdk_run = _sdk_submit(pipeline)
            last = ""

            def show(p: Any, _runs: Any) -> None:
                nonlocal last
                line = _summary_line(p, list(p.status.files()))
                if line.split("]", 1)[1] != last:
                    print(line)
                    last = line.split("]", 1)[1]

            _run_until_only_budget_waits(pipeline, show)
            first_day = pipeline.clock.now()
            _show_teams(pipeline)
            pipeline.run_until_done(step_seconds=1800, on_step=show)
            days = (pipeline.clock.now() - first_day).days + 1
            print("\nAt each 00:00 UTC marketing's budget reset, and what waited ran within it:")
            print(_budget_table(pipeline, *(first_day + timedelta(days=n) for n in range(days + 1))))
            done = list(pipeline.status.files())  # the read side people use (StatusQuery), not raw items
            jobs_of = {file.file_id: pipeline.status.jobs_of(file) for file in done}
            print("\nEvery file is done:\n")
            print(_files_table(done, jobs_of))
            print("\nThe Bedrock jobs that ran them:\n")
            print(_jobs_table(jobs_of))
            again = [part for file in done for part in pipeline.status.parts_of(file) if part.attempt > 1]
            print(
                f"\n{sum(part.record_count for part in again)} records failed transiently or went missing and ran "
                f"again ({len(again)} retry parts); each has exactly one result."
            )
            saved = _download(pipeline, out)
            print(
                f"\nResults copied from s3://{pipeline.bucket}/processed/ to {out}/processed/ "
                f"({len(saved)} files: a folder per input file, and processed/_packed/ for jobs packing several)."
            )
            _show_sample(saved)
            print(f"\nMax Bedrock jobs at once per model: {pipeline.max_active_seen} (quota {quota}).")
            print(f"The functions' logs and metrics (CloudWatch EMF documents) are in {out / 'logs'}/.")
            _sdk_results(sdk_run)
            print(f"Done in {time.monotonic() - wall_start:.1f} s of wall time.")
        finally:
            pipeline.close()
    return 0


def _run_until_only_budget_waits(pipeline: Any, show: Any) -> None:
    """Steps until every file has ended but those a budget holds back (they wait for 00:00 UTC)."""
    from bbq.core.model.files import FILE_FINAL

    for _ in range(2_000):
        runs = pipeline.step(30)
        show(pipeline, runs)
        held = {team for run in runs for team in run.get("heldByBudget", {})}  # what the scheduler said
        files = list(pipeline.status.files())
        if held and all(f.team in held for f in files if f.status not in FILE_FINAL):
            return
    raise RuntimeError("files neither ended nor waited for budget")


def _show_teams(pipeline: Any) -> None:
    from bbq.core.model.files import FILE_FINAL

    files = {f.key.removeprefix("to-process/"): f for f in pipeline.status.files()}
    held = sorted(key for key, f in files.items() if f.status not in FILE_FINAL)
    print(f"\nEvery file has ended but {len(held)} of team marketing, held back by its budget:")
    for key in held:
        print(f"  {key}: {files[key].status.value}" + (f", {files[key].message}" if files[key].message else ""))
    print(_budget_table(pipeline, pipeline.clock.now()))
    urgent = files["support/escalations.jsonl"]
    parts = pipeline.status.parts_of(urgent)
    jobs = {job.job_id: job for job in pipeline.status.jobs_of(urgent, parts)}
    on_demand = sum(p.record_count for p in parts if p.job_id and jobs[p.job_id].on_demand)
    ended = max((job.ended_at for job in jobs.values() if job.ended_at), default=None)
    met = "met" if ended and urgent.deadline and ended <= urgent.deadline else "MISSED"
    print(
        f"\nsupport/escalations.jsonl, due {urgent.deadline:%H:%M} UTC: {urgent.status.value}, its last records ended "
        f"{ended:%H:%M} UTC (deadline {met}); {on_demand} of its {urgent.record_count} records ran on demand, the "
        f"rest in batch. Its on-demand records say:\n  {_first_deadline_note(pipeline, urgent)}"
    )
    print("\nJumping to the next day, 00:00 UTC ...")
    tomorrow = (pipeline.clock.now() + timedelta(days=1)).replace(hour=0, minute=5, second=0, microsecond=0)
    pipeline.clock.advance((tomorrow - pipeline.clock.now()).total_seconds())


def _first_deadline_note(pipeline: Any, file: Any) -> str:
    """The deadline decision as the scheduler logged it on the file (its message moved on since)."""
    for part in pipeline.status.parts_of(file):
        if "deadline" in part.message:
            return part.message
    return file.message


def _budget_table(pipeline: Any, *days: "datetime") -> str:
    """Marketing's daily line on each day given, as `bbq cost` shows it (bbq_sdk.costs)."""
    from bbq_sdk import costs
    from bbq_sdk.stacks import StackInfo

    teams = costs.stack_teams(StackInfo(pipeline.stack.name, pipeline.stack.outputs, pipeline.stack.parameters))
    rows: list[tuple[str, ...]] = [("budget", "spent $", "reserved $", "budget $", "left $")]
    for day in days:
        for line in costs.budget_lines(["marketing"], teams, pipeline.status, day):
            if line["owner"] == "marketing" and line["period"] == "day" and line["spentUsd"] + line["reservedUsd"]:
                when = line["line"].rsplit("#", 1)[1]
                rows.append((f"team marketing, {when}", f"{line['spentUsd']:.4f}", f"{line['reservedUsd']:.4f}",
                             f"{line['budgetUsd']:.2f}", f"{line['remainingUsd']:.4f}"))  # fmt: skip
    return _rows(rows)


SDK_TEMPLATE = """---
system: You summarize support tickets in one sentence.
max_tokens: 80
---
Ticket from {{ customer }} ({{ plan }} plan): {{ text }}"""


def _sdk_submit(pipeline: Any) -> Any:
    """A data engineer's way in: a DataFrame and a prompt template, through the Python SDK."""
    import pandas as pd
    from bbq_sdk import Client

    tickets = pd.DataFrame(
        {
            "ticket": [f"TK-{i:04d}" for i in range(150)],
            "customer": [f"customer {i}" for i in range(150)],
            "plan": ["pro" if i % 3 else "free" for i in range(150)],
            "text": [transcripts.ticket_text(i) for i in range(150)],
        }
    ).set_index("ticket")
    run = Client(stack=pipeline.stack.name).submit(tickets, template=SDK_TEMPLATE, name="tickets")
    print(
        "  and from Python: Client(stack=...).submit(tickets_df, template=...) -> "
        f"{run.key} (150 rows rendered into {run.client.info.models()[0]} request bodies)\n"
    )
    return run


def _sdk_results(run: Any) -> None:
    import pandas as pd

    frame = run.results()
    with pd.option_context("display.width", 160, "display.max_colwidth", 60):
        print(
            f"\nrun.results() for {run.key}: a DataFrame of {len(frame)} rows, the input's columns beside each output:"
        )
        print(frame[["recordId", "customer", "plan", "text", "outputTokens"]].head(5).to_string(index=False))


def _show_sample(saved: list[Path]) -> None:
    reports = [p for p in saved if p.name.endswith(".error.json")]
    joined = sorted(p for p in saved if p.name == "results.jsonl")
    if joined:
        line = json.loads(joined[0].read_text().splitlines()[0])
        where = joined[0].relative_to(joined[0].parents[1])
        print(f"\nJoined results, in each upload's line order, e.g. {where} line {line['line']} ({line['recordId']}):")
        tokens = f"{line['inputTokens']}+{line['outputTokens']} tokens"
        print(f"  {(line['text'] or '')[:300]}  [{line['stopReason']}, {tokens}]")
    summaries = [json.loads(p.read_text()) for p in saved if p.name == "summary.json"]
    if summaries:
        tokens = sum(s["tokens"]["input"] + s["tokens"]["output"] for s in summaries)
        cost = sum(s["costUsd"]["total"] or 0 for s in summaries)
        print(
            f"\nCost (summary.json of each file): {tokens:,} tokens, ${cost:.4f} at the batch price "
            "(half of on demand; records run on demand at the full price)"
        )
    for report in reports:
        body = json.loads(report.read_text())
        refused = body["rejectedLines"]
        detail = f"line {refused[0]['line']}: {refused[0]['reason']}" if refused else body["message"]
        print(f"\nError report {report.name} ({len(refused)} refused lines): {detail}")
