"""Where the stack of `bbq local up` listens: written by `up` to a state file, read by every `--local` command,
which then points boto3 at it with the AWS SDK's own endpoint variables."""

import json
import os
from pathlib import Path

STATE = Path(os.environ.get("BBQ_LOCAL_STATE", Path.home() / ".bbq" / "local.json"))


def save(state: dict[str, object]) -> None:
    STATE.parent.mkdir(parents=True, exist_ok=True)
    STATE.write_text(json.dumps(state, indent=2))


def load() -> dict[str, object] | None:
    return json.loads(STATE.read_text()) if STATE.exists() else None


def forget() -> None:
    STATE.unlink(missing_ok=True)


def use() -> dict[str, object]:
    from bbq_local.commands.stack import CommandError

    state = load()
    if state is None:
        raise CommandError("no local stack: start one with `bbq local up`")
    os.environ.update(variables(state))
    return state


def variables(state: dict[str, object]) -> dict[str, str]:
    """The environment that points the AWS CLI and boto3 at the local stack."""
    return {
        "AWS_ENDPOINT_URL": str(state["aws_endpoint"]),  # S3, DynamoDB, CloudFormation ... (moto's server)
        "AWS_ENDPOINT_URL_BEDROCK": str(state["bedrock_endpoint"]),
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": str(state["bedrock_endpoint"]),
        "AWS_ENDPOINT_URL_SERVICE_QUOTAS": str(state["bedrock_endpoint"]),
        "AWS_ACCESS_KEY_ID": "local",
        "AWS_SECRET_ACCESS_KEY": "local",
        "AWS_DEFAULT_REGION": str(state.get("region", "us-east-1")),
    }
