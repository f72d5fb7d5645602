"""``python -m bedrock_emulator``: the emulator as a process of its own, on scaled wall time (``bbq local
emulator`` runs this too)."""

import argparse
import contextlib
import json
import sys

from bedrock_emulator.standalone import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bedrock_emulator", description="Serve the Bedrock batch emulator over HTTP.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    parser.add_argument("--s3-endpoint-url", help="S3 to read input from and write output to (e.g. a moto server)")
    parser.add_argument("--events-endpoint-url", help="EventBridge to put state-change events on (optional)")
    parser.add_argument("--region", default="us-east-1")
    parser.add_argument("--quota", type=int, default=10, help="concurrent jobs per model (default 10)")
    parser.add_argument("--min-records", type=int, default=100, help="minimum records per job (default 100)")
    parser.add_argument(
        "--time-scale",
        type=float,
        default=100.0,
        help="simulated seconds per wall second (default 100: a 150-record job ends in ~2.3 s)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed for ids, output order and injected faults")
    parser.add_argument("--faults", help='fault knobs as JSON, e.g. \'{"throttle": {"*": 0.1}}\'')
    parser.add_argument("--verbose", action="store_true", help="log every HTTP request")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        serve(
            host=args.host,
            port=args.port,
            s3_endpoint_url=args.s3_endpoint_url,
            events_endpoint_url=args.events_endpoint_url,
            region=args.region,
            quota=args.quota,
            min_records=args.min_records,
            time_scale=args.time_scale,
            seed=args.seed,
            faults=json.loads(args.faults) if args.faults else {},
            verbose=args.verbose,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
