"""The budget transactions when DynamoDB cancels them for a conflict with another transaction on the same line
(reason TransactionConflict: overlapping scheduler runs reserve and settle at once). botocore does not retry a
cancelled transaction; the adapter does, and never takes a conflict for a full budget or a job settled already.
The answers are botocore's own shapes through its Stubber."""

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from bbq.adapters.dynamodb import DynamoStore
from bbq.core.model.budgets import BudgetLine, Period
from bbq.core.model.ports import BudgetReservation
from bbq.core.model.states import JobStatus
from tests.pipeline.test_adapters import full_job

DAY = datetime(2026, 3, 14, tzinfo=UTC)
LINE = BudgetLine("ads", Period.DAY, DAY, 10.0)


def cancelled(stubber: Stubber, *codes: str) -> None:
    stubber.add_client_error(
        "transact_write_items",
        service_error_code="TransactionCanceledException",
        service_message="Transaction cancelled, please refer cancellation reasons for specific reasons",
        http_status_code=400,
        modeled_fields={"CancellationReasons": [{"Code": code} for code in codes]},
    )


@pytest.fixture
def stubbed() -> Any:
    client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield DynamoStore(client, "jobs"), stubber


def test_a_reservation_that_met_another_transaction_is_tried_again(stubbed: Any) -> None:
    store, stubber = stubbed
    job = full_job("j1", ("f-p00001",), JobStatus.PENDING).with_changes(estimated_cost_usd=1.0)
    cancelled(stubber, "TransactionConflict", "None")
    stubber.add_response("transact_write_items", {})
    assert store.reserve_budget(job, {LINE: 1.0}, DAY) == BudgetReservation.RESERVED
    for _ in range(5):
        cancelled(stubber, "TransactionConflict", "None")
    assert store.reserve_budget(job, {LINE: 1.0}, DAY) == BudgetReservation.TAKEN, "not a full budget: a later run"
    cancelled(stubber, "ConditionalCheckFailed", "None")
    assert store.reserve_budget(job, {LINE: 1.0}, DAY) == BudgetReservation.REFUSED, "the line's limit"
    stubber.assert_no_pending_responses()


def test_a_settlement_that_met_another_transaction_is_tried_again_and_never_taken_for_done(stubbed: Any) -> None:
    store, stubber = stubbed
    job = full_job("j1", ("f-p00001",), JobStatus.COMPLETED)
    cancelled(stubber, "TransactionConflict", "None")
    stubber.add_response("transact_write_items", {})
    assert store.settle_budget(job, {LINE: 1.0}, {LINE: 0.5}, (10, 2, 40)) is True
    cancelled(stubber, "None", "ConditionalCheckFailed")
    assert store.settle_budget(job, {LINE: 1.0}, {LINE: 0.5}, (10, 2, 40)) is False, "settled already"
    for _ in range(5):
        cancelled(stubber, "TransactionConflict", "None")
    with pytest.raises(RuntimeError, match="cancelled"):  # the run logs it; the next run settles the job again
        store.settle_budget(job, {LINE: 1.0}, {LINE: 0.5}, (10, 2, 40))
