"""Bedrock's REST-JSON wire protocol in front of the engine, so unmodified boto3 and the AWS CLI can use it.

Routes and error statuses come from botocore's own service model for ``bedrock``, not from a copy.
"""

import json
import threading
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from botocore.utils import parse_timestamp
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from bedrock_emulator import quotas
from bedrock_emulator.api import ERROR_STATUS, SERVICE, ApiError
from bedrock_emulator.engine import BedrockEmulator

_LIST_QUERY = SERVICE.operation_model("ListModelInvocationJobs").input_shape.members  # type: ignore[union-attr]
ADMIN_PREFIX = "/_emulator"
QUOTAS_TARGET = "ServiceQuotasV20190624."
RUNTIME = {"invoke", "converse"}


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _respond(body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Response:
    response = Response(json.dumps(body, default=_json_default), status=status, content_type="application/json")
    response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def _error(code: str, message: str) -> Response:
    # The header names the error for REST-JSON (Bedrock); JSON 1.1 (Service Quotas) reads "__type" in the body.
    body = {"__type": code, "message": message}
    return _respond(body, ERROR_STATUS.get(code, 400), {"x-amzn-ErrorType": f"{code}:"})


class EmulatorApp:
    """The WSGI application: Bedrock's four batch routes plus /_emulator admin routes for knobs."""

    def __init__(self, emulator: BedrockEmulator) -> None:
        self.emulator = emulator

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            response = self._route(request, environ)
        except ApiError as exc:
            response = _error(exc.code, exc.message)
        except (ValueError, KeyError, TypeError) as exc:
            response = _error("ValidationException", f"Malformed request: {exc}")
        return response(environ, start_response)

    def _route(self, request: Request, environ: dict[str, Any]) -> Response:
        # The raw path keeps %2F inside a job ARN apart from the path's own slashes.
        raw = environ.get("RAW_URI") or environ.get("REQUEST_URI") or request.path
        segments = [unquote(s) for s in urlsplit(raw).path.split("/")[1:]]
        method = request.method
        target = request.headers.get("X-Amz-Target", "")
        if target.startswith(QUOTAS_TARGET):  # Service Quotas (JSON 1.1) on the same endpoint
            return self._service_quotas(target.removeprefix(QUOTAS_TARGET), request)
        if segments[:1] == [ADMIN_PREFIX[1:]]:
            return self._admin(method, segments[1:], request)
        if method == "POST" and len(segments) == 3 and segments[0] == "model" and segments[2] in RUNTIME:
            return self._runtime(segments[1], segments[2], request)
        if method == "POST" and segments == ["model-invocation-job"]:
            return _respond(self.emulator.create_model_invocation_job(request.get_json(force=True)))
        if method == "GET" and len(segments) == 2 and segments[0] == "model-invocation-job":
            return _respond(self.emulator.get_model_invocation_job(segments[1]))
        if method == "POST" and len(segments) == 3 and segments[0] == "model-invocation-job" and segments[2] == "stop":
            return _respond(self.emulator.stop_model_invocation_job(segments[1]))
        if method == "GET" and segments == ["model-invocation-jobs"]:
            return _respond(self.emulator.list_model_invocation_jobs(self._list_params(request)))
        return _error("ResourceNotFoundException", f"No such route: {method} {request.path}")

    def _runtime(self, model_id: str, operation: str, request: Request) -> Response:
        """bedrock-runtime's InvokeModel and Converse, on the same endpoint (AWS_ENDPOINT_URL_BEDROCK_RUNTIME)."""
        body = request.get_json(force=True)
        if operation == "converse":
            invocation = self.emulator.converse(model_id, body)
            return _respond(invocation.output)
        invocation = self.emulator.invoke_model(model_id, body)
        return _respond(
            invocation.output,
            headers={
                "X-Amzn-Bedrock-Input-Token-Count": str(invocation.input_tokens),
                "X-Amzn-Bedrock-Output-Token-Count": str(invocation.output_tokens),
            },
        )

    def _service_quotas(self, operation: str, request: Request) -> Response:
        if operation not in {"ListServiceQuotas", "ListAWSDefaultServiceQuotas"}:
            return _error(
                "ResourceNotFoundException",
                f"The emulator serves ListServiceQuotas and ListAWSDefaultServiceQuotas, not {operation}",
            )
        body = request.get_json(force=True) or {}
        faults = self.emulator.faults
        page = quotas.list_service_quotas(
            self.emulator.limits,
            body,
            denied=faults.service_quotas_denied,
            gb_bytes=faults.quota_gb_bytes,
            defaults=operation == "ListAWSDefaultServiceQuotas",
        )
        response = _respond(page)
        response.content_type = "application/x-amz-json-1.1"
        return response

    @staticmethod
    def _list_params(request: Request) -> dict[str, Any]:
        query: dict[str, Any] = {
            k: v[-1] for k, v in parse_qs(request.query_string.decode(), keep_blank_values=True).items()
        }
        for name, value in query.items():
            kind = _LIST_QUERY[name].type_name if name in _LIST_QUERY else "string"
            if kind == "timestamp":
                query[name] = parse_timestamp(value)
            elif kind == "integer":
                query[name] = int(value)
        return query

    def _admin(self, method: str, segments: list[str], request: Request) -> Response:
        if segments == ["health"]:
            return _respond({"status": "ok", "now": self.emulator.clock.now()})
        if segments == ["faults"] and method == "GET":
            return _respond(self.emulator.faults.as_dict())
        if segments == ["faults"] and method == "POST":
            self.emulator.faults.update(request.get_json(force=True))
            return _respond(self.emulator.faults.as_dict())
        if segments == ["limits"] and method == "POST":
            body = request.get_json(force=True)
            self.emulator.limits.set(body.pop("modelId", None), **body)
            return _respond({"ok": True})
        if segments == ["jobs"]:
            self.emulator.advance()
            return _respond({"jobs": self.emulator.jobs()})
        return _error("ResourceNotFoundException", f"No such admin route: {request.path}")


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:  # one line per call drowns test output
        pass


class EmulatorServer:
    """Serves an emulator over HTTP from a background thread (port 0 picks a free port)."""

    def __init__(self, emulator: BedrockEmulator, host: str = "127.0.0.1", port: int = 0, quiet: bool = True) -> None:
        self.emulator = emulator
        handler = _QuietHandler if quiet else WSGIRequestHandler
        self._server: BaseWSGIServer = make_server(
            host, port, EmulatorApp(emulator), threaded=True, request_handler=handler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="bedrock-emulator", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self._server.host}:{self._server.port}"

    def start(self) -> "EmulatorServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "EmulatorServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
