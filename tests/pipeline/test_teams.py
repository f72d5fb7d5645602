"""Teams, budgets and fair share end to end: the deployed template in moto, the emulator as Bedrock, simulated
time. Two teams share one model; one has a daily budget that runs out mid-day: its work waits with a message,
the other team's runs on, nothing is lost, and the waiting work runs after 00:00 UTC. `bbq cost` shows it."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bbq.core.model.clock import ManualClock
from bbq_local import cli
from bbq_local.pipeline import LocalPipeline
from tests.conftest import claude_record, jsonl

# A 120-record upload costs the emulator's answers about $0.0032; bbq's estimate from its staged bytes is higher
# before any job of the model settled ($0.0094), then calibrated on what settled. A budget of $0.012 runs one to
# three such files a day.
ADS_BUDGET = 0.012


def test_a_team_out_of_budget_waits_while_the_other_runs_and_resumes_after_midnight(
    make_pipeline: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    morning = datetime.now(UTC).replace(hour=8, minute=0, second=0, microsecond=0)
    teams = {"ads": {"dailyBudgetUsd": ADS_BUDGET}, "search": {"weight": 2}}
    pipeline: LocalPipeline = make_pipeline(
        quota=2, clock=ManualClock(morning), parameters={"Teams": json.dumps(teams)}
    )
    for i in range(5):
        pipeline.upload(f"to-process/ads/a{i}.jsonl", jsonl([claude_record(n) for n in range(120)]))
    for i in range(3):
        pipeline.upload(f"to-process/search/s{i}.jsonl", jsonl([claude_record(n) for n in range(120)]))
    while pipeline.clock.now() < morning + timedelta(hours=10):  # the day, a step each 15 minutes
        pipeline.step(900)
    files = {f.key.rsplit("/", 1)[1]: f for f in pipeline.status.files()}
    assert {f.team for name, f in files.items() if name.startswith("a")} == {"ads"}
    assert all(files[f"s{i}.jsonl"].status.value == "Completed" for i in range(3)), "search ran on"
    ads = [files[f"a{i}.jsonl"] for i in range(5)]
    done = [f for f in ads if f.status.value == "Completed"]
    held = [f for f in ads if f.status.value != "Completed"]
    assert 1 <= len(done) <= 3 and held, "the budget ran out mid-day"
    assert any("Waiting for budget: team ads today" in f.message for f in held), [f.message for f in held]
    spent_today = sum(f.cost_usd or 0 for f in done)
    assert spent_today <= ADS_BUDGET, "spend never passes the budget"

    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", pipeline.server.url)
    capsys.readouterr()
    assert cli.main(["cost", "--stack", pipeline.stack.name, "--forecast", "--json"]) == 0
    out = "\n".join(line for line in capsys.readouterr().out.splitlines() if not line.startswith('{"level"'))
    cost = json.loads(out)
    line = next(row for row in cost["budgets"] if row["owner"] == "ads" and row["period"] == "day")
    assert line["budgetUsd"] == ADS_BUDGET and line["spentUsd"] + line["reservedUsd"] <= ADS_BUDGET
    assert abs(line["spentUsd"] - spent_today) < 1e-6, "the line's spend is what the files' records cost"
    queued = {row["team"]: row for row in cost["forecast"]}
    assert queued["ads"]["records"] == 120 * len(held) and queued["ads"]["estimatedUsd"] > 0

    items = pipeline.run_until_done(step_seconds=1800)  # past midnight: the day's budget resets
    by_key = {item["SourceKey"]: item for item in items}
    assert all(by_key[f"to-process/ads/a{i}.jsonl"]["Status"] == "Completed" for i in range(5)), "nothing lost"
    assert all(by_key[f"to-process/ads/a{i}.jsonl"]["RecordsSucceeded"] == 120 for i in range(5))
    days = {row["SK"] if "SK" in row else row["Id"]: row for row in pipeline.items("budget")}
    for key, row in days.items():
        if key.startswith("budget#ads#day#"):
            assert float(row["Spent"]) <= ADS_BUDGET and abs(float(row["Reserved"])) < 1e-9, (key, row)


def test_a_deadline_batch_would_miss_sends_part_of_the_file_on_demand_on_the_flex_tier(make_pipeline: Any) -> None:
    from tests.conftest import CLAUDE

    pipeline: LocalPipeline = make_pipeline(
        quota=1, parameters={"OnDemandRecordsPerMinute": "20", "FlexModels": CLAUDE}
    )
    for i in range(2):  # a backlog ahead of it on the model's one slot
        pipeline.upload(f"to-process/b{i}.jsonl", jsonl([claude_record(n) for n in range(400)]))
    pipeline.deliver_uploads()  # queued a minute before it
    pipeline.clock.advance(60)
    deadline = pipeline.clock.now() + timedelta(minutes=30)
    pipeline.upload(
        "to-process/urgent.jsonl", jsonl([claude_record(n) for n in range(400)]), {"bbq-deadline": deadline.isoformat()}
    )
    items = pipeline.run_until_done(step_seconds=120)
    urgent = next(i for i in items if i["SourceKey"] == "to-process/urgent.jsonl")
    assert urgent["Status"] == "Completed" and urgent["RecordsSucceeded"] == 400, "nothing lost"
    assert urgent["Deadline"].startswith(f"{deadline:%Y-%m-%dT%H:%M}")
    parts = [p for p in pipeline.items("part") if p["FileId"] == urgent["FileId"]]
    assert len(parts) == 2, "a deadline upload is cut into parts a run takes on demand (10 minutes at 20 a minute)"
    jobs = {j["JobId"]: j for j in pipeline.items("job")}
    sent = [p for p in parts if jobs[p["JobId"]].get("OnDemand")]
    assert sent and all("on the flex service tier" in p["Message"] and "deadline" in p["Message"] for p in sent)
    assert pipeline.emulator.on_demand_calls >= sum(int(p["RecordCount"]) for p in sent)
    assert any(not jobs[p["JobId"]].get("OnDemand") for p in parts) or len(sent) == len(parts)


def test_bbq_submit_names_the_team_priority_and_deadline(
    make_pipeline: Any, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    pipeline: LocalPipeline = make_pipeline(quota=2)
    path = tmp_path / "calls.jsonl"
    path.write_bytes(jsonl([claude_record(n) for n in range(120)]))
    stack = ["--stack", pipeline.stack.name]
    assert cli.main(["submit", *stack, str(path), "--team", "team a", "--json"]) == 1, "not a team name"
    assert "1 to 64 letters" in capsys.readouterr().err
    args = ["submit", *stack, str(path), "--team", "ads", "--priority", "high", "--deadline", "2026-12-31T09:00"]
    assert cli.main([*args, "--json"]) == 0
    pipeline.step(30)
    (item,) = pipeline.items()
    assert (item["Team"], item["Priority"], item["Deadline"]) == ("ads", "high", "2026-12-31T09:00:00.000000Z")
    capsys.readouterr()
    assert cli.main(["status", *stack, "--json"]) == 0
    out = "\n".join(line for line in capsys.readouterr().out.splitlines() if not line.startswith('{"level"'))
    (file,) = json.loads(out)["files"]
    assert (file["team"], file["priority"], file["deadline"]) == ("ads", "high", "2026-12-31T09:00:00+00:00")
