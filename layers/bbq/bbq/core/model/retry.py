"""When to ask Bedrock again about a job it answered with a transient error."""

from datetime import timedelta

# A job whose create keeps failing transiently waits 1, 2, 4 ... minutes, at most an hour, between tries.
FIRST_BACKOFF = timedelta(minutes=1)
MAX_BACKOFF = timedelta(hours=1)
# Transient failures one run accepts per model before it leaves the model's queue for the next run: a Bedrock
# that is down for everyone is not asked about every job in the backlog.
TRANSIENT_FAILURES_PER_RUN = 3
# A slot reserved for a job that is still Pending this long after is a leftover of a run that died between
# reserving and submitting (no run lives longer than Lambda's 15 minutes).
STALE_RESERVATION = timedelta(minutes=15)
# Bedrock expires a job at its timeout; one still active this long after is stuck (surfaced, not touched).
TIMEOUT_GRACE = timedelta(hours=1)


def backoff(transient_errors: int) -> timedelta:
    """The wait after the ``transient_errors``-th transient failure in a row (1, 2, 3, ...)."""
    doublings = min(max(0, transient_errors - 1), 20)  # past 2**6 minutes the cap holds: no overflow, ever
    return min(FIRST_BACKOFF * 2**doublings, MAX_BACKOFF)


# Record-level retries. Bedrock writes a failed record's error as ``{"errorCode": <HTTP status>, "errorMessage"}``
# (the status of the InvokeModel or Converse error the record met). A record goes again, in its part's next
# attempt, when the error is about the service at that moment, not about the record:
# 408 ModelTimeoutException, 424 ModelErrorException, 429 ThrottlingException / ModelNotReadyException, and every
# 5xx (InternalServerException 500, ServiceUnavailableException 503, ...). Any other code (400 ValidationException:
# the record's own input; 403, 404, 413 ...) fails the record for good, with the error listed in its file's report.
# A record missing from the output (Bedrock's documented failure mode) goes again too.
RETRIED_RECORD_CODES = frozenset({408, 424, 429})
MISSING = "missing from the job's output"


def record_error_is_transient(code: object) -> bool:
    number = _as_int(code)
    return number is not None and (number in RETRIED_RECORD_CODES or 500 <= number <= 599)


def worth_sending_again(code: object) -> bool:
    """``bbq retry``'s default, for a record that never succeeded: one whose last error was about the service at
    that moment, or that has no error code (it went missing, its job failed or expired, its output was lost, a stop
    left it unrun), may succeed if sent again; one Bedrock answered with an error about the record itself (400
    "Malformed input" ...) fails the same way again, and costs again, until its line is fixed."""
    return code is None or record_error_is_transient(code)


def _as_int(code: object) -> int | None:
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.strip().isdigit():
        return int(code)
    return None
