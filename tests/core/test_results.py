"""Joined results per file: in line order with the user's record ids, whatever the split, packing, retries and
output order; the failures beside them; tokens and cost against hand-computed figures."""

import json
from dataclasses import replace
from typing import Any

import pytest

from bbq.core.model import naming
from bbq.core.model.config import SmallWork
from bbq.core.model.files import FileStatus
from bbq.core.model.prices import PriceTable
from bbq.core.model.states import JobStatus
from bbq.core.settling import model_output
from bbq.core.settling.results import ERRORS, OUTPUT_LOST, RESULTS, SUMMARY
from bbq_local.fakes import MISSING, FakeObjects
from tests.core.helpers import CONFIG, World, jsonl, record, run

HAIKU_BATCH_PER_RECORD = (10 * 0.25 + 2 * 1.25) / 1e6 * 0.5  # 10 input and 2 output tokens, half price


def joined(world: World, file_id: str, name: str) -> Any:
    bucket, prefix = naming.split_uri(world.store.files[file_id].output_uri)
    body = world.objects.files[bucket, prefix + name]
    return json.loads(body) if name == SUMMARY else [json.loads(line) for line in body.splitlines()]


def drive(world: World, fate) -> None:  # type: ignore[no-untyped-def]
    for _ in range(20):
        run(world)
        for arn in [a for a in world.batch.snapshots if world.batch.active(a)]:
            world.batch.end(arn, JobStatus.COMPLETED, fate=fate)
        world.clock.advance(2 * 3600)
        if all(f.status not in {FileStatus.QUEUED, FileStatus.RUNNING} for f in world.store.files.values()):
            return


def test_a_split_packed_and_retried_file_gets_its_results_in_line_order() -> None:
    world = World(config=replace(CONFIG, small_work=SmallWork.ON_DEMAND), objects=FakeObjects(chunk=4096))
    bad = b'{"recordId": "oops", "modelInput": 3}\n'
    body = jsonl(300) + bad + b"\n" + jsonl(300, start=300)  # a refused line 301 and a blank line 302
    big = world.upload("to-process/big.jsonl", body).file_id
    small = world.upload("to-process/small.jsonl", jsonl(40, start=5000)).file_id
    assert big and small
    seen: dict[str, int] = {}

    def fate(record_id: str) -> int | str | None:
        seen[record_id] = seen.get(record_id, 0) + 1
        line = int(record_id.split("L")[1])
        if line % 100 == 0:
            return 400  # for good
        if line % 7 == 0 and seen[record_id] == 1:
            return 503  # goes again
        if line % 11 == 0 and seen[record_id] == 1:
            return MISSING
        return None

    drive(world, fate)
    assert world.store.files[big].status == FileStatus.PARTIALLY_COMPLETED
    results = joined(world, big, RESULTS)
    lines = [r["line"] for r in results]
    valid = [n for n in range(1, 603) if n not in (301, 302)]
    assert lines == [n for n in valid if n % 100 != 0], "every line that succeeded, in the upload's order"
    assert results[0]["recordId"] == record(0)["recordId"] and results[-1]["recordId"] == record(599)["recordId"]
    assert results[0]["text"] == f"ok {results[0]['bbqRecordId']}" and results[0]["stopReason"] == "end_turn"
    assert results[0]["modelOutput"]["usage"] == {"input_tokens": 10, "output_tokens": 2}
    errors = joined(world, big, ERRORS)
    assert [(e["line"], e["errorCode"]) for e in errors] == [(n, 400) for n in (100, 200, 300, 400, 500, 600)]
    assert errors[2]["recordId"] == record(299)["recordId"], "line 300 is the 300th record"
    summary = joined(world, big, SUMMARY)
    assert summary["records"] == {
        "lines": 602,
        "rejectedLines": 1,
        "run": 600,
        "succeeded": 594,
        "failed": 6,
        "notRun": 0,
        "outputLost": 0,
    }
    assert summary["tokens"] == {"input": 594 * 10, "output": 594 * 2}
    assert summary["attempts"]["most"] == 2 and summary["attempts"]["recordsThatWentAgain"] > 0
    assert len(summary["bedrockJobs"]) >= 2
    item = world.store.files[big]
    on_demand = sum(r["onDemand"] for r in results)
    expected = (594 - on_demand) * HAIKU_BATCH_PER_RECORD + on_demand * HAIKU_BATCH_PER_RECORD * 2
    assert item.cost_usd == pytest.approx(expected) and summary["costUsd"]["total"] == pytest.approx(expected)
    assert (item.input_tokens, item.output_tokens, item.results_uri) == (5940, 1188, item.output_uri)
    small_results = joined(world, small, RESULTS)
    assert [r["recordId"] for r in small_results] == [record(i)["recordId"] for i in range(5000, 5040)]


def test_a_stopped_file_lists_what_did_not_run() -> None:
    from bbq.core.scheduling.stopping import stop_file

    world = World(objects=FakeObjects(chunk=4096))
    file = world.upload("to-process/a.jsonl", jsonl(150)).file_id
    assert file
    run(world)
    stop_file(file, store=world.store, batch=world.batch, joins=world.joins, clock=world.clock)
    world.join_asked()
    (arn,) = world.batch.stopped
    world.batch.end(arn, JobStatus.STOPPED, missing=set(range(101, 151)))
    run(world)
    assert len(joined(world, file, RESULTS)) == 100
    errors = joined(world, file, ERRORS)
    assert len(errors) == 50 and {e["errorMessage"] for e in errors} == {"not run: the file was stopped"}
    assert joined(world, file, SUMMARY)["records"]["notRun"] == 50


def test_an_output_deleted_before_the_join_is_reported_never_counted_as_succeeded() -> None:
    """A job's output vanishes after its part settled (someone cleaned processed/): its records are listed as
    failed in errors.jsonl, the file is not Completed, and summary.json and the item agree."""
    world = World(auto_join=False)
    file = world.upload("to-process/a.jsonl", jsonl(500)).file_id
    assert file
    run(world, quota=2)
    arns = [arn for arn in world.batch.snapshots if world.batch.active(arn)]
    assert len(arns) == 2, "the file runs in two jobs"
    for arn in arns:
        world.batch.end(arn, JobStatus.COMPLETED)
    run(world, quota=2)
    assert world.store.files[file].counts.succeeded == 500, "both parts settled, every record succeeded"
    gone = [key for (_, key) in world.objects.files if key.endswith(".out") and arns[0].rsplit("/", 1)[1] in key]
    assert gone
    for key in gone:
        del world.objects.files[naming.split_uri(world.store.files[file].output_uri)[0], key]
    world.join_asked()
    ended = world.store.files[file]
    assert ended.status == FileStatus.PARTIALLY_COMPLETED and "output was deleted" in ended.message
    errors = joined(world, file, ERRORS)
    assert len(errors) == 250 and {e["errorMessage"] for e in errors} == {OUTPUT_LOST}
    assert len(joined(world, file, RESULTS)) == 250
    records = joined(world, file, SUMMARY)["records"]
    assert (records["succeeded"], records["failed"], records["outputLost"]) == (250, 250, 250)
    assert (ended.counts.succeeded, ended.counts.failed) == (records["succeeded"], records["failed"])


ANTHROPIC = {"content": [{"type": "text", "text": "Hi"}], "stop_reason": "end_turn"}
CONVERSE = {"output": {"message": {"content": [{"text": "Hi"}]}}, "stopReason": "end_turn"}
LLAMA = {"generation": "Hi", "prompt_token_count": 5, "generation_token_count": 1, "stop_reason": "stop"}
CHAT = {"choices": [{"message": {"content": "Hi"}, "finish_reason": "stop"}]}


@pytest.mark.parametrize(
    ("output", "text", "stop", "tokens"),
    [
        ({**ANTHROPIC, "usage": {"input_tokens": 5, "output_tokens": 1}}, "Hi", "end_turn", (5, 1)),
        ({**CONVERSE, "usage": {"inputTokens": 5, "outputTokens": 1}}, "Hi", "end_turn", (5, 1)),  # and Nova
        (LLAMA, "Hi", "stop", (5, 1)),
        ({**CHAT, "usage": {"prompt_tokens": 5, "completion_tokens": 1}}, "Hi", "stop", (5, 1)),  # Mistral, OpenAI
        ({"outputs": [{"text": "Hi", "stop_reason": "length"}]}, "Hi", "length", (0, 0)),  # Mistral text
    ],
)
def test_each_model_familys_output_is_read(output: dict, text: str, stop: str, tokens: tuple[int, int]) -> None:
    reading = model_output.read(output)
    assert (reading.text, reading.stop_reason, (reading.input_tokens, reading.output_tokens)) == (text, stop, tokens)


def test_embeddings_are_read() -> None:
    reading = model_output.read({"embedding": [0.1, 0.2], "inputTextTokenCount": 4})
    assert (reading.embedding, reading.text, reading.input_tokens) == ([0.1, 0.2], None, 4)


def test_prices_batch_at_half_on_demand_at_full_and_overridable() -> None:
    table = PriceTable.with_overrides('{"my.model-v1": {"input": 2, "output": 4}}')
    assert table.cost("anthropic.claude-3-haiku-20240307-v1:0", 1_000_000, 1_000_000) == pytest.approx(0.75)
    assert table.cost("us.anthropic.claude-3-haiku-20240307-v1:0", 1_000_000, 0, on_demand=True) == pytest.approx(0.25)
    assert table.cost("my.model-v1", 500_000, 250_000) == pytest.approx(1.0)
    assert table.cost("unknown.model", 10, 10) is None
    with pytest.raises(ValueError, match="JSON object"):
        PriceTable.with_overrides("[1, 2]")


def test_ingest_estimates_the_input_side_of_the_cost() -> None:
    world = World(objects=FakeObjects(chunk=4096))
    outcome = world.upload("to-process/a.jsonl", jsonl(200))
    file = world.store.files[outcome.file_id or ""]
    staged = sum(p.size_bytes for p in world.store.parts_of(file))
    assert file.estimated_input_tokens == staged // 4
    assert file.estimated_input_cost_usd == pytest.approx(staged // 4 * 0.25 / 1e6 * 0.5)
