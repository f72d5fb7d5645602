"""Logger, Tracer and Metrics, created once. Service name and namespace come from POWERTOOLS_* variables.

Tracing is off unless the stack's Tracing parameter turns it on (BBQ_TRACING=true): Powertools' Tracer loads the
X-Ray SDK as it is made, even disabled (about 100 ms of every cold start, measured by bench/cold_start_bench.py),
so without tracing the handlers' decorators are a stand-in that returns each function as it is."""

import os
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

F = TypeVar("F", bound=Callable[..., Any])


class NoTracer:
    """What the handlers use of Tracer, doing nothing: no X-Ray SDK loaded, no segment sent."""

    def capture_lambda_handler(self, handler: F) -> F:
        return handler

    def capture_method(self, method: F) -> F:
        return method


def tracing_on(environ: Any = os.environ) -> bool:
    return str(environ.get("BBQ_TRACING", "")).lower() == "true"


logger = Logger()
tracer: Tracer | NoTracer = Tracer() if tracing_on() else NoTracer()
metrics = Metrics()

# The core logs through the standard library (it must not depend on Powertools); give those loggers the
# same JSON format and keys, so every core line carries the invocation's context and its job_id.
copy_config_to_registered_loggers(source_logger=logger, include={"bbq"})
