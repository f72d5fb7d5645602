"""What moto cannot show: the translated template's S3 notification, layers, IAM, DLQ and index."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from bbq_local.stack import ROOT, load_template, translate

DEFAULTS = {"ModelId": "anthropic.claude-3-haiku-20240307-v1:0"}


@pytest.fixture(scope="module")
def resources() -> Iterator[dict[str, Any]]:
    from moto import mock_aws

    with mock_aws():
        translated = translate(load_template(), DEFAULTS, boto3.client("iam", region_name="us-east-1"))
    yield translated["Resources"]


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def statements(resources: dict[str, Any], role: str) -> list[dict[str, Any]]:
    policies = resources[role]["Properties"].get("Policies", [])
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def actions(statement: dict[str, Any]) -> set[str]:
    value = statement["Action"]
    return {value} if isinstance(value, str) else set(value)


def test_uploads_under_to_process_trigger_the_ingest_function(resources: dict[str, Any]) -> None:
    notification = resources["Bucket"]["Properties"]["NotificationConfiguration"]
    (config,) = notification["LambdaConfigurations"]
    assert config["Event"] == "s3:ObjectCreated:*"
    assert config["Function"] == {"Fn::GetAtt": ["IngestFunction", "Arn"]}
    rules = {r["Name"]: r["Value"] for r in config["Filter"]["S3Key"]["Rules"]}
    assert rules == {"prefix": "to-process/", "suffix": ".jsonl"}
    permission = resources["IngestFunctionFileUploadedPermission"]["Properties"]
    assert permission["Principal"] == "s3.amazonaws.com"


def test_both_functions_run_python_313_on_the_shared_layer(resources: dict[str, Any]) -> None:
    (layer_id,) = of_type(resources, "AWS::Lambda::LayerVersion")
    functions = of_type(resources, "AWS::Lambda::Function")
    assert set(functions) == {"IngestFunction", "SchedulerFunction"}
    for function in functions.values():
        props = function["Properties"]
        assert props["Runtime"] == "python3.13"
        assert props["Layers"] == [{"Ref": layer_id}]
        assert props["TracingConfig"] == {"Mode": "Active"}
        assert props["Handler"] == "app.lambda_handler"


def test_ingest_failures_go_to_a_dead_letter_queue(resources: dict[str, Any]) -> None:
    ingest = resources["IngestFunction"]["Properties"]
    assert ingest["DeadLetterConfig"] == {"TargetArn": {"Fn::GetAtt": ["IngestDeadLetterQueue", "Arn"]}}
    (invoke_config,) = of_type(resources, "AWS::Lambda::EventInvokeConfig").values()
    assert invoke_config["Properties"]["MaximumRetryAttempts"] == 2


def test_the_scheduler_runs_alone_on_a_schedule_and_on_this_stacks_bedrock_events(resources: dict[str, Any]) -> None:
    assert resources["SchedulerFunction"]["Properties"]["ReservedConcurrentExecutions"] == 1
    rules = of_type(resources, "AWS::Events::Rule")
    schedule = next(r for r in rules.values() if "ScheduleExpression" in r["Properties"])
    assert schedule["Properties"]["ScheduleExpression"] == {"Ref": "ScheduleExpression"}
    bedrock = next(r for r in rules.values() if "EventPattern" in r["Properties"])["Properties"]["EventPattern"]
    assert bedrock["source"] == ["aws.bedrock"]
    assert bedrock["detail-type"] == ["Batch Inference Job State Change"]
    prefix = bedrock["detail"]["batchJobName"][0]["prefix"]
    env = resources["SchedulerFunction"]["Properties"]["Environment"]["Variables"]
    assert prefix["Fn::Sub"][0] == env["JOB_NAME_PREFIX"]["Fn::Sub"][0] + "-"
    assert prefix["Fn::Sub"][1] == env["JOB_NAME_PREFIX"]["Fn::Sub"][1]


def test_iam_gives_each_function_only_its_own_calls(resources: dict[str, Any]) -> None:
    for role in ("IngestFunctionRole", "SchedulerFunctionRole"):
        managed = resources[role]["Properties"]["ManagedPolicyArns"]
        assert set(managed) == {
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
        }
    ingest_actions = set().union(*(actions(s) for s in statements(resources, "IngestFunctionRole")))
    assert not any(a.startswith("bedrock:") for a in ingest_actions)
    assert {"s3:GetObject", "s3:PutObject", "dynamodb:PutItem"} <= ingest_actions

    scheduler = statements(resources, "SchedulerFunctionRole")
    bedrock = next(s for s in scheduler if "bedrock:CreateModelInvocationJob" in actions(s))
    assert actions(bedrock) == {
        "bedrock:CreateModelInvocationJob",
        "bedrock:GetModelInvocationJob",
        "bedrock:TagResource",
    }
    listing = next(s for s in scheduler if "bedrock:ListModelInvocationJobs" in actions(s))
    assert actions(listing) == {"bedrock:ListModelInvocationJobs"}
    pass_role = next(s for s in scheduler if "iam:PassRole" in actions(s))
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}
    assert not any(a.startswith("s3:") for s in scheduler for a in actions(s))


def test_the_batch_role_is_created_only_without_a_role_arn_and_trusts_bedrock(resources: dict[str, Any]) -> None:
    role = resources["BatchRole"]
    assert role["Condition"] == "CreateBatchRole"
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]
    granted = {a: s["Resource"]["Fn::Sub"][0] for s in statements(resources, "BatchRole") for a in actions(s)}
    assert set(granted) == {"s3:ListBucket", "s3:GetObject", "s3:PutObject"}
    assert granted["s3:GetObject"].endswith("/staged/*") and granted["s3:PutObject"].endswith("/processed/*")


def test_storage_is_private_versioned_and_recoverable(resources: dict[str, Any]) -> None:
    bucket = resources["Bucket"]
    assert bucket["DeletionPolicy"] == "Retain"
    props = bucket["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(props["PublicAccessBlockConfiguration"].values())
    table = resources["JobsTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    (index,) = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "StatusIndex"
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["Status", "CreatedAt"]


def test_parameters_and_outputs_the_readme_documents() -> None:
    template = load_template()
    assert {"ModelId", "RoleArn", "MaxConcurrentJobs", "ScheduleExpression", "JobTimeoutHours", "LogLevel"} <= set(
        template["Parameters"]
    )
    assert template["Parameters"]["ScheduleExpression"]["Default"] == "rate(15 minutes)"
    outputs = {"BucketName", "JobsTableName", "IngestFunctionName", "SchedulerFunctionName", "BatchRoleArn"}
    assert outputs <= set(template["Outputs"])
    readme = (ROOT / "README.md").read_text()
    for name in [*template["Parameters"], *template["Outputs"]]:
        assert f"`{name}`" in readme, f"README does not document {name}"


def test_every_trigger_has_a_sample_event() -> None:
    assert sorted(p.name for p in Path(ROOT / "events").glob("*.json")) == [
        "bedrock-state-change.json",
        "s3-put.json",
        "schedule.json",
    ]
