"""Budgets that hold, on the in-memory ports: the rules (lines, room, charges, the waiting message) as values, then
scheduler runs where one team's daily budget runs out mid-day: its work waits with a message saying why, the other
team's runs on, nothing is lost, and the waiting work resumes after 00:00 UTC."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from bbq.core.model import budgets
from bbq.core.model.budgets import BudgetLine, Period, Spend
from bbq.core.model.clock import ManualClock
from bbq.core.model.files import FileStatus, WaitReason
from bbq.core.model.prices import DEFAULT as PRICES
from bbq.core.model.states import JobStatus
from bbq.core.model.teams import TeamPolicy, Teams, parse_teams
from tests.conftest import CLAUDE
from tests.core.helpers import WHOLE, World, jsonl, run

DAY = datetime(2026, 3, 14, 9, 30, tzinfo=UTC)


def test_a_team_is_charged_on_its_own_lines_and_the_stacks_for_the_day_and_month() -> None:
    teams = Teams({"ads": TeamPolicy(daily_budget_usd=50)}, monthly_budget_usd=1_000)
    lines = budgets.lines_for("ads", teams, DAY)
    assert [line.key for line in lines] == ["ads#day#2026-03-14", "ads#month#2026-03", "stack#day#2026-03-14",
                                            "stack#month#2026-03"]  # fmt: skip
    assert [line.limit_usd for line in lines] == [50, None, None, 1_000]
    assert lines[0].resets_at == datetime(2026, 3, 15, tzinfo=UTC)
    assert lines[3].resets_at == datetime(2026, 4, 1, tzinfo=UTC)
    december = BudgetLine("ads", Period.MONTH, datetime(2026, 12, 1, tzinfo=UTC), None)
    assert december.resets_at == datetime(2027, 1, 1, tzinfo=UTC)
    spends = {"ads#day#2026-03-14": Spend(spent=30, reserved=11.8), "stack#month#2026-03": Spend(spent=990)}
    assert budgets.room(lines, spends) == 8.2 - 0.0 or abs(budgets.room(lines, spends) - 8.2) < 1e-9
    assert budgets.room(lines[1:2], spends) == float("inf"), "a line with no limit never holds work back"
    message = budgets.waiting_message(lines[0], spends["ads#day#2026-03-14"], 9.5)
    assert "team ads today has committed $41.80 of $50.00" in message and "resumes at 00:00 UTC" in message


@settings(max_examples=100, deadline=None)
@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(1, 10_000), min_size=1), st.floats(0, 100))
def test_a_jobs_dollars_are_shared_by_its_teams_records_and_each_line_gets_its_sum(
    records: dict[str, int], dollars: float
) -> None:
    shares = budgets.split_by_team(dollars, records)
    assert abs(sum(shares.values()) - dollars) < 1e-6
    charged = budgets.charges(shares, Teams(), DAY)
    stack_day = next(line for line in charged if line.owner == budgets.STACK and line.period == Period.DAY)
    assert abs(charged[stack_day] - dollars) < 1e-6 and len(charged) == 2 * len(records) + 2


def test_the_teams_parameter_is_checked_and_says_what_it_must_be() -> None:
    assert parse_teams('{"ads": {"weight": 2, "dailyBudgetUsd": 50}}') == {"ads": TeamPolicy(2, 50, None)}
    for wrong in (
        '{"ads": {"weight": 0}}',
        '{"ads": {"budget": 5}}',
        '["ads"]',
        '{"a b": {}}',
        "{",
        '{"a": {"dailyBudgetUsd": -1}}',
    ):
        try:
            parse_teams(wrong)
        except ValueError as exc:
            assert "team" in str(exc).lower() or "Teams" in str(exc)
        else:
            raise AssertionError(f"{wrong} was taken")


def one_files_estimate() -> float:
    """What bbq reserves for one 1,000-record upload before any job settled: its staged bytes over 4 as input
    tokens, as many output tokens, at the model's batch price (the README's rule)."""
    world = World(config=WHOLE)
    world.upload("to-process/x.jsonl", jsonl(1_000))
    (part,) = world.store.parts.values()
    return budgets.estimate_cost(CLAUDE, part.size_bytes, PRICES, budgets.Calibration())


def test_a_team_over_its_daily_budget_waits_the_others_run_on_and_it_resumes_after_midnight() -> None:
    # The fake's answers use 10 input and 2 output tokens a record: a file actually costs this much, and a day's
    # budget of two and a half files lets ads run two files at most (less while estimates are higher).
    actual = PRICES.cost(CLAUDE, 10_000, 2_000) or 0
    teams = Teams({"ads": TeamPolicy(daily_budget_usd=round(actual * 2.5, 6))})
    world = World(config=replace(WHOLE, teams=teams))
    world.clock = ManualClock(DAY)
    ads = [str(world.upload(f"to-process/ads/a{i}.jsonl", jsonl(1_000)).file_id) for i in range(6)]
    search = [str(world.upload(f"to-process/search/s{i}.jsonl", jsonl(1_000)).file_id) for i in range(4)]
    limit = actual * 2.5 + 1e-6

    def finish_running() -> None:
        for job in list(world.store.jobs.values()):
            if job.status == JobStatus.SUBMITTED and job.job_arn:
                world.batch.end(job.job_arn, JobStatus.COMPLETED)

    for _ in range(12):  # the rest of the day: jobs run and end, runs every 15 minutes
        run(world, quota=4)
        finish_running()
        world.clock.advance(15 * 60)
    files = world.store.files
    assert all(files[f].status == FileStatus.COMPLETED for f in search), "the team without a budget ran on"
    waiting = [files[f] for f in ads if files[f].status == FileStatus.QUEUED]
    assert waiting, "ads spent its day's budget"
    assert any(f.waiting_for == WaitReason.BUDGET and "team ads today" in f.message for f in waiting)
    day_line = world.store.budget_lines["ads#day#2026-03-14"]
    assert day_line.reserved < 1e-9 and day_line.spent <= limit, "it held"
    assert 1 <= sum(files[f].status == FileStatus.COMPLETED for f in ads) <= 2

    world.clock.advance((datetime(2026, 3, 15, 0, 5, tzinfo=UTC) - world.clock.now()).total_seconds())  # the reset
    for _ in range(40):
        run(world, quota=4)
        finish_running()
        world.clock.advance(6 * 3600)
        if all(files[f].status == FileStatus.COMPLETED for f in ads):
            break
    assert all(files[f].status == FileStatus.COMPLETED for f in ads), "nothing lost: the waiting work ran"
    assert all(files[f].counts.succeeded == 1_000 for f in ads)
    for key, line in world.store.budget_lines.items():
        if key.startswith("ads#day#"):
            assert line.spent <= limit and abs(line.reserved) < 1e-9, key


def test_a_job_reserved_once_is_never_reserved_again_and_settles_once() -> None:
    estimate = one_files_estimate()
    teams = Teams(daily_budget_usd=estimate * 10)
    world = World(config=replace(WHOLE, teams=teams))
    world.clock = ManualClock(DAY)
    world.upload("to-process/a.jsonl", jsonl(1_000))
    run(world)
    (job,) = world.store.jobs.values()
    assert job.budget_at == DAY + timedelta(seconds=0) or job.budget_at is not None
    stack = world.store.budget_lines["stack#day#2026-03-14"]
    assert abs(stack.reserved - estimate) < 1e-6 and stack.spent == 0, "to the microdollar"
    assert job.job_arn
    world.batch.end(job.job_arn, JobStatus.COMPLETED)
    run(world)
    run(world)
    stack = world.store.budget_lines["stack#day#2026-03-14"]
    # The fake's answers use 10 input and 2 output tokens a record: the actual cost replaces the estimate.
    actual = PRICES.cost(CLAUDE, 10_000, 2_000) or 0
    assert abs(stack.reserved) < 1e-9 and abs(stack.spent - actual) < 1e-6
    (part,) = world.store.parts.values()
    assert world.store.tokens[CLAUDE] == (10_000, 2_000, part.size_bytes), "and the staged bytes they came from"


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from(["a", "b"]), st.integers(1, 5_000)), max_size=40),
    st.floats(0, 2),
    st.floats(0, 3),
    st.floats(0, 1),
)
def test_a_plan_never_takes_more_than_a_budget_has_room_for(
    parts: list[tuple[str, int]], team_budget: float, stack_budget: float, spent: float
) -> None:
    """The planner's allowance: what it admits for a team fits under the team's room, what it admits in all under
    the stack's, and a team it refuses once takes nothing more this run (its queue stops there)."""
    from bbq.core.model.config import PipelineConfig
    from bbq.core.model.files import InvocationType, Part
    from bbq.core.scheduling.budgeting import PartPrice, allowance

    teams = Teams({"a": TeamPolicy(daily_budget_usd=team_budget)}, daily_budget_usd=stack_budget)
    config = PipelineConfig(CLAUDE, "arn:aws:iam::123456789012:role/r", "bbq", teams=teams)
    spends = {"a#day#2026-03-14": Spend(spent=spent), "stack#day#2026-03-14": Spend(spent=spent)}
    price = PartPrice(config, CLAUDE)
    allowed = allowance(["a", "b"], spends, config, DAY, price)
    taken: dict[str, float] = {"a": 0.0, "b": 0.0}
    for n, (team, size) in enumerate(parts):
        part = Part(f"f{n}", 1, CLAUDE, InvocationType.INVOKE_MODEL, "s3://b/k", 1, "s3://b/o/", 1, 1, 1, size * 40,
                    DAY, team=team)  # fmt: skip
        if team in allowed.held:
            continue  # fair_order stops reading a held team's queue
        if allowed.admit(part):
            taken[team] += price(part)
        else:
            assert team in allowed.held and "Waiting for budget" in allowed.held[team].message
    assert taken["a"] <= max(0.0, team_budget - spent) + 1e-9
    assert taken["a"] + taken["b"] <= max(0.0, stack_budget - spent) + 1e-9


def test_a_job_planned_before_budgets_is_reserved_once_and_keeps_it_through_a_paused_model() -> None:
    """Jobs planned before a budget was set are reserved when they are about to go; a queue paused by Bedrock
    (model access) saves those jobs again, and must save the reserved job, never a copy without its reservation."""
    from bbq.core.model.errors import ModelUnavailable
    from bbq.core.model.jobs import JobNote

    world = World(config=WHOLE)
    world.clock = ManualClock(DAY)
    from bbq.core.model.errors import SlotUnavailable

    for i in range(2):
        world.upload(f"to-process/p{i}.jsonl", jsonl(1_000))
    world.batch.submit_errors["staged/"] = SlotUnavailable("ServiceQuotaExceededException: busy")
    run(world, quota=2)  # planned without budgets; Bedrock has no room: both wait, Pending
    waiting = [j for j in world.store.jobs.values() if j.status == JobStatus.PENDING]
    assert len(waiting) == 2 and all(j.budget_at is None for j in waiting)
    world.config = replace(WHOLE, teams=Teams(daily_budget_usd=10.0))
    world.batch.submit_errors["staged/"] = ModelUnavailable(ModelUnavailable.ACCESS, "AccessDeniedException: no")
    world.clock.advance(600)
    run(world, quota=2)  # the first job is reserved, then Bedrock refuses the model: the queue pauses
    reserved = [j for j in world.store.jobs.values() if j.budget_at is not None]
    assert len(reserved) == 1 and reserved[0].note == JobNote.MODEL_ACCESS, "the paused job kept its reservation"
    line = world.store.budget_lines["stack#day#2026-03-14"]
    assert abs(line.reserved - (reserved[0].estimated_cost_usd or 0)) < 1e-9
    del world.batch.submit_errors["staged/"]
    world.clock.advance(600)
    run(world, quota=2)
    held = sum(j.estimated_cost_usd or 0 for j in world.store.jobs.values() if j.budget_at and not j.budget_settled)
    assert abs(world.store.budget_lines["stack#day#2026-03-14"].reserved - held) < 1e-9, "never reserved twice"


def test_an_estimate_never_expects_more_output_than_the_requests_allow() -> None:
    """Before a model settled anything the estimate assumes as many output tokens as input; a part whose every
    record sets max_tokens (or maxTokens, max_gen_len ...) is capped at their sum, so short answers reserve less."""
    import json

    world = World(config=WHOLE)
    lines = [{"recordId": f"r{i}", "modelInput": {"messages": [{"role": "user", "content": "x" * 400}],
                                                  "max_tokens": 20}} for i in range(200)]  # fmt: skip
    world.upload("to-process/short.jsonl", b"".join(json.dumps(line).encode() + b"\n" for line in lines))
    world.upload("to-process/open.jsonl", jsonl(200))  # no record says: no cap
    capped, open_ended = sorted(world.store.parts.values(), key=lambda p: p.max_output_tokens, reverse=True)
    assert (capped.max_output_tokens, open_ended.max_output_tokens) == (4_000, 0)
    default = budgets.Calibration()
    uncapped = budgets.estimate_cost(CLAUDE, capped.size_bytes, PRICES, default)
    estimate = budgets.estimate_cost(CLAUDE, capped.size_bytes, PRICES, default, capped.max_output_tokens)
    used_in = round(capped.size_bytes * default.input_per_byte)
    assert estimate == PRICES.cost(CLAUDE, used_in, 4_000) and estimate < uncapped
