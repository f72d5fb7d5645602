"""`bbq quota`: per model, the slots bbq holds and its limit (Service Quotas, else the stack's parameters)."""

import argparse
from typing import Any

import boto3
from rich.console import Console
from rich.table import Table

from bbq.adapters.service_quotas import ServiceQuotaLimits
from bbq.core.clock import SystemClock
from bbq.core.limits import ModelLimits
from bbq_local.commands.stack import EXIT_OK, Stack, add_stack_arguments, find, print_json, slots_in_use


def add_parser(commands: Any) -> None:
    parser = commands.add_parser("quota", help="per model: slots in use and the concurrent-job limit")
    add_stack_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    stack = find(args)
    rows = quotas(stack)
    if args.json:
        print_json(rows)
        return EXIT_OK
    table = Table(title=f"bbq stack {stack.name}: Bedrock batch slots")
    for column in ("model", "in use", "limit", "from"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["model"], str(row["slotsInUse"]), str(row["limit"]), row["source"])
    Console().print(table)
    return EXIT_OK


def quotas(stack: Stack) -> list[dict[str, Any]]:
    fallback = _fallback(stack.parameters)
    limits = ServiceQuotaLimits(boto3.client("service-quotas"), fallback, SystemClock())
    models = [stack.parameters.get("ModelId", "")] + [
        m.strip() for m in stack.parameters.get("AllowedModels", "").split(",") if m.strip()
    ]
    held = slots_in_use(stack)
    rows = []
    for model in dict.fromkeys(m for m in models if m):
        limit = limits.limits(model).concurrent_jobs
        source = "parameters" if stack.parameters.get("UseServiceQuotas") == "false" else "Service Quotas or parameters"
        rows.append({"model": model, "slotsInUse": held.get(model, 0), "limit": limit, "source": source})
    return rows


def _fallback(parameters: dict[str, str]) -> ModelLimits:
    def number(name: str, default: int) -> int:
        return int(parameters.get(name) or default)

    return ModelLimits(
        concurrent_jobs=number("MaxConcurrentJobs", 10),
        min_records_per_job=number("MinRecordsPerJob", 100),
        max_records_per_job=number("MaxRecordsPerJob", 50_000),
        max_records_per_file=number("MaxRecordsPerFile", 50_000),
        max_file_bytes=number("MaxInputFileBytes", 1024**3),
        max_job_bytes=number("MaxJobBytes", 5 * 1024**3),
    )
