"""The Budgets port on the jobs table: one item per budget line (``budget#<owner>#day|month#<date>``) holding its
spent and reserved dollars; the tokens a model's settled jobs used go on its statistics item (``stats#<model>``,
beside its batch throughput).

A reservation is one TransactWriteItems: each line's charge added under a condition that keeps every limited line
within its limit, and the job item marked reserved under a condition that it was not (so a run that dies after it
never reserves twice). DynamoDB's conditions cannot add two attributes, so each line keeps ``Committed`` (spent +
reserved) beside the two, and the condition compares it with the limit less the charge. Settling is one
transaction too: the reservation taken back, the actual cost added, the job marked settled."""

from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from bbq.adapters.dynamodb.items import BUDGET, JOB, STATS, to_plain
from bbq.core.model.budgets import BudgetLine, Spend
from bbq.core.model.clock import iso
from bbq.core.model.jobs import Job
from bbq.core.model.ports import BudgetReservation
from bbq.core.model.states import JobStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

# DynamoDB cancels a transaction that conflicts with another in progress on one of its items (reason
# TransactionConflict, "Transactions and concurrency" in the DynamoDB developer guide); botocore does not retry it.
_CONFLICT_TRIES = 5


def dollars(value: float) -> dict[str, Any]:
    """A DynamoDB number of US dollars, to the microdollar (floats' binary noise never reaches the table)."""
    return {"N": str(Decimal(repr(round(value, 6) + 0.0)))}  # + 0.0: never "-0.0"


class DynamoBudgets:
    """Mixed into DynamoStore: its client, table and consistent batch reads."""

    _ddb: "DynamoDBClient"
    _table: str

    def _batch_get(self, prefix: str, ids: Sequence[str]) -> Iterator[dict[str, Any]]:
        raise NotImplementedError  # DynamoStore's: consistent BatchGetItem, 100 keys a call

    def spends(self, keys: Sequence[str]) -> dict[str, Spend]:
        found = {}
        for item in self._batch_get(BUDGET, keys):
            plain = to_plain(item)
            found[plain["Id"].removeprefix(BUDGET)] = Spend(
                float(plain.get("Spent", 0)), float(plain.get("Reserved", 0))
            )
        return found

    def model_tokens(self, model_id: str) -> tuple[int, int, int]:
        response = self._ddb.get_item(TableName=self._table, Key={"Id": {"S": STATS + model_id}})
        plain = to_plain(response.get("Item", {}))
        return int(plain.get("InputTokens", 0)), int(plain.get("OutputTokens", 0)), int(plain.get("StagedBytes", 0))

    def reserve_budget(self, job: Job, charges: Mapping[BudgetLine, float], at: datetime) -> BudgetReservation:
        actions: list[TransactWriteItemTypeDef] = []
        for line, charge in charges.items():
            update: dict[str, Any] = {
                "TableName": self._table,
                "Key": {"Id": {"S": BUDGET + line.key}},
                "UpdateExpression": f"ADD Reserved :c, Committed :c SET {_LINE_SET}, LimitUsd = :limit",
                "ExpressionAttributeNames": _LINE_NAMES,
                "ExpressionAttributeValues": {
                    ":c": dollars(charge),
                    ":limit": dollars(line.limit_usd) if line.limit_usd is not None else {"S": "none"},
                    **_line_values(line),
                },
            }
            if line.limit_usd is not None:
                room = line.limit_usd - charge
                if room < 0:
                    return BudgetReservation.REFUSED  # larger than the whole budget: nothing to write
                update["ConditionExpression"] = "attribute_not_exists(Committed) OR Committed <= :room"
                update["ExpressionAttributeValues"][":room"] = dollars(room)
            actions.append({"Update": update})  # type: ignore[typeddict-item]
        actions.append(
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {"Id": {"S": JOB + job.job_id}},
                    "UpdateExpression": "SET BudgetAt = :at, EstimatedCostUsd = :estimate",
                    "ConditionExpression": "#status = :pending AND attribute_not_exists(BudgetAt)",
                    "ExpressionAttributeNames": {"#status": "Status"},
                    "ExpressionAttributeValues": {
                        ":at": {"S": iso(at)},
                        ":estimate": dollars(job.estimated_cost_usd or 0.0),
                        ":pending": {"S": JobStatus.PENDING.value},
                    },
                }
            }
        )
        reasons = self._transact(actions)
        if reasons is None:
            return BudgetReservation.RESERVED
        if reasons[-1] == "ConditionalCheckFailed" or "TransactionConflict" in reasons:
            return BudgetReservation.TAKEN  # reserved already, or other runs kept writing its lines: a later run
        return BudgetReservation.REFUSED

    def settle_budget(
        self,
        job: Job,
        reserved: Mapping[BudgetLine, float],
        actual: Mapping[BudgetLine, float],
        tokens: tuple[int, int, int],
    ) -> bool:
        actions: list[TransactWriteItemTypeDef] = []
        for line in {**reserved, **actual}:
            held, cost = reserved.get(line, 0.0), actual.get(line, 0.0)
            actions.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"Id": {"S": BUDGET + line.key}},
                        "UpdateExpression": f"ADD Reserved :held, Spent :cost, Committed :delta SET {_LINE_SET}",
                        "ExpressionAttributeNames": _LINE_NAMES,
                        "ExpressionAttributeValues": {
                            ":held": dollars(-held),
                            ":cost": dollars(cost),
                            ":delta": dollars(cost - held),
                            **_line_values(line),
                        },
                    }
                }
            )
        if any(tokens):
            actions.append(
                {
                    "Update": {
                        "TableName": self._table,
                        "Key": {"Id": {"S": STATS + job.model_id}},
                        "UpdateExpression": "ADD InputTokens :in, OutputTokens :out, StagedBytes :bytes "
                        "SET Kind = :kind",
                        "ExpressionAttributeValues": {
                            ":in": {"N": str(tokens[0])},
                            ":out": {"N": str(tokens[1])},
                            ":bytes": {"N": str(tokens[2])},
                            ":kind": {"S": "stats"},
                        },
                    }
                }
            )
        actions.append(
            {
                "Update": {
                    "TableName": self._table,
                    "Key": {"Id": {"S": JOB + job.job_id}},
                    "UpdateExpression": "SET BudgetSettled = :yes",
                    "ConditionExpression": "attribute_exists(Id) AND attribute_not_exists(BudgetSettled)",
                    "ExpressionAttributeValues": {":yes": {"BOOL": True}},
                }
            }
        )
        reasons = self._transact(actions)
        if reasons is not None and reasons[-1] != "ConditionalCheckFailed":
            raise RuntimeError(f"settling job {job.job_id}'s spend was cancelled: {reasons}")  # the next run again
        return reasons is None

    def _transact(self, actions: list["TransactWriteItemTypeDef"]) -> list[str] | None:
        """None when written; else each action's cancellation reason. A transaction that met another one on the same
        budget line (TransactionConflict: overlapping runs settle and reserve at once) is tried again."""
        reasons: list[str] | None = None
        for _ in range(_CONFLICT_TRIES):
            try:
                self._ddb.transact_write_items(TransactItems=actions)
                return None
            except ClientError as exc:
                reasons = _cancellation_codes(exc)
                if reasons is None:
                    raise
                if "TransactionConflict" not in reasons:
                    break
        return reasons


# What a line item says of itself (for people and `bbq cost`), set by every write to it.
_LINE_SET = "Kind = :kind, #owner = :owner, #period = :period, Starts = :starts"
_LINE_NAMES = {"#owner": "Owner", "#period": "Period"}


def _line_values(line: BudgetLine) -> dict[str, Any]:
    return {
        ":kind": {"S": "budget"},
        ":owner": {"S": line.owner},
        ":period": {"S": line.period.value},
        ":starts": {"S": iso(line.starts)},
    }


def _cancellation_codes(exc: ClientError) -> list[str] | None:
    """Each action's reason code when a transaction was cancelled (DynamoDB lists one per action, in order,
    "None" for those that were fine); None for any other error."""
    if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return None
    reasons = exc.response.get("CancellationReasons") or []  # type: ignore[typeddict-item]
    return [str(reason.get("Code", "None")) for reason in reasons]
