"""States, naming, line splitting, line checks and routing: the plain rules."""

import re
from datetime import datetime

import botocore.session
import orjson
import pytest

from bbq.core.intake.routing import Route, RouteRefused, route
from bbq.core.intake.validation import LineChecker, Record, Rejection
from bbq.core.model import naming
from bbq.core.model.files import InvocationType
from bbq.core.model.lines import Line, split_lines
from bbq.core.model.states import ACTIVE, BEDROCK_STATUSES, TERMINAL, JobStatus, is_terminal
from bbq.core.model.teams import Priority
from tests.conftest import CLAUDE

MODEL = botocore.session.get_session().get_service_model("bedrock")


def shape_pattern(name: str) -> re.Pattern[str]:
    return re.compile(f"^(?:{MODEL.shape_for(name).metadata['pattern']})$")


def test_bedrock_statuses_are_exactly_the_service_enum() -> None:
    assert {s.value for s in BEDROCK_STATUSES} == set(MODEL.shape_for("ModelInvocationJobStatus").enum)  # type: ignore[attr-defined]
    assert not ACTIVE & TERMINAL and JobStatus.PENDING not in ACTIVE | TERMINAL
    assert is_terminal("Expired") and not is_terminal("Stopping")


def test_names_are_deterministic_and_fit_bedrocks_patterns() -> None:
    first = naming.file_id_for("bucket", "to-process/a.jsonl", "v1")
    assert first == naming.file_id_for("bucket", "to-process/a.jsonl", "v1")
    assert first != naming.file_id_for("bucket", "to-process/a.jsonl", "v2")
    assert first != naming.file_id_for("other", "to-process/a.jsonl", "v1")
    assert naming.job_id_for(["p2", "p1"]) == naming.job_id_for(["p1", "p2"]) != naming.job_id_for(["p1"])
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
    file_id = naming.file_id_for("bbq-123456789012-0b1c2d3e-aaaa-bbbb-cccc-0123456789ab", key, "v")
    bucket = "bbq-123456789012-0b1c2d3e-aaaa-bbbb-cccc-0123456789ab"
    part = naming.part_key(file_id, key, 99999)
    staged = naming.s3_uri(bucket, part)
    packed = naming.s3_uri(bucket, naming.packed_input_prefix(file_id) + naming.packed_input_name(file_id, part))
    output = naming.output_uri_for(bucket, key, naming.upload_tag(datetime(2026, 12, 31, 23, 59, 59), file_id))
    for uri in (staged, packed, output, naming.packed_output_uri(bucket, file_id)):
        assert s3_uri.match(uri) and len(uri) <= 1024, uri
    # what Bedrock writes below the output place, and the error report, are keys S3 takes (<= 1,024 bytes)
    longest_output = output.removeprefix(f"s3://{bucket}/") + "abcdefabcdef/" + packed.rsplit("/", 1)[1] + ".out"
    assert len(longest_output.encode()) <= 1024
    report = naming.error_report_key(key)
    assert len(report.encode()) <= 1024 and report.endswith(".error.json") and not naming.is_input_key(report)
    assert report.startswith("to-process/")


def test_safe_names_stay_readable_and_distinct() -> None:
    assert naming.output_uri_for("b", "to-process/team-a/calls.jsonl", "u1") == "s3://b/processed/team-a/calls/u1/"
    spaced = naming.output_uri_for("b", "to-process/team a/calls.jsonl", "u1")
    assert spaced.startswith("s3://b/processed/team-a/calls-") and spaced.endswith("/u1/")
    assert spaced != naming.output_uri_for("b", "to-process/team+a/calls.jsonl", "u1"), "a tag keeps them apart"
    # Each upload its own place; calls.jsonl and calls.JSONL are two keys with two places and two pointers.
    assert naming.key_place("to-process/calls.jsonl") != naming.key_place("to-process/calls.JSONL")
    assert naming.latest_key("to-process/calls.jsonl") == "processed/calls/latest.json"
    nameless = naming.key_place("to-process/.jsonl")
    assert nameless.startswith("processed/unnamed-") and "//" not in nameless, "never processed//"
    folder_only = naming.key_place("to-process/a/.jsonl")
    assert "//" not in folder_only and folder_only != naming.key_place("to-process/a.jsonl")
    assert naming.upload_tag(datetime(2026, 3, 1, 9, 30), "0123456789abcdef") == "20260301T093000Z-0123456789"
    assert naming.safe_path("r\u00e9sum\u00e9s/q3", 100).startswith("resumes/q3-")
    assert naming.part_key("f1", "to-process/x/calls.JSONL", 2) == "staged/f1/calls-p00002.jsonl"
    assert (
        naming.packed_input_name("0123456789abcdef", "staged/f1/calls-p00002.jsonl") == "0123456789-calls-p00002.jsonl"
    )
    assert naming.error_report_key("to-process/x.jsonl") == "to-process/x.jsonl.error.json"
    assert naming.is_input_key("to-process/x.JSONL") and not naming.is_input_key("to-process/x.jsonl.error.json")


def lines_of(chunks: list[bytes], limit: int = 10) -> list[tuple[int, bytes | None, int]]:
    return [(line.number, line.data, line.size) for line in split_lines(chunks, limit)]


def test_lines_are_cut_across_chunks_with_bom_crlf_and_no_final_newline() -> None:
    assert lines_of([b"\xef\xbb\xbfab", b"c\r\n\nd", b"e\n", b"x" * 11, b"\ny"]) == [
        (1, b"abc", 5),
        (2, b"", 1),
        (3, b"de", 3),
        (4, None, 12),  # over the limit: counted, never held
        (5, b"y", 1),
    ]
    assert lines_of([b"a\n"]) == [(1, b"a", 2)]
    assert lines_of([]) == []


def test_splitting_a_huge_line_is_linear() -> None:
    # 64 MB in 1 KiB chunks: a quadratic join would take minutes; this is one pass.
    chunks = [b"x" * 1024] * (64 * 1024) + [b"\n"]
    (line,) = split_lines(chunks, 100 * 1024**2)
    assert line.data is not None and len(line.data) == 64 * 1024**2


def nested(levels: int) -> bytes:
    """A line whose objects and arrays nest ``levels`` deep, the line's own object included."""
    inner = b"[" * (levels - 2) + b"1" + b"]" * (levels - 2)
    return b'{"modelInput": {"x": ' + inner + b"}}"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        # Each boundary where validation and staging (orjson writes 254 levels) must agree.
        (nested(254), None),
        (nested(255), "nested more than 254"),
        (nested(1_024), "nested more than 254"),
        (nested(1_025), "nested more than 254"),
        # Numbers staged as written, or refused: orjson holds integers in [-2**63, 2**64 - 1] and doubles.
        (b'{"modelInput": {"n": 18446744073709551615, "m": -9223372036854775808}}', None),
        (b'{"modelInput": {"n": 18446744073709551616}}', "does not fit in 64 bits"),
        (b'{"modelInput": {"n": 98765432109876543210}}', "does not fit in 64 bits"),
        (b'{"modelInput": {"n": -9223372036854775809}}', "does not fit in 64 bits"),
        (b'{"modelInput": {"n": 1e-400}}', "would be staged as 0.0"),
        (b'{"modelInput": {"n": 1e400}}', "too large for a double"),
        (b'{"modelInput": {"n": 3.14159265358979323846}}', "cannot be kept exactly"),
        (b'{"modelInput": {"t": 0.70000000000000001}}', "cannot be kept exactly"),
        (b'{"modelInput": {"a": 0.0, "b": 1e-400}}', "would be staged as 0.0"),  # one 0.0 token, two zeros
        (b'{"modelInput": {"temperature": 0.7, "top_p": 1e-05, "k": [0.5, 0.5]}}', None),
        (
            b'{"modelInput": {"t": 0.7, "p": 1e-5, "big": 1.5E+300, "x": 0.30000000000000004, "i": 1234567890123456}}',
            None,
        ),
        (b'{"modelInput": {"text": "99999999999999999999 and 1e-400 in a string"}}', None),
        # A key twice in one object: JSON readers keep one of them in silence.
        (b'{"modelInput": {"max_tokens": 10, "max_tokens": 20}}', "'max_tokens' appears twice"),
        (b'{"modelInput": {"m": [{"a": "x", "b": 1, "a": "y"}]}}', "'a' appears twice"),
        (b'{"modelInput": {}, "modelInput": {"x": 1}}', "'modelInput' appears twice"),
        (b'{"modelInput": {"q": "say \\u0022hi\\u0022"}, "other": "kept in the upload"}', None),
        # A record id matched whole: "$" alone lets a final newline through.
        (b'{"modelInput": {}, "recordId": "a\\n"}', "1-64"),
    ],
)
def test_what_staging_would_change_is_refused(text: bytes, reason: str | None) -> None:
    outcome = LineChecker("f" * 24, 1024**2).check(Line(3, text, len(text) + 1))
    if reason is None:
        assert isinstance(outcome, Record), outcome
        staged = orjson.loads(outcome.body)
        assert staged["modelInput"] == orjson.loads(text)["modelInput"]
    else:
        assert isinstance(outcome, Rejection) and reason in outcome.reason, outcome


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_the_line_limit_counts_the_same_bytes_whatever_the_line_ending(ending: bytes) -> None:
    exact, over = b"a" * 100, b"b" * 101
    lines = list(split_lines([exact + ending + over + ending + exact], 100))
    assert [line.data for line in lines] == [exact, None, exact]
    pieces = [exact + ending[:1], ending[1:] + over, ending + exact[:50], exact[50:] + b"\r"]  # split anywhere
    assert [line.data for line in split_lines(pieces, 100)] == [exact, None, exact]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (b'{"modelInput": {}, "recordId": "a"}', None),
        (b'{"modelInput": {}}', None),
        (b"{", "one object per line"),  # a lone brace: a pretty-printed object
        (b"{oops", "not valid JSON"),
        (b'{"modelInput": {"x": Infinity}}', "NaN or Infinity"),
        (b'{"modelInput": {}, "recordId": "' + b"x" * 65 + b'"}', "1-64"),
        (b'{"modelInput": {}, "recordId": 12}', "1-64"),
        (b'{"modelInput": null}', "modelInput"),
        (b'"text"', "JSON str, not an object"),
        (b"[" * 100_000, "nested more than 254"),
    ],
)
def test_each_line_is_checked(text: bytes, reason: str | None) -> None:
    outcome = LineChecker("f" * 24, 1024**2).check(Line(3, text, len(text) + 1))
    if reason is None:
        assert not isinstance(outcome, Rejection) and outcome is not None
        assert b'"recordId":"ffffffffffL3"' in outcome.body
    else:
        assert isinstance(outcome, Rejection) and reason in outcome.reason and outcome.line == 3
        assert text[:20].decode(errors="ignore") not in outcome.reason or len(text) < 3, "no content echoed"


NOVA = "amazon.nova-lite-v1:0"
PROFILE_ARN = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-pro-v1:0"


@pytest.mark.parametrize(
    ("key", "metadata", "expected"),
    [
        ("to-process/a.jsonl", {}, Route(CLAUDE, InvocationType.INVOKE_MODEL)),
        ("to-process/team/a.jsonl", {}, Route(CLAUDE, InvocationType.INVOKE_MODEL, "team")),
        (f"to-process/{NOVA}/x/a.jsonl", {}, Route(NOVA, InvocationType.INVOKE_MODEL, "x")),
        ("to-process/ads/converse/deep/a.jsonl", {}, Route(CLAUDE, InvocationType.CONVERSE, "ads")),
        ("to-process/_my ads (EU)/a.jsonl", {}, Route(CLAUDE, InvocationType.INVOKE_MODEL, "my-ads-EU-")),
        (f"to-process/{NOVA}/ads/2026/a.jsonl", {}, Route(NOVA, InvocationType.INVOKE_MODEL, "ads")),
        (
            "to-process/ads/a.jsonl",
            {"bbq-team": "search", "bbq-priority": "High"},
            Route(CLAUDE, InvocationType.INVOKE_MODEL, "search", Priority.HIGH),
        ),
        (f"to-process/{NOVA}/converse/a.jsonl", {}, Route(NOVA, InvocationType.CONVERSE)),
        ("to-process/converse/a.jsonl", {}, Route(CLAUDE, InvocationType.CONVERSE)),
        ("to-process/us.amazon.nova-pro-v1:0/a.jsonl", {}, Route(PROFILE_ARN, InvocationType.INVOKE_MODEL)),
        (
            "to-process/a.jsonl",
            {"bbq-model": NOVA, "bbq-invocation-type": "converse"},
            Route(NOVA, InvocationType.CONVERSE),
        ),
    ],
)
def test_routing_by_folder_and_metadata(key: str, metadata: dict[str, str], expected: Route) -> None:
    assert route(key, metadata, (CLAUDE, NOVA, PROFILE_ARN), CLAUDE) == expected


@pytest.mark.parametrize(
    ("key", "metadata"),
    [
        ("to-process/anthropic.claude-v2/a.jsonl", {}),
        ("to-process/us.meta.llama3-1-70b-instruct-v1:0/a.jsonl", {}),
        ("to-process/a.jsonl", {"bbq-model": "amazon.titan-embed-text-v2:0"}),
        ("to-process/a.jsonl", {"bbq-invocation-type": "Chat"}),
        ("to-process/a.jsonl", {"bbq-team": "team a"}),
        ("to-process/a.jsonl", {"bbq-priority": "urgent"}),
    ],
)
def test_models_not_allowed_are_refused_with_what_to_do(key: str, metadata: dict[str, str]) -> None:
    with pytest.raises(RouteRefused, match="AllowedModels|InvokeModel or Converse|not a team name|high, normal"):
        route(key, metadata, (CLAUDE, NOVA), CLAUDE)


def test_backoff_doubles_up_to_an_hour_however_many_failures() -> None:
    from datetime import timedelta

    from bbq.core.model.retry import backoff

    assert [backoff(n) for n in (1, 2, 3)] == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert backoff(7) == backoff(10_000) == timedelta(hours=1)


def test_fingerprints_remember_every_value_through_growth() -> None:
    from bbq.core.intake.validation import Fingerprints

    seen = Fingerprints()
    assert all(seen.add(hash(f"R{i}")) for i in range(5_000))
    assert not any(seen.add(hash(f"R{i}")) for i in range(5_000))
    assert seen.add(0) and not seen.add(0) and seen.add(2**64 - 1)


def test_the_newest_upload_of_a_key_is_s3s_order_not_bbqs() -> None:
    """S3 User Guide, "Event message structure": for one key the greater sequencer is the later event; sequencers
    of different lengths compare after right-padding the shorter with zeros."""
    from dataclasses import dataclass

    from bbq.core.model.files import newest_upload

    @dataclass(frozen=True)
    class Up:
        sequencer: str
        created_at: datetime
        version: str

    same_moment = datetime(2026, 1, 1)
    early, late = Up("0055AED6DCD90281E5", same_moment, "v1"), Up("0055AED6DCD90281E6", same_moment, "v2")
    assert newest_upload([late, early]) is late and newest_upload([early, late]) is late
    shorter = Up("1", same_moment, "b")
    assert newest_upload([Up("0F", same_moment, "a"), shorter]) is shorter  # padded, "10" > "0F"
    taken_later = Up("", datetime(2026, 1, 2), "swept")  # found by the sweeper: no sequencer, bbq's time decides
    assert newest_upload([late, taken_later]) is taken_later and newest_upload([]) is None
