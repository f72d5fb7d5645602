"""Cold start of each Lambda handler: importing its module and building what its first invocation builds (the
settings, its adapters, and the boto3 clients a typical first invocation uses), each in a fresh interpreter, best
of N, beside `import boto3` in the same Python; and, once `make build` made the layer, `import boto3` from it
without bytecode, as on Lambda (its /opt is read-only: a layer without .pyc files is compiled at each cold
start). The floor is `import boto3`: no handler can start without it. Prints one JSON line; exits non-zero if a
handler does not import. Usage: python bench/cold_start_bench.py
"""

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# What each handler's first invocation builds, in wiring's words (functions/<name>/app.py), and the clients a
# typical first invocation uses (wiring makes a client when first used): an upload read and queued; a scheduled
# run that reconciles jobs in flight and reads limits; a join; a sweep.
FIRST_CALL = {
    "ingest": "wiring.store(s); wiring.objects(); wiring.limits(s)",
    "scheduler": "wiring.store(s); wiring.objects(); wiring.batch(s); wiring.limits(s); wiring.joins(s); "
    "wiring.on_demand(); wiring.quotas()",
    "results": "wiring.store(s); wiring.objects(); wiring.joins(s); wiring.file_events(s)",
    "sweeper": "wiring.store(s); wiring.objects(); wiring.limits(s)",
}
USED = {
    "ingest": ("dynamodb", "s3", "service-quotas"),
    "scheduler": ("dynamodb", "bedrock", "service-quotas"),
    "results": ("dynamodb", "s3", "events"),
    "sweeper": ("dynamodb", "s3"),
}
ENV = {
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "POWERTOOLS_SERVICE_NAME": "bbq",
    "POWERTOOLS_METRICS_NAMESPACE": "bbq",
    "JOBS_TABLE": "bbq-jobs",
    "MODEL_ID": "anthropic.claude-3-haiku-20240307-v1:0",
    "BATCH_ROLE_ARN": "arn:aws:iam::123456789012:role/bbq-batch",
    "JOB_NAME_PREFIX": "bbq0123456789abcdef0123456789abcdef",
    "JOIN_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/bbq-join",
    "BBQ_TRACING": "false",
}
CHILD = """
import time
start = time.perf_counter()
{imports}
imported = time.perf_counter()
{first_call}
called = time.perf_counter()
print(imported - start, called - imported)
"""


def timed(imports: str, first_call: str = "pass", path: str = "", compiled: bool = True) -> tuple[float, float]:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")}, **ENV, "PYTHONPATH": path}
    if not compiled:  # the built layer has no .pyc files; none are written (Lambda's /opt is read-only)
        env |= {"PYTHONDONTWRITEBYTECODE": "1"}
    code = CHILD.format(imports=imports, first_call=first_call)
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)
    if out.returncode:
        sys.exit(f"{imports!r} failed:\n{out.stderr[-2000:]}")
    first, second = out.stdout.split()
    return float(first), float(second)


def best(runs: int, *args: Any) -> tuple[float, float]:
    samples = [timed(*args) for _ in range(runs)]
    return min(s[0] for s in samples), min(s[1] for s in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="fresh interpreters per figure (the best counts)")
    args = parser.parse_args()
    boto3_s = best(args.runs, "import boto3")[0]
    layer = ROOT / ".aws-sam" / "build" / "BbqLayer" / "python"  # `make build`: arm64 wheels, pure Python loads
    layer_boto3_s = best(args.runs, "import boto3", "pass", str(layer), False)[0] if layer.is_dir() else None
    handlers = {}
    for name, first_call in FIRST_CALL.items():
        path = os.pathsep.join([str(ROOT / "functions" / name), str(ROOT / "layers" / "bbq")])
        call = (
            "from bbq import wiring\nfrom bbq.settings import Settings\nimport os\ns = Settings.from_env(os.environ)\n"
        )
        used = "".join(f"\nwiring.client({service!r}).meta" for service in USED[name])
        imported, called = best(args.runs, "import app", call + first_call.replace("; ", "\n") + used, path)
        handlers[name] = {
            "import_ms": round(imported * 1000),
            "first_call_ms": round(called * 1000),
            "import_over_boto3": round(imported / boto3_s, 2),
            "cold_start_over_boto3": round((imported + called) / boto3_s, 2),
        }
    print(
        json.dumps(
            {
                "bench": "cold_start",
                "python": sys.version.split()[0],
                "import_boto3_ms": round(boto3_s * 1000),
                # boto3 from the built layer, compiled at import as on Lambda when the layer ships no bytecode
                "layer_import_boto3_without_bytecode_ms": round(layer_boto3_s * 1000) if layer_boto3_s else None,
                "handlers": handlers,
            }
        )
    )


if __name__ == "__main__":
    main()
