"""Bedrock's REST-JSON wire protocol in front of the engine, so unmodified boto3 and the AWS CLI can use it.

Routes and error statuses come from botocore's own service model for ``bedrock``, not from a copy.
"""

import json
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from botocore.utils import parse_timestamp

from bedrock_emulator import quotas
from bedrock_emulator.api import ERROR_STATUS, SERVICE, ApiError
from bedrock_emulator.engine import BedrockEmulator

_LIST_QUERY = SERVICE.operation_model("ListModelInvocationJobs").input_shape.members  # type: ignore[union-attr]
ADMIN_PREFIX = "/_emulator"
QUOTAS_TARGET = "ServiceQuotasV20190624."
RUNTIME = {"invoke", "converse"}


@dataclass(frozen=True)
class Request:
    method: str
    raw_path: str  # as sent: a job ARN's %2F stays apart from the path's own slashes
    headers: dict[str, str]  # names in lower case
    body: bytes = b""

    @property
    def path(self) -> str:
        return urlsplit(self.raw_path).path

    @property
    def query_string(self) -> str:
        return urlsplit(self.raw_path).query

    def json(self) -> Any:
        return json.loads(self.body) if self.body else {}


@dataclass
class Response:
    body: bytes
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


def _json_default(value: object) -> str:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _respond(
    body: dict[str, Any],
    status: int = 200,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json",
) -> Response:
    answer = {"Content-Type": content_type, "x-amzn-RequestId": str(uuid.uuid4()), **(headers or {})}
    return Response(json.dumps(body, default=_json_default).encode(), status, answer)


def _error(code: str, message: str) -> Response:
    # The header names the error for REST-JSON (Bedrock); JSON 1.1 (Service Quotas) reads "__type" in the body.
    body = {"__type": code, "message": message}
    return _respond(body, ERROR_STATUS.get(code, 400), {"x-amzn-ErrorType": f"{code}:"})


class EmulatorApp:
    """The application: Bedrock's four batch routes and GetInferenceProfile, bedrock-runtime's two, Service
    Quotas' two, and /_emulator admin routes for knobs."""

    def __init__(self, emulator: BedrockEmulator) -> None:
        self.emulator = emulator

    def handle(self, request: Request) -> Response:
        try:
            return self._route(request)
        except ApiError as exc:
            return _error(exc.code, exc.message)
        except (ValueError, KeyError, TypeError) as exc:
            return _error("ValidationException", f"Malformed request: {exc}")

    def _route(self, request: Request) -> Response:
        segments = [unquote(s) for s in request.path.split("/")[1:]]
        method = request.method
        target = request.headers.get("x-amz-target", "")
        if target.startswith(QUOTAS_TARGET):  # Service Quotas (JSON 1.1) on the same endpoint
            return self._service_quotas(target.removeprefix(QUOTAS_TARGET), request)
        if segments[:1] == [ADMIN_PREFIX[1:]]:
            return self._admin(method, segments[1:], request)
        if method == "POST" and len(segments) == 3 and segments[0] == "model" and segments[2] == "count-tokens":
            return _respond(self.emulator.count_tokens(segments[1], request.json()))
        if method == "POST" and len(segments) == 3 and segments[0] == "model" and segments[2] in RUNTIME:
            return self._runtime(segments[1], segments[2], request)
        if method == "POST" and segments == ["model-invocation-job"]:
            return _respond(self.emulator.create_model_invocation_job(request.json()))
        if method == "GET" and len(segments) == 2 and segments[0] == "model-invocation-job":
            return _respond(self.emulator.get_model_invocation_job(segments[1]))
        if method == "POST" and len(segments) == 3 and segments[0] == "model-invocation-job" and segments[2] == "stop":
            return _respond(self.emulator.stop_model_invocation_job(segments[1]))
        if method == "GET" and len(segments) == 2 and segments[0] == "inference-profiles":
            return _respond(self.emulator.get_inference_profile(segments[1]))
        if method == "GET" and segments == ["model-invocation-jobs"]:
            return _respond(self.emulator.list_model_invocation_jobs(self._list_params(request)))
        return _error("ResourceNotFoundException", f"No such route: {method} {request.path}")

    def _runtime(self, model_id: str, operation: str, request: Request) -> Response:
        """bedrock-runtime's InvokeModel and Converse, on the same endpoint (AWS_ENDPOINT_URL_BEDROCK_RUNTIME)."""
        body = request.json()
        if operation == "converse":
            invocation = self.emulator.converse(model_id, body)
            return _respond(invocation.output)
        tier = request.headers.get("X-Amzn-Bedrock-Service-Tier")  # InvokeModel's serviceTier (a header)
        invocation = self.emulator.invoke_model(model_id, body, tier)
        headers = {
            "X-Amzn-Bedrock-Input-Token-Count": str(invocation.input_tokens),
            "X-Amzn-Bedrock-Output-Token-Count": str(invocation.output_tokens),
        }
        if tier:
            headers["X-Amzn-Bedrock-Service-Tier"] = tier
        return _respond(invocation.output, headers=headers)

    def _service_quotas(self, operation: str, request: Request) -> Response:
        if operation not in {"ListServiceQuotas", "ListAWSDefaultServiceQuotas"}:
            return _error(
                "ResourceNotFoundException",
                f"The emulator serves ListServiceQuotas and ListAWSDefaultServiceQuotas, not {operation}",
            )
        body = request.json()
        faults = self.emulator.faults
        page = quotas.list_service_quotas(
            self.emulator.limits,
            body,
            denied=faults.service_quotas_denied,
            gb_bytes=faults.quota_gb_bytes,
            defaults=operation == "ListAWSDefaultServiceQuotas",
        )
        return _respond(page, content_type="application/x-amz-json-1.1")

    @staticmethod
    def _list_params(request: Request) -> dict[str, Any]:
        query: dict[str, Any] = {k: v[-1] for k, v in parse_qs(request.query_string, keep_blank_values=True).items()}
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
            self.emulator.faults.update(request.json())
            return _respond(self.emulator.faults.as_dict())
        if segments == ["limits"] and method == "POST":
            body = request.json()
            self.emulator.limits.set(body.pop("modelId", None), **body)
            return _respond({"ok": True})
        if segments == ["jobs"]:
            self.emulator.advance()
            return _respond({"jobs": self.emulator.jobs()})
        return _error("ResourceNotFoundException", f"No such admin route: {request.path}")


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 with keep-alive, as botocore's connection pool expects; every answer carries its length."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go in two writes: no delayed-ACK stall between them
    app: EmulatorApp
    quiet = True

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        headers = {name.lower(): value for name, value in self.headers.items()}
        request = Request(self.command, self.path, headers, self.rfile.read(length) if length else b"")
        response = self.app.handle(request)
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        if not self.quiet:  # one line per call drowns test output
            super().log_message(format, *args)


class EmulatorServer:
    """Serves an emulator over HTTP from a background thread (port 0 picks a free port)."""

    def __init__(self, emulator: BedrockEmulator, host: str = "127.0.0.1", port: int = 0, quiet: bool = True) -> None:
        self.emulator = emulator
        handler = type("Handler", (_Handler,), {"app": EmulatorApp(emulator), "quiet": quiet})
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True  # a kept-alive connection never holds the process open
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="bedrock-emulator", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

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
