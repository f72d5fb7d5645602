"""The ``bbq`` command: ``status``, ``submit``, ``results``, ``retry``, ``stop``, ``quota`` and ``cost`` against a
deployed stack (``--stack``) or the local one (``--local``); ``bbq local up|down|emulator|demo`` on this machine.
Exit codes: 0 done, 1 an error (said on stderr, with what to do), 2 a usage mistake, 3 not ready yet (results of
an upload that has not ended)."""

import argparse
import contextlib
import json
import sys

from bbq_local import local_stack
from bbq_local.commands import cost, quota, results, retry, status, stop, submit
from bbq_local.commands.stack import EXIT_ERROR, CommandError


def _emulator(args: argparse.Namespace) -> int:
    from bbq_local.emulator.standalone import serve

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


def _demo(args: argparse.Namespace) -> int:
    from bbq_local.demo import run_demo

    return run_demo(files=args.files, records=args.records, quota=args.quota, output_dir=args.output_dir)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bbq-cli")
    except PackageNotFoundError:  # run from the source tree without installing it
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="bbq", description="Bedrock Batch Queue tools.")
    parser.add_argument("--version", action="version", version=f"bbq {_version()}")
    commands = parser.add_subparsers(dest="command", required=True)
    local = commands.add_parser("local", help="run bbq pieces on this machine").add_subparsers(
        dest="what", required=True
    )

    emulator = local.add_parser("emulator", help="serve the Bedrock batch emulator over HTTP")
    emulator.add_argument("--host", default="127.0.0.1")
    emulator.add_argument("--port", type=int, default=5055)
    emulator.add_argument("--s3-endpoint-url", help="S3 to read input from and write output to (e.g. a moto server)")
    emulator.add_argument("--events-endpoint-url", help="EventBridge to put state-change events on (optional)")
    emulator.add_argument("--region", default="us-east-1")
    emulator.add_argument("--quota", type=int, default=10, help="concurrent jobs per model (default 10)")
    emulator.add_argument("--min-records", type=int, default=100, help="minimum records per job (default 100)")
    emulator.add_argument(
        "--time-scale",
        type=float,
        default=100.0,
        help="simulated seconds per wall second (default 100: a 150-record job ends in ~2.3 s)",
    )
    emulator.add_argument("--seed", type=int, default=0, help="seed for ids, output order and injected faults")
    emulator.add_argument("--faults", help='fault knobs as JSON, e.g. \'{"throttle": {"*": 0.1}}\'')
    emulator.add_argument("--verbose", action="store_true", help="log every HTTP request")
    emulator.set_defaults(func=_emulator)

    demo = local.add_parser("demo", help="run the whole pipeline locally on generated call transcripts")
    demo.add_argument("--files", type=int, default=5)
    demo.add_argument("--records", type=int, default=300)
    demo.add_argument("--quota", type=int, default=2, help="concurrent jobs per model in the demo (default 2)")
    demo.add_argument("--output-dir", default="demo-output")
    demo.set_defaults(func=_demo)
    local_stack.add_parsers(local)
    for command in (status, submit, results, retry, stop, quota, cost):
        command.add_parser(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except CommandError as exc:
        print(f"bbq {args.command}: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except ModuleNotFoundError as exc:  # `bbq local ...` without the dev tooling installed
        print(
            f"bbq {args.command}: needs {exc.name}, part of the dev tooling: in a clone of the repository, "
            "`make install` (or `pip install '.[local]'`)",
            file=sys.stderr,
        )
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
