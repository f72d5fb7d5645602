"""GetInferenceProfile: which foundation models an inference profile routes to.

System-defined (cross-Region) profiles are named ``<geography>.<model id>`` and route to that model in the
geography's Regions (Bedrock User Guide, "Supported Regions and models for inference profiles"); application
inference profiles are made by an account, so the emulator knows only those a test registers."""

import re
from datetime import UTC, datetime
from typing import Any

from bedrock_emulator import models

# The source Regions of each geography's profiles (a subset is enough: the answer names the model in each).
GEOGRAPHIES = {
    "us": ("us-east-1", "us-east-2", "us-west-2"),
    "eu": ("eu-central-1", "eu-west-1", "eu-west-3"),
    "apac": ("ap-northeast-1", "ap-southeast-1", "ap-southeast-2"),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
    "ca": ("ca-central-1", "ca-west-1"),
    "us-gov": ("us-gov-west-1", "us-gov-east-1"),
    "global": ("us-east-1", "eu-west-1", "ap-northeast-1"),
}
_ARN = re.compile(r"^arn:[^:]+:bedrock:[^:]*:[^:]*:(inference-profile|application-inference-profile)/(.+)$")
CREATED = datetime(2024, 8, 27, tzinfo=UTC)


def describe(
    identifier: str, region: str, account: str, applications: dict[str, str], partition: str = "aws"
) -> dict[str, Any] | None:
    """GetInferenceProfile's answer, or None when there is no such profile."""
    kind, profile_id = "inference-profile", identifier
    if match := _ARN.match(identifier):
        kind, profile_id = match.group(1), match.group(2)
    if kind == "application-inference-profile" or profile_id in applications:
        model = applications.get(profile_id) or applications.get(identifier)
        if model is None:
            return None
        arn = f"arn:{partition}:bedrock:{region}:{account}:application-inference-profile/{profile_id}"
        return _answer(profile_id, arn, "APPLICATION", [f"arn:{partition}:bedrock:{region}::foundation-model/{model}"])
    geography, _, model = profile_id.partition(".")
    if geography not in GEOGRAPHIES or models.family(model) is None:
        return None
    arn = f"arn:{partition}:bedrock:{region}:{account}:inference-profile/{profile_id}"
    arns = [f"arn:{partition}:bedrock:{where}::foundation-model/{model}" for where in GEOGRAPHIES[geography]]
    return _answer(profile_id, arn, "SYSTEM_DEFINED", arns)


def _answer(profile_id: str, arn: str, kind: str, model_arns: list[str]) -> dict[str, Any]:
    name = re.sub(r"[^0-9A-Za-z]+", " ", profile_id).strip()[:64].strip()
    return {
        "inferenceProfileName": name,
        "inferenceProfileArn": arn,
        "inferenceProfileId": profile_id,
        "models": [{"modelArn": model_arn} for model_arn in model_arns[:5]],
        "status": "ACTIVE",
        "type": kind,
        "createdAt": CREATED,
        "updatedAt": CREATED,
    }
