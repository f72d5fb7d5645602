"""Every `bbq` command against the deployed template in moto, with the emulator as Bedrock: tables for people,
--json for scripts, exit codes that say what happened."""

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bbq_local import cli
from bbq_local.pipeline import LocalPipeline
from tests.conftest import claude_record, jsonl


def bbq(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any]:
    """Runs `bbq <args> --json`; its exit code and what it printed, parsed."""
    capsys.readouterr()
    code = cli.main([*args, "--json"])
    # In-process Lambda handlers log JSON lines to stdout through Powertools; the CLI's own output is the rest.
    out = "\n".join(line for line in capsys.readouterr().out.splitlines() if not line.startswith('{"level"'))
    return code, json.loads(out) if out.strip().startswith(("{", "[")) else out


def read_rows(pipeline: LocalPipeline, output_uri: str, name: str) -> list[dict[str, Any]]:
    """One of an upload's joined files under processed/, a JSON object a line."""
    body = pipeline.s3.get_object(Bucket=pipeline.bucket, Key=output_uri.split("/", 3)[3] + name)["Body"].read()
    return [json.loads(line) for line in body.splitlines()]


@pytest.fixture
def pipeline(make_pipeline: Any, monkeypatch: pytest.MonkeyPatch) -> LocalPipeline:
    made: LocalPipeline = make_pipeline(quota=2)
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", made.server.url)  # Bedrock, its runtime, Service Quotas: the
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", made.server.url)  # emulator, as `bbq local up` sets
    monkeypatch.setenv("AWS_ENDPOINT_URL_SERVICE_QUOTAS", made.server.url)
    return made


def test_submit_status_results_cost_and_quota(
    pipeline: LocalPipeline, capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")  # rich's tables fit the terminal; a test's is 80 wide
    stack = ["--stack", pipeline.stack.name]
    first, second = tmp_path / "calls.jsonl", tmp_path / "more.jsonl"
    first.write_bytes(jsonl([claude_record(i) for i in range(120)]))
    second.write_bytes(jsonl([claude_record(i) for i in range(100, 250)]))
    code, uploaded = bbq(capsys, "submit", *stack, str(first), str(second), "--prefix", "team")
    assert code == 0 and [u["uri"].rsplit("/", 2)[-2:] for u in uploaded] == [
        ["team", "calls.jsonl"],
        ["team", "more.jsonl"],
    ]
    pipeline.step(30)
    code, view = bbq(capsys, "status", *stack)
    assert code == 0 and {f["status"] for f in view["files"]} <= {"Queued", "Running"}
    code, _ = bbq(capsys, "results", *stack, "team/calls.jsonl", "--out", str(tmp_path / "out"))
    assert code == 3, "not ready: the upload has not ended"
    pipeline.run_until_done()
    code, view = bbq(capsys, "status", *stack, "--status", "Completed")
    assert code == 0 and [f["key"] for f in view["files"]] == [
        "to-process/team/calls.jsonl",
        "to-process/team/more.jsonl",
    ]
    assert all(f["done"] == f["records"] for f in view["files"]) and view["models"][0]["slotsInUse"] == 0
    code, saved = bbq(capsys, "results", *stack, "team/calls.jsonl", "--out", str(tmp_path / "out"))
    assert code == 0 and saved["status"] == "Completed"
    results = (tmp_path / "out" / "team" / "calls" / "results.jsonl").read_text().splitlines()
    assert [json.loads(r)["recordId"] for r in results] == [claude_record(i)["recordId"] for i in range(120)]
    code, cost = bbq(capsys, "cost", *stack)
    assert code == 0 and cost["total"]["files"] == 2 and cost["total"]["costUsd"] > 0
    assert [(r["team"], r["records"]) for r in cost["ended"]] == [("team", 270)], "the folder names the team"
    assert cost["budgets"] == [], "no budget set, and no spend recorded against one"
    code, quotas = bbq(capsys, "quota", *stack)
    assert code == 0 and quotas[0]["limit"] == 2 and quotas[0]["slotsInUse"] == 0
    concurrent = "Sum of in-progress and submitted batch inference jobs using a base model for Claude 3 Haiku"
    assert quotas[0]["sources"]["concurrent_jobs"] == f"applied quota: {concurrent}"
    assert quotas[0]["sources"]["min_records_per_job"].startswith("AWS default quota: Minimum number of records")
    capsys.readouterr()
    assert cli.main(["quota", *stack]) == 0 and "applied quota: Sum of" in capsys.readouterr().out
    assert cli.main(["status", *stack]) == 0 and "team/calls.jsonl" in capsys.readouterr().out, "a table for people"


def test_retry_sends_again_only_what_may_succeed_at_the_original_line_numbers_and_all_with_all(
    make_pipeline: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # One attempt each, so that throttled records fail for good here; a retry of a few records is small work
    # like any small upload: here it runs on demand after the wait.
    pipeline = make_pipeline(parameters={"SmallWork": "on-demand", "CompanionWaitMinutes": "10", "MaxJobAttempts": "1"})
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", pipeline.server.url)
    pipeline.emulator.faults.update({"record_errors": {"ValidationException": 0.05, "ThrottlingException": 0.05}})
    pipeline.upload("to-process/calls.jsonl", jsonl([claude_record(i) for i in range(300)]))
    # A table rendered by ingest: its retry is made of the rows its template rendered, ids and columns kept.
    pipeline.upload("templates/t.txt", b"---\nid_column: ticket\n---\nSummarize: {{ text }}")
    rows = b"ticket,text\n" + b"".join(b"T%03d,call %d went well\n" % (i, i) for i in range(200))
    pipeline.upload("to-process/tickets.csv", rows, {"bbq-template": "t.txt"})
    item, table = sorted(pipeline.run_until_done(), key=lambda i: i["SourceKey"])
    assert item["Status"] == table["Status"] == "PartiallyCompleted"
    errors = read_rows(pipeline, item["OutputUri"], "errors.jsonl")
    throttled = [e for e in errors if e["errorCode"] == 429]
    malformed = [e for e in errors if e["errorCode"] == 400]
    assert throttled and malformed and len(throttled) + len(malformed) == item["RecordsFailed"]
    pipeline.emulator.faults.update({"record_errors": {}})
    code, retried = bbq(capsys, "retry", "--stack", pipeline.stack.name, "calls.jsonl")
    assert code == 0 and retried["uploaded"].endswith("calls.retry-1.jsonl")
    assert (retried["records"], retried["leftOut"]) == (len(throttled), len(malformed)), "a 400 fails again"
    items = pipeline.run_until_done()
    again = next(i for i in items if i["SourceKey"] == "to-process/calls.retry-1.jsonl")
    assert again["Status"] == "Completed" and again["RecordCount"] == len(throttled)
    joined = read_rows(pipeline, again["OutputUri"], "results.jsonl")
    assert [(r["line"], r["recordId"]) for r in joined] == [(e["line"], e["recordId"]) for e in throttled], (
        "each record at its line in the upload, with its own id"
    )
    code, every = bbq(capsys, "retry", "--stack", pipeline.stack.name, "calls.jsonl", "--all")
    assert code == 0 and every["uploaded"].endswith("calls.retry-2.jsonl")
    assert (every["records"], every["leftOut"]) == (item["RecordsFailed"], 0)
    code, again = bbq(capsys, "retry", "--stack", pipeline.stack.name, "tickets.csv")
    assert code == 0 and again["uploaded"].endswith("tickets.retry-1.jsonl") and again["records"] > 0
    failed = read_rows(pipeline, table["OutputUri"], "errors.jsonl")
    redone = next(i for i in pipeline.run_until_done() if i["SourceKey"] == "to-process/tickets.retry-1.jsonl")
    rows_back = read_rows(pipeline, redone["OutputUri"], "results.jsonl")
    assert [(r["line"], r["recordId"], r["columns"]) for r in rows_back] == [
        (e["line"], e["recordId"], {"text": f"call {e['line'] - 1} went well"}) for e in failed if e["errorCode"] != 400
    ], "a row keeps its number, its id and its columns"


def test_the_same_bytes_again_under_the_same_key_are_skipped_with_the_earlier_results_unless_forced(
    pipeline: LocalPipeline, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    stack = ["--stack", pipeline.stack.name]
    calls = tmp_path / "calls.jsonl"
    calls.write_bytes(jsonl([claude_record(i) for i in range(120)]))
    assert bbq(capsys, "submit", *stack, str(calls))[0] == 0
    (first,) = pipeline.run_until_done()
    assert bbq(capsys, "submit", *stack, str(calls))[0] == 0, "S3 takes it: a new version, the same ETag"
    pipeline.step(30)
    code, view = bbq(capsys, "status", *stack, "--status", "Skipped")
    (skipped,) = view["files"]
    assert skipped["message"].startswith("Skipped: these bytes") and first["Version"] in skipped["message"]
    code, saved = bbq(capsys, "results", *stack, "calls.jsonl", "--out", str(tmp_path / "out"))
    assert code == 0 and saved["version"] == first["Version"], "the earlier upload's results are this one's"
    from bbq_sdk import Client

    run = Client(stack=pipeline.stack.name).run("calls.jsonl")
    state = run.status()
    assert state.status == "Completed" and state.message.startswith("a repeat of upload"), "the Run follows it"
    assert len(run.results()) == 120
    assert bbq(capsys, "submit", *stack, str(calls), "--force")[0] == 0
    items = pipeline.run_until_done()
    assert sorted(i["Status"] for i in items) == ["Completed", "Completed", "Skipped"], "forced: run again"


def test_errors_say_what_to_do(pipeline: LocalPipeline, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["status", "--stack", "no-such-stack"]) == 1
    assert "pass --stack <name>" in capsys.readouterr().err
    assert cli.main(["results", "--stack", pipeline.stack.name, "nothing.jsonl"]) == 1
    assert "see `bbq status`" in capsys.readouterr().err
    with pytest.raises(SystemExit) as usage:
        cli.main(["submit"])
    assert usage.value.code == 2


def test_help_loads_no_aws_sdk_and_no_rich() -> None:
    """`bbq --help` answers at once: boto3, botocore and rich load only when a command runs."""
    probe = (
        "import sys; from bbq_local import cli; cli.build_parser(); "
        "print(sorted({'boto3', 'botocore', 'rich'} & set(sys.modules)))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True, text=True).stdout
    assert loaded.strip() == "[]"


def test_each_upload_of_a_key_has_its_own_results_and_the_newest_is_served(
    pipeline: LocalPipeline, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """The same key uploaded three times in one moment (one CreatedAt): S3's sequencer says which is newest; each
    upload's results stay in a place of its own; bbq results serves the newest and says which it is."""
    stack = ["--stack", pipeline.stack.name]
    for count in (1_500, 600, 120):
        pipeline.upload("to-process/calls.jsonl", jsonl([claude_record(i) for i in range(count)]))
    pipeline.upload("to-process/calls.JSONL", jsonl([claude_record(i) for i in range(130)]))
    pipeline.upload("to-process/bad.jsonl", b"not json\n")
    pipeline.run_until_done()
    code, said = bbq(capsys, "results", *stack, "bad.jsonl", "--out", str(tmp_path / "out"))
    assert code == 1 and "was Rejected" in said and "no results" in said and "error report" in said
    files = list(pipeline.status.uploads("to-process/calls.jsonl"))
    assert sorted(f.record_count for f in files) == [120, 600, 1_500]
    assert len({f.output_uri for f in files}) == 3 and len({f.created_at for f in files}) == 1
    for file in files:  # each place holds its own upload's results, whole
        bucket, prefix = file.output_uri.removeprefix("s3://").split("/", 1)
        body = pipeline.s3.get_object(Bucket=bucket, Key=prefix + "results.jsonl")["Body"].read()
        assert len(body.splitlines()) == file.record_count
    code, saved = bbq(capsys, "results", *stack, "calls.jsonl", "--out", str(tmp_path / "out"))
    newest = max(files, key=lambda f: f.sequencer)
    assert code == 0 and saved["fileId"] == newest.file_id and newest.record_count == 120
    assert len((tmp_path / "out" / "calls" / "results.jsonl").read_text().splitlines()) == 120
    latest = pipeline.s3.get_object(Bucket=pipeline.bucket, Key="processed/calls/latest.json")["Body"].read()
    assert json.loads(latest)["fileId"] == newest.file_id
    other = pipeline.status.newest_upload("to-process/calls.JSONL")
    assert other is not None and other.output_uri.startswith(f"s3://{pipeline.bucket}/processed/calls.JSONL/")


def test_the_cli_checks_before_it_uploads_and_never_prints_a_traceback(
    pipeline: LocalPipeline, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    stack = ["--stack", pipeline.stack.name]
    good, text = tmp_path / "calls.jsonl", tmp_path / "notes.txt"
    good.write_bytes(jsonl([claude_record(i) for i in range(120)]))
    text.write_text("hello\n")

    def refused(*args: str) -> str:
        capsys.readouterr()
        assert cli.main(list(args)) == 1
        err = capsys.readouterr().err
        assert "Traceback" not in err
        return err

    assert "is not a model this stack runs; use one of: anthropic." in refused(
        "submit", *stack, str(good), "--model", "nova-lite"
    )
    assert "which bbq never runs: not a .jsonl, .csv or .parquet file" in refused("submit", *stack, str(text))
    assert "which bbq never runs" in refused("submit", *stack, str(good), "--prefix", "../x")
    assert pipeline.s3.list_objects_v2(Bucket=pipeline.bucket, Prefix="to-process/").get("KeyCount", 0) == 0
    assert "no upload 'to-process/nonexistent.jsonl'" in refused("stop", *stack, "nonexistent.jsonl")
    with pytest.raises(SystemExit) as exited:
        cli.main(["status", *stack, "--watch", "-1"])
    assert exited.value.code == 2 and "give a number of seconds from 0.5" in capsys.readouterr().err
    code, uploaded = bbq(capsys, "submit", *stack, str(good), "--model", "anthropic.claude-3-haiku-20240307-v1:0")
    assert code == 0 and uploaded[0]["uri"].endswith("/to-process/anthropic.claude-3-haiku-20240307-v1:0/calls.jsonl")
    pipeline.run_until_done()
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where a folder must go")
    assert "Not a directory" in refused(
        "results", *stack, "anthropic.claude-3-haiku-20240307-v1:0/calls.jsonl", "--out", str(blocked / "x")
    )


def test_a_key_typed_in_another_unicode_form_is_found(
    pipeline: LocalPipeline, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import unicodedata

    nfc = "to-process/r\u00e9sum\u00e9s.jsonl"
    pipeline.upload(nfc, jsonl([claude_record(i) for i in range(100)]))
    pipeline.run_until_done()
    typed = unicodedata.normalize("NFD", nfc).removeprefix("to-process/")
    assert typed != nfc.removeprefix("to-process/")
    code, view = bbq(capsys, "results", "--stack", pipeline.stack.name, typed, "--out", str(tmp_path))
    assert code == 0 and view["file"] == nfc


def test_status_shows_progress_while_bedrock_works_and_a_files_jobs(
    pipeline: LocalPipeline, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bedrock's counters of running jobs count, not only ended ones: never hours of 0%."""
    from datetime import datetime, timedelta

    stack = ["--stack", pipeline.stack.name]
    pipeline.upload("to-process/big.jsonl", jsonl([claude_record(i) for i in range(2_000)]))
    seen: list[dict[str, Any]] = []
    models: list[dict[str, Any]] = []
    for _ in range(200):
        pipeline.step(30)
        code, view = bbq(capsys, "status", *stack)
        (row,) = view["files"]
        if row["status"] == "Running" and 0 < row["done"] < row["records"]:
            seen.append(row)
            models.append(next(m for m in view["models"] if m["runningJobs"]))
            break
        if row["status"] in {"Completed", "PartiallyCompleted"}:
            break
    assert seen, "some progress showed before the file ended"
    assert seen[0]["percent"] > 0 and isinstance(seen[0]["recordsPerMinute"], float)
    assert datetime.fromisoformat(seen[0]["eta"])
    (model,) = models
    assert model["slotLimit"] == 2 and model["slotsInUse"] == model["runningJobs"], "the limit the scheduler used"
    assert 0 < model["recordsInFlight"] < 2_000 and model["recordsPerMinute"] > 0
    assert datetime.fromisoformat(model["drainEta"]) >= datetime.fromisoformat(seen[0]["eta"]) - timedelta(seconds=1)
    code, view = bbq(capsys, "status", *stack, "big.jsonl")
    (row,) = view["files"]
    assert (
        code == 0
        and row["jobs"]
        and {job["status"] for job in row["jobs"]}
        <= {"Submitted", "InProgress", "Validating", "Scheduled", "Completed"}
    )
    assert all(job["records"] > 0 for job in row["jobs"])
    capsys.readouterr()
    assert cli.main(["status", *stack, "big.jsonl"]) == 0
    shown = capsys.readouterr().out
    assert "jobs of big.jsonl" in shown and "time to drain" in shown


def test_a_table_and_a_template_cost_first_then_run_and_come_back_as_a_dataframe(
    pipeline: LocalPipeline, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from bbq_sdk import Client

    stack = ["--stack", pipeline.stack.name]
    table, template = tmp_path / "tickets.csv", tmp_path / "summary.txt"
    table.write_text("ticket,text\n" + "".join(f"T{i},router {i} blinks red again today\n" for i in range(130)))
    template.write_text("---\nmax_tokens: 40\n---\nSummarize: {{ text }}\n")
    code, [estimate] = bbq(capsys, "submit", *stack, str(table), "--template", str(template), "--id-column",
                           "ticket", "--dry-run")  # fmt: skip
    assert code == 0 and estimate["records"] == 130 and estimate["maxOutputTokens"] == 130 * 40
    assert estimate["batchUsd"]["input"] > 0 and pipeline.items() == [], "a dry run uploads nothing"
    code, again = bbq(capsys, "estimate", *stack, str(table), "--template", str(template))
    assert code == 0 and again[0]["estimatedInputTokens"] == estimate["estimatedInputTokens"]
    code, [uploaded] = bbq(capsys, "submit", *stack, str(table), "--template", str(template), "--id-column", "ticket")
    assert code == 0 and uploaded["uri"].endswith("/to-process/tickets.jsonl")
    pipeline.run_until_done()
    frame = Client(stack=pipeline.stack.name).run("tickets.jsonl").results()
    assert list(frame["recordId"]) == [f"T{i}" for i in range(130)]
    assert list(frame.columns[:4]) == ["line", "recordId", "text_input", "text"], "the input's text is kept"
    assert frame["text_input"][0] == "router 0 blinks red again today" and frame["outputTokens"].gt(0).all()
    code, _ = bbq(capsys, "submit", *stack, str(table), "--template", str(tmp_path / "missing.txt"))
    assert code == 1
