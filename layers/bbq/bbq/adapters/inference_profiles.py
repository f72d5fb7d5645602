"""QuotaHolders from Bedrock: a cross-Region inference profile (``us.anthropic...``) or an application inference
profile routes to a foundation model, and Bedrock's concurrent-job quota for batch is that model's, shared with
jobs that name the model itself. GetInferenceProfile says which model; the answer is kept for the process."""

import logging
import re
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from bbq.adapters.bedrock_errors import TRANSIENT, code_and_message

if TYPE_CHECKING:
    from mypy_boto3_bedrock import BedrockClient

log = logging.getLogger(__name__)

# A system-defined profile id starts with its geography (Bedrock User Guide, "Supported cross-Region inference
# profiles"); an ARN names inference-profile/ or application-inference-profile/.
_PROFILE = re.compile(
    r"^(?:(?:us|eu|apac|us-gov|jp|au|ca|global)\.|arn:[^:]+:bedrock:[^:]*:[^:]*:(?:application-)?inference-profile/)"
)


class InferenceProfileQuotas:
    def __init__(self, client: "BedrockClient") -> None:
        self._bedrock = client
        self._holders: dict[str, str] = {}

    def holder(self, model_id: str) -> str:
        if model_id not in self._holders:
            found = self._ask(model_id) if _PROFILE.match(model_id) else _model_id(model_id)
            if found is None:
                return model_id  # Bedrock was busy: its own ledger this run, asked again next run
            self._holders[model_id] = found
        return self._holders[model_id]

    def _ask(self, profile: str) -> str | None:
        try:
            response = self._bedrock.get_inference_profile(inferenceProfileIdentifier=profile)
        except ClientError as exc:
            code, message = code_and_message(exc)
            if code in TRANSIENT:
                return None
            # Not found or not allowed: counted on its own ledger, as before profiles shared one (logged to fix).
            log.warning("could not tell which model a profile routes to", extra={"model_id": profile, "error": message})
            return profile
        models = [model["modelArn"] for model in response.get("models", [])]
        return _model_id(models[0]) if models else profile


def _model_id(model: str) -> str:
    """A foundation model's id, from its id or its ARN (arn:...:foundation-model/<id>)."""
    return model.rsplit("foundation-model/", 1)[-1]
