"""Logger, Tracer and Metrics, created once. Service name and namespace come from POWERTOOLS_* variables."""

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

logger = Logger()
tracer = Tracer()
metrics = Metrics()

# The core logs through the standard library (it must not depend on Powertools); give those loggers the
# same JSON format and keys, so every core line carries the invocation's context and its job_id.
copy_config_to_registered_loggers(source_logger=logger, include={"bbq"})
