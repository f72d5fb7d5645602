"""Domain exceptions. Adapters translate AWS errors into these; the core decides what each means."""


class BbqError(Exception):
    """Base of every error bbq raises on purpose."""


class SlotUnavailable(BbqError):
    """Bedrock refused a job for lack of capacity (quota reached); retry on a later run."""


class ServiceBusy(BbqError):
    """Throttled, or a server error that outlived botocore's retries: transient, so retry on a later run."""


class RequestRejected(BbqError):
    """Bedrock refused the job for good (ValidationException and the like): the job fails with this message."""


class JobNotFound(BbqError):
    """Bedrock does not know the job we asked about."""


class ObjectMissing(BbqError):
    """The S3 object an event names is gone (deleted or overwritten since the event)."""
