"""`bbq quota`: per model, the slots bbq holds and each batch limit with its source (an applied quota, AWS's
default quota, or the stack's parameter)."""

import argparse
from typing import Any

from bbq.core.model.limits import ModelLimits
from bbq_local.commands.stack import EXIT_OK, Stack, add_stack_arguments, find, print_json, status_query


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("quota", help="per model: slots in use and the concurrent-job limit")
    add_stack_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    stack = find(args)
    rows = quotas(stack)
    if args.json:
        print_json(rows)
        return EXIT_OK
    table = Table(title=f"bbq stack {stack.name}: Bedrock batch limits per model, and where each came from")
    for column in ("model", "in use", "limit", "min records", "records/job", "records/file", "file GB", "job GB"):
        table.add_column(column)
    for row in rows:
        limits = row["limits"]
        table.add_row(
            row["model"],
            str(row["slotsInUse"]),
            *(str(limits[field]) for field in _FIELDS[:4]),
            *(f"{limits[field] / 10**9:g}" for field in _FIELDS[4:]),
        )
    Console().print(table)
    for row in rows:
        print(f"{row['model']}:")
        for field, source in row["sources"].items():
            print(f"  {field}: {source}")
    return EXIT_OK


_FIELDS = (
    "concurrent_jobs",
    "min_records_per_job",
    "max_records_per_job",
    "max_records_per_file",
    "max_file_bytes",
    "max_job_bytes",
)


def quotas(stack: Stack) -> list[dict[str, Any]]:
    """Per model the stack runs: slots in use, each limit, and its source (an applied quota, AWS's default
    quota, or the stack's parameter), as the scheduler reads them."""
    import boto3

    from bbq.adapters.service_quotas import ServiceQuotaLimits
    from bbq.core.model.clock import SystemClock

    fallback = _fallback(stack.parameters)
    described: Any = None
    if stack.parameters.get("UseServiceQuotas") != "false":
        described = ServiceQuotaLimits(boto3.client("service-quotas"), fallback, SystemClock()).describe
    models = [stack.parameters.get("ModelId", "")] + [
        m.strip() for m in stack.parameters.get("AllowedModels", "").split(",") if m.strip()
    ]
    held = {model: slots.in_use for model, slots in status_query(stack).slots().items()}
    rows = []
    for model in dict.fromkeys(m for m in models if m):
        limits, sources = described(model) if described else (fallback, {f: "stack parameter" for f in _FIELDS})
        rows.append(
            {
                "model": model,
                "slotsInUse": held.get(model, 0),
                "limit": limits.concurrent_jobs,
                "limits": vars(limits),
                "sources": {field: str(source) for field, source in sources.items()},
            }
        )
    return rows


def _fallback(parameters: dict[str, str]) -> ModelLimits:
    def number(name: str, default: int) -> int:
        return int(parameters.get(name) or default)

    return ModelLimits(
        concurrent_jobs=number("MaxConcurrentJobs", 20),
        min_records_per_job=number("MinRecordsPerJob", 100),
        max_records_per_job=number("MaxRecordsPerJob", 50_000),
        max_records_per_file=number("MaxRecordsPerFile", 50_000),
        max_file_bytes=number("MaxInputFileBytes", 10**9),
        max_job_bytes=number("MaxJobBytes", 5 * 10**9),
    )
