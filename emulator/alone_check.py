"""`make package-check`: the emulator installed on its own (botocore and nothing else) serves botocore's own
bedrock client. Run from a virtual environment holding only `pip install ./emulator`."""

import importlib.metadata
import sys
from datetime import UTC, datetime

import botocore.session
from bedrock_emulator import BedrockEmulator, EmulatorServer

FORBIDDEN = {"boto3", "werkzeug", "moto", "bbq-cli"}


class FixedClock:
    def now(self) -> datetime:
        return datetime(2026, 1, 1, tzinfo=UTC)


def main() -> int:
    installed = {dist.metadata["Name"].lower() for dist in importlib.metadata.distributions()}
    if extra := installed & FORBIDDEN:
        sys.exit(f"the emulator pulled in {sorted(extra)}; it depends on botocore only")
    session = botocore.session.get_session()
    session.set_credentials("x", "x")
    s3 = session.create_client("s3", region_name="us-east-1")
    with EmulatorServer(BedrockEmulator(s3_client=s3, clock=FixedClock())) as server:
        bedrock = session.create_client("bedrock", region_name="us-east-1", endpoint_url=server.url)
        jobs = bedrock.list_model_invocation_jobs()["invocationJobSummaries"]  # type: ignore[attr-defined]
    print(f"bedrock-emulator alone: {len(installed)} distributions, botocore's client listed {len(jobs)} jobs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
