"""Each model family's modelOutput has the real response body's shape; unfit records get error lines."""

import json
import math
from typing import Any

import boto3
import pytest
from bedrock_emulator import models as emulated
from botocore.exceptions import ClientError

from tests.conftest import REGION, claude_record, jsonl
from tests.emulator.helpers import create, run_to_end

TRANSCRIPT = (
    "Agent: Thank you for calling Acme Telecom. Customer: My internet has been down since Monday. "
    "Agent: I see an outage in your area affecting internet service. Customer: When will the internet be back? "
    "Agent: Engineers expect the outage fixed by Thursday. Agent: I will credit three days of service to your bill. "
    "Customer: Thanks, that helps."
)


def run_records(
    bedrock: Any, s3: Any, clock: Any, model_id: str, records: list[dict[str, Any]], **overrides: Any
) -> list[dict[str, Any]]:
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="in/x.jsonl", Body=jsonl(records))
    arn = create(bedrock, "s3://data/in/x.jsonl", modelId=model_id, **overrides)
    assert run_to_end(bedrock, clock, arn)[-1] == "Completed"
    body = s3.get_object(Bucket="data", Key=f"out/{arn.rsplit('/', 1)[1]}/x.jsonl.out")["Body"].read().decode()
    return sorted((json.loads(line) for line in body.splitlines()), key=lambda line: line["recordId"])


def records(make: Any, count: int = 100) -> list[dict[str, Any]]:
    return [{"recordId": f"R{i:05d}", "modelInput": make(i)} for i in range(count)]


def test_anthropic_messages(bedrock: Any, s3: Any, clock: Any) -> None:
    recs = [claude_record(i, TRANSCRIPT) for i in range(100)]
    recs[0]["modelInput"]["max_tokens"] = 5
    lines = run_records(bedrock, s3, clock, "us.anthropic.claude-3-5-haiku-20241022-v1:0", recs)
    short, full = lines[0]["modelOutput"], lines[1]["modelOutput"]
    assert set(full) == {"id", "type", "role", "model", "content", "stop_reason", "stop_sequence", "usage"}
    assert (full["type"], full["role"], full["stop_reason"]) == ("message", "assistant", "end_turn")
    text = full["content"][0]["text"]
    assert full["content"][0]["type"] == "text" and "outage" in text
    sentences = [s for s in text.split(". ") if s]
    assert len(sentences) == 3 and all(s.rstrip(".") in TRANSCRIPT for s in sentences), "extractive: taken verbatim"
    assert "Agent:" not in text, "speaker labels are left out"
    assert full["usage"]["output_tokens"] < full["usage"]["input_tokens"]
    assert short["stop_reason"] == "max_tokens" and short["usage"]["output_tokens"] == 5


def test_titan_embeddings_are_deterministic_vectors_of_the_asked_dimension(bedrock: Any, s3: Any, clock: Any) -> None:
    def embed(i: int) -> dict[str, Any]:
        return {"inputText": "same text" if i < 2 else f"text {i}", "dimensions": 256 if i == 3 else 1024}

    lines = run_records(bedrock, s3, clock, "amazon.titan-embed-text-v2:0", records(embed))
    first, second, third, small = (line["modelOutput"] for line in lines[:4])
    assert set(first) == {"embedding", "inputTextTokenCount"}
    assert first["embedding"] == second["embedding"] != third["embedding"]
    assert len(first["embedding"]) == 1024 and len(small["embedding"]) == 256
    assert math.isclose(math.sqrt(sum(v * v for v in first["embedding"])), 1.0, rel_tol=1e-4)
    assert first["inputTextTokenCount"] == 2


def test_nova_messages(bedrock: Any, s3: Any, clock: Any) -> None:
    def nova(i: int) -> dict[str, Any]:
        return {
            "system": [{"text": "You summarize calls."}],
            "messages": [{"role": "user", "content": [{"text": TRANSCRIPT}]}],
            "inferenceConfig": {"maxTokens": 300},
        }

    output = run_records(bedrock, s3, clock, "amazon.nova-lite-v1:0", records(nova))[0]["modelOutput"]
    assert output["output"]["message"]["role"] == "assistant"
    assert output["output"]["message"]["content"][0]["text"]
    assert output["stopReason"] == "end_turn"
    usage = output["usage"]
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]


def test_converse_jobs_return_converse_responses(bedrock: Any, s3: Any, clock: Any) -> None:
    def converse(i: int) -> dict[str, Any]:
        return {"messages": [{"role": "user", "content": [{"text": TRANSCRIPT}]}], "inferenceConfig": {"maxTokens": 64}}

    output = run_records(
        bedrock, s3, clock, "anthropic.claude-3-haiku-20240307-v1:0", records(converse), modelInvocationType="Converse"
    )[0]["modelOutput"]
    assert set(output) == {"output", "stopReason", "usage", "metrics"}
    assert set(output["usage"]) == {"inputTokens", "outputTokens", "totalTokens"}
    assert output["metrics"]["latencyMs"] > 0


def test_llama_generations(bedrock: Any, s3: Any, clock: Any) -> None:
    def llama(i: int) -> dict[str, Any]:
        return {"prompt": f"Summarize this call: {TRANSCRIPT}", "max_gen_len": 4 if i == 0 else 256}

    lines = run_records(bedrock, s3, clock, "us.meta.llama3-3-70b-instruct-v1:0", records(llama))
    short, full = lines[0]["modelOutput"], lines[1]["modelOutput"]
    assert set(full) == {"generation", "prompt_token_count", "generation_token_count", "stop_reason"}
    assert "outage" in full["generation"] and full["stop_reason"] == "stop"
    assert (short["stop_reason"], short["generation_token_count"]) == ("length", 4)


def test_mistral_chat_and_text_completions(bedrock: Any, s3: Any, clock: Any) -> None:
    def mistral(i: int) -> dict[str, Any]:
        if i == 0:
            return {"prompt": f"<s>[INST] Summarize: {TRANSCRIPT} [/INST]", "max_tokens": 200}
        return {"messages": [{"role": "user", "content": TRANSCRIPT}], "max_tokens": 200}

    lines = run_records(bedrock, s3, clock, "mistral.mistral-large-2407-v1:0", records(mistral))
    completion, chat = lines[0]["modelOutput"], lines[1]["modelOutput"]
    assert completion["outputs"][0]["stop_reason"] == "stop" and completion["outputs"][0]["text"]
    (choice,) = chat["choices"]
    assert choice["message"]["role"] == "assistant" and "outage" in choice["message"]["content"]
    assert chat["usage"]["total_tokens"] == chat["usage"]["prompt_tokens"] + chat["usage"]["completion_tokens"]


@pytest.mark.parametrize(
    ("model_id", "bad_input"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", {"inputText": "an embedding request"}),
        ("amazon.titan-embed-text-v2:0", {"inputText": "x", "dimensions": 300}),
        ("amazon.nova-lite-v1:0", {"messages": []}),
    ],
)
def test_records_that_do_not_fit_the_model_get_error_lines(
    bedrock: Any, s3: Any, clock: Any, emulator: Any, model_id: str, bad_input: dict[str, Any]
) -> None:
    good = {
        "anthropic.claude-3-haiku-20240307-v1:0": claude_record(0)["modelInput"],
        "amazon.titan-embed-text-v2:0": {"inputText": "fine"},
        "amazon.nova-lite-v1:0": {"messages": [{"role": "user", "content": [{"text": "hi there."}]}]},
    }[model_id]
    recs = records(lambda i: bad_input if i == 0 else good)
    lines = run_records(bedrock, s3, clock, model_id, recs)
    assert set(lines[0]) == {"recordId", "modelInput", "error"}
    assert lines[0]["error"]["errorCode"] == 400 and "Malformed input request" in lines[0]["error"]["errorMessage"]
    assert all("modelOutput" in line for line in lines[1:])
    job = emulator.jobs()[0]
    assert (job["successRecordCount"], job["errorRecordCount"]) == (99, 1)


def test_count_tokens_counts_what_invoke_would_charge_for_the_models_aws_lists_and_refuses_the_others(
    emulator_url: str,
) -> None:
    """CountTokens through an unmodified boto3 bedrock-runtime client: an InvokeModel body (a blob, base64 on the
    wire) or Converse messages; models outside AWS's list answer ValidationException."""
    runtime = boto3.client("bedrock-runtime", region_name=REGION, endpoint_url=emulator_url)
    sonnet = "anthropic.claude-3-5-sonnet-20240620-v1:0"
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": [{"type": "text", "text": "Summarize: the router blinks red."}]}],
    }
    counted = runtime.count_tokens(modelId=sonnet, input={"invokeModel": {"body": json.dumps(body)}})
    assert counted["inputTokens"] == emulated.invoke(sonnet, "InvokeModel", body).input_tokens > 0
    messages: Any = [{"role": "user", "content": [{"text": "Summarize: the router blinks red."}]}]
    conversed = runtime.count_tokens(modelId=sonnet, input={"converse": {"messages": messages}})
    assert conversed["inputTokens"] == emulated.invoke(sonnet, "Converse", {"messages": messages}).input_tokens
    for unlisted in ("anthropic.claude-3-haiku-20240307-v1:0", "amazon.nova-lite-v1:0", "us." + sonnet):
        with pytest.raises(ClientError) as refused:
            runtime.count_tokens(modelId=unlisted, input={"invokeModel": {"body": json.dumps(body)}})
        assert refused.value.response["Error"]["Code"] == "ValidationException"
