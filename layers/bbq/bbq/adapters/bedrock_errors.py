"""What Bedrock's refusals about the account's use of a model look like, the same for batch jobs and for
InvokeModel/Converse: the whole model's queue waits for someone to fix access; nothing fails."""

from bbq.core.errors import ModelUnavailable


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
