"""What is emitted is what is watched: the real handlers run a pipeline that ends files, retries and fails jobs,
refuses a line and pauses a model; every CloudWatch EMF document they print (into their log files, as Lambda
sends them to CloudWatch Logs) is collected; every alarm's metric and every dashboard metric or SEARCH in the
translated template must name a (namespace, metric, dimension set) some document published. CloudWatch treats
each dimension set as a separate metric, so one more or one fewer dimension on either side sees no data."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bbq_local.pipeline import LocalPipeline
from bbq_local.stack import translate_offline
from tests.conftest import claude_record, jsonl
from tests.pipeline.test_end_to_end import drop

NOVA = "amazon.nova-micro-v1:0"
Metric = tuple[str, str, frozenset[tuple[str, str]]]  # namespace, name, {(dimension, value)}


def emitted(log_dir: Path) -> set[Metric]:
    """Every metric of every EMF document in the functions' logs (CloudWatch's embedded metric format)."""
    published: set[Metric] = set()
    for log in log_dir.glob("*.log"):
        for line in log.read_text().splitlines():
            document = json.loads(line) if line.startswith("{") else {}
            for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
                for dimension_set in directive["Dimensions"]:
                    dimensions = frozenset((name, str(document[name])) for name in dimension_set)
                    for metric in directive["Metrics"]:
                        published.add((directive["Namespace"], metric["Name"], dimensions))
    return published


def _resolved(value: Any, stack: str) -> str:
    return stack if value == {"Ref": "AWS::StackName"} else str(value)


def alarm_metrics(resources: dict[str, Any], stack: str) -> dict[str, list[Metric]]:
    watched: dict[str, list[Metric]] = {}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = resource["Properties"]
        stats = (
            [props]
            if "MetricName" in props
            else [q["MetricStat"]["Metric"] for q in props["Metrics"] if "MetricStat" in q]
        )
        watched[name] = [
            (
                s["Namespace"],
                s["MetricName"],
                frozenset((d["Name"], _resolved(d["Value"], stack)) for d in s["Dimensions"]),
            )
            for s in stats
        ]
    return watched


def dashboard_metrics(
    resources: dict[str, Any], stack: str
) -> tuple[list[Metric], list[tuple[str, str, set[str], str]]]:
    """The dashboard's metric rows (CloudWatch's "." repeats the row above) and its SEARCH expressions as
    (namespace, metric, dimension names, Stack value)."""
    body, _ = resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    body = body.replace("${AWS::StackName}", stack)
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]
    rows: list[Metric] = []
    searches = []
    for widget in widgets:
        previous: list[str] = []
        for row in widget["properties"].get("metrics", []):
            if isinstance(row[0], dict):
                search = re.fullmatch(
                    r"SEARCH\('\{([^}]*)\} MetricName=\"(\w+)\" Stack=\"([^\"]+)\"', '\w+', \d+\)", row[0]["expression"]
                )
                assert search, row[0]["expression"]
                namespace, *names = search.group(1).split(",")
                searches.append((namespace, search.group(2), set(names), search.group(3)))
                continue
            full = [previous[i] if cell == "." else cell for i, cell in enumerate(row)]
            previous = full
            namespace, metric, *pairs = full
            rows.append((namespace, metric, frozenset(zip(pairs[::2], pairs[1::2], strict=True))))
    return rows, searches


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[set[Metric], dict[str, Any], str]:
    from moto import mock_aws

    log_dir = tmp_path_factory.mktemp("logs")
    with mock_aws():
        pipeline = LocalPipeline(
            quota=2,
            log_dir=log_dir,
            parameters={
                "AllowedModels": NOVA,
                "MaxJobAttempts": "2",
                "SmallWork": "on-demand",
                "CompanionWaitMinutes": "10",
            },
        )
        try:
            faults = pipeline.emulator.faults
            # one phase per kind of job ending, each run to its end: partially completed, failed for good
            # (after a retry), completed with a refused line and small work run on demand
            faults.update({"missing_record_rate": 0.05})
            drop(pipeline, {"to-process/partial.jsonl": 150})
            pipeline.run_until_done(step_seconds=120)
            faults.update({"missing_record_rate": 0.0, "fail_next_jobs": 2})
            drop(pipeline, {"to-process/failing.jsonl": 130})
            pipeline.run_until_done(step_seconds=120)
            pipeline.upload("to-process/bad.jsonl", b"not json\n" + jsonl([claude_record(i) for i in range(120)]))
            drop(pipeline, {"to-process/small.jsonl": 20})
            pipeline.run_until_done(step_seconds=120)
            # and a model Bedrock refuses: paused, its file waits
            faults.update({"denied_models": {NOVA: "access"}})
            drop(pipeline, {f"to-process/{NOVA}/n.jsonl": 120})
            for _ in range(5):
                pipeline.step(300)
            # as deployed, alarms included (moto cannot create them, so the local stack leaves them out)
            resources = translate_offline(pipeline.parameters)["Resources"]
            return emitted(log_dir), resources, pipeline.stack.name
        finally:
            pipeline.close()


def test_every_alarm_watches_a_metric_the_handlers_publish(published: Any) -> None:
    metrics, resources, stack = published
    watched = alarm_metrics(resources, stack)
    assert {"RunErrorsAlarm", "ModelsPausedAlarm", "UnreadableUploadsAlarm"} <= set(watched)
    ours = {name: w for name, w in watched.items() if all(m[0] == "bbq" for m in w)}
    assert len(ours) >= 4
    for alarm, metric_list in ours.items():
        for metric in metric_list:
            assert metric in metrics, f"{alarm} watches {metric}, never published; published: {_like(metric, metrics)}"


def test_every_dashboard_metric_and_search_names_what_is_published(published: Any) -> None:
    metrics, resources, stack = published
    rows, searches = dashboard_metrics(resources, stack)
    assert len(rows) >= 14 and searches
    for row in rows:
        assert row in metrics, f"dashboard shows {row}, never published; published: {_like(row, metrics)}"
    for namespace, name, dimension_names, stack_value in searches:
        found = [m for m in metrics if m[:2] == (namespace, name) and {d for d, _ in m[2]} == dimension_names]
        assert found and all(dict(m[2])["Stack"] == stack_value for m in found), (
            name,
            _like((namespace, name, frozenset()), metrics),
        )


def _like(metric: Metric, metrics: set[Metric]) -> list[Metric]:
    return sorted(m for m in metrics if m[1] == metric[1])
