"""`make e2e-aws`'s code runs on every commit: the same checks on the local stack, where what it cannot answer
is skipped by name; without credentials, the real-account run says so in one line and does nothing."""

from pathlib import Path

import pytest

from bbq_local import e2e_aws


def test_the_smoke_test_passes_on_the_local_stack_and_names_what_it_skips(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert e2e_aws.main(["--local", "--wait", "--logs", str(tmp_path)]) == 0
    rows = {line.split("  ")[0]: line for line in capsys.readouterr().out.splitlines()}
    outcomes = {
        n: row for n, row in rows.items() if not n.startswith("e2e-aws") and (" passed " in row or " skipped " in row)
    }
    skipped = [name for name, row in outcomes.items() if " skipped " in row]
    assert skipped == [
        "the scheduler role may create a job on an AllowedModels id",
        "S3 sends .jsonl and .JSONL uploads under to-process/ to ingest",
    ]
    assert len(outcomes) == 7 and "e2e-aws: checks passed 5, failed 0, skipped 2" in rows


def test_without_credentials_it_skips_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    assert e2e_aws.main([]) == 0
    assert capsys.readouterr().out.startswith("e2e-aws: skipped: no AWS credentials")
