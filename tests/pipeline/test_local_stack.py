"""`bbq local up` as a user runs it: a real background process; the AWS CLI uploads a file to it, `bbq status
--local` watches it end, `bbq results --local` fetches the joined results, `bbq local down` stops it. This test
polls a real process on wall time (simulated time runs 300 times faster there), like the standalone emulator's."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from bbq_local.local_stack import alive
from tests.conftest import claude_record, jsonl

BIN = Path(sys.executable).parent


def run(args: list[str], env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=timeout, check=False)


def bbq_json(args: list[str], env: dict[str, str]) -> Any:
    done = run([str(BIN / "bbq"), *args, "--local", "--json"], env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**clean, "BBQ_LOCAL_STATE": str(tmp_path / "state" / "local.json"), "HOME": str(tmp_path)}


def test_local_up_runs_a_users_file_and_down_stops_it(env: dict[str, str], tmp_path: Path) -> None:
    embeddings = "amazon.titan-embed-text-v2:0"  # any template parameter can be set: here a second model
    up = run(
        [str(BIN / "bbq"), "local", "up", "--time-scale", "300", "--param", f"AllowedModels={embeddings}", "--json"],
        env,
        timeout=150,
    )
    assert up.returncode == 0, up.stderr
    state = json.loads(up.stdout)
    try:
        upload = tmp_path / "calls.jsonl"
        upload.write_bytes(jsonl([claude_record(i) for i in range(150)]))
        aws_env = {
            **env,
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        copied = run(
            [str(BIN / "aws"), "--endpoint-url", state["aws_endpoint"], "s3", "cp", str(upload),
             f"s3://{state['bucket']}/to-process/calls.jsonl"],
            aws_env,
        )  # fmt: skip
        assert copied.returncode == 0, copied.stderr
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            files = bbq_json(["status"], env)["files"]
            if files and files[0]["status"] == "Completed":
                break
            time.sleep(1)
        assert [(f["key"], f["status"], f["done"]) for f in files] == [("to-process/calls.jsonl", "Completed", 150)]
        saved = bbq_json(["results", "calls.jsonl", "--out", str(tmp_path / "out")], env)
        results = Path(saved["saved"][0]).read_text().splitlines()
        assert [json.loads(r)["recordId"] for r in results] == [claude_record(i)["recordId"] for i in range(150)]
        # The SDK as a notebook uses it: a DataFrame and a template in, a DataFrame out (its own process).
        script = Path(__file__).parents[1] / "sdk_scripts" / "dataframe_round_trip.py"
        sdk = run([sys.executable, str(script)], env, timeout=200)
        assert sdk.returncode == 0, sdk.stderr
        assert "sdk round trip: 120 rows, status Completed" in sdk.stdout
        assert embeddings in sdk.stdout.split("models: ", 1)[1], "the --param reached the stack"
    finally:
        down = run([str(BIN / "bbq"), "local", "down"], env)
    assert down.returncode == 0 and not Path(env["BBQ_LOCAL_STATE"]).exists()
    assert not alive(state["pid"]), "the background process is gone (a zombie waiting for init counts as gone)"
