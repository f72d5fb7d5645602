"""Which errors are AWS's trouble rather than a surprise about the data: every error botocore raises (a service
throttling, down, or refusing bbq's role) is one; Lambda tries the event again and its dead-letter queue and
alarm catch what never clears."""

from botocore.exceptions import BotoCoreError, ClientError


def is_aws_trouble(exc: Exception) -> bool:
    return isinstance(exc, ClientError | BotoCoreError)
