"""Templates in, model bodies out: every family and both invocation types, each body served by the emulator
(which checks it against the family's documented shape), and every way a row or a template can be wrong."""

import orjson
import pytest
from bedrock_emulator import models as emulated

from bbq.core.intake.model_bodies import BodyError, BodyOptions, Family, family_of, model_input
from bbq.core.intake.templates import Renderer, RowError, TemplateProblem, parse_template
from bbq.core.intake.validation import LineChecker, Rejection
from bbq.core.model.lines import Line
from bbq.core.settling import model_output

TEXT_MODELS = [
    ("anthropic.claude-3-haiku-20240307-v1:0", Family.ANTHROPIC),
    ("us.anthropic.claude-sonnet-4-20250514-v1:0", Family.ANTHROPIC),
    ("amazon.nova-lite-v1:0", Family.NOVA),
    ("meta.llama3-1-8b-instruct-v1:0", Family.LLAMA),
    ("mistral.mistral-small-2402-v1:0", Family.MISTRAL),
    ("mistral.mistral-large-2407-v1:0", Family.MISTRAL),
    ("openai.gpt-oss-120b-1:0", Family.OPENAI),
]
EMBEDDING_MODELS = [
    ("amazon.titan-embed-text-v2:0", Family.TITAN_EMBED),
    ("cohere.embed-english-v3", Family.COHERE_EMBED),
    ("cohere.embed-v4:0", Family.COHERE_EMBED),
]
TEMPLATE = """---
system: You answer in one sentence.
max_tokens: 64
temperature: 0.2
---
Summarize the call with {{ customer }}: {{ transcript }}"""
ROW = {"call_id": "C-17", "customer": "Ada", "transcript": "The router blinks red. We replaced it. It works now."}


@pytest.mark.parametrize(("model_id", "family"), TEXT_MODELS + EMBEDDING_MODELS)
def test_each_family_is_known_by_its_model_id(model_id: str, family: Family) -> None:
    assert family_of(model_id) is family
    assert family_of(f"arn:aws:bedrock:us-east-1::foundation-model/{model_id}") is family


@pytest.mark.parametrize("converse", [False, True])
@pytest.mark.parametrize(("model_id", "family"), TEXT_MODELS)
def test_text_bodies_are_served_by_the_model(model_id: str, family: Family, converse: bool) -> None:
    template = parse_template(TEMPLATE).with_overrides(id_column="call_id", converse=converse)
    record = Renderer(template, model_id).record(ROW, 1)
    assert record["recordId"] == "C-17"
    assert record["columns"] == {"customer": "Ada", "transcript": ROW["transcript"]}
    invocation = emulated.invoke(model_id, "Converse" if converse else "InvokeModel", record["modelInput"])
    reading = model_output.read(invocation.output)
    assert reading.text
    if "outputs" not in invocation.output:  # Mistral's text completion reports no token counts in its body
        assert reading.output_tokens > 0 and reading.input_tokens > 0
    body = orjson.dumps(record["modelInput"]).decode()
    assert "Summarize the call with Ada" in body and "You answer in one sentence." in body
    assert "64" in body and "0.2" in body


@pytest.mark.parametrize(("model_id", "family"), EMBEDDING_MODELS)
def test_embedding_bodies_are_served_by_the_model(model_id: str, family: Family) -> None:
    dimensions = None if "english-v3" in model_id else 512
    template = parse_template("{{ transcript }}").with_overrides(dimensions=dimensions)
    record = Renderer(template, model_id).record(ROW, 3)
    assert record["recordId"] == "3"  # no id column: the row's number
    reading = model_output.read(emulated.invoke(model_id, "InvokeModel", record["modelInput"]).output)
    assert reading.embedding is not None and len(reading.embedding) == (dimensions or 1024)


def test_embeddings_refuse_converse_and_dimensions_they_do_not_offer() -> None:
    with pytest.raises(TemplateProblem, match="Converse is for text models"):
        Renderer(parse_template("{{ x }}\n").with_overrides(converse=True), "amazon.titan-embed-text-v2:0")
    with pytest.raises(TemplateProblem, match="256, 512 or 1024"):
        Renderer(parse_template("{{ x }}").with_overrides(dimensions=300), "amazon.titan-embed-text-v2:0")
    with pytest.raises(BodyError, match="v3 has no dimensions"):
        model_input("cohere.embed-english-v3", "x", BodyOptions(dimensions=512))
    with pytest.raises(TemplateProblem, match="no request body"):
        Renderer(parse_template("{{ x }}"), "ai21.jamba-1-5-large-v1:0")


def test_a_missing_column_refuses_that_row_naming_the_column_and_ingest_refuses_its_line() -> None:
    renderer = Renderer(parse_template("Hello {{ name }} from {{ city }}"), "amazon.nova-lite-v1:0")
    with pytest.raises(RowError, match="column 'city'"):
        renderer.record({"name": "Ada"}, 1)
    line = renderer.line({"name": "Ada"}, 7)
    checked = LineChecker("f" * 32, 1 << 20).check(Line(7, line.rstrip(b"\n"), len(line)))
    assert isinstance(checked, Rejection) and "row 7" in checked.reason and "'city'" in checked.reason


def test_the_sandbox_keeps_a_template_out_of_python() -> None:
    renderer = Renderer(parse_template("{{ name.__class__.__mro__[1].__subclasses__() }}"), "amazon.nova-lite-v1:0")
    with pytest.raises(RowError):
        renderer.record({"name": "x"}, 1)


def test_a_bad_id_column_value_is_a_refused_row() -> None:
    renderer = Renderer(parse_template("{{ a }}").with_overrides(id_column="id"), "amazon.nova-lite-v1:0")
    assert renderer.record({"id": 17.0, "a": "x"}, 1)["recordId"] == "17"
    with pytest.raises(RowError, match="not 1-64 letters"):
        renderer.record({"id": "has space", "a": "x"}, 1)
    with pytest.raises(RowError, match="id column 'id' is not in the row"):
        renderer.record({"a": "x"}, 1)


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("---\nmax_tokens: 10\nHello", "never closes"),
        ("---\ncolour: red\n---\nHello", "'colour' is not an option"),
        ("---\nmax_tokens: many\n---\nHello", "max_tokens must be a positive integer"),
        ("---\nschema: [1]\n---\nHello", "schema must be a JSON object"),
        ("---\nsystem: x\n---\n", "no prompt text"),
        ("Hello {{ name ", "not valid Jinja2"),
    ],
)
def test_a_wrong_template_says_what_is_wrong(source: str, problem: str) -> None:
    with pytest.raises(TemplateProblem, match=problem):
        Renderer(parse_template(source), "amazon.nova-lite-v1:0")


def test_a_schema_asks_for_json_and_values_that_json_lacks_become_plain() -> None:
    import math
    from datetime import date

    schema = '{"type": "object", "properties": {"mood": {"type": "string"}}}'
    template = parse_template(f"---\nschema: {schema}\n---\n{{{{ t }}}}")
    record = Renderer(template, "anthropic.claude-3-haiku-20240307-v1:0").record(
        {"t": "great", "when": date(2026, 1, 2), "score": math.nan}, 1
    )
    prompt = record["modelInput"]["messages"][0]["content"][0]["text"]
    assert prompt.startswith("great") and '"mood"' in prompt and "JSON" in prompt
    assert record["columns"]["when"] == "2026-01-02" and record["columns"]["score"] is None
