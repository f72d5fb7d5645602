"""bedrock-runtime adapters: the OnDemandService port (InvokeModel with the model's native body, or Converse) and
the TokenCounter port (CountTokens, for estimates before a run)."""

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError, ParamValidationError

from bbq.adapters.bedrock_errors import TRANSIENT, code_and_message, model_refusal
from bbq.core.model.errors import ModelUnavailable, RecordRejected, ServiceBusy
from bbq.core.model.files import InvocationType
from bbq.core.model.ports import OnDemandResult

if TYPE_CHECKING:  # typed clients for mypy (boto3-stubs); Lambda needs none of it
    from mypy_boto3_bedrock_runtime import BedrockRuntimeClient

# Beside the usual ones, the runtime's own "try again" answers.
_TRANSIENT = TRANSIENT | {"ModelNotReadyException", "ModelTimeoutException"}


class BedrockRuntime:
    def __init__(self, client: "BedrockRuntimeClient") -> None:
        self._runtime = client

    def invoke(
        self,
        model_id: str,
        invocation_type: InvocationType,
        model_input: Mapping[str, object],
        service_tier: str | None = None,
    ) -> OnDemandResult:
        try:
            if invocation_type == InvocationType.CONVERSE:
                # The user's Converse body as it is: Bedrock (or botocore's validation) judges it.
                tier: dict[str, Any] = {"serviceTier": {"type": service_tier}} if service_tier else {}
                conversed = self._runtime.converse(modelId=model_id, **cast(dict[str, Any], model_input), **tier)
                usage = conversed.get("usage", {})
                body = {k: v for k, v in conversed.items() if k != "ResponseMetadata"}
                return OnDemandResult(body, int(usage.get("inputTokens", 0)), int(usage.get("outputTokens", 0)))
            response = self._runtime.invoke_model(
                modelId=model_id,
                body=json.dumps(model_input),
                contentType="application/json",
                accept="application/json",
                **({"serviceTier": service_tier} if service_tier else {}),  # type: ignore[arg-type]
            )
        except ClientError as exc:
            raise _translate(exc) from exc
        except ParamValidationError as exc:  # a Converse body the Converse API does not take
            raise RecordRejected(f"ValidationException: {exc}") from exc
        headers = response["ResponseMetadata"]["HTTPHeaders"]
        return OnDemandResult(
            json.loads(response["body"].read()),
            int(headers.get("x-amzn-bedrock-input-token-count", 0)),
            int(headers.get("x-amzn-bedrock-output-token-count", 0)),
        )


class BedrockTokenCounter:
    def __init__(self, client: "BedrockRuntimeClient") -> None:
        self._runtime = client

    def count(self, model_id: str, invocation_type: InvocationType, model_input: Mapping[str, Any]) -> int | None:
        if invocation_type == InvocationType.CONVERSE:  # CountTokens takes a Converse request's messages and system
            counted: dict[str, Any] = {k: model_input[k] for k in ("messages", "system") if k in model_input}
            request: dict[str, Any] = {"converse": counted}
        else:
            request = {"invokeModel": {"body": json.dumps(model_input).encode()}}
        try:
            response = self._runtime.count_tokens(modelId=model_id, input=cast(Any, request))
        except (ClientError, BotoCoreError):
            # A model CountTokens does not count (ValidationException), no bedrock:CountTokens permission, a
            # service that stays busy through botocore's retries, or none reachable: the estimate falls back to its
            # rule of thumb.
            return None
        return int(response["inputTokens"])


def _translate(exc: ClientError) -> Exception:
    code, message = code_and_message(exc)
    text = f"{code}: {message}"
    if code in _TRANSIENT:
        return ServiceBusy(text)
    if refusal := model_refusal(code, message):
        return refusal
    if code == "ValidationException" and "model identifier" in message.lower():
        return ModelUnavailable(ModelUnavailable.UNKNOWN_MODEL, text)
    if code == "ValidationException":
        return RecordRejected(text)
    return ServiceBusy(text)
