"""Finding a deployed stack's places from its outputs; people's reads of its table go through its StatusQuery
(``status_query``), never raw items."""

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any

from bbq_sdk.stacks import StackInfo

from bbq_local.commands import local_endpoint

if TYPE_CHECKING:
    from bbq.adapters.dynamodb.status import DynamoStatus
    from bbq.core.model.files import InputFile

# boto3 and rich are imported where they are used, so that `bbq --help` answers without loading them.
EXIT_OK, EXIT_ERROR, EXIT_NOT_READY = 0, 1, 3


class CommandError(Exception):
    """What went wrong, said so that the user knows what to do; exit code 1."""


# The stack as the SDK finds it: the CLI is built on the SDK.
Stack = StackInfo


def add_stack_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--stack", default="bbq", help="the CloudFormation stack's name (default: bbq)")
    parser.add_argument("--local", action="store_true", help="the stack `bbq local up` runs on this machine")
    parser.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")


def find(args: argparse.Namespace) -> Stack:
    import boto3
    from bbq_sdk.stacks import StackNotFound, find_stack
    from botocore.exceptions import BotoCoreError

    if args.local:
        local_endpoint.use()
    try:
        return find_stack(boto3.client("cloudformation"), args.stack)
    except StackNotFound as exc:
        raise CommandError(f"{exc}: pass --stack <name>, or --local") from exc
    except BotoCoreError as exc:
        raise CommandError(f"cannot reach AWS: {exc}") from exc


def status_query(stack: Stack) -> "DynamoStatus":
    """The stack's read side for people: files as the core knows them (never raw items), an upload by its key
    with one Query, each model's slots in use."""
    import boto3

    from bbq.adapters.dynamodb.status import DynamoStatus

    return DynamoStatus(boto3.client("dynamodb"), stack.table)


def newest_upload(stack: Stack, key: str) -> "InputFile":
    """The newest upload of a key under to-process/ (the prefix may be left out)."""
    import unicodedata

    key = key if key.startswith("to-process/") else f"to-process/{key}"
    query = status_query(stack)
    # A key typed on a Mac (NFD) and the same key uploaded from elsewhere (NFC) look alike: try both forms.
    forms = dict.fromkeys([key, unicodedata.normalize("NFC", key), unicodedata.normalize("NFD", key)])
    found = next((upload for form in forms if (upload := query.newest_upload(form)) is not None), None)
    if found is None:
        raise CommandError(f"no upload {key!r} in stack {stack.name}: see `bbq status`")
    return found


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, default=str)
    sys.stdout.write("\n")
