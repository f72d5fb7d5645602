"""Least privilege, two ways.

Statically, on the translated template for several deployments: no role acts on every resource (``*``) unless
the action takes no resource, and no wildcard reaches further than documented below.

In use: the whole pipeline runs on the deployed stack with every feature that calls AWS (splitting, packing,
retries, failures for good, on-demand small work, a second model, a lost S3 event, a refused file), every boto3
call each function makes is recorded, and each is judged against that function's role as AWS would: every call
must be allowed, and every grant must be used by some call (the exceptions named, with why)."""

import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from bbq import wiring
from bbq_local.functions import LocalFunction
from bbq_local.pipeline import LocalPipeline
from bbq_local.stack import load_template, translate_offline
from tests.conftest import CLAUDE, REGION, claude_record, jsonl
from tests.pipeline.iam import (
    FUNCTION_ROLES,
    Request,
    actions,
    allowed,
    as_list,
    authorizations,
    roles,
    statement_allows,
)
from tests.pipeline.test_end_to_end import drop

ACCOUNT = "123456789012"
KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
NOVA = "amazon.nova-micro-v1:0"
PROFILE = "us.anthropic.claude-3-5-haiku-20241022-v1:0"
BUCKET = "arn:aws:s3:::bbq-123456789012-1b9a1f30-c8a2-11f0-9c11-0a1b2c3d4e5f"  # as named for iam.STACK_ID

# Actions that take no resource-level permission: "*" is the only resource AWS accepts for them.
NO_RESOURCE_LEVEL = {
    "servicequotas:ListServiceQuotas",
    "servicequotas:ListAWSDefaultServiceQuotas",
    "bedrock:ListModelInvocationJobs",
}
# AWS-managed policies SAM attaches to every function role: CloudWatch Logs writes (the log groups are the
# stack's own, with retention) and X-Ray segments (X-Ray takes no resource-level permission).
MANAGED = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}
DEPLOYMENTS = {
    "defaults": {},
    "a profile": {"ModelId": PROFILE},
    "an application profile": {
        "ModelId": "arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/abc123def456"
    },
    "more models": {"AllowedModels": f"{NOVA},{PROFILE}"},
    "a key": {"KmsKeyArn": KEY},
    "an existing role": {"RoleArn": "arn:aws:iam::123456789012:role/bedrock-batch"},
}


def held(parameters: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    template = load_template()
    translated = translate_offline(parameters)
    attributes = {
        "Bucket.Arn": BUCKET,
        "JobsTable.Arn": f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/bbq-JobsTable-1",
        "BatchRole.Arn": f"arn:aws:iam::{ACCOUNT}:role/bbq-BatchRole-1",
    }
    return roles(translated, template, parameters, attributes)


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return translate_offline()


def wildcards(statement: dict[str, Any]) -> list[str]:
    return [r for r in as_list(statement["Resource"]) if "*" in r]


@pytest.mark.parametrize("parameters", DEPLOYMENTS.values(), ids=DEPLOYMENTS.keys())
def test_no_role_acts_on_every_resource_unless_the_action_takes_none(parameters: dict[str, str]) -> None:
    for role, statements in held(parameters).items():
        for statement in statements:
            granted = actions(statement)
            assert not any("*" in action for action in granted), f"{role}: a wildcard action in {granted}"
            if "*" in as_list(statement["Resource"]):
                assert granted <= NO_RESOURCE_LEVEL, f"{role} grants {granted} on every resource"
            assert not granted & {"dynamodb:Scan", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"}, role


@pytest.mark.parametrize("parameters", DEPLOYMENTS.values(), ids=DEPLOYMENTS.keys())
def test_every_other_wildcard_is_bounded(parameters: dict[str, str]) -> None:
    """Inside an ARN, ``*`` may stand for a key under one of bbq's prefixes, for a job id, for an allowed id's
    partition, Region or account with the Region held by a condition, or for the foundation models a profile
    routes to, invoked only through that profile (creating a job names them, and invokes none)."""
    for role, statements in held(parameters).items():
        for statement in statements:
            for resource in wildcards(statement):
                if resource == "*":
                    continue
                if ":s3:::" in resource:
                    assert resource.split(":::", 1)[1].split("/", 1)[1].split("/")[0] in {
                        "to-process",
                        "staged",
                        "processed",
                        "templates",
                    } or resource.endswith(".error.json"), resource
                elif ":model-invocation-job/" in resource:
                    assert resource.endswith(":model-invocation-job/*") and ":*:" not in resource, resource
                elif resource.endswith(":foundation-model/*"):
                    routed = statement.get("Condition", {})
                    through_profile = any("bedrock:InferenceProfileArn" in keys for keys in routed.values())
                    assert through_profile or actions(statement) == {"bedrock:CreateModelInvocationJob"}, (
                        f"{role}: {resource} without a profile condition"
                    )
                elif actions(statement) == {"bedrock:GetInferenceProfile"}:  # which model a profile routes to
                    assert resource.endswith(("inference-profile/*", "application-inference-profile/*")), resource
                    assert resource.startswith(f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:"), "this Region and account"
                else:  # an allowed id, in the stack's Region
                    assert resource.startswith("arn:*:bedrock:*:"), resource
                    assert "$" not in resource and not resource.endswith("/*"), resource
                    assert statement["Condition"] == {"StringEquals": {"aws:RequestedRegion": "eu-west-1"}}


def test_roles_carry_only_their_inline_policies_and_two_managed_ones(translated: dict[str, Any]) -> None:
    for role in FUNCTION_ROLES.values():
        assert set(translated["Resources"][role]["Properties"]["ManagedPolicyArns"]) == MANAGED


def test_the_batch_role_trusts_bedrock_for_this_accounts_jobs_reads_staged_and_writes_processed() -> None:
    batch = held({})["BatchRole"]
    template = load_template()
    (trust,) = template["Resources"]["BatchRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "bedrock.amazonaws.com"}
    assert set(trust["Condition"]) == {"StringEquals", "ArnLike"}
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]
    assert trust["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"].endswith(":model-invocation-job/*")
    bucket = BUCKET
    own = {"aws:ResourceAccount": ACCOUNT}
    assert allowed(batch, Request("s3:GetObject", f"{bucket}/staged/f/a-p00001.jsonl", own))
    assert allowed(batch, Request("s3:PutObject", f"{bucket}/processed/a/job/a.jsonl.out", own))
    assert allowed(batch, Request("s3:ListBucket", bucket, {**own, "s3:prefix": "staged/jobs/j/"}))
    for denied in (
        Request("s3:GetObject", f"{bucket}/to-process/a.jsonl", own),
        Request("s3:GetObject", f"{bucket}/processed/a/results.jsonl", own),
        Request("s3:PutObject", f"{bucket}/staged/f/a-p00001.jsonl", own),
        Request("s3:ListBucket", bucket, {**own, "s3:prefix": "to-process/"}),
        Request("s3:GetObject", f"{bucket}/staged/f/a-p00001.jsonl", {"aws:ResourceAccount": "210987654321"}),
    ):
        assert not allowed(batch, denied), denied


def test_allowed_models_are_invocable_exactly_and_only_through_their_profiles() -> None:
    context = {"aws:RequestedRegion": "eu-west-1", "aws:PrincipalAccount": ACCOUNT}
    own_profile = f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/{PROFILE}"
    for role in ("BatchRole", "SchedulerFunctionRole"):
        statements = held({"AllowedModels": f"{NOVA},{PROFILE}"})[role]

        def may(resource: str, **extra: str) -> bool:
            return allowed(statements, Request("bedrock:InvokeModel", resource, {**context, **extra}))  # noqa: B023

        assert may(f"arn:aws:bedrock:eu-west-1::foundation-model/{CLAUDE}"), "ModelId"
        assert may(f"arn:aws:bedrock:eu-west-1::foundation-model/{NOVA}")
        assert may(own_profile)
        routed = "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0"
        assert may(routed, **{"bedrock:InferenceProfileArn": own_profile})
        assert not may(routed), "a profile's models, only through the profile"
        assert not may("arn:aws:bedrock:eu-west-1::foundation-model/anthropic.claude-3-opus-20240229-v1:0")
        assert not may(f"arn:aws:bedrock:us-west-2::foundation-model/{NOVA}", **{"aws:RequestedRegion": "us-west-2"})
        assert not may(own_profile.replace("eu-west-1", "us-west-2"), **{"aws:RequestedRegion": "us-west-2"})
        other = f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:inference-profile/us.meta.llama3-2-1b-instruct-v1:0"
        assert not may(other) and not may(routed, **{"bedrock:InferenceProfileArn": other})


def test_a_key_is_used_for_everything_stored_and_granted_to_each_role(translated: dict[str, Any]) -> None:
    with_key, without = held({"KmsKeyArn": KEY}), held({})
    for role, statements in with_key.items():
        for action in ("kms:Decrypt", "kms:GenerateDataKey"):
            assert allowed(statements, Request(action, KEY)), (role, action)
    assert not any(a.startswith("kms:") for s in without.values() for st in s for a in actions(st))
    resources = translated["Resources"]
    keyed = {
        "Bucket": resources["Bucket"]["Properties"]["BucketEncryption"],
        "JobsTable": resources["JobsTable"]["Properties"]["SSESpecification"],
        "IngestDeadLetterQueue": resources["IngestDeadLetterQueue"]["Properties"]["KmsMasterKeyId"],
        "RunsDeadLetterQueue": resources["RunsDeadLetterQueue"]["Properties"]["KmsMasterKeyId"],
        "NotificationTopic": resources["NotificationTopic"]["Properties"]["KmsMasterKeyId"],
        **{
            f"{f}LogGroup": resources[f"{f}LogGroup"]["Properties"]["KmsKeyId"]
            for f in ("Ingest", "Scheduler", "Sweeper")
        },
        **{
            f"{f}Function": resources[f"{f}Function"]["Properties"]["KmsKeyArn"]
            for f in ("Ingest", "Scheduler", "Sweeper")
        },
    }
    for name, setting in keyed.items():
        assert '"HasKmsKey"' in json.dumps(setting) and '"KmsKeyArn"' in json.dumps(setting), name
    env = resources["SchedulerFunction"]["Properties"]["Environment"]["Variables"]
    assert env["KMS_KEY_ARN"] == {"Ref": "KmsKeyArn"}, "Bedrock's output is encrypted with it"


# ---- in use ---------------------------------------------------------------------------------------------------

# Grants no call in the scenario uses, and why they stay.
_INGESTING = {
    ("s3:AbortMultipartUpload", "bucket/staged/*"): "only when a staged part's multipart write fails midway",
    ("s3:AbortMultipartUpload", "bucket/to-process/*.error.json"): "only when an error report's write fails",
    ("s3:DeleteObject", "bucket/staged/*"): "a file refused whole under RejectedLines reject-file",
    ("s3:GetObject", "bucket/to-process/*"): "an unversioned bucket's upload is read by ETag, a versioned one's by id",
    ("s3:ListBucket", "bucket"): "never lists: it makes S3 answer 404, not 403, for an upload deleted meanwhile",
}
UNUSED_BY_DESIGN = {
    **{("ingest", *grant): why for grant, why in _INGESTING.items()},
    **{("sweeper", *grant): why for grant, why in _INGESTING.items()},
    ("ingest", "sqs:SendMessage", "<IngestDeadLetterQueue.Arn>"): "Lambda's own send of a failed event (SAM adds it)",
    ("sweeper", "sqs:SendMessage", "<RunsDeadLetterQueue.Arn>"): "Lambda's own send of a failed run (SAM adds it)",
    ("scheduler", "sqs:SendMessage", "<RunsDeadLetterQueue.Arn>"): "Lambda's own send of a failed run (SAM adds it)",
    **{
        ("scheduler", "s3:AbortMultipartUpload", f"bucket/{place}/*"): "only when a multipart write fails midway"
        for place in ("processed", "staged/failures", "staged/jobs", "staged/retries")
    },
    ("sweeper", "s3:GetObject", "bucket/templates/*"): "only for a table whose upload event never came",
    ("results", "s3:ListBucket", "bucket"): "never lists: S3's 404-or-403 answer for a missing output",
    ("results", "s3:AbortMultipartUpload", "bucket/processed/*"): "only when a report's write fails midway",
    **{
        ("results", f"sqs:{action}", "<JoinQueue.Arn>"): "Lambda's own poller of JoinQueue (the event source mapping)"
        for action in ("ReceiveMessage", "DeleteMessage", "GetQueueAttributes")
    },
    ("scheduler", "s3:ListBucket", "bucket"): "never lists: S3's 404-or-403 answer for a missing output",
    ("scheduler", "bedrock:InvokeModel", "arn:aws:bedrock:*::foundation-model/*"): "a listed profile's models",
    ("scheduler", "bedrock:ListModelInvocationJobs", "*"): "only when a create's answer was lost past its token",
    **{
        ("scheduler", "bedrock:GetInferenceProfile", f"arn:aws:bedrock:{REGION}:{ACCOUNT}:{kind}/*"): (
            "asked only about a profile id; this walk's models are foundation models (a profile's quota: "
            "test_a_model_and_its_cross_region_profile_share_one_quota)"
        )
        for kind in ("inference-profile", "application-inference-profile")
    },
    ("scheduler", "bedrock:StopModelInvocationJob", f"arn:aws:bedrock:{REGION}:{ACCOUNT}:model-invocation-job/*"): (
        "only for a job bbq stop ended while a run was submitting it"
    ),
}


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[tuple[str, str, dict[str, Any]]]]]:
    """Every boto3 call the handlers make, by function: (service, operation, parameters)."""
    made: dict[str, list[tuple[str, str, dict[str, Any]]]] = defaultdict(list)
    running: list[str] = []
    original_client, original_invoke = wiring.client, LocalFunction.invoke

    def recording_client(service: str) -> Any:
        client = original_client(service)
        if not getattr(client, "_bbq_recorded", False):
            name = client.meta.service_model.service_name

            def record(params: dict[str, Any], model: Any, **_: Any) -> None:
                if running:
                    made[running[-1]].append((name, model.name, dict(params)))

            client.meta.events.register("before-parameter-build", record)
            client._bbq_recorded = True
        return client

    recording_client.cache_clear = original_client.cache_clear  # type: ignore[attr-defined]

    def invoke(self: LocalFunction, event: dict[str, Any]) -> Any:
        running.append(self.folder)
        try:
            return original_invoke(self, event)
        finally:
            running.pop()

    monkeypatch.setattr(wiring, "client", recording_client)
    monkeypatch.setattr(LocalFunction, "invoke", invoke)
    yield made


def test_every_call_each_function_makes_is_allowed_and_every_grant_is_used(make_pipeline: Any, calls: Any) -> None:
    pipeline: LocalPipeline = make_pipeline(
        parameters={
            "AllowedModels": NOVA,
            "SmallWork": "on-demand",
            "CompanionWaitMinutes": "10",
            "PartRecords": "200",
        }
    )
    pipeline.emulator.faults.update({"record_errors": {"ThrottlingException": 0.05, "ValidationException": 0.02}})
    pipeline.results.remaining_ms = 60_000  # every join runs out of time after a part: checkpoints, goes on
    # Split into 200, 200 and 50 records; the 50 packed with small's 40, under the minimum: on demand.
    drop(pipeline, {"to-process/big.jsonl": 450, "to-process/small.jsonl": 40})
    drop(pipeline, {f"to-process/{NOVA}/more.jsonl": 120})  # a second model
    pipeline.upload("to-process/bad.jsonl", b"not json\n" + jsonl([claude_record(1)]))  # a refused line
    pipeline.upload("templates/summary.txt", b"Summarize: {{ text }}")  # a table and the template it names
    rows = b"text\n" + b"".join(b"call number %d went well\n" % i for i in range(120))
    pipeline.upload("to-process/calls.csv", rows, {"bbq-template": "summary.txt"})
    assert pipeline.deliver_uploads() == 5
    drop(pipeline, {"to-process/lost.jsonl": 120})
    assert pipeline.lose_upload_events() == 1  # found by the sweeper
    pipeline.upload("to-process/notes.txt", b"not an input")  # no event (suffix filter); the sweeper notes it
    drop(pipeline, {"to-process/deleted.jsonl": 120})
    assert pipeline.deliver_uploads() == 1
    pipeline.s3.delete_object(Bucket=pipeline.bucket, Key="to-process/deleted.jsonl")  # before it ran: cancelled
    for _ in range(30):  # the hourly sweep finds the upload whose event was lost
        if len(pipeline.items()) == 7:
            break
        pipeline.step(300)
    items = pipeline.run_until_done(step_seconds=120)
    assert len(items) == 7 and pipeline.sweeps and pipeline.emulator.on_demand_calls
    assert [i["Status"] for i in items if i["SourceKey"] == "to-process/deleted.jsonl"] == ["Stopped"]
    assert any(sweep.get("ignored") for sweep in pipeline.sweeps), "the .txt got its note"

    stack = pipeline.stack
    attributes = {
        "Bucket.Arn": f"arn:aws:s3:::{pipeline.bucket}",
        "JobsTable.Arn": f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{pipeline.table}",
        "BatchRole.Arn": stack.outputs["BatchRoleArn"],
        "JoinQueue.Arn": pipeline.sqs.get_queue_attributes(
            QueueUrl=stack.outputs["JoinQueueUrl"], AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"],
    }
    stack_id = boto3.client("cloudformation").describe_stacks(StackName=stack.name)["Stacks"][0]["StackId"]
    parameters = {**pipeline.parameters, "AWS::Region": REGION, "AWS::StackId": stack_id}
    parameters["AWS::StackName"] = stack.name
    every_role = roles(stack.translated, load_template(), parameters, attributes)
    used: set[tuple[str, int, str]] = set()
    for function, made in calls.items():
        statements = every_role[FUNCTION_ROLES[function]]
        for service, operation, params in made:
            for request in authorizations(service, operation, params, REGION, ACCOUNT):
                granting = [i for i, s in enumerate(statements) if statement_allows(s, request)]
                assert granting, f"{function} may not {request.action} on {request.resource} ({operation})"
                used.update((function, i, request.action) for i in granting)
    join_queue = attributes["JoinQueue.Arn"]
    unused = {
        (function, action, resource.replace(attributes["Bucket.Arn"], "bucket").replace(join_queue, "<JoinQueue.Arn>"))
        for function, role in FUNCTION_ROLES.items()
        for index, statement in enumerate(every_role[role])
        for action in actions(statement)
        if (function, index, action) not in used
        for resource in as_list(statement["Resource"])
    }
    assert unused == set(UNUSED_BY_DESIGN), "grants no call used (or a call the scenario no longer makes)"


def test_with_a_key_the_stack_deploys_and_bedrock_encrypts_output_with_it(make_pipeline: Any) -> None:
    key = boto3.client("kms").create_key(Description="bbq test")["KeyMetadata"]["Arn"]
    pipeline: LocalPipeline = make_pipeline(parameters={"KmsKeyArn": key})
    drop(pipeline, {"to-process/secret.jsonl": 120})
    (item,) = pipeline.run_until_done(step_seconds=120)
    assert item["Status"] == "Completed"
    (job,) = pipeline.emulator.jobs()
    assert job["outputDataConfig"]["s3OutputDataConfig"]["s3EncryptionKeyId"] == key
    queue = pipeline.sqs.get_queue_attributes(QueueUrl=pipeline.dead_letters, AttributeNames=["KmsMasterKeyId"])
    assert queue["Attributes"]["KmsMasterKeyId"] == key
