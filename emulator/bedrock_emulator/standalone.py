"""The emulator as a process of its own: wall time, scaled, and a ticker so events fire between calls."""

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import botocore.session

from bedrock_emulator.engine import BedrockEmulator
from bedrock_emulator.faults import Faults
from bedrock_emulator.limits import LimitTable, ModelLimits
from bedrock_emulator.server import EmulatorServer

T = TypeVar("T")


class ScaledClock:
    """Wall time sped up: with scale 100, one real second is 100 simulated seconds."""

    def __init__(self, scale: float) -> None:
        if scale <= 0:
            raise ValueError("the time scale must be positive")
        self.scale = scale
        self._start_wall = time.monotonic()
        self._start = datetime.now(UTC)

    def now(self) -> datetime:
        return self._start + timedelta(seconds=(time.monotonic() - self._start_wall) * self.scale)


def serve(
    *,
    host: str,
    port: int,
    s3_endpoint_url: str | None,
    events_endpoint_url: str | None,
    region: str,
    quota: int,
    min_records: int,
    time_scale: float,
    seed: int,
    faults: dict[str, Any],
    verbose: bool,
) -> None:
    session = botocore.session.get_session()  # botocore alone: the emulator needs no boto3
    s3 = session.create_client("s3", endpoint_url=s3_endpoint_url, region_name=region)
    events = (
        session.create_client("events", endpoint_url=events_endpoint_url, region_name=region)
        if events_endpoint_url
        else None
    )
    emulator = BedrockEmulator(
        s3_client=s3,
        clock=ScaledClock(time_scale),
        region=region,
        limits=LimitTable(ModelLimits(concurrent_jobs=quota, min_records_per_job=min_records)),
        faults=Faults(**faults),
        seed=seed,
        events_client=events,
    )
    stop = threading.Event()  # set by nothing: the process runs until it is interrupted
    with EmulatorServer(emulator, host, port, quiet=not verbose) as server:
        print(f"Bedrock batch emulator listening on {server.url} (time x{time_scale:g}, quota {quota} per model)")
        print(f"  export AWS_ENDPOINT_URL_BEDROCK={server.url}")
        # Advance a few times per simulated phase so state-change events go out without anyone polling.
        while not stop.wait(0.1):
            emulator.advance()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch(port: int, s3_endpoint_url: str, *flags: str) -> subprocess.Popen[bytes]:
    """Starts ``python -m bedrock_emulator`` as a process of its own (for tests and benchmarks)."""
    command = [
        sys.executable,
        "-m",
        "bedrock_emulator",
        "--port",
        str(port),
        "--s3-endpoint-url",
        s3_endpoint_url,
        *flags,
    ]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=os.environ.copy())


def wait_until(check: Callable[[], T | None], seconds: float) -> T:
    """Polls a real process until ``check`` returns something (wall time is the point); bounded."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise TimeoutError(f"not reached within {seconds} s")


def wait_healthy(url: str, seconds: float = 30) -> None:
    """Waits for a starting emulator's admin health route to answer."""

    def healthy() -> bool:
        try:
            with urllib.request.urlopen(f"{url}/_emulator/health"):
                return True
        except OSError:
            return False

    wait_until(healthy, seconds)
