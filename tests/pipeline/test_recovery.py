"""Nothing lost, nothing twice, on the deployed template with the emulator as Bedrock: per-record errors and missing
records, stops, lost S3 events. Each case checks the standard on the outputs under processed/, on the emulator's
record of created jobs and on the table."""

import json
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest

from bbq.core.model import naming
from bbq.core.model.record_ids import staged_record_id
from bbq_local import cli
from bbq_local.pipeline import LocalPipeline
from tests.conftest import CLAUDE
from tests.pipeline.test_end_to_end import drop, outputs_under


def report(pipeline: LocalPipeline, item: dict[str, Any]) -> dict[str, Any]:
    bucket, key = naming.split_uri(item["ResultsReportUri"])
    return json.loads(pipeline.s3.get_object(Bucket=bucket, Key=key)["Body"].read())


def read_jsonl(pipeline: LocalPipeline, key: str) -> list[dict[str, Any]]:
    body = pipeline.s3.get_object(Bucket=pipeline.bucket, Key=key)["Body"].read()
    return [json.loads(line) for line in body.splitlines()]


def assert_each_record_has_one_result_or_is_reported(pipeline: LocalPipeline, items: list[dict[str, Any]]) -> None:
    """Every record of every file that ran has exactly one result line under processed/, or none and is listed in
    its file's report with its last error; the item's counts add up."""
    successes = Counter(line["recordId"] for line in outputs_under(pipeline, "processed/") if "modelOutput" in line)
    for item in items:
        failed = {entry["bbqRecordId"] for entry in report(pipeline, item)["failedRecords"]}
        expected = {staged_record_id(item["FileId"], n) for n in range(1, int(item["RecordCount"]) + 1)}
        assert {rid: successes[rid] for rid in expected} == {rid: int(rid not in failed) for rid in expected}
        assert (item["RecordsSucceeded"], item["RecordsFailed"]) == (len(expected) - len(failed), len(failed))
    assert pipeline.emulator.refused_for_quota == 0, "bbq never asked for a slot beyond the quota"
    assert max(pipeline.max_active_seen.values()) <= 2


def test_failed_and_missing_records_go_again_until_each_has_one_result(pipeline: LocalPipeline) -> None:
    errors = {"ThrottlingException": 0.05, "InternalServerException": 0.03, "ValidationException": 0.02}
    pipeline.emulator.faults.update({"record_errors": errors, "missing_record_rate": 0.03})
    ids = drop(pipeline, {"to-process/a.jsonl": 300, "to-process/b.jsonl": 300, "to-process/c.jsonl": 300})
    items = pipeline.run_until_done(step_seconds=120)
    assert_each_record_has_one_result_or_is_reported(pipeline, items)
    assert {i["Status"] for i in items} == {"PartiallyCompleted"}, "the 400s fail for good, nothing else"
    told = pipeline.notifications()
    assert sorted(e["detail"]["fileId"] for e in told) == sorted(i["FileId"] for i in items), "each file, once"
    assert {e["detail-type"] for e in told} == {"bbq File PartiallyCompleted"} and {e["source"] for e in told} == {
        "bbq"
    }
    first = next(e["detail"] for e in told if e["detail"]["fileId"] == items[0]["FileId"])
    assert first["records"]["succeeded"] == items[0]["RecordsSucceeded"] and first["results"] == items[0]["OutputUri"]
    failures = [entry for item in items for entry in report(pipeline, item)["failedRecords"]]
    assert failures and all(entry["errorCode"] == 400 or entry["attempts"] == 3 for entry in failures), (
        "an error about the record fails at once; any other, only after the last attempt"
    )
    assert any(entry["attempts"] > 1 for entry in failures), "a record that went again can still fail for good"
    parts = pipeline.items("part")
    assert max(int(p["Attempt"]) for p in parts) >= 2, "throttled, failed and missing records went again"
    assert all("ValidationException" in i["Message"] for i in items)
    # Joined results: each file's records in line order with the user's ids, the failures beside them, the cost.
    for item in items:
        place = naming.split_uri(item["OutputUri"])[1]
        results = read_jsonl(pipeline, place + "results.jsonl")
        failed = {e["recordId"] for e in read_jsonl(pipeline, place + "errors.jsonl")}
        assert [r["recordId"] for r in results] == [rid for rid in sorted(ids[item["SourceKey"]]) if rid not in failed]
        assert [r["line"] for r in results] == sorted(r["line"] for r in results)
        assert len(results) == item["RecordsSucceeded"] and all(r["text"] for r in results)
        summary = json.loads(pipeline.s3.get_object(Bucket=pipeline.bucket, Key=place + "summary.json")["Body"].read())
        assert summary["tokens"]["input"] == item["InputTokenCount"] == sum(r["inputTokens"] for r in results)
        assert float(item["CostUsd"]) == pytest.approx(summary["costUsd"]["total"]) and summary["costUsd"]["total"] > 0


def test_a_file_stopped_with_bbq_stop_keeps_what_ran(pipeline: LocalPipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    drop(pipeline, {"to-process/long.jsonl": 1000})
    for _ in range(40):
        pipeline.step(30)
        if any(job["status"] == "InProgress" for job in pipeline.emulator.jobs()):
            break
    pipeline.step(120)  # some records are done
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", pipeline.server.url)
    assert cli.main(["stop", "--stack", pipeline.stack.name, f"s3://{pipeline.bucket}/to-process/long.jsonl"]) == 0
    (item,) = pipeline.run_until_done(step_seconds=30)
    assert item["Status"] == "Stopped" and item["StopRequested"] is True
    assert 0 < item["RecordsSucceeded"] < 1000
    assert item["RecordsSucceeded"] + item["RecordsStopped"] + item["RecordsFailed"] == 1000
    (job,) = pipeline.emulator.jobs()
    assert job["status"] == "Stopped"
    assert report(pipeline, item)["records"]["stopped"] == item["RecordsStopped"]
    assert len(pipeline.items("part")) == 1, "nothing of a stopped file goes again"
    assert pipeline.max_active_seen == {CLAUDE: 1}


def test_uploads_whose_event_never_came_are_found_by_the_sweep(pipeline: LocalPipeline) -> None:
    drop(pipeline, {"to-process/lost.jsonl": 150})
    assert pipeline.lose_upload_events() == 1
    drop(pipeline, {"to-process/Mixed.Jsonl": 150})  # S3's suffix filter is case-sensitive: no event at all
    assert pipeline.lose_upload_events() == 0
    while len(pipeline.items()) < 2:
        pipeline.step(300)
        assert pipeline.clock.now() - pipeline.started_at < timedelta(hours=3), "the hourly sweep found them"
    items = pipeline.run_until_done(step_seconds=60)
    assert [i["Status"] for i in items] == ["Completed"] * 2
    assert sum(sweep["ingested"] for sweep in pipeline.sweeps) == 2
    assert_each_record_has_one_result_or_is_reported(pipeline, items)


def test_a_join_that_keeps_failing_is_dead_lettered_and_blocks_no_queue(
    pipeline: LocalPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The results function raises on one file's join every time: SQS delivers it five times (each after the
    queue's visibility timeout, the checkpoint's lease given up at each failure), then moves it to
    the dead-letter queue (JoinDeadLetterAlarm watches it); the file says its results are being written, and
    every other file, before and after, runs and ends."""
    from bbq.core.settling.progress import RESULTS_BEING_WRITTEN
    from bbq.core.settling.results import Merge

    real_join = Merge.join

    def join(self: Merge, index: int, results: Any, errors: Any) -> None:
        if "poison" in self.file.key:
            raise RuntimeError("this join always fails")
        real_join(self, index, results, errors)

    monkeypatch.setattr(Merge, "join", join)
    drop(pipeline, {"to-process/poison.jsonl": 120, "to-process/first.jsonl": 150})
    for _ in range(12):
        pipeline.step(300)
    drop(pipeline, {"to-process/after.jsonl": 130})
    for _ in range(12):
        pipeline.step(300)
    for _ in range(8):  # five deliveries, each after the queue's 90-minute visibility timeout
        pipeline.step(3600)
    status = {item["SourceKey"]: (item["Status"], item["Message"]) for item in pipeline.items()}
    assert status["to-process/poison.jsonl"] == ("Running", RESULTS_BEING_WRITTEN)
    assert status["to-process/first.jsonl"][0] == status["to-process/after.jsonl"][0] == "Completed"
    dead = pipeline.stack.outputs["JoinDeadLetterQueueUrl"]
    (message,) = pipeline.sqs.receive_message(QueueUrl=dead, MaxNumberOfMessages=10)["Messages"]
    poison = next(i["FileId"] for i in pipeline.items() if i["SourceKey"] == "to-process/poison.jsonl")
    assert json.loads(message["Body"]) == {"fileId": poison}


def test_a_join_out_of_time_goes_on_in_the_next_invocation_and_writes_each_line_once(make_pipeline: Any) -> None:
    """Every results invocation is told it has less time left than the function keeps in reserve: each joins one
    part, checkpoints (the multipart upload, and its pending bytes under staged/joins/), asks to go on and stops;
    the next resumes there. The file ends with each record's result once, in line order."""
    pipeline: LocalPipeline = make_pipeline(parameters={"PartRecords": "100"})  # five parts
    pipeline.results.remaining_ms = 60_000  # under the three minutes the function keeps in reserve
    ids = drop(pipeline, {"to-process/long.jsonl": 450})
    (item,) = pipeline.run_until_done(step_seconds=120)
    assert item["Status"] == "Completed"
    bucket, prefix = naming.split_uri(item["ResultsUri"])
    rows = read_jsonl(pipeline, prefix + "results.jsonl")
    assert [row["line"] for row in rows] == list(range(1, 451)), "each line once, in order"
    assert {row["recordId"] for row in rows} == ids["to-process/long.jsonl"]
    pending = pipeline.s3.list_objects_v2(Bucket=bucket, Prefix="staged/joins/").get("KeyCount", 0)
    assert pending >= 1, "checkpoints kept the bytes not yet in a part"
    assert pipeline.results.invocations == int(item["PartCount"]), "one invocation per part"
