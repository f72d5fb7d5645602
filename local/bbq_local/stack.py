"""The real template.yaml, translated with aws-sam-translator and deployed into moto's CloudFormation.

moto creates the table, bucket, queue, roles, functions and rules from it, but drops what it cannot run
here (bucket notifications to Lambda, layers, managed policy ARNs); tests assert those on ``translated``.
"""

import io
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from samtranslator.translator.managed_policy_translator import ManagedPolicyLoader
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
ARTIFACTS_BUCKET = "bbq-local-artifacts"


def load_template(path: Path = TEMPLATE) -> dict[str, Any]:
    return yaml_parse(path.read_text())


def code_paths(template: dict[str, Any]) -> dict[str, str]:
    """Logical id -> local folder of every function's CodeUri and layer's ContentUri."""
    paths = {}
    for logical_id, resource in template["Resources"].items():
        props = resource.get("Properties", {})
        for key in ("CodeUri", "ContentUri"):
            if isinstance(props.get(key), str):
                paths[logical_id] = props[key]
    return paths


def translate(template: dict[str, Any], parameters: dict[str, str], iam_client: Any) -> dict[str, Any]:
    """SAM -> plain CloudFormation, with every code folder replaced by its artifact's s3:// address."""
    sam = json.loads(json.dumps(template))
    for logical_id, folder in code_paths(template).items():
        props = sam["Resources"][logical_id]["Properties"]
        key = "CodeUri" if "CodeUri" in props else "ContentUri"
        props[key] = f"s3://{ARTIFACTS_BUCKET}/{Path(folder).name}.zip"
    return transform(sam, dict(parameters), ManagedPolicyLoader(iam_client))


def translate_offline(parameters: dict[str, str] | None = None) -> dict[str, Any]:
    """The template as SAM translates it for ``parameters``, with moto answering the translator's IAM and Region
    questions: nothing leaves the machine, and no AWS is needed (checkov, template tests)."""
    from moto import mock_aws  # a test and tool dependency, not the pipeline's

    with mock_aws():
        return translate(load_template(), parameters or {}, boto3.client("iam", region_name="us-east-1"))


def _zip_folder(folder: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for file in sorted(folder.rglob("*.py")):
            if "__pycache__" not in file.parts:
                archive.write(file, file.relative_to(folder))
    return buffer.getvalue()


@dataclass(frozen=True)
class DeployedStack:
    name: str
    outputs: dict[str, str]
    translated: dict[str, Any]
    parameters: dict[str, str]

    def function_environment(self, function_name: str) -> dict[str, str]:
        config = boto3.client("lambda").get_function_configuration(FunctionName=function_name)
        return dict(config.get("Environment", {}).get("Variables", {}))


# Resource types moto's CloudFormation cannot create, or cannot run: an SQS event source mapping makes moto's SQS
# invoke the function through Docker, which is not here, and the message is lost. They are asserted on the
# translated template instead (tests/pipeline/test_template.py); locally they are left out (the local pipeline
# delivers the queue's messages itself), and what names them gets a placeholder.
NOT_IN_MOTO = {"AWS::CloudWatch::Alarm", "AWS::Lambda::EventSourceMapping"}


def _without_what_moto_lacks(translated: dict[str, Any]) -> dict[str, Any]:
    resources = translated["Resources"]
    missing = {name for name, resource in resources.items() if resource["Type"] in NOT_IN_MOTO}

    def placeholder(value: Any) -> Any:
        if isinstance(value, dict):
            if value.get("Fn::GetAtt", [None])[0] in missing or value.get("Ref") in missing:
                return "left-out-locally"
            return {key: placeholder(item) for key, item in value.items()}
        if isinstance(value, list):
            return [placeholder(item) for item in value]
        return value

    kept = {name: placeholder(resource) for name, resource in resources.items() if name not in missing}
    return {**translated, "Resources": kept}


def deploy(stack_name: str, parameters: dict[str, str]) -> DeployedStack:
    """Deploys the template into whatever moto is active (in-process ``mock_aws`` or a moto server)."""
    template = load_template()
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket=ARTIFACTS_BUCKET)
    for folder in code_paths(template).values():
        s3.put_object(Bucket=ARTIFACTS_BUCKET, Key=f"{Path(folder).name}.zip", Body=_zip_folder(ROOT / folder))
    translated = translate(template, parameters, boto3.client("iam"))
    translated = _without_what_moto_lacks(translated)
    cloudformation = boto3.client("cloudformation")
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=json.dumps(translated),
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()],
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
    )
    stack = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        events = cloudformation.describe_stack_events(StackName=stack_name)["StackEvents"]
        reasons = [e.get("ResourceStatusReason") for e in events if e.get("ResourceStatusReason")]
        raise RuntimeError(f"stack {stack_name} is {stack['StackStatus']}: {reasons}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    return DeployedStack(stack_name, outputs, translated, parameters)
