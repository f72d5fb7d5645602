"""What moto cannot show: the translated template's S3 notification, layers, IAM, DLQ and index."""

import json
import re
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
    suffixes = set()
    for config in notification["LambdaConfigurations"]:
        assert config["Event"] == "s3:ObjectCreated:*"
        assert config["Function"] == {"Fn::GetAtt": ["IngestFunction", "Arn"]}
        rules = {r["Name"]: r["Value"] for r in config["Filter"]["S3Key"]["Rules"]}
        assert rules["prefix"] == "to-process/"
        suffixes.add(rules["suffix"])
    assert suffixes == {".jsonl", ".JSONL"}, "S3's suffix filter is case-sensitive"
    permission = resources["IngestFunctionFileUploadedPermission"]["Properties"]
    assert permission["Principal"] == "s3.amazonaws.com"


def test_every_function_runs_python_313_on_the_shared_layer(resources: dict[str, Any]) -> None:
    (layer_id,) = of_type(resources, "AWS::Lambda::LayerVersion")
    functions = of_type(resources, "AWS::Lambda::Function")
    assert set(functions) == {"IngestFunction", "SchedulerFunction", "SweeperFunction"}
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


def test_the_scheduler_runs_on_a_schedule_and_on_this_stacks_bedrock_events(resources: dict[str, Any]) -> None:
    # No reservation unless asked: it rolls the stack back on accounts with little unreserved concurrency.
    assert resources["SchedulerFunction"]["Properties"]["ReservedConcurrentExecutions"] == {
        "Fn::If": ["ReserveSchedulerConcurrency", {"Ref": "SchedulerReservedConcurrency"}, {"Ref": "AWS::NoValue"}]
    }
    assert load_template()["Parameters"]["SchedulerReservedConcurrency"]["Default"] == ""
    rules = of_type(resources, "AWS::Events::Rule")
    schedule = next(r for r in rules.values() if "ScheduleExpression" in r["Properties"])
    assert schedule["Properties"]["ScheduleExpression"] == {"Ref": "ScheduleExpression"}
    patterns = [r["Properties"]["EventPattern"] for r in rules.values() if "EventPattern" in r["Properties"]]
    bedrock = next(p for p in patterns if p["source"] == ["aws.bedrock"])
    assert bedrock["source"] == ["aws.bedrock"]
    assert bedrock["detail-type"] == ["Batch Inference Job State Change"]
    prefix = bedrock["detail"]["batchJobName"][0]["prefix"]
    env = resources["SchedulerFunction"]["Properties"]["Environment"]["Variables"]
    assert prefix["Fn::Sub"][0] == env["JOB_NAME_PREFIX"]["Fn::Sub"][0] + "-"
    assert prefix["Fn::Sub"][1] == env["JOB_NAME_PREFIX"]["Fn::Sub"][1]


def test_iam_gives_each_function_only_its_own_calls(resources: dict[str, Any]) -> None:
    for role in ("IngestFunctionRole", "SchedulerFunctionRole", "SweeperFunctionRole"):
        managed = resources[role]["Properties"]["ManagedPolicyArns"]
        assert set(managed) == {
            "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
            "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
        }
    ingest_actions = set().union(*(actions(s) for s in statements(resources, "IngestFunctionRole")))
    assert not any(a.startswith("bedrock:") for a in ingest_actions)
    # ListBucket makes S3 answer 404, not 403, for a deleted upload; no tagging: the staged copy drops tags.
    assert {"s3:GetObject", "s3:PutObject", "s3:ListBucket", "dynamodb:PutItem"} <= ingest_actions
    assert "servicequotas:ListServiceQuotas" in ingest_actions
    assert not any("Tagging" in a for a in ingest_actions)

    scheduler = statements(resources, "SchedulerFunctionRole")
    bedrock = next(s for s in scheduler if "bedrock:CreateModelInvocationJob" in actions(s))
    assert actions(bedrock) == {
        "bedrock:CreateModelInvocationJob",
        "bedrock:GetModelInvocationJob",
        "bedrock:StopModelInvocationJob",
        "bedrock:TagResource",
    }
    listing = next(s for s in scheduler if "bedrock:ListModelInvocationJobs" in actions(s))
    assert actions(listing) == {"bedrock:ListModelInvocationJobs"}
    pass_role = next(s for s in scheduler if "iam:PassRole" in actions(s))
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}}
    # S3: copies of staged parts for packed jobs; results of on-demand records beside batch results; outputs read
    # back; the records of a part that go again or failed for good.
    s3 = {
        (a, resource["Fn::Sub"][0].rsplit("}", 1)[1])
        for s in scheduler
        for a in actions(s)
        if a.startswith("s3:")
        for resource in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
    }
    writes = {"s3:PutObject", "s3:AbortMultipartUpload"}
    assert s3 == {
        ("s3:GetObject", "/staged/*"),
        ("s3:GetObject", "/processed/*"),
        *((a, place) for a in writes for place in ("/staged/jobs/*", "/processed/*", "/staged/retries/*")),
        *((a, "/staged/failures/*") for a in writes),
    }
    sweeper = set().union(*(actions(s) for s in statements(resources, "SweeperFunctionRole")))
    assert "s3:ListBucketVersions" in sweeper and not any(a.startswith("bedrock:") for a in sweeper)


def test_files_that_end_are_told_on_the_topic_and_alarms_watch_what_goes_wrong(resources: dict[str, Any]) -> None:
    rule = resources["FileEndedRule"]["Properties"]
    assert rule["EventPattern"]["source"] == ["bbq"]
    assert rule["EventPattern"]["detail"] == {"stack": [{"Ref": "AWS::StackName"}]}
    assert rule["Targets"] == [{"Id": "topic", "Arn": {"Ref": "NotificationTopic"}}]
    policy = resources["NotificationTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert {s["Principal"]["Service"] for s in policy} == {"events.amazonaws.com", "cloudwatch.amazonaws.com"}
    assert resources["NotificationSubscription"]["Condition"] == "HasNotificationEmail"
    scheduler = statements(resources, "SchedulerFunctionRole")
    assert any(actions(s) == {"events:PutEvents"} for s in scheduler)
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    assert set(alarms) == {"FailedJobsAlarm", "DeadLetterAlarm", "QueueNotMovingAlarm", "FunctionErrorsAlarm"}
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": "NotificationTopic"}] for a in alarms.values())
    watched = json.dumps(alarms)
    for metric in ("JobsFailed", "ApproximateNumberOfMessagesVisible", "ModelsWaitingTooLong", "JobsPastTimeout"):
        assert metric in watched
    assert all("Function}" in json.dumps(resources[f"{name}LogGroup"]) for name in ("Ingest", "Scheduler", "Sweeper"))
    assert all(
        resources[f"{name}LogGroup"]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        for name in ("Ingest", "Scheduler", "Sweeper")
    )
    body = resources["Dashboard"]["Properties"]["DashboardBody"]["Fn::Sub"][0]
    widgets = json.loads(re.sub(r"\$\{[^}]+\}", "x", body))["widgets"]  # each ${...} as a plain string
    titles = {w["properties"]["title"] for w in widgets}
    assert {"Jobs", "Tokens", "Slots in use per model", "Alarms"} <= titles


def test_the_batch_role_is_created_only_without_a_role_arn_and_trusts_bedrock(resources: dict[str, Any]) -> None:
    role = resources["BatchRole"]
    assert role["Condition"] == "CreateBatchRole"
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]
    granted = {
        a: s["Resource"]["Fn::Sub"][0]
        for s in statements(resources, "BatchRole")
        if "Action" in s and not str(s["Action"]).startswith("bedrock:")
        for a in actions(s)
    }
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
    indexes = {i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]] for i in table["GlobalSecondaryIndexes"]}
    assert indexes == {"QueueIndex": ["Queue", "QueueOrder"], "StatusIndex": ["Status", "CreatedAt"]}


def test_parameters_and_outputs_the_readme_documents() -> None:
    template = load_template()
    assert {"ModelId", "RoleArn", "MaxConcurrentJobs", "ScheduleExpression", "JobTimeoutHours", "LogLevel"} <= set(
        template["Parameters"]
    )
    assert template["Parameters"]["ScheduleExpression"]["Default"] == "rate(15 minutes)"
    outputs = {
        "BucketName",
        "JobsTableName",
        "IngestFunctionName",
        "SchedulerFunctionName",
        "SweeperFunctionName",
        "BatchRoleArn",
    }
    assert outputs <= set(template["Outputs"])
    readme = (ROOT / "README.md").read_text()
    for name in [*template["Parameters"], *template["Outputs"]]:
        assert f"`{name}`" in readme, f"README does not document {name}"


def test_every_trigger_has_a_sample_event() -> None:
    assert sorted(p.name for p in Path(ROOT / "events").glob("*.json")) == [
        "bedrock-state-change.json",
        "s3-put.json",
        "schedule.json",
        "sweep-schedule.json",
    ]


def resolve(value: Any, parameters: dict[str, str], conditions: dict[str, bool]) -> Any:
    """Evaluates the intrinsic functions the template's IAM uses, as CloudFormation would for these parameters."""
    if isinstance(value, list):
        return [v for v in (resolve(item, parameters, conditions) for item in value) if v is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) != 1 or not next(iter(value)).startswith(("Fn::", "Ref", "Condition")):
        return {k: resolve(v, parameters, conditions) for k, v in value.items()}
    ((function, argument),) = value.items()
    if function == "Ref":
        return NO_VALUE if argument == "AWS::NoValue" else parameters.get(argument, f"<{argument}>")
    if function == "Condition":
        return conditions[argument]
    if function == "Fn::If":
        name, when_true, when_false = argument
        return resolve(when_true if conditions[name] else when_false, parameters, conditions)
    if function == "Fn::Sub":
        text, names = (argument, {}) if isinstance(argument, str) else argument
        names = {k: resolve(v, parameters, conditions) for k, v in names.items()}
        return re.sub(r"\$\{([^}]+)\}", lambda m: str({**parameters, **names}[m.group(1)]), text)
    if function == "Fn::Split":
        delimiter, source = argument
        return resolve(source, parameters, conditions).split(delimiter)
    if function == "Fn::Select":
        index, items = argument
        return resolve(items, parameters, conditions)[int(index)]
    if function == "Fn::Join":
        delimiter, items = argument
        return delimiter.join(resolve(items, parameters, conditions))
    if function == "Fn::Equals":
        left, right = (resolve(v, parameters, conditions) for v in argument)
        return left == right
    if function == "Fn::Not":
        return not resolve(argument[0], parameters, conditions)
    if function == "Fn::And":
        return all(resolve(v, parameters, conditions) for v in argument)
    if function == "Fn::Or":
        return any(resolve(v, parameters, conditions) for v in argument)
    if function == "Fn::GetAtt":
        return f"<{'.'.join(argument)}>"
    raise AssertionError(f"unhandled {function}")


NO_VALUE = object()
STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/bbq/1b9a1f30-c8a2-11f0-9c11-0a1b2c3d4e5f"


def deployed_policies(model_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The scheduler's and the batch role's statements as CloudFormation would create them for ``model_id``."""
    template = load_template()
    with __import__("moto").mock_aws():
        translated = translate(template, {"ModelId": model_id}, boto3.client("iam", region_name="us-east-1"))
    parameters = {name: p.get("Default", "") for name, p in template["Parameters"].items()}
    parameters.update(
        {"ModelId": model_id, "AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"}
    )
    parameters["AWS::StackId"] = STACK_ID
    conditions: dict[str, bool] = {}
    for name, body in translated["Conditions"].items():  # in order: later conditions use earlier ones
        conditions[name] = resolve(body, parameters, conditions)
    resources = translated["Resources"]
    return (
        resolve(statements(resources, "SchedulerFunctionRole"), parameters, conditions),
        resolve(statements(resources, "BatchRole"), parameters, conditions),
    )


def invoke_statements(batch_role: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s for s in batch_role if "bedrock:InvokeModel" in actions(s)]


@pytest.mark.parametrize(
    ("model_id", "invoked"),
    [
        (
            "us.anthropic.claude-3-5-haiku-20241022-v1:0",
            "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/us.anthropic.claude-3-5-haiku-20241022-v1:0",
        ),
        (
            "global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0",
        ),
        (
            "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/abc123def456",
            "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/abc123def456",
        ),
    ],
)
def test_an_inference_profile_may_be_invoked_with_its_models_in_every_region(model_id: str, invoked: str) -> None:
    scheduler, batch_role = deployed_policies(model_id)
    direct, routed = invoke_statements(batch_role)
    assert direct["Resource"] == invoked
    # the profile's foundation models, in whichever Region it routes to, and only through this profile
    assert routed["Resource"] == "arn:aws:bedrock:*::foundation-model/*"
    assert routed["Condition"] == {"StringEquals": {"bedrock:InferenceProfileArn": invoked}}
    create = next(s for s in scheduler if "bedrock:CreateModelInvocationJob" in actions(s))
    assert invoked in create["Resource"]


def test_a_foundation_model_id_is_invoked_in_the_stacks_region_only() -> None:
    scheduler, batch_role = deployed_policies("anthropic.claude-3-haiku-20240307-v1:0")
    (direct,) = invoke_statements(batch_role)
    assert direct["Resource"] == "arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
    assert "Condition" not in direct


def test_names_are_unique_per_stack_and_within_limits() -> None:
    template = load_template()
    parameters = {"AWS::StackId": STACK_ID, "AWS::AccountId": "123456789012", "AWS::Region": "eu-west-1"}
    bucket = resolve(template["Resources"]["Bucket"]["Properties"]["BucketName"], parameters, {})
    assert bucket == "bbq-123456789012-1b9a1f30-c8a2-11f0-9c11-0a1b2c3d4e5f" and len(bucket) <= 63
    prefix = resolve(template["Globals"]["Function"]["Environment"]["Variables"]["JOB_NAME_PREFIX"], parameters, {})
    assert prefix == "bbq1b9a1f30c8a211f09c110a1b2c3d4e5f", "the whole stack UUID, not its node-id tail"
    layer = resolve(template["Resources"]["BbqLayer"]["Properties"]["LayerName"], parameters, {})
    assert layer == prefix
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["STACK_NAME"] == {"Ref": "AWS::StackName"}, "metrics carry a Stack dimension"
