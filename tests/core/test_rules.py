"""States, naming, slots and input validation: the plain rules."""

import re

import botocore.session
import pytest

from bbq.core import naming, slots
from bbq.core.clock import ManualClock
from bbq.core.jobs import Job
from bbq.core.states import ACTIVE, BEDROCK_STATUSES, TERMINAL, JobStatus, is_terminal
from bbq.core.validation import InputLimits, validate_jsonl
from tests.conftest import claude_record, jsonl

MODEL = botocore.session.get_session().get_service_model("bedrock")


def shape_pattern(name: str) -> re.Pattern[str]:
    return re.compile(f"^(?:{MODEL.shape_for(name).metadata['pattern']})$")


def test_bedrock_statuses_are_exactly_the_service_enum() -> None:
    assert {s.value for s in BEDROCK_STATUSES} == set(MODEL.shape_for("ModelInvocationJobStatus").enum)  # type: ignore[attr-defined]
    assert not ACTIVE & TERMINAL and JobStatus.PENDING not in ACTIVE | TERMINAL
    assert is_terminal("Invalid") and is_terminal("Expired") and not is_terminal("Stopping")


def test_names_are_deterministic_and_fit_bedrocks_patterns() -> None:
    first = naming.job_id_for("bucket", "to-process/a.jsonl", "v1")
    assert first == naming.job_id_for("bucket", "to-process/a.jsonl", "v1")
    assert first != naming.job_id_for("bucket", "to-process/a.jsonl", "v2")
    assert first != naming.job_id_for("other", "to-process/a.jsonl", "v1")
    stack_prefix = "bbq" + "0123456789abcdef" * 2  # the template's: "bbq" and the stack id's 32 hex digits
    for attempt in (1, 99, 999):
        name = naming.job_name(stack_prefix, first, attempt)
        assert shape_pattern("ModelInvocationJobName").match(name) and len(name) <= 63
    assert shape_pattern("ModelInvocationIdempotencyToken").match(naming.client_request_token(first, 1))
    with pytest.raises(ValueError, match="JobNamePrefix"):
        naming.job_name("x" * 41, first, 1)


# Keys S3 stores happily and Bedrock's S3Uri pattern refuses as they are.
AWKWARD_KEYS = [
    "to-process/calls tuesday.jsonl",
    "to-process/a+b=c,d.jsonl",
    "to-process/r\u00e9sum\u00e9 \u00e0 la carte.jsonl",
    "to-process/\u65e5\u672c\u8a9e.jsonl",
    "to-process/team//double/slash.jsonl",
    "to-process/odd:chars@here#1 & 2;?.jsonl",
    "to-process/UPPER.JSONL",
    "to-process/" + "long-name-" * 100 + ".jsonl",
    "to-process/" + "\u00e9" * 500 + ".jsonl",  # 1,017 bytes of key
]


@pytest.mark.parametrize("key", AWKWARD_KEYS)
def test_every_key_s3_accepts_maps_to_places_bedrock_accepts(key: str) -> None:
    s3_uri = shape_pattern("S3Uri")
    job_id = naming.job_id_for("bbq-123456789012-0b1c2d3e-aaaa-bbbb-cccc-0123456789ab", key, "v")
    bucket = "bbq-123456789012-0b1c2d3e-aaaa-bbbb-cccc-0123456789ab"
    staged = naming.s3_uri(bucket, naming.staged_key(job_id, key))
    output = naming.output_uri_for(bucket, key)
    for uri in (staged, output):
        assert s3_uri.match(uri) and len(uri) <= 1024, uri
    # what Bedrock writes below the output place, and the error report, are keys S3 takes (<= 1,024 bytes)
    longest_output = output.removeprefix(f"s3://{bucket}/") + "abcdefabcdef/" + staged.rsplit("/", 1)[1] + ".out"
    assert len(longest_output.encode()) <= 1024
    report = naming.error_report_key(key)
    assert len(report.encode()) <= 1024 and report.endswith(".error.json") and not naming.is_input_key(report)
    assert report.startswith("to-process/")


def test_safe_names_stay_readable_and_distinct() -> None:
    assert naming.output_uri_for("b", "to-process/team-a/calls.jsonl") == "s3://b/processed/team-a/calls/"
    spaced = naming.output_uri_for("b", "to-process/team a/calls.jsonl")
    assert spaced.startswith("s3://b/processed/team-a/calls-") and spaced.endswith("/")
    assert spaced != naming.output_uri_for("b", "to-process/team+a/calls.jsonl"), "a tag keeps them apart"
    assert naming.safe_path("r\u00e9sum\u00e9s/q3", 100).startswith("resumes/q3-")
    assert naming.staged_key("j1", "to-process/x/calls.JSONL") == "staged/j1/calls.jsonl"
    assert naming.error_report_key("to-process/x.jsonl") == "to-process/x.jsonl.error.json"
    assert naming.is_input_key("to-process/x.JSONL") and not naming.is_input_key("to-process/x.jsonl.error.json")


def job(job_id: str, model: str, age: int, status: JobStatus = JobStatus.PENDING) -> Job:
    clock = ManualClock()
    created = clock.advance(age)
    return Job(job_id, status, model, "s3://b/k", "s3://b/o/", "b", ("k",), 100, 1, created, created)


def test_queues_are_per_model_and_oldest_first() -> None:
    pending = [job("a3", "claude", 3), job("a1", "claude", 1), job("a2", "claude", 2), job("n1", "nova", 5)]
    queues = slots.queue_by_model(pending)
    assert {model: [j.job_id for j in jobs] for model, jobs in queues.items()} == {
        "claude": ["a1", "a2", "a3"],
        "nova": ["n1"],
    }


def lines(records: list[dict]) -> list[bytes]:
    return jsonl(records).splitlines(keepends=True)


def test_a_good_file_passes_and_is_measured() -> None:
    body = lines([claude_record(i) for i in range(120)])
    summary = validate_jsonl(body + [b"\n"], InputLimits())
    assert summary.valid and summary.record_count == 120 and summary.size_bytes == sum(map(len, body)) + 1


def test_every_problem_is_reported_with_its_line() -> None:
    records = [claude_record(i) for i in range(100)]
    records[4]["recordId"] = records[3]["recordId"]
    del records[7]["modelInput"]
    records[9]["recordId"] = "has space"
    body = lines(records)
    body[1] = b"{not json\n"
    body[2] = b"[1, 2]\n"
    summary = validate_jsonl(body, InputLimits())
    assert not summary.valid
    assert summary.problems == [
        "line 2 is not valid JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
        "line 3 is not a JSON object",
        "line 5: \"recordId\" 'CALL0000003' appears more than once",
        'line 8 has no "modelInput" object',
        'line 10: "recordId" must be 1-64 letters, digits, "-" or "_"',
    ]
    assert summary.message().startswith("Input rejected: line 2 is not valid JSON")
    assert summary.message().endswith("(and 4 more problems; see the error report)")


@pytest.mark.parametrize(
    ("count", "limits", "problem"),
    [
        (99, InputLimits(), "99 records; Bedrock batch needs at least 100 per job"),
        (101, InputLimits(max_records=100), "101 records; Bedrock batch takes at most 100 per job"),
        (100, InputLimits(max_file_bytes=1000), "bytes; Bedrock batch takes input files of at most 1000 bytes"),
    ],
)
def test_bedrocks_limits(count: int, limits: InputLimits, problem: str) -> None:
    summary = validate_jsonl(lines([claude_record(i) for i in range(count)]), limits)
    assert len(summary.problems) == 1 and problem in summary.problems[0]


def test_problem_list_is_capped_but_counted() -> None:
    summary = validate_jsonl([b"nope\n"] * 150, InputLimits())
    assert summary.problem_count == 150 and len(summary.problems) == 20
