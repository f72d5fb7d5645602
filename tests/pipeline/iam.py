"""The template's IAM as AWS would hold it, and as AWS would judge a call against it.

``resolve`` evaluates the intrinsic functions the template uses for given parameters; ``allowed`` decides
whether a role's statements allow one action on one resource with a request context (actions and resources
matched with IAM's wildcards, IAM policy variables substituted, the condition operators the template uses);
``authorizations`` says which IAM actions on which resources one boto3 call needs, from AWS's Service
Authorization Reference for the operations bbq calls."""

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Any

NO_VALUE = object()
STACK_ID = "arn:aws:cloudformation:eu-west-1:123456789012:stack/bbq/1b9a1f30-c8a2-11f0-9c11-0a1b2c3d4e5f"
FUNCTION_ROLES = {
    "ingest": "IngestFunctionRole",
    "scheduler": "SchedulerFunctionRole",
    "sweeper": "SweeperFunctionRole",
    "results": "ResultsFunctionRole",
}
# The geographies of cross-Region and global inference-profile ids (as the template's ModelIsProfileId).
PROFILE_GEOGRAPHIES = {"us", "eu", "apac", "jp", "au", "ca", "us-gov", "global"}


def resolve(
    value: Any, parameters: dict[str, str], conditions: dict[str, bool], attributes: dict[str, str] | None = None
) -> Any:
    """Evaluates the intrinsic functions the template uses, as CloudFormation would for these parameters;
    ``attributes`` answers Fn::GetAtt ("Bucket.Arn"), else it stays a placeholder."""
    attributes = attributes or {}

    def again(inner: Any) -> Any:
        return resolve(inner, parameters, conditions, attributes)

    if isinstance(value, list):
        return [v for v in (again(item) for item in value) if v is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) != 1 or not next(iter(value)).startswith(("Fn::", "Ref", "Condition")):
        return {k: v for k, v in ((k, again(v)) for k, v in value.items()) if v is not NO_VALUE}
    ((function, argument),) = value.items()
    if function == "Ref":
        return NO_VALUE if argument == "AWS::NoValue" else parameters.get(argument, f"<{argument}>")
    if function == "Condition":
        return conditions[argument]
    if function == "Fn::If":
        name, when_true, when_false = argument
        return again(when_true if conditions[name] else when_false)
    if function == "Fn::Sub":
        text, names = (argument, {}) if isinstance(argument, str) else argument
        names = {k: again(v) for k, v in names.items()}
        known = {**parameters, **attributes, **names}
        return re.sub(r"\$\{([^}!]+)\}", lambda m: str(known.get(m.group(1), f"<{m.group(1)}>")), text)
    if function == "Fn::Split":
        delimiter, source = argument
        return again(source).split(delimiter)
    if function == "Fn::Select":
        index, items = argument
        return again(items)[int(index)]
    if function == "Fn::Join":
        delimiter, items = argument
        return delimiter.join(again(items))
    if function == "Fn::Equals":
        left, right = (again(v) for v in argument)
        return left == right
    if function == "Fn::Not":
        return not again(argument[0])
    if function == "Fn::And":
        return all(again(v) for v in argument)
    if function == "Fn::Or":
        return any(again(v) for v in argument)
    if function == "Fn::GetAtt":
        name = ".".join(argument) if isinstance(argument, list) else argument
        return attributes.get(name, f"<{name}>")
    raise AssertionError(f"unhandled {function}")


# The key under which each statement carries its policy document's language version (IAM reads variables only
# in 2012-10-17 documents); not an IAM element, so nothing in a template can set it.
VERSION = "__policy_version__"


def statements(resources: dict[str, Any], role: str) -> list[dict[str, Any]]:
    policies = resources[role]["Properties"].get("Policies", [])
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def _versioned(resources: dict[str, Any], role: str, resolved: Any) -> list[dict[str, Any]]:
    """Each resolved statement of the role's policies, with its document's language version."""
    held = []
    for policy in resources[role]["Properties"].get("Policies", []):
        version = policy["PolicyDocument"].get("Version", "2008-10-17")
        held += [{**s, VERSION: version} for s in resolved(policy["PolicyDocument"]["Statement"])]
    return held


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def actions(statement: dict[str, Any]) -> set[str]:
    return set(as_list(statement["Action"]))


def roles(
    translated: dict[str, Any],
    template: dict[str, Any],
    parameters: dict[str, str],
    attributes: dict[str, str] | None = None,
) -> dict[str, list[dict[str, Any]]]:
    """Each role's inline statements, resolved for these parameters (template defaults for the rest)."""
    values = {name: str(p.get("Default", "")) for name, p in template["Parameters"].items()}
    values.update({"AWS::Partition": "aws", "AWS::Region": "eu-west-1", "AWS::AccountId": "123456789012"})
    values["AWS::StackId"] = STACK_ID
    values.update(parameters)
    conditions: dict[str, bool] = {}
    for name, body in translated["Conditions"].items():  # in order: later conditions use earlier ones
        conditions[name] = resolve(body, values, conditions)
    resources = translated["Resources"]
    held = {}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role" or not conditions.get(resource.get("Condition", ""), True):
            continue
        held[name] = _versioned(resources, name, lambda s: resolve(s, values, conditions, attributes))
    return held


# ---- judging a request --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: dict[str, str] = field(default_factory=dict)


# IAM user guide, "IAM policy elements: Variables and tags" (reference_policies_variables.html):
# - "If you don't include the Version element and set it to an appropriate version date, variables like
#   ${aws:username} are treated as literal strings in the policy" (variables came with 2012-10-17);
# - "You can use a policy variable in the Resource element, but only in the resource portion of the ARN. This
#   portion of the ARN appears after the fifth colon";
# - the request information it lists for variables (below), tags (aws:PrincipalTag/..., aws:ResourceTag/...,
#   aws:RequestTag/...), and global condition keys ("AWS global condition context keys"). Key names are
#   case-insensitive. A variable outside these never resolves, and a statement using it grants nothing.
DOCUMENTED_VARIABLES = {
    name.lower()
    for name in (
        # "Information available in all requests"
        "aws:CurrentTime", "aws:EpochTime", "aws:TokenIssueTime", "aws:PrincipalType", "aws:SecureTransport",
        "aws:SourceIp", "aws:UserAgent", "aws:userid", "aws:username", "ec2:SourceInstanceARN",
        # global condition context keys
        "aws:PrincipalArn", "aws:PrincipalAccount", "aws:PrincipalOrgID", "aws:PrincipalIsAWSService",
        "aws:PrincipalServiceName", "aws:RequestedRegion", "aws:ResourceAccount", "aws:ResourceOrgID",
        "aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID", "aws:SourceVpc", "aws:SourceVpce",
        "aws:VpcSourceIp", "aws:ViaAWSService", "aws:CalledViaFirst", "aws:CalledViaLast", "aws:Referer",
        "aws:MultiFactorAuthPresent", "aws:MultiFactorAuthAge", "aws:FederatedProvider",
    )
}  # fmt: skip
_TAG_VARIABLES = ("aws:principaltag/", "aws:resourcetag/", "aws:requesttag/")
_VARIABLE = re.compile(r"\$\{([^}]+)\}")
_NEVER = "\x00unresolved\x00"  # what an unresolvable variable becomes: matches no request's value


def documented(variable: str) -> bool:
    name = variable.lower()
    return name in DOCUMENTED_VARIABLES or name.startswith(_TAG_VARIABLES)


def _variables(pattern: str, context: dict[str, str], version: str, resource: bool) -> str:
    """``pattern`` as IAM evaluates it: literal text in a document older than 2012-10-17; otherwise each
    variable takes its value from the request, and one IAM does not define, one missing from the request, or
    one before an ARN's fifth colon resolves to nothing that can match."""
    if version != "2012-10-17":
        return pattern

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        before_resource_part = resource and pattern[: match.start()].count(":") < 5
        if before_resource_part or not documented(name):
            return _NEVER
        known = {key.lower(): v for key, v in context.items()}
        return known.get(name.lower(), _NEVER)

    return _VARIABLE.sub(value, pattern)


def _like(value: str, pattern: str, context: dict[str, str], version: str, resource: bool = False) -> bool:
    # IAM's * and ? only; fnmatch's [...] classes never occur in these ARNs.
    return fnmatch.fnmatchcase(value, _variables(pattern, context, version, resource))


def _condition_holds(operator: str, key: str, expected: Any, context: dict[str, str], version: str) -> bool:
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if key not in context:
        return if_exists
    value = context[key]
    options = [str(v) for v in as_list(expected)]
    if base in {"StringEquals", "ArnEquals"}:
        return value in [_variables(o, context, version, resource=False) for o in options]
    if base in {"StringLike", "ArnLike"}:
        return any(_like(value, o, context, version) for o in options)
    if base == "Bool":
        return value.lower() in [o.lower() for o in options]
    raise AssertionError(f"condition operator {operator} not understood by this test")


def statement_allows(statement: dict[str, Any], request: Request) -> bool:
    if statement.get("Effect") != "Allow":
        return False
    if not any(fnmatch.fnmatch(request.action.lower(), a.lower()) for a in as_list(statement["Action"])):
        return False
    version = statement.get(VERSION, "2008-10-17")
    if not any(_like(request.resource, r, request.context, version, True) for r in as_list(statement["Resource"])):
        return False
    return all(
        _condition_holds(operator, key, expected, request.context, version)
        for operator, keys in statement.get("Condition", {}).items()
        for key, expected in keys.items()
    )


def allowed(held: list[dict[str, Any]], request: Request) -> bool:
    return any(statement_allows(s, request) for s in held)


# ---- what a call needs --------------------------------------------------------------------------------------


def model_arn(model_id: str, region: str, account: str) -> str:
    if model_id.startswith("arn:"):
        return model_id
    if model_id.split(".", 1)[0] in PROFILE_GEOGRAPHIES:
        return f"arn:aws:bedrock:{region}:{account}:inference-profile/{model_id}"
    return f"arn:aws:bedrock:{region}::foundation-model/{model_id}"


def authorizations(service: str, operation: str, params: dict[str, Any], region: str, account: str) -> list[Request]:
    """The IAM actions (on resources, with context) one call needs: AWS's Service Authorization Reference for
    the operations bbq makes. An operation not listed fails the test, so a new call is judged, never ignored."""
    context = {"aws:RequestedRegion": region, "aws:PrincipalAccount": account, "aws:ResourceAccount": account}
    if service == "s3":
        return _s3(operation, params, context)
    if service == "dynamodb":
        table = f"arn:aws:dynamodb:{region}:{account}:table/"
        if operation == "BatchGetItem":
            return [Request("dynamodb:BatchGetItem", table + name, context) for name in params["RequestItems"]]
        if operation == "TransactWriteItems":
            kinds = {
                "Put": "PutItem",
                "Update": "UpdateItem",
                "Delete": "DeleteItem",
                "ConditionCheck": "ConditionCheckItem",
            }
            return [
                Request(f"dynamodb:{kinds[kind]}", table + body["TableName"], context)
                for item in params["TransactItems"]
                for kind, body in item.items()
            ]
        index = f"/index/{params['IndexName']}" if params.get("IndexName") else ""
        return [Request(f"dynamodb:{operation}", table + params["TableName"] + index, context)]
    if service == "bedrock":
        jobs = f"arn:aws:bedrock:{region}:{account}:model-invocation-job/"
        if operation == "CreateModelInvocationJob":
            needed = [
                Request("bedrock:CreateModelInvocationJob", jobs + "new", context),
                Request("bedrock:CreateModelInvocationJob", model_arn(params["modelId"], region, account), context),
                Request("iam:PassRole", params["roleArn"], {**context, "iam:PassedToService": "bedrock.amazonaws.com"}),
            ]
            if params.get("tags"):
                needed.append(Request("bedrock:TagResource", jobs + "new", context))
            return needed
        if operation in {"GetModelInvocationJob", "StopModelInvocationJob"}:
            return [Request(f"bedrock:{operation}", params["jobIdentifier"], context)]
        if operation == "ListModelInvocationJobs":
            return [Request("bedrock:ListModelInvocationJobs", "*", context)]
        if operation == "GetInferenceProfile":  # on the profile (inference-profile or application-inference-profile)
            return [
                Request(
                    "bedrock:GetInferenceProfile",
                    model_arn(params["inferenceProfileIdentifier"], region, account),
                    context,
                )
            ]
    if service == "bedrock-runtime" and operation in {"InvokeModel", "Converse"}:
        return [Request("bedrock:InvokeModel", model_arn(params["modelId"], region, account), context)]
    if service == "service-quotas" and operation in {"ListServiceQuotas", "ListAWSDefaultServiceQuotas"}:
        return [Request(f"servicequotas:{operation}", "*", context)]
    if service == "sqs" and operation == "SendMessage":
        name = params["QueueUrl"].rstrip("/").rsplit("/", 1)[-1]
        return [Request("sqs:SendMessage", f"arn:aws:sqs:{region}:{account}:{name}", context)]
    if service == "events" and operation == "PutEvents":
        buses = {entry.get("EventBusName", "default") for entry in params["Entries"]}
        return [
            Request("events:PutEvents", f"arn:aws:events:{region}:{account}:event-bus/{bus}", context) for bus in buses
        ]
    raise AssertionError(f"no authorization known for {service}:{operation}: add it from AWS's reference")


def _s3(operation: str, params: dict[str, Any], context: dict[str, str]) -> list[Request]:
    bucket = f"arn:aws:s3:::{params['Bucket']}"
    key = f"{bucket}/{params.get('Key', '')}"
    if operation in {"GetObject", "HeadObject"}:
        return [Request("s3:GetObjectVersion" if params.get("VersionId") else "s3:GetObject", key, context)]
    if operation in {"PutObject", "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"}:
        return [Request("s3:PutObject", key, context)]
    if operation == "AbortMultipartUpload":
        return [Request("s3:AbortMultipartUpload", key, context)]
    if operation in {"CopyObject", "UploadPartCopy"}:
        source = params["CopySource"]
        if isinstance(source, str):
            path, _, version = source.partition("?versionId=")
            source = {"Bucket": path.split("/", 1)[0], "Key": path.split("/", 1)[1], "VersionId": version or None}
        read = "s3:GetObjectVersion" if source.get("VersionId") else "s3:GetObject"
        return [
            Request("s3:PutObject", key, context),
            Request(read, f"arn:aws:s3:::{source['Bucket']}/{source['Key']}", context),
        ]
    if operation == "PutObjectTagging":  # Service Authorization Reference: s3:PutObject(Version)Tagging, object
        return [
            Request("s3:PutObjectVersionTagging" if params.get("VersionId") else "s3:PutObjectTagging", key, context)
        ]
    if operation == "DeleteObject":
        return [Request("s3:DeleteObjectVersion" if params.get("VersionId") else "s3:DeleteObject", key, context)]
    listing = {**context, "s3:prefix": params.get("Prefix", "")}
    if operation in {"ListObjectsV2", "ListObjects"}:
        return [Request("s3:ListBucket", bucket, listing)]
    if operation == "ListObjectVersions":
        return [Request("s3:ListBucketVersions", bucket, listing)]
    raise AssertionError(f"no authorization known for s3:{operation}: add it from AWS's reference")
