"""What moto cannot show: the translated template's S3 notification, layers, IAM, DLQ and index."""

import json
import re
from pathlib import Path
from typing import Any

import pytest

from bbq_local.stack import ROOT, load_template, translate_offline
from tests.pipeline.iam import STACK_ID, actions, resolve, roles, statements

DEFAULTS = {"ModelId": "anthropic.claude-3-haiku-20240307-v1:0"}


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    return translate_offline(DEFAULTS)["Resources"]


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def test_uploads_under_to_process_trigger_the_ingest_function(resources: dict[str, Any]) -> None:
    notification = resources["Bucket"]["Properties"]["NotificationConfiguration"]
    watched = set()
    for config in notification["LambdaConfigurations"]:
        assert config["Function"] == {"Fn::GetAtt": ["IngestFunction", "Arn"]}
        rules = {r["Name"]: r["Value"] for r in config["Filter"]["S3Key"]["Rules"]}
        assert rules["prefix"] == "to-process/"
        watched.add((config["Event"], rules["suffix"]))
    events = {"s3:ObjectCreated:*", "s3:ObjectRemoved:DeleteMarkerCreated"}  # uploads, and deletes before they ran
    suffixes = (".jsonl", ".JSONL", ".csv", ".CSV", ".parquet", ".PARQUET")  # tables too, with their template
    assert watched == {(e, s) for e in events for s in suffixes}, "S3's suffix filter is case-sensitive"
    permission = resources["IngestFunctionFileUploadedPermission"]["Properties"]
    assert permission["Principal"] == "s3.amazonaws.com"


def test_every_function_runs_python_313_on_the_shared_layer(resources: dict[str, Any]) -> None:
    (layer_id,) = of_type(resources, "AWS::Lambda::LayerVersion")
    functions = of_type(resources, "AWS::Lambda::Function")
    assert set(functions) == {"IngestFunction", "SchedulerFunction", "SweeperFunction", "ResultsFunction"}
    for function in functions.values():
        props = function["Properties"]
        assert props["Runtime"] == "python3.13"
        assert props["Layers"] == [{"Ref": layer_id}]
        # X-Ray only with the Tracing parameter (the handlers then make Powertools' Tracer: BBQ_TRACING).
        assert props["TracingConfig"] == {"Mode": {"Fn::If": ["TracingOn", "Active", "PassThrough"]}}
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


def test_files_that_end_are_told_on_the_topic_and_alarms_watch_what_goes_wrong(resources: dict[str, Any]) -> None:
    rule = resources["FileEndedRule"]["Properties"]
    assert rule["EventPattern"]["source"] == ["bbq"]
    assert rule["EventPattern"]["detail"] == {"stack": [{"Ref": "AWS::StackName"}]}
    assert rule["Targets"] == [{"Id": "topic", "Arn": {"Ref": "NotificationTopic"}}]
    policy = resources["NotificationTopicPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert {s["Principal"]["Service"] for s in policy} == {"events.amazonaws.com", "cloudwatch.amazonaws.com"}
    assert resources["NotificationSubscription"]["Condition"] == "HasNotificationEmail"
    results = statements(resources, "ResultsFunctionRole")  # files end in their results join
    assert any(actions(s) == {"events:PutEvents"} for s in results if "Action" in s)
    alarms = of_type(resources, "AWS::CloudWatch::Alarm")
    assert set(alarms) == {
        "FailedJobsAlarm",
        "DeadLetterAlarm",
        "QueueNotMovingAlarm",
        "FunctionErrorsAlarm",
        "RunErrorsAlarm",
        "ModelsPausedAlarm",
        "JoinDeadLetterAlarm",
        "UnreadableUploadsAlarm",
        "BudgetNearlySpentAlarm",
        "BudgetSpentAlarm",
    }
    assert all(a["Properties"]["AlarmActions"] == [{"Ref": "NotificationTopic"}] for a in alarms.values())
    watched = json.dumps(alarms)
    for metric in (
        "JobsFailed",
        "ApproximateNumberOfMessagesVisible",
        "ModelsWaitingTooLong",
        "JobsPastTimeout",
        "RunErrors",
    ):
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


def test_the_batch_role_is_created_only_without_a_role_arn(resources: dict[str, Any]) -> None:
    assert resources["BatchRole"]["Condition"] == "CreateBatchRole"


def test_storage_is_private_encrypted_versioned_expiring_and_recoverable(resources: dict[str, Any]) -> None:
    bucket = resources["Bucket"]
    assert bucket["DeletionPolicy"] == "Retain"
    props = bucket["Properties"]
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (default,) = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert default["Fn::If"][0] == "HasKmsKey"
    assert default["Fn::If"][2] == {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    assert default["Fn::If"][1]["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    rules = {rule["Id"]: rule for rule in props["LifecycleConfiguration"]["Rules"]}
    ended = rules["staged-data-of-ended-files"]  # never a waiting file's data: only what is tagged at its end
    assert ended["Prefix"] == "staged/" and ended["TagFilters"] == [{"Key": "bbq-state", "Value": "ended"}]
    assert ended["ExpirationInDays"] == {"Ref": "StagedDataDays"}
    assert rules["join-checkpoints"]["Prefix"] == "staged/joins/" and "TagFilters" not in rules["join-checkpoints"]
    kept = rules["old-versions-and-unfinished-uploads"]
    assert "Prefix" not in kept and kept["NoncurrentVersionExpiration"] == {
        "NoncurrentDays": {"Ref": "NoncurrentVersionDays"}
    }
    assert kept["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}
    policy = resources["BucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert {s["Sid"]: s["Condition"] for s in policy if s["Effect"] == "Deny"} == {
        "DenyInsecureTransport": {"Bool": {"aws:SecureTransport": "false"}},
        "DenyOldTls": {"NumericLessThan": {"s3:TlsVersion": "1.2"}},
    }
    table = resources["JobsTable"]["Properties"]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["DeletionProtectionEnabled"] == {"Fn::If": ["ProtectTable", True, False]}
    assert load_template()["Parameters"]["TableDeletionProtection"]["Default"] == "true"
    assert table["SSESpecification"]["Fn::If"][2] == {"SSEEnabled": True}
    indexes = {i["IndexName"]: [k["AttributeName"] for k in i["KeySchema"]] for i in table["GlobalSecondaryIndexes"]}
    assert indexes == {
        "QueueIndex": ["Queue", "QueueOrder"],
        "StatusIndex": ["Status", "CreatedAt"],
        "KeyIndex": ["SourceKey", "CreatedAt"],
    }
    for queue in of_type(resources, "AWS::SQS::Queue").values():
        assert queue["Properties"]["SqsManagedSseEnabled"] == {"Fn::If": ["HasKmsKey", {"Ref": "AWS::NoValue"}, True]}


def test_every_asynchronous_trigger_has_somewhere_for_its_failures(resources: dict[str, Any]) -> None:
    functions = of_type(resources, "AWS::Lambda::Function")
    assert {
        name: f["Properties"]["DeadLetterConfig"]["TargetArn"]["Fn::GetAtt"][0]
        for name, f in functions.items()
        if name != "ResultsFunction"
    } == {
        "IngestFunction": "IngestDeadLetterQueue",
        "SchedulerFunction": "RunsDeadLetterQueue",
        "SweeperFunction": "RunsDeadLetterQueue",
    }
    # ResultsFunction reads a queue: a join that keeps failing goes, after five tries, to the queue's dead letters
    (mapping,) = of_type(resources, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["BatchSize"] == 1
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    join_queue = resources["JoinQueue"]["Properties"]
    assert join_queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["JoinDeadLetterQueue", "Arn"]},
        "maxReceiveCount": 5,
    }
    assert join_queue["VisibilityTimeout"] >= 6 * functions["ResultsFunction"]["Properties"]["Timeout"]
    for name, rule in of_type(resources, "AWS::Events::Rule").items():
        if name == "FileEndedRule":
            continue  # targets the topic, not a function
        (target,) = rule["Properties"]["Targets"]
        assert target["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["RunsDeadLetterQueue", "Arn"]}}, name
    (policy,) = resources["RunsDeadLetterQueuePolicy"]["Properties"]["PolicyDocument"]["Statement"]
    assert policy["Principal"] == {"Service": "events.amazonaws.com"} and policy["Action"] == "sqs:SendMessage"
    for function in functions.values():
        assert 60 <= function["Properties"]["Timeout"] <= 900
    assert all(
        g["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        for g in of_type(resources, "AWS::Logs::LogGroup").values()
    )


SECRET_LIKE = re.compile(r"secret|password|passwd|token|credential|private|api_?key|access_?key", re.IGNORECASE)


def test_no_function_carries_a_secret_in_its_environment(resources: dict[str, Any]) -> None:
    for name, function in of_type(resources, "AWS::Lambda::Function").items():
        variables = function["Properties"]["Environment"]["Variables"]
        for variable, value in variables.items():
            assert not SECRET_LIKE.search(variable), f"{name}: {variable}"
            if isinstance(value, str):
                assert not re.search(r"AKIA[0-9A-Z]{16}|[A-Za-z0-9/+]{40}", value), f"{name}: {variable}"


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


def deployed_policies(model_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The scheduler's and the batch role's statements as CloudFormation would create them for ``model_id``."""
    held = roles(translate_offline({"ModelId": model_id}), load_template(), {"ModelId": model_id})
    return held["SchedulerFunctionRole"], held["BatchRole"]


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
    assert routed["Condition"] == {"ArnEquals": {"bedrock:InferenceProfileArn": invoked}}
    create = next(s for s in scheduler if actions(s) == {"bedrock:CreateModelInvocationJob", "bedrock:InvokeModel"})
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
