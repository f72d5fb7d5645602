"""The IAM judge evaluates as IAM does (tests/pipeline/iam.py cites the pages), and the template gives IAM what
it needs: a judge that substituted variables IAM leaves as text would pass a policy that grants nothing."""

import json
from typing import Any

import pytest
from parliament import analyze_policy_string

from bbq_local.stack import translate_offline
from tests.pipeline import iam_lint
from tests.pipeline.iam import VERSION, Request, statement_allows

CONTEXT = {"aws:RequestedRegion": "eu-west-1", "aws:PrincipalAccount": "123456789012", "aws:username": "ana"}


def grant(resource: str, version: str | None = "2012-10-17", condition: dict[str, Any] | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": resource}
    if condition:
        statement["Condition"] = condition
    return {**statement, VERSION: version} if version else statement


def allows(statement: dict[str, Any], resource: str) -> bool:
    return statement_allows(statement, Request("s3:GetObject", resource, CONTEXT))


def test_a_documented_variable_after_the_fifth_colon_is_substituted_in_a_2012_policy() -> None:
    assert allows(grant("arn:aws:s3:::bucket/${aws:username}/*"), "arn:aws:s3:::bucket/ana/a.txt")
    assert not allows(grant("arn:aws:s3:::bucket/${aws:username}/*"), "arn:aws:s3:::bucket/bo/a.txt")


@pytest.mark.parametrize("version", [None, "2008-10-17"])
def test_without_version_2012_a_variable_is_literal_text(version: str | None) -> None:
    statement = grant("arn:aws:s3:::bucket/${aws:username}/*", version=version or "2008-10-17")
    assert not allows(statement, "arn:aws:s3:::bucket/ana/a.txt")
    # literally, as IAM would read it
    assert allows(statement, "arn:aws:s3:::bucket/${aws:username}/a.txt")


def test_a_variable_iam_does_not_define_never_matches() -> None:
    statement = grant("arn:aws:s3:::bucket/${aws:BucketOwnerName}/*")
    assert not allows(statement, "arn:aws:s3:::bucket/ana/a.txt")
    assert not allows(statement, "arn:aws:s3:::bucket/${aws:BucketOwnerName}/a.txt")


def test_a_variable_before_the_fifth_colon_never_matches() -> None:
    """What main had for AllowedModels: the Region and account parts of an ARN as variables."""
    statement = grant("arn:*:s3:${aws:RequestedRegion}:${aws:PrincipalAccount}:thing/x")
    assert not allows(statement, "arn:aws:s3:eu-west-1:123456789012:thing/x")


def test_a_variable_in_a_condition_value_is_substituted() -> None:
    condition = {"StringLike": {"aws:SourceArn": "arn:aws:sqs:${aws:RequestedRegion}:*:q"}}
    source = {**CONTEXT, "aws:SourceArn": "arn:aws:sqs:eu-west-1:1:q"}
    request = Request("s3:GetObject", "arn:aws:s3:::bucket/a", source)
    assert statement_allows(grant("arn:aws:s3:::bucket/*", condition=condition), request)
    assert not statement_allows(grant("arn:aws:s3:::bucket/*", version="2008-10-17", condition=condition), request)


def policy_documents(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        found = [value] if "Statement" in value else []
        return found + [doc for item in value.values() for doc in policy_documents(item)]
    if isinstance(value, list):
        return [doc for item in value for doc in policy_documents(item)]
    return []


@pytest.mark.parametrize("parameters", [{}, {"AllowedModels": "amazon.nova-micro-v1:0"}, {"ModelId": "us.x.y-v1:0"}])
def test_every_policy_document_the_stack_deploys_says_2012_10_17(parameters: dict[str, str]) -> None:
    documents = policy_documents(translate_offline(parameters)["Resources"])
    assert len(documents) >= 8
    assert all(doc.get("Version") == "2012-10-17" for doc in documents), [
        doc for doc in documents if doc.get("Version") != "2012-10-17"
    ]
    # and no policy variables at all: CloudFormation writes the stack's own Region and account instead
    assert "${aws:" not in str(documents)


def test_parliament_finds_nothing_unexplained_in_any_deployment() -> None:
    assert iam_lint.unexplained() == []


def test_parliament_explains_away_only_bedrock_alternatives() -> None:
    """A Bedrock action granted on something not Bedrock's is still a finding, and so is any other kind."""
    assert not iam_lint.is_explained(("d", "r", "RESOURCE_MISMATCH", "bedrock:InvokeModel", False))
    assert not iam_lint.is_explained(("d", "r", "RESOURCE_MISMATCH", "s3:GetObject", True))
    assert iam_lint.is_explained(("d", "r", "RESOURCE_MISMATCH", "bedrock:InvokeModel", True))
    wrong = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"}]}
    assert {f.issue for f in analyze_policy_string(json.dumps(wrong)).findings} == {"RESOURCE_STAR"}
