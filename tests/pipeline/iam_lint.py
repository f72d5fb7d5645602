"""parliament (duo-labs' IAM linter, which knows each action's resource types and each condition key's type from
AWS's Service Authorization Reference) over every policy the stack deploys, for several deployments.

A finding fails unless it is listed in EXPLAINED with why it is not a fault:

    python -m tests.pipeline.iam_lint      (make validate; tests/pipeline/test_iam_judge.py runs it too)
"""

import json
import os
import sys
from typing import Any

from parliament import analyze_policy_string

from bbq_local.stack import load_template, translate_offline
from tests.pipeline.iam import VERSION, roles

ACCOUNT = "123456789012"
DEPLOYMENTS = {
    "defaults": {},
    "a profile": {"ModelId": "us.anthropic.claude-3-5-haiku-20241022-v1:0"},
    "an application profile": {
        "ModelId": f"arn:aws:bedrock:eu-west-1:{ACCOUNT}:application-inference-profile/abc123def456"
    },
    "more models": {"AllowedModels": "amazon.nova-micro-v1:0,us.anthropic.claude-3-5-haiku-20241022-v1:0"},
    "a key": {"KmsKeyArn": f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab"},
    "an existing role": {"RoleArn": f"arn:aws:iam::{ACCOUNT}:role/bedrock-batch"},
}
ATTRIBUTES = {
    "Bucket.Arn": "arn:aws:s3:::bbq-123456789012-1b9a1f30-c8a2-11f0-9c11-0a1b2c3d4e5f",
    "JobsTable.Arn": f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/bbq-JobsTable-1",
    "BatchRole.Arn": f"arn:aws:iam::{ACCOUNT}:role/bbq-BatchRole-1",
    "IngestDeadLetterQueue.Arn": f"arn:aws:sqs:eu-west-1:{ACCOUNT}:bbq-IngestDeadLetterQueue-1",
    "RunsDeadLetterQueue.Arn": f"arn:aws:sqs:eu-west-1:{ACCOUNT}:bbq-RunsDeadLetterQueue-1",
    "JoinQueue.Arn": f"arn:aws:sqs:eu-west-1:{ACCOUNT}:bbq-JoinQueue-1",
}
# The Service Authorization Reference marks every resource type of these actions as required ("*") where a
# request names one of them (a job on a foundation model OR a profile OR a custom model); parliament asks each
# statement for all of them. bbq grants each type it uses in its own statement, with its own condition.
_ALTERNATIVE_TYPES = "the reference lists alternatives as all required; bbq grants the ones it uses, apart"
EXPLAINED = {
    ("RESOURCE_MISMATCH", "bedrock:InvokeModel"): _ALTERNATIVE_TYPES,
    ("RESOURCE_MISMATCH", "bedrock:CreateModelInvocationJob"): _ALTERNATIVE_TYPES,
}


Finding = tuple[str, str, str, str, bool]  # deployment, role, issue, action, the statement is Bedrock's alone


def findings() -> list[Finding]:
    """Every finding, one per action it names; each statement judged on its own, so a finding is placed."""
    found = []
    template = load_template()
    for deployment, parameters in DEPLOYMENTS.items():
        for role, statements in roles(translate_offline(parameters), template, parameters, ATTRIBUTES).items():
            for statement in statements:
                document = {"Version": statement[VERSION], "Statement": [_plain(statement)]}
                bedrock_only = all(":bedrock:" in r for r in _as_list(statement["Resource"]))
                for finding in analyze_policy_string(json.dumps(document)).findings:
                    named = finding.detail if isinstance(finding.detail, list) else [finding.detail]
                    for detail in named:
                        action = detail.get("action", "") if isinstance(detail, dict) else str(detail)
                        found.append((deployment, role, finding.issue, action, bedrock_only))
    return found


def _plain(statement: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in statement.items() if key != VERSION}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def is_explained(finding: Finding) -> bool:
    """Explained only where every resource of the statement is one of Bedrock's: a Bedrock action granted on
    anything else stays a finding."""
    _, _, issue, action, bedrock_only = finding
    return (issue, action) in EXPLAINED and bedrock_only


def unexplained() -> list[Finding]:
    return [f for f in findings() if not is_explained(f)]


def main() -> int:
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the translator's own session asks for a Region
    every = findings()
    for (issue, action), why in EXPLAINED.items():
        count = sum(1 for f in every if (f[2], f[3]) == (issue, action) and is_explained(f))
        print(f"explained  {issue:<20} {action:<36} x{count:<3} {why}")
    left = unexplained()
    for deployment, role, issue, action, _ in left:
        print(f"FINDING    {issue:<20} {action:<36} {role} ({deployment})")
    print(f"parliament: {len(every)} findings over {len(DEPLOYMENTS)} deployments, {len(left)} unexplained")
    return 1 if left else 0


if __name__ == "__main__":
    sys.exit(main())
