"""Domain exceptions. Adapters translate AWS errors into these; the core decides what each means."""


class BbqError(Exception):
    """Base of every error bbq raises on purpose."""


class SlotUnavailable(BbqError):
    """Bedrock refused a job for lack of capacity (quota reached); retry on a later run."""


class ServiceBusy(BbqError):
    """Throttled, or a server error that outlived botocore's retries: transient, so retry on a later run."""


class ModelUnavailable(BbqError):
    """Bedrock refused the model for this account (no model access, no Marketplace subscription, the use-case
    form not sent, a model or profile it does not know): no job on this model can go until someone fixes that."""

    ACCESS = "access"
    SUBSCRIPTION = "subscription"
    USE_CASE_FORM = "use-case-form"
    UNKNOWN_MODEL = "unknown-model"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class RequestRejected(BbqError):
    """Bedrock refused the job for good (ValidationException and the like): the job fails with this message."""


class JobNotFound(BbqError):
    """Bedrock does not know the job we asked about, and a lookup by its name found nothing either."""


class ObjectMissing(BbqError):
    """The S3 object an event names is gone (deleted or overwritten since the event)."""


class RecordRejected(BbqError):
    """Bedrock refused one record run on demand (a 4xx about its own input): that record fails, the others go on."""
