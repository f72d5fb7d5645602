"""`make e2e-aws`: a smoke test for a real account. It deploys a throwaway stack with a unique name, checks each
assumption that no document settles (docs/aws-facts.md and the shared facts file list them), prints a table, and
deletes everything it made. Without AWS credentials it says so in one line and does nothing.

    python -m bbq_local.e2e_aws [--region R] [--wait]   # a real account (costs cents, ~15 minutes)
    python -m bbq_local.e2e_aws --local [--wait]         # the same checks on the local stack (CI runs this)

Each check names the AWS call that settles it. What the local stack cannot answer is reported as skipped, by
name, with why.
"""

import argparse
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import botocore.exceptions

from bbq_local.stack import ROOT

# The cheapest model with batch inference (Amazon Nova Micro), and a second one for AllowedModels.
MODEL = "amazon.nova-micro-v1:0"
ALLOWED = "amazon.nova-lite-v1:0"
RECORDS = 100  # Bedrock's minimum records per job for most models
POLL_SECONDS = 15


@dataclass
class Check:
    name: str
    call: str  # the AWS call that settles it
    outcome: str = "skipped"  # passed, failed or skipped
    detail: str = ""


@dataclass
class Target:
    """Where the checks run: the deployed stack's outputs, its parameters, how time passes, what it lacks."""

    outputs: dict[str, str]
    parameters: dict[str, str]
    wait: Callable[[], object]  # lets time pass (a real account sleeps; the local stack steps its clock)
    scheduler_logs: Callable[[], str]  # what the scheduler function has logged so far
    local: bool
    clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = boto3.client(service)  # type: ignore[call-overload]
        return self.clients[service]


def nova_record(index: int) -> dict[str, Any]:
    return {
        "recordId": f"E2E{index:08d}",
        "modelInput": {
            "messages": [{"role": "user", "content": [{"text": f"Reply with the number {index}."}]}],
            "inferenceConfig": {"maxTokens": 16},
        },
    }


def jsonl(count: int) -> bytes:
    return "".join(json.dumps(nova_record(i)) + "\n" for i in range(count)).encode()


# ---- the checks --------------------------------------------------------------------------------------------


def check_iam_simulation(target: Target) -> Check:
    check = Check("the scheduler role may create a job on an AllowedModels id", "iam:SimulatePrincipalPolicy")
    if target.local:
        check.detail = "moto does not evaluate IAM policies (tests/pipeline/iam.py judges them offline)"
        return check
    cloudformation, iam = target.client("cloudformation"), target.client("iam")
    role = cloudformation.describe_stack_resource(
        StackName=target.outputs["StackName"], LogicalResourceId="SchedulerFunctionRole"
    )["StackResourceDetail"]["PhysicalResourceId"]
    region = iam.meta.region_name
    model_arn = f"arn:aws:bedrock:{region}::foundation-model/{ALLOWED}"
    results = iam.simulate_principal_policy(
        PolicySourceArn=iam.get_role(RoleName=role)["Role"]["Arn"],
        ActionNames=["bedrock:CreateModelInvocationJob", "bedrock:InvokeModel"],
        ResourceArns=[model_arn],
        ContextEntries=[
            {"ContextKeyName": "aws:RequestedRegion", "ContextKeyValues": [region], "ContextKeyType": "string"}
        ],
    )["EvaluationResults"]
    decisions = {r["EvalActionName"]: r["EvalDecision"] for r in results}
    check.outcome = "passed" if set(decisions.values()) == {"allowed"} else "failed"
    check.detail = ", ".join(f"{action}: {decision}" for action, decision in decisions.items())
    return check


def check_quotas(target: Target) -> Check:
    check = Check("Service Quotas names the model's batch limits", "servicequotas:ListServiceQuotas (+ defaults)")
    from bbq.adapters.service_quotas import ServiceQuotaLimits
    from bbq.core.model.clock import SystemClock
    from bbq_local.commands.quota import _fallback

    described = ServiceQuotaLimits(target.client("service-quotas"), _fallback(target.parameters), SystemClock())
    limits, sources = described.describe(MODEL)
    found = {f: str(s) for f, s in sources.items() if s.quota_name}
    check.outcome = "passed" if "concurrent_jobs" in found and "min_records_per_job" in found else "failed"
    check.detail = f"{len(found)} of 6 limits named: " + "; ".join(f"{f}={getattr(limits, f)}" for f in found)
    return check


def check_notifications(target: Target) -> Check:
    check = Check(
        "S3 sends .jsonl and .JSONL uploads under to-process/ to ingest", "s3:GetBucketNotificationConfiguration"
    )
    if target.local:
        check.detail = "moto's CloudFormation drops a bucket's notifications (the local stack routes them itself)"
        return check
    config = target.client("s3").get_bucket_notification_configuration(Bucket=target.outputs["BucketName"])
    suffixes = {
        rule["Value"]
        for lambda_config in config.get("LambdaFunctionConfigurations", [])
        for rule in lambda_config["Filter"]["Key"]["FilterRules"]
        if rule["Name"].lower() == "suffix"
    }
    check.outcome = "passed" if {".jsonl", ".JSONL"} <= suffixes else "failed"
    check.detail = f"suffix filters: {sorted(suffixes)}"
    return check


def check_job_and_its_event(target: Target, checks: list[Check]) -> None:
    """A job on the model is created under the stack's job-name prefix, seen Validating or Scheduled, and stopped;
    the same name again shows which error a name in use gets; the scheduler logs the job's state-change event."""
    created = Check(
        "a batch job is created, seen Validating or Scheduled, and stopped", "bedrock:CreateModelInvocationJob"
    )
    reused = Check("a job name in use: which error Bedrock answers", "bedrock:CreateModelInvocationJob (same name)")
    event = Check("the scheduler receives the job's state-change event", "events: Batch Inference Job State Change")
    checks += [created, reused, event]
    bedrock, bucket = target.client("bedrock"), target.outputs["BucketName"]
    prefix = target.client("lambda").get_function_configuration(FunctionName=target.outputs["SchedulerFunctionName"])
    name = f"{prefix['Environment']['Variables']['JOB_NAME_PREFIX']}-e2e{uuid.uuid4().hex[:8]}"
    target.client("s3").put_object(Bucket=bucket, Key="staged/e2e/input.jsonl", Body=jsonl(RECORDS))
    request = {
        "jobName": name,
        "roleArn": target.outputs["BatchRoleArn"],
        "modelId": MODEL,
        "inputDataConfig": {"s3InputDataConfig": {"s3Uri": f"s3://{bucket}/staged/e2e/input.jsonl"}},
        "outputDataConfig": {"s3OutputDataConfig": {"s3Uri": f"s3://{bucket}/processed/e2e/"}},
        "timeoutDurationInHours": 24,
    }
    arn = bedrock.create_model_invocation_job(**request, clientRequestToken=uuid.uuid4().hex)["jobArn"]
    seen = []
    for _ in range(40):
        status = bedrock.get_model_invocation_job(jobIdentifier=arn)["status"]
        seen += [status] if status not in seen else []
        if status in {"Validating", "Scheduled", "InProgress", "Failed"}:
            break
        target.wait()
    try:
        bedrock.create_model_invocation_job(**request, clientRequestToken=uuid.uuid4().hex)
        reused.outcome, reused.detail = "failed", "Bedrock took a second job under the same name"
    except botocore.exceptions.ClientError as exc:
        reused.outcome, reused.detail = "passed", f"{exc.response['Error']['Code']}: {exc.response['Error']['Message']}"
    if seen[-1] != "Failed":
        bedrock.stop_model_invocation_job(jobIdentifier=arn)
    created.outcome = "passed" if {"Validating", "Scheduled", "InProgress"} & set(seen) else "failed"
    created.detail = f"{arn.rsplit('/', 1)[-1]}: " + " -> ".join(seen) + " -> stopped"
    for _ in range(20):
        if arn in target.scheduler_logs():
            event.outcome, event.detail = "passed", "the scheduler logged 'Bedrock state change' for the job"
            return
        target.wait()
    event.outcome, event.detail = "failed", "no 'Bedrock state change' for the job in the scheduler's logs"


def check_a_file_runs_to_its_end(target: Target) -> Check:
    check = Check(f"a {RECORDS}-record upload runs to its end (--wait)", "bedrock batch, end to end")
    bucket, table = target.outputs["BucketName"], target.outputs["JobsTableName"]
    target.client("s3").put_object(Bucket=bucket, Key="to-process/e2e.jsonl", Body=jsonl(RECORDS))
    dynamodb = target.client("dynamodb")
    for _ in range(24 * 3600 // POLL_SECONDS):  # Bedrock may hold a batch job for up to a day
        items = dynamodb.scan(
            TableName=table, FilterExpression="begins_with(Id, :f)", ExpressionAttributeValues={":f": {"S": "file#"}}
        )["Items"]
        statuses = [item["Status"]["S"] for item in items]
        if statuses and all(s in {"Completed", "PartiallyCompleted", "Failed", "Rejected"} for s in statuses):
            check.outcome = "passed" if statuses == ["Completed"] else "failed"
            check.detail = f"file {statuses[0]}: {items[0].get('Message', {}).get('S', '')}"
            return check
        target.wait()
    check.outcome, check.detail = "failed", "the file did not end within a day"
    return check


def run_checks(target: Target, wait: bool) -> list[Check]:
    checks = [check_iam_simulation(target), check_quotas(target), check_notifications(target)]
    check_job_and_its_event(target, checks)
    checks.append(check_a_file_runs_to_its_end(target) if wait else Check("a file runs to its end", "--wait"))
    if not wait:
        checks[-1].detail = "not asked (--wait)"
    return checks


# ---- where they run ----------------------------------------------------------------------------------------


@contextmanager
def real_account(region: str | None) -> Iterator[Target]:
    """A throwaway stack, built and deployed with SAM, then deleted with its bucket and table."""
    name = f"bbq-e2e-{uuid.uuid4().hex[:8]}"
    if region:
        os.environ["AWS_DEFAULT_REGION"] = region
    parameters = {"ModelId": MODEL, "AllowedModels": ALLOWED, "TableDeletionProtection": "false"}
    overrides = [f"{key}={value}" for key, value in parameters.items()]
    sam = str(Path(sys.executable).parent / "sam")
    print(f"e2e-aws: deploying stack {name} ...", flush=True)
    subprocess.run([sam, "build"], cwd=ROOT, check=True)
    cloudformation = boto3.client("cloudformation")
    try:
        deploy = [sam, "deploy", "--stack-name", name, "--resolve-s3", "--no-confirm-changeset"]
        capabilities = ["--capabilities", "CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"]
        subprocess.run([*deploy, *capabilities, "--parameter-overrides", *overrides], cwd=ROOT, check=True)
        stack = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]} | {"StackName": name}
        logs = boto3.client("logs")

        def scheduler_logs() -> str:
            group = f"/aws/lambda/{outputs['SchedulerFunctionName']}"
            events = logs.filter_log_events(logGroupName=group, filterPattern='"Bedrock state change"')["events"]
            return "\n".join(e["message"] for e in events)

        yield Target(outputs, parameters, lambda: time.sleep(POLL_SECONDS), scheduler_logs, local=False)
    finally:
        _delete(cloudformation, name)


def _delete(cloudformation: Any, name: str) -> None:
    """The stack, then what it retains on deletion (the bucket, every version in it, and the table)."""
    print(f"e2e-aws: deleting stack {name} and what it retains ...", flush=True)
    try:
        resources = cloudformation.describe_stack_resources(StackName=name)["StackResources"]
    except botocore.exceptions.ClientError:
        return
    kept = {r["LogicalResourceId"]: r.get("PhysicalResourceId") for r in resources}
    cloudformation.delete_stack(StackName=name)
    cloudformation.get_waiter("stack_delete_complete").wait(StackName=name)
    if kept.get("Bucket"):
        bucket = boto3.resource("s3").Bucket(kept["Bucket"])
        bucket.object_versions.delete()
        bucket.delete()
    if kept.get("JobsTable"):
        boto3.client("dynamodb").delete_table(TableName=kept["JobsTable"])


@contextmanager
def local_stack(log_dir: Path) -> Iterator[Target]:
    """The local stack: the template deployed in moto, the handlers in this process, the emulator as Bedrock."""
    from moto import mock_aws

    from bbq_local.demo import _fake_credentials

    _fake_credentials()
    from bbq_local.pipeline import LocalPipeline  # after the variables: Powertools reads them at import

    with mock_aws():
        parameters = {"ModelId": MODEL, "AllowedModels": ALLOWED, "TableDeletionProtection": "false"}
        pipeline = LocalPipeline(parameters=parameters, stack_name="bbq-e2e", log_dir=log_dir)
        try:
            endpoint = pipeline.server.url
            clients = {
                "bedrock": boto3.client("bedrock", endpoint_url=endpoint),
                "service-quotas": boto3.client("service-quotas", endpoint_url=endpoint),
            }
            outputs = {**pipeline.stack.outputs, "StackName": pipeline.stack.name}

            def scheduler_logs() -> str:
                log = log_dir / "scheduler.log"
                return log.read_text() if log.exists() else ""

            yield Target(outputs, pipeline.parameters, lambda: pipeline.step(60), scheduler_logs, True, clients)
        finally:
            pipeline.close()


def table(checks: list[Check]) -> str:
    rows = [("check", "settled by", "outcome", "detail")] + [(c.name, c.call, c.outcome, c.detail) for c in checks]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    return "\n".join(
        "  ".join([*(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)), row[3]]) for row in rows
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="e2e-aws", description=__doc__.split("\n\n")[0])
    parser.add_argument("--local", action="store_true", help="run the checks on the local stack, not an account")
    parser.add_argument("--wait", action="store_true", help=f"also run a {RECORDS}-record file to its end")
    parser.add_argument("--region", help="the Region to deploy in (default: your configuration's)")
    parser.add_argument("--logs", default="demo-output/e2e-logs", help="where the local stack's functions log")
    args = parser.parse_args(argv)
    if not args.local and boto3.Session().get_credentials() is None:
        print("e2e-aws: skipped: no AWS credentials (configure a profile or AWS_* variables; --local runs it here)")
        return 0
    target = local_stack(Path(args.logs)) if args.local else real_account(args.region)
    with target as where:
        checks = run_checks(where, args.wait)
    print(table(checks))
    failed = [c.name for c in checks if c.outcome == "failed"]
    counts = {outcome: sum(c.outcome == outcome for c in checks) for outcome in ("passed", "failed", "skipped")}
    print("e2e-aws: checks " + ", ".join(f"{outcome} {count}" for outcome, count in counts.items()))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
