"""The ``bbq`` command: ``status``, ``submit``, ``results``, ``retry``, ``stop``, ``quota`` and ``cost`` against a
deployed stack (``--stack``) or the local one (``--local``); ``bbq local up|down|emulator|demo`` on this machine.
Exit codes: 0 done, 1 an error (said on stderr, with what to do), 2 a usage mistake, 3 not ready yet (results of
an upload that has not ended)."""

import argparse
import os
import sys

from bbq_local import local_stack
from bbq_local.commands import cost, quota, results, retry, status, stop, submit
from bbq_local.commands.stack import EXIT_ERROR, CommandError


def _emulator(args: argparse.Namespace) -> int:
    from bedrock_emulator.__main__ import main as serve_emulator  # the emulator's own command: its options

    return serve_emulator(args.options)


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

    emulator = local.add_parser(
        "emulator",
        help="serve the Bedrock batch emulator over HTTP (python -m bedrock_emulator; --help after it: its options)",
        add_help=False,
    )
    emulator.add_argument("options", nargs=argparse.REMAINDER)
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
    argv = sys.argv[1:] if argv is None else argv
    if argv[:2] == ["local", "emulator"]:  # the emulator's own command takes every option after it
        return _emulator(argparse.Namespace(options=argv[2:]))
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
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # never a traceback for people: the reason, and how to see more
        if os.environ.get("BBQ_DEBUG"):
            raise
        print(f"bbq {args.command}: {reason(exc)} (BBQ_DEBUG=1 shows the traceback)", file=sys.stderr)
        return EXIT_ERROR


def reason(exc: Exception) -> str:
    """What went wrong, in words: AWS's answer, a file the system refused, or the error itself."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and "Error" in response:  # botocore's ClientError, without importing botocore
        error = response["Error"]
        return f"AWS answered {error.get('Code')}: {error.get('Message')}"
    if type(exc).__name__ == "NoCredentialsError":
        return "no AWS credentials found: run `aws configure` or set AWS_PROFILE, or use --local"
    if isinstance(exc, OSError) and exc.strerror:
        return f"{exc.strerror}: {exc.filename}" if exc.filename else exc.strerror
    return f"{type(exc).__name__}: {exc}"


if __name__ == "__main__":
    sys.exit(main())
