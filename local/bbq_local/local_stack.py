"""`bbq local up` / `bbq local down`: the whole stack on this machine as long-running services, for trying bbq on
your own files without an AWS account.

`up` starts one background process that runs moto's server (S3, DynamoDB, CloudFormation, SQS, EventBridge ...
on one port), deploys template.yaml into it, serves the Bedrock emulator, and runs the real handlers as AWS
would: ingest on each S3 event, the scheduler on its schedule and on Bedrock's events, the sweeper on its own.
Simulated time runs ``--time-scale`` times faster than the wall clock, so a job takes seconds. Point the AWS CLI
or boto3 at it (`--endpoint-url`, or the variables `up` prints), drop files, and watch with `bbq status --local`.
`down` stops it. Where it listens is kept in ~/.bbq/local.json (``BBQ_LOCAL_STATE`` to move it).
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bbq_local.commands import local_endpoint
from bbq_local.commands.stack import EXIT_ERROR, EXIT_OK, print_json

STACK = "bbq"
READY_SECONDS = 120


def add_parsers(local: Any) -> None:
    up_parser = local.add_parser("up", help="run the whole stack on this machine until `bbq local down`")
    up_parser.add_argument("--port", type=int, default=0, help="moto's port (default: a free one)")
    up_parser.add_argument("--quota", type=int, default=2, help="concurrent jobs per model (default 2)")
    up_parser.add_argument("--time-scale", type=float, default=60.0, help="simulated seconds per second (60)")
    up_parser.add_argument(
        "--param",
        action="append",
        default=[],
        type=_parameter,
        metavar="KEY=VALUE",
        help="a template parameter (AllowedModels=..., SmallWork=on-demand, ...); repeat for more",
    )
    up_parser.add_argument("--json", action="store_true", help="print where it listens as JSON")
    up_parser.set_defaults(func=up)
    down_parser = local.add_parser("down", help="stop the stack `bbq local up` started")
    down_parser.set_defaults(func=down)


def up(args: argparse.Namespace) -> int:
    state = local_endpoint.load()
    if state and alive(int(str(state["pid"]))):
        _tell(state, args.json, "already up")
        return EXIT_OK
    local_endpoint.forget()
    from bedrock_emulator.standalone import free_port  # here: `bbq --help` loads no emulator

    port = args.port or free_port()
    log = local_endpoint.STATE.with_suffix(".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    parameters = json.dumps(dict(args.param))
    command = [
        sys.executable, "-m", "bbq_local.local_stack", str(port), str(args.quota), str(args.time_scale), parameters
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        state = local_endpoint.load()
        if state and state.get("pid") == process.pid:
            _tell(state, args.json, "up")
            return EXIT_OK
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.terminate()
    tail = log.read_text(errors="replace")[-2000:]
    print(f"bbq local up: the stack did not start; its log ({log}) ends:\n{tail}", file=sys.stderr)
    return EXIT_ERROR


def down(args: argparse.Namespace) -> int:
    state = local_endpoint.load()
    if state is None:
        print("bbq local down: no local stack is up")
        return EXIT_OK
    pid = int(str(state["pid"]))
    if alive(pid):
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            if not alive(pid):
                break
            time.sleep(0.1)
    local_endpoint.forget()
    print("bbq local stack stopped")
    return EXIT_OK


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A child that exited but was not reaped yet still answers: look at its state.
    status = Path(f"/proc/{pid}/stat")
    return not (status.exists() and status.read_text().split()[2] == "Z")


def _tell(state: dict[str, Any], as_json: bool, what: str) -> None:
    if as_json:
        print_json(state)
        return
    exports = " ".join(f"{k}={v}" for k, v in local_endpoint.variables(state).items())
    print(
        f"bbq local stack {what} (pid {state['pid']}): AWS services at {state['aws_endpoint']}, "
        f"Bedrock at {state['bedrock_endpoint']}, time x{state['time_scale']}\n"
        f"  bucket {state['bucket']}, table {state['table']}\n\n"
        f"  export {exports}\n"
        f"  aws s3 cp calls.jsonl s3://{state['bucket']}/to-process/\n"
        f"  bbq status --local --watch 2\n"
        f"  bbq results --local calls.jsonl\n"
        f"  bbq local down"
    )


def _live_clock(time_scale: float) -> Any:
    """Scaled wall time for the pipeline: it moves by itself, so a step has nothing to advance."""
    from bedrock_emulator.standalone import ScaledClock

    class LiveClock(ScaledClock):
        def advance(self, seconds: float) -> Any:
            return self.now()

    return LiveClock(time_scale)


def _parameter(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r}: give a template parameter as Key=Value")
    from bbq_local.stack import load_template

    known = load_template()["Parameters"]
    if key not in known:
        raise argparse.ArgumentTypeError(f"{key!r} is not a template parameter; parameters: {', '.join(known)}")
    return key, value


def serve(port: int, quota: int, time_scale: float, parameters: dict[str, str] | None = None) -> None:
    """The background process: moto's server, the stack deployed in it, the emulator, the handlers on a loop."""
    from moto.server import ThreadedMotoServer

    endpoint = f"http://127.0.0.1:{port}"
    state: dict[str, object] = {"aws_endpoint": endpoint, "bedrock_endpoint": "", "region": "us-east-1"}
    os.environ.update({k: v for k, v in local_endpoint.variables(state).items() if "BEDROCK" not in k})
    os.environ.pop("AWS_ENDPOINT_URL_SERVICE_QUOTAS", None)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    from bbq_local.pipeline import LocalPipeline  # after the variables: Powertools reads them at import

    pipeline = LocalPipeline(
        quota=quota,
        stack_name=STACK,
        clock=_live_clock(time_scale),
        parameters={"LogLevel": "WARNING", **(parameters or {})},
    )
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: stopping.append(signum))
    local_endpoint.save(
        {
            **state,
            "pid": os.getpid(),
            "bedrock_endpoint": pipeline.server.url,
            "stack": STACK,
            "bucket": pipeline.bucket,
            "table": pipeline.table,
            "time_scale": time_scale,
        }
    )
    try:
        while not stopping:
            pipeline.step(0)  # whatever the scaled clock made due: uploads, Bedrock's events, schedules
            time.sleep(0.5)
    finally:
        pipeline.close()
        moto.stop()


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), json.loads(sys.argv[4]) if sys.argv[4:] else None)
