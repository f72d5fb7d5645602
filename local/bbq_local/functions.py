"""Runs the real Lambda handlers in this process, under the environment the deployed functions carry."""

import contextlib
import importlib.util
import logging
import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from bbq import observability, wiring
from bbq_local.stack import ROOT


@dataclass
class LocalContext:
    """The attributes of Lambda's context object that Powertools reads."""

    function_name: str
    remaining_ms: int = 300_000  # what the invocation has left, as Lambda tells it
    memory_limit_in_mb: int = 512
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    @property
    def invoked_function_arn(self) -> str:
        return f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def load_handler(function_folder: str) -> Any:
    """Imports functions/<folder>/app.py under a module name of its own (every handler is called app.py)."""
    path = ROOT / "functions" / function_folder / "app.py"
    spec = importlib.util.spec_from_file_location(f"bbq_function_{function_folder}", path)
    assert spec and spec.loader
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


@contextlib.contextmanager
def environment(variables: dict[str, Any]) -> Iterator[None]:
    """Sets the function's variables for one invocation and restores the process's afterwards."""
    saved = dict(os.environ)
    os.environ.update({k: str(v) for k, v in variables.items()})
    wiring.reset()  # clients pick up endpoint variables when created
    # Powertools reads these once, at import; in Lambda each function's process has its own.
    metrics = observability.metrics
    saved_metrics = metrics.namespace, metrics.service
    metrics.namespace = variables.get("POWERTOOLS_METRICS_NAMESPACE", metrics.namespace)
    metrics.service = variables.get("POWERTOOLS_SERVICE_NAME", metrics.service)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
        metrics.namespace, metrics.service = saved_metrics
        wiring.reset()


@contextlib.contextmanager
def output_to(log_file: Path | None) -> Iterator[None]:
    """What a handler prints (its JSON logs and its metrics as EMF documents) goes to its log file, as Lambda
    sends it to CloudWatch Logs; without a file, to this process's output."""
    if log_file is None:
        yield
        return
    log_file.parent.mkdir(parents=True, exist_ok=True)
    # Powertools' Logger keeps the stream it was made with: point its handler at the file too.
    streams = [h for h in observability.logger.handlers if isinstance(h, logging.StreamHandler)]
    with log_file.open("a") as sink, contextlib.redirect_stdout(sink):
        previous = [handler.setStream(sink) for handler in streams]
        try:
            yield
        finally:
            for handler, stream in zip(streams, previous, strict=True):
                if stream is not None:
                    handler.setStream(stream)


@dataclass
class LocalFunction:
    name: str
    folder: str
    variables: dict[str, Any]
    handler: Any = None
    invocations: int = 0
    log_file: Path | None = None
    remaining_ms: int = 300_000  # each invocation's time left: lower it to make a function run out of time

    def invoke(self, event: dict[str, Any]) -> Any:
        self.invocations += 1
        with environment(self.variables), output_to(self.log_file):
            if self.handler is None:  # imported under the function's variables, as Lambda's init phase is
                self.handler = load_handler(self.folder)
            return self.handler(event, LocalContext(self.name, self.remaining_ms))

    def invoke_concurrently(self, events: list[dict[str, Any]]) -> list[Any]:
        """Invokes the handler once per event, all at the same time, as Lambda does without reserved concurrency."""
        self.invocations += len(events)
        with environment(self.variables), output_to(self.log_file):
            if self.handler is None:
                self.handler = load_handler(self.folder)
            for service in ("dynamodb", "bedrock", "s3"):
                wiring.client(service)  # made before the threads start: creating boto3 clients is not thread-safe
            with ThreadPoolExecutor(max_workers=len(events)) as pool:
                return list(
                    pool.map(lambda event: self.handler(event, LocalContext(self.name, self.remaining_ms)), events)
                )
