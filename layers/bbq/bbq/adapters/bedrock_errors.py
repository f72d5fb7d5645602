"""Reading Bedrock's errors, the same for batch jobs and for InvokeModel/Converse: which ones pass by waiting,
and which are about the account's use of a model (the whole model's queue waits for someone to fix access;
nothing fails)."""

from botocore.exceptions import ClientError

from bbq.core.model.errors import ModelUnavailable

# Errors that go away by waiting: the work keeps its place and is asked for again later.
TRANSIENT = frozenset({"ThrottlingException", "InternalServerException", "ServiceUnavailableException"})


def code_and_message(exc: ClientError) -> tuple[str, str]:
    error = exc.response.get("Error", {})
    return error.get("Code", ""), error.get("Message", "")


def model_refusal(code: str, message: str) -> ModelUnavailable | None:
    """The refusal, if Bedrock's answer is about access to the model (AccessDenied, ResourceNotFound)."""
    text = f"{code}: {message}"
    lowered = message.lower()
    if code == "AccessDeniedException":
        reason = ModelUnavailable.SUBSCRIPTION if "marketplace" in lowered else ModelUnavailable.ACCESS
        return ModelUnavailable(reason, text)
    if code == "ResourceNotFoundException":
        reason = ModelUnavailable.USE_CASE_FORM if "use case" in lowered else ModelUnavailable.UNKNOWN_MODEL
        return ModelUnavailable(reason, text)
    return None
