"""Finding a deployed stack's places from its outputs, and reading its table for people (a Scan is fine here:
the pipeline itself never scans)."""

import argparse
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from bbq_local.commands import local_endpoint

# boto3 and rich are imported where they are used, so that `bbq --help` answers without loading them.
EXIT_OK, EXIT_ERROR, EXIT_NOT_READY = 0, 1, 3


class CommandError(Exception):
    """What went wrong, said so that the user knows what to do; exit code 1."""


@dataclass(frozen=True)
class Stack:
    name: str
    outputs: dict[str, str]
    parameters: dict[str, str]

    @property
    def bucket(self) -> str:
        return self.outputs["BucketName"]

    @property
    def table(self) -> str:
        return self.outputs["JobsTableName"]


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="bbq", help="the CloudFormation stack's name (default: bbq)")
    parser.add_argument("--local", action="store_true", help="the stack `bbq local up` runs on this machine")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")


def find(args: argparse.Namespace) -> Stack:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    if args.local:
        local_endpoint.use()
    try:
        stacks = boto3.client("cloudformation").describe_stacks(StackName=args.stack)["Stacks"]
    except ClientError as exc:
        raise CommandError(
            f"no stack {args.stack!r} here ({exc.response['Error']['Message']}): pass --stack <name>, or --local"
        ) from exc
    except BotoCoreError as exc:
        raise CommandError(f"cannot reach AWS: {exc}") from exc
    stack = stacks[0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack.get("Parameters", [])}
    if "JobsTableName" not in outputs:
        raise CommandError(f"stack {args.stack!r} has no JobsTableName output: is it a bbq stack?")
    return Stack(args.stack, outputs, parameters)


def _scan(stack: Stack, condition: str, value: str) -> Iterator[dict[str, Any]]:
    """The table's items matching ``condition`` on ``:value`` (a whole-table read: these are people's views)."""
    import boto3

    pages = (
        boto3.client("dynamodb")
        .get_paginator("scan")
        .paginate(
            TableName=stack.table,
            FilterExpression=condition,
            ExpressionAttributeValues={":value": {"S": value}},
        )
    )
    for page in pages:
        yield from page["Items"]


def items(stack: Stack, kind: str) -> Iterator[dict[str, Any]]:
    from boto3.dynamodb.types import TypeDeserializer

    deserialize = TypeDeserializer().deserialize
    for item in _scan(stack, "Kind = :value", kind):
        yield {name: _plain(deserialize(value)) for name, value in item.items()}


def _plain(value: Any) -> Any:
    """DynamoDB's Decimals as ints or floats, so that JSON and tables show plain numbers."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def newest_upload(stack: Stack, key: str) -> dict[str, Any]:
    """The newest upload of a key under to-process/ (the prefix may be left out): one Query of KeyIndex."""
    import boto3
    from boto3.dynamodb.types import TypeDeserializer

    key = key if key.startswith("to-process/") else f"to-process/{key}"
    found = boto3.client("dynamodb").query(
        TableName=stack.table,
        IndexName="KeyIndex",
        KeyConditionExpression="SourceKey = :key",
        ExpressionAttributeValues={":key": {"S": key}},
        ScanIndexForward=False,  # newest first
        Limit=1,
    )["Items"]
    if not found:
        raise CommandError(f"no upload {key!r} in stack {stack.name}: see `bbq status`")
    deserialize = TypeDeserializer().deserialize
    return {name: _plain(deserialize(value)) for name, value in found[0].items()}


def slots_in_use(stack: Stack) -> dict[str, int]:
    """Per model, the jobs holding one of bbq's slots (its ledger item)."""
    return {
        item["Id"]["S"].removeprefix("slots#"): len(item.get("Holders", {}).get("M", {}))
        for item in _scan(stack, "begins_with(Id, :value)", "slots#")
    }


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
