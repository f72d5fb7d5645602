"""The real template deployed into moto, files dropped into S3, the scheduler ticking on a manual clock, the
emulator as Bedrock: every record of every good file ends up under processed/, within each model's quota."""

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import unquote_plus

import pytest
from botocore.retries.standard import ExponentialBackoff

from bbq.core.model import naming
from bbq.core.model.record_ids import staged_record_id
from bbq_local.pipeline import LocalPipeline
from tests.conftest import CLAUDE, claude_record, jsonl


def drop(pipeline: LocalPipeline, files: dict[str, int]) -> dict[str, set[str]]:
    """Uploads files of N records; the record ids of each key."""
    ids = {}
    for key, count in files.items():
        records = [claude_record(i) for i in range(count)]
        for record in records:
            record["recordId"] = f"{abs(hash(key)) % 10**6:06d}{record['recordId']}"
        pipeline.upload(key, jsonl(records))
        ids[key] = {r["recordId"] for r in records}
    return ids


def assert_every_record_ran_once(pipeline: LocalPipeline, files: list[dict[str, Any]]) -> None:
    """Every valid line of every file that ran has exactly one result line, whichever jobs carried it."""
    seen: dict[str, int] = {}
    for line in outputs_under(pipeline, "processed/"):
        assert "modelOutput" in line
        seen[line["recordId"]] = seen.get(line["recordId"], 0) + 1
    for item in files:
        if item["Status"] == "Rejected":
            continue
        expected = {staged_record_id(item["FileId"], n) for n in range(1, int(item["RecordCount"]) + 1)}
        assert {rid: seen.get(rid, 0) for rid in expected} == dict.fromkeys(expected, 1), item["SourceKey"]


def outputs_under(pipeline: LocalPipeline, prefix: str) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    pages = pipeline.s3.get_paginator("list_objects_v2").paginate(Bucket=pipeline.bucket, Prefix=prefix)
    for obj in (o for page in pages for o in page.get("Contents", [])):
        if obj["Key"].endswith(".jsonl.out"):
            body = pipeline.s3.get_object(Bucket=pipeline.bucket, Key=obj["Key"])["Body"].read().decode()
            lines.extend(json.loads(line) for line in body.splitlines())
    return lines


# Keys S3 takes and Bedrock's S3Uri pattern does not: each must run, its results where its item says.
AWKWARD_KEYS = {
    "to-process/calls 2.jsonl": 300,
    "to-process/team/calls-3.jsonl": 120,
    "to-process/a+b=c,d.jsonl": 100,
    "to-process/r\u00e9sum\u00e9s \u00e9t\u00e9/appels.jsonl": 100,
    "to-process/team//double slash.jsonl": 100,
    "to-process/UPPER CASE.JSONL": 100,
    "to-process/" + "\u00e9" * 500 + ".jsonl": 100,  # 1,017 bytes
    "to-process/" + "k" * 1007 + ".jsonl": 100,  # 1,024 bytes: S3's longest key
}


def test_every_record_of_every_file_is_processed_within_the_quota(pipeline: LocalPipeline) -> None:
    good = {"to-process/calls-1.jsonl": 150, **AWKWARD_KEYS}
    assert max(len(key.encode()) for key in good) == 1024
    ids = drop(pipeline, good)
    drop(pipeline, {"to-process/too-small.jsonl": 20, "to-process/" + "s" * 1007 + ".jsonl": 20})
    pipeline.upload("to-process/notes.txt", b"ignored: not .jsonl")

    # S3 delivers events at least once: hand every event to ingest twice.
    assert pipeline.deliver_uploads(transform=lambda event: [event, event]) == 2 * (len(good) + 2)
    items = pipeline.run_until_done(step_seconds=30)

    assert len(items) == len(good) + 2, "one file item per upload, however often its event came"
    by_key = {item["SourceKey"]: item for item in items}
    assert {by_key[key]["Status"] for key in good} == {"Completed"}
    assert all(by_key[key]["RecordCount"] == count for key, count in good.items())
    # The two small files were packed with the rest: nothing is under Bedrock's minimum, nothing is rejected.
    assert by_key["to-process/too-small.jsonl"]["Status"] == "Completed"
    assert_every_record_ran_once(pipeline, items)
    assert len(ids) == len(good)
    jobs = pipeline.items("job")
    assert all(job["RecordCount"] >= 100 for job in jobs) and len(pipeline.emulator.jobs()) == len(jobs)
    assert pipeline.max_active_seen == {CLAUDE: 2}, "both slots were used and never exceeded"
    assert pipeline.emulator.refused_for_quota == 0, "bbq never asked for a slot beyond the quota"
    kept = {o["Key"] for o in pipeline.s3.list_objects_v2(Bucket=pipeline.bucket, Prefix="to-process/")["Contents"]}
    assert set(good) | {"to-process/too-small.jsonl"} <= kept, "uploads are never moved"


def test_lost_bedrock_events_only_delay_the_work(pipeline: LocalPipeline) -> None:
    pipeline.emulator.faults.update({"drop_event_rate": 1.0})
    drop(pipeline, {"to-process/a.jsonl": 100, "to-process/b.jsonl": 100, "to-process/c.jsonl": 100})
    items = pipeline.run_until_done(step_seconds=60)
    assert [i["Status"] for i in items] == ["Completed"] * 3
    assert pipeline.emulator.delivered_events == [] and pipeline.emulator.dropped_events


def test_jobs_submitted_outside_bbq_share_the_quota(pipeline: LocalPipeline) -> None:
    pipeline.s3.put_object(
        Bucket=pipeline.bucket, Key="elsewhere/other.jsonl", Body=jsonl([claude_record(i) for i in range(400)])
    )
    pipeline.emulator.create_model_invocation_job(
        {
            "jobName": "someone-else",
            "roleArn": "arn:aws:iam::123456789012:role/other",
            "modelId": CLAUDE,
            "inputDataConfig": {"s3InputDataConfig": {"s3Uri": f"s3://{pipeline.bucket}/elsewhere/other.jsonl"}},
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": f"s3://{pipeline.bucket}/elsewhere/out/"}},
        }
    )
    drop(pipeline, {"to-process/a.jsonl": 100, "to-process/b.jsonl": 100})
    items = pipeline.run_until_done(step_seconds=30)
    assert [i["Status"] for i in items] == ["Completed"] * 2
    assert pipeline.max_active_seen[CLAUDE] == 2, "Bedrock's quota was never exceeded, counting the outside job"


def test_a_model_bedrock_does_not_batch_waits_with_a_message_instead_of_failing(
    make_pipeline: Callable[..., LocalPipeline],
) -> None:
    pipeline = make_pipeline(parameters={"ModelId": "meta.llama2-13b-chat-v1"})
    drop(pipeline, {"to-process/a.jsonl": 100})
    for _ in range(4):
        runs = pipeline.step(300)
    (item,) = pipeline.items()
    assert item["Status"] == "Running" and "Check the model id" in item["Message"]
    assert "not supported for the requested model" in item["Message"]
    assert runs[-1]["paused"] == {"meta.llama2-13b-chat-v1": item["Message"]}
    assert {job["Status"] for job in pipeline.items("job")} == {"Pending"}


@pytest.mark.parametrize("refusal", ["access", "marketplace", "use-case-form"])
def test_a_model_denied_for_an_hour_then_granted_runs_everything_once(pipeline: LocalPipeline, refusal: str) -> None:
    pipeline.emulator.faults.update({"denied_models": {CLAUDE: refusal}})
    drop(pipeline, {f"to-process/f{i}.jsonl": 100 for i in range(4)})
    runs: list[dict[str, Any]] = []
    for _ in range(120):  # an hour of 30-second steps
        runs.extend(pipeline.step(30))
    items = pipeline.items()
    assert {j["Status"] for j in pipeline.items("job")} == {"Pending"} and pipeline.emulator.jobs() == []
    assert all("Bedrock console" in i["Message"] for i in items), "each file says what to fix"
    assert all(run["paused"] for run in runs)
    pipeline.emulator.faults.update({"denied_models": {}})
    items = pipeline.run_until_done(step_seconds=30)
    assert [i["Status"] for i in items] == ["Completed"] * 4, "nothing failed; nothing had to be uploaded again"
    assert [i["Message"] for i in items] == ["All 100 records succeeded"] * 4, "the waiting notice is gone"
    assert len(pipeline.emulator.jobs()) == len(pipeline.items("job")), "each planned job went to Bedrock once"
    assert_every_record_ran_once(pipeline, items)


@pytest.mark.parametrize("answer", ["ConflictException", "ValidationException"])
def test_a_create_whose_answer_was_lost_is_adopted_after_its_token_expired(
    pipeline: LocalPipeline, answer: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)  # botocore's retries, at once
    pipeline.emulator.faults.update(
        {"lose_next_create_responses": 99, "token_ttl_seconds": 60, "name_in_use_error": answer}
    )
    drop(pipeline, {"to-process/a.jsonl": 100, "to-process/b.jsonl": 100})
    pipeline.step(30)  # both creates go through, both answers are lost (past botocore's retries)
    assert len(pipeline.emulator.jobs()) == 2 and {j["Status"] for j in pipeline.items("job")} == {"Pending"}
    pipeline.emulator.faults.update({"lose_next_create_responses": 0})
    items = pipeline.run_until_done(step_seconds=60)  # the tokens have expired by the retry: names are in use
    assert [i["Status"] for i in items] == ["Completed"] * 2
    assert len(pipeline.emulator.jobs()) == 2, "the existing jobs were adopted, none made twice"
    assert {j["JobArn"] for j in pipeline.items("job")} == {j["jobArn"] for j in pipeline.emulator.jobs()}


def test_three_overlapping_scheduler_runs_per_tick_stay_within_the_quota(pipeline: LocalPipeline) -> None:
    ids = drop(pipeline, {f"to-process/f{i:02d}.jsonl": 100 for i in range(10)})
    pipeline.runs_per_tick = 3
    items = pipeline.run_until_done(step_seconds=30)
    assert [i["Status"] for i in items] == ["Completed"] * 10
    assert len(pipeline.emulator.jobs()) == len(pipeline.items("job")), "no job was submitted twice"
    assert_every_record_ran_once(pipeline, items)
    assert pipeline.max_active_seen == {CLAUDE: 2} and pipeline.emulator.refused_for_quota == 0
    assert pipeline.scheduler.invocations % 3 == 0 and pipeline.scheduler.invocations >= 6 and len(ids) == 10


def test_throttling_and_server_errors_are_ridden_out(pipeline: LocalPipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)
    drop(pipeline, {f"to-process/f{i}.jsonl": 100 for i in range(4)})
    # First Bedrock refuses every create, past all of botocore's retries: the runs go on, the jobs wait.
    pipeline.emulator.faults.update({"throttle": {"CreateModelInvocationJob": 1.0}})
    runs: list[dict[str, Any]] = []
    for _ in range(12):
        runs.extend(pipeline.step(30))
    assert {j["Status"] for j in pipeline.items("job")} == {"Pending"} and pipeline.emulator.jobs() == []
    assert sum(run["deferred"] for run in runs) > 0
    # Then it is merely unreliable: retries ride most of it out, later runs the rest.
    pipeline.emulator.faults.update({"throttle": {"*": 0.5}, "internal_error": {"*": 0.2}})
    items = pipeline.run_until_done(step_seconds=30)
    assert [i["Status"] for i in items] == ["Completed"] * 4
    assert len(pipeline.emulator.jobs()) == len(pipeline.items("job")), "retried creates made no extra jobs"
    assert_every_record_ran_once(pipeline, items)


def test_a_job_created_earlier_under_the_same_name_is_adopted_not_failed(
    pipeline: LocalPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A create that went through while its answer was lost, retried after the token's window: same name."""
    monkeypatch.setattr(ExponentialBackoff, "delay_amount", lambda self, context: 0)  # botocore's retries, no sleep
    drop(pipeline, {"to-process/a.jsonl": 100})
    pipeline.emulator.faults.update({"throttle": {"CreateModelInvocationJob": 1.0}})
    pipeline.step(30)  # the job is planned; Bedrock refuses its create for now
    (job,) = pipeline.items("job")
    name = naming.job_name(pipeline.scheduler.variables["JOB_NAME_PREFIX"], job["JobId"], 1)
    pipeline.emulator.faults.update({"throttle": {}})
    arn = pipeline.emulator.create_model_invocation_job(
        {
            "jobName": name,
            "clientRequestToken": "an-older-token",
            "roleArn": pipeline.stack.outputs["BatchRoleArn"],
            "modelId": CLAUDE,
            "inputDataConfig": {"s3InputDataConfig": {"s3Uri": job["InputUri"]}},
            "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": job["OutputUri"]}},
        }
    )["jobArn"]
    (item,) = pipeline.run_until_done()
    (job,) = pipeline.items("job")
    assert (item["Status"], job["JobArn"]) == ("Completed", arn)
    assert len(pipeline.emulator.jobs()) == 1


def test_an_overwrite_before_submission_cannot_change_what_runs(pipeline: LocalPipeline) -> None:
    key = "to-process/calls.jsonl"
    pipeline.upload(key, jsonl([claude_record(i) for i in range(100)]))
    pipeline.deliver_uploads()
    pipeline.upload(key, jsonl([claude_record(i) for i in range(500, 620)]))  # the same key again, at once
    items = pipeline.run_until_done()
    assert sorted(i["RecordCount"] for i in items) == [100, 120] and {i["Status"] for i in items} == {"Completed"}
    assert_every_record_ran_once(pipeline, items)
    staged = {o["Key"] for o in pipeline.s3.list_objects_v2(Bucket=pipeline.bucket, Prefix="staged/")["Contents"]}
    assert {f"staged/{i['FileId']}/calls-p00001.jsonl" for i in items} <= staged, "each upload staged on its own"


def test_small_work_runs_on_demand_through_bedrock_runtime(make_pipeline: Callable[..., LocalPipeline]) -> None:
    pipeline = make_pipeline(parameters={"SmallWork": "on-demand", "CompanionWaitMinutes": "30"})
    drop(pipeline, {"to-process/few.jsonl": 30})
    items = pipeline.run_until_done(step_seconds=60)
    assert [i["Status"] for i in items] == ["Completed"] and "on-demand price" in items[0]["Message"]
    assert pipeline.emulator.jobs() == [] and pipeline.emulator.on_demand_calls == 30, "no batch job, 30 calls"
    (job,) = pipeline.items("job")
    assert job["OnDemand"] is True and job["InputTokenCount"] > 0 and job["OutputTokenCount"] > 0
    assert job["OutputUri"] == items[0]["OutputUri"] + "on-demand/"
    assert items[0]["OutputUri"].startswith(f"s3://{pipeline.bucket}/processed/few/"), "the upload's own place"
    assert_every_record_ran_once(pipeline, items)
    waited = pipeline.clock.now() - pipeline.started_at
    assert waited.total_seconds() >= 30 * 60, "it waited for companions first"


@pytest.mark.parametrize("fault", ["fail_next_jobs", "expire_next_jobs"])
def test_a_job_bedrock_fails_or_expires_runs_again_as_a_new_attempt(
    make_pipeline: Callable[..., LocalPipeline], fault: str
) -> None:
    pipeline = make_pipeline(parameters={"JobTimeoutHours": "24"})  # an expired job ends after a day, not three
    drop(pipeline, {"to-process/a.jsonl": 150})
    pipeline.emulator.faults.update({fault: 1})
    items = pipeline.run_until_done(step_seconds=1800 if fault == "expire_next_jobs" else 60)
    assert [i["Status"] for i in items] == ["Completed"]
    (job,) = pipeline.items("job")
    assert job["Attempt"] == 2 and len(job["PreviousJobArns"]) == 1 and job["JobName"].endswith("-a2")
    assert len(pipeline.emulator.jobs()) == 2, "the failed attempt and the one that ran"
    assert_every_record_ran_once(pipeline, items)


def test_an_upload_that_meets_a_surprise_is_rejected_with_the_error_not_dead_lettered(
    pipeline: LocalPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bbq.core.intake import ingest

    real_route = ingest.route

    def surprise_on_poison(key: str, *args: Any) -> Any:
        if "poison" in key:
            raise RecursionError("maximum recursion depth exceeded")
        return real_route(key, *args)

    monkeypatch.setattr(ingest, "route", surprise_on_poison)
    drop(pipeline, {"to-process/poison.jsonl": 100, "to-process/fine.jsonl": 100})
    pipeline.deliver_uploads()
    assert pipeline.sqs.receive_message(QueueUrl=pipeline.dead_letters).get("Messages", []) == []
    items = {item["SourceKey"]: item for item in pipeline.run_until_done()}
    poison = items["to-process/poison.jsonl"]
    assert poison["Status"] == "Rejected" and "bbq could not read this upload (RecursionError" in poison["Message"]
    report = pipeline.s3.get_object(Bucket=pipeline.bucket, Key="to-process/poison.jsonl.error.json")
    assert "RecursionError" in json.loads(report["Body"].read())["message"]
    assert items["to-process/fine.jsonl"]["Status"] == "Completed"


def test_an_ingest_that_meets_aws_trouble_is_retried_then_dead_lettered_and_the_rest_goes_on(
    pipeline: LocalPipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    from bbq.core.intake import ingest

    real_route = ingest.route
    tries: list[str] = []

    def crash_on_poison(key: str, *args: Any) -> Any:
        if "poison" in key:
            tries.append(key)
            raise ClientError(
                {"Error": {"Code": "SlowDown", "Message": "Please reduce your request rate."}}, "GetObject"
            )
        return real_route(key, *args)

    monkeypatch.setattr(ingest, "route", crash_on_poison)
    drop(pipeline, {"to-process/poison.jsonl": 100, "to-process/fine.jsonl": 100})
    pipeline.deliver_uploads()
    assert len(tries) == 1 + pipeline.ingest_retries == 3, "Lambda's two retries of an asynchronous event"
    (dead,) = pipeline.sqs.receive_message(QueueUrl=pipeline.dead_letters)["Messages"]
    assert unquote_plus(json.loads(dead["Body"])["Records"][0]["s3"]["object"]["key"]) == "to-process/poison.jsonl"
    (item,) = pipeline.run_until_done()
    assert (item["SourceKey"], item["Status"]) == ("to-process/fine.jsonl", "Completed")
    versions = pipeline.s3.list_object_versions(Bucket=pipeline.bucket, Prefix="to-process/fine.jsonl")
    assert item["Version"] == versions["Versions"][0]["VersionId"], "the event's versionId pins the upload"


def test_a_model_and_its_cross_region_profile_share_one_quota(make_pipeline: Any) -> None:
    """Both allowed: the scheduler asks Bedrock (GetInferenceProfile) which model the profile routes to, and
    counts both in one slot ledger, so Bedrock's one quota is never asked for twice."""
    profile = f"us.{CLAUDE}"
    pipeline = make_pipeline(quota=2, parameters={"AllowedModels": profile})
    drop(pipeline, {f"to-process/own-{n}.jsonl": 150 for n in range(3)})
    drop(pipeline, {f"to-process/{profile}/profiled-{n}.jsonl": 150 for n in range(3)})
    items = pipeline.run_until_done(step_seconds=30)
    assert {item["Status"] for item in items} == {"Completed"} and len(items) == 6
    assert {job["modelId"] for job in pipeline.emulator.jobs()} == {CLAUDE, profile}
    assert pipeline.emulator.refused_for_quota == 0, "never beyond the model's one quota"
    assert {job.get("Ledger", job["ModelId"]) for job in pipeline.items("job")} == {CLAUDE}


def test_an_upload_deleted_before_it_ran_is_cancelled_and_never_billed(make_pipeline: Any) -> None:
    """The delete marker's event (S3 keeps the upload as a noncurrent version) cancels the newest upload of the
    key from before it, when none of it has gone to Bedrock: it ends Stopped, saying so; a neighbour runs."""
    pipeline = make_pipeline(quota=2)
    drop(pipeline, {"to-process/oops.jsonl": 150, "to-process/keep.jsonl": 150})
    pipeline.deliver_uploads()
    pipeline.s3.delete_object(Bucket=pipeline.bucket, Key="to-process/oops.jsonl")
    items = {item["SourceKey"]: item for item in pipeline.run_until_done(step_seconds=30)}
    cancelled = items["to-process/oops.jsonl"]
    assert cancelled["Status"] == "Stopped" and cancelled["Message"].startswith("Stopped: 0 records succeeded")
    parts = [p for p in pipeline.items("part") if p["FileId"] == cancelled["FileId"]]
    assert parts and all(p["Message"].startswith("Cancelled: the upload was deleted") for p in parts)
    assert items["to-process/keep.jsonl"]["Status"] == "Completed"
    assert {job["inputDataConfig"]["s3InputDataConfig"]["s3Uri"].split("/")[4] for job in pipeline.emulator.jobs()} == {
        items["to-process/keep.jsonl"]["FileId"]
    }, "no Bedrock job carried the deleted upload"
