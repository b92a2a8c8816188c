"""A local stand-in for API Gateway (REST API, one stage) in front of the Chalice app.

It turns an HTTP request into the proxy event API Gateway sends to Lambda and turns the
handler's answer back into HTTP, so the handler runs locally exactly as it does in AWS:

- only paths under the stage (``/v2``) exist; the stage prefix is cut off, so ``/v2/``
  reaches the app as ``/``; anything else answers 403 "Missing Authentication Token";
- the route is chosen from ``app.routes`` as API Gateway chooses a resource: a literal
  segment beats ``{var}``, which beats ``{proxy+}``;
- ``path`` and ``pathParameters`` keep the client's percent-encoding (REST APIs do not
  decode them), query parameters are decoded, repeated headers and query keys are kept
  in ``multiValueHeaders`` / ``multiValueQueryStringParameters``;
- the body travels base64-encoded, byte-exact (the API lists ``*/*`` as binary), chunked
  request bodies included.

With ``apigw_limits=True`` it also applies what API Gateway and Lambda impose: 10 MB
requests, 6 MB events and responses, the 29 s integration timeout, and the response
header remapping (a HEAD's Content-Length, WWW-Authenticate, Server, Date, ...). An
``authorizer`` (devstack/authorizer.py) runs before the handler as the deployment's
REQUEST authorizer does, and its refusals go out as gateway responses.
"""

from __future__ import annotations

import base64
import binascii
import http
import json
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

log = logging.getLogger(__name__)

STAGE = "v2"
MAX_REQUEST_BODY = 10 * 1024 * 1024  # API Gateway REST API payload quota
MAX_LAMBDA_PAYLOAD = (
    6 * 1024 * 1024
)  # Lambda synchronous invocation, request and response
INTEGRATION_TIMEOUT = 29.0  # API Gateway's default integration timeout, seconds
LAMBDA_TIMEOUT = 900.0  # Lambda's maximum run time, seconds

# Hop-by-hop headers: a gateway never forwards them (PEP 3333 forbids them from the app).
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "expect",
}
# Response headers a REST API renames to x-amzn-Remapped-<name> on Lambda proxy answers.
# WWW-Authenticate is among them: a 401's challenge reaches clients only under the new name.
_REMAPPED = {
    "authorization",
    "connection",
    "content-md5",
    "date",
    "max-forwards",
    "server",
    "www-authenticate",
}

StartResponse = Callable[..., Any]


@dataclass
class LambdaContext:
    """The parts of Lambda's context object that handlers and Powertools read."""

    aws_request_id: str
    function_name: str = "berth-local"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:berth-local"
    )
    log_group_name: str = "/aws/lambda/berth-local"
    log_stream_name: str = "local"
    deadline: float = field(default_factory=lambda: time.monotonic() + LAMBDA_TIMEOUT)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


@dataclass(frozen=True)
class Match:
    resource: str  # the route template, e.g. "/{proxy+}"
    path_parameters: dict[str, str]


class Router:
    """API Gateway's resource selection over a Chalice route table.

    ``routes`` is ``app.routes``: path template -> {method: RouteEntry}. Candidates are
    ranked segment by segment (literal 0, ``{var}`` 1, ``{greedy+}`` 2) and the lowest
    rank wins, which is the most specific resource.
    """

    def __init__(self, routes: Mapping[str, Any]) -> None:
        self._routes = routes
        self._parsed: dict[str, tuple[tuple[int, str], ...]] = {}

    def match(self, path: str) -> Match | None:
        """Find the resource for ``path`` (stage removed, still percent-encoded)."""
        if len(self._parsed) != len(self._routes):  # routes registered after start-up
            self._parsed = {
                template: _parse_template(template) for template in self._routes
            }
        segments = [] if path in ("", "/") else path.lstrip("/").split("/")
        best: tuple[tuple[int, ...], Match] | None = None
        for template, parts in self._parsed.items():
            found = _match_parts(parts, segments)
            if found is None:
                continue
            rank, params = found
            if best is None or rank < best[0]:
                best = (rank, Match(template, params))
        return best[1] if best else None

    def methods(self, resource: str) -> Mapping[str, Any]:
        return self._routes.get(resource, {})


class Gateway:
    """WSGI application: API Gateway stage ``stage`` in front of ``app(event, context)``.

    ``app`` is a Chalice app (its ``routes`` name the resources). Chalice keeps the current
    request on the app object; Lambda runs one request per instance, but this server runs
    requests in threads, so unless ``serialize`` is set the app's request state is made
    thread-local, as ``chalice local`` does. ``serialize=True`` runs one request at a time.
    """

    def __init__(
        self,
        app: Any,
        stage: str = STAGE,
        apigw_limits: bool = False,
        serialize: bool = False,
        remap_headers: bool | None = None,
        integration_timeout: float = INTEGRATION_TIMEOUT,
        authorizer: Any = None,
    ) -> None:
        self.app = app
        self.stage = stage
        self.apigw_limits = apigw_limits
        self.remap_headers = apigw_limits if remap_headers is None else remap_headers
        self.integration_timeout = integration_timeout
        # devstack.authorizer.DeployedAuthorizer: infra/apigw-extras.yaml's challenge
        self.authorizer = authorizer
        self.router = Router(app.routes)
        self._lock = threading.Lock() if serialize else None
        if not serialize:
            _make_request_state_thread_local(app)

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"].upper()
        raw_path, raw_query = _raw_target(environ)
        prefix = "/" + self.stage
        if raw_path != prefix and not raw_path.startswith(prefix + "/"):
            return self._error(
                start_response,
                403,
                "Missing Authentication Token",
                method,
                error_type="MissingAuthenticationTokenException",
            )
        path = raw_path[len(prefix) :] or "/"

        match = self.router.match(path)
        methods = self.router.methods(match.resource) if match else {}
        if match is None or method not in methods:
            if match is not None and method == "OPTIONS":
                preflight = _cors_preflight(methods)
                if preflight is not None:
                    return _send(
                        start_response, 200, preflight, b"", method, self.remap_headers
                    )
            return self._error(
                start_response,
                403,
                "Missing Authentication Token",
                method,
                error_type="MissingAuthenticationTokenException",
            )
        try:
            body = self._read_body(environ)
        except _TooLong:
            log.warning("%s %s: body over API Gateway's 10 MB: 413", method, raw_path)
            return self._error(start_response, 413, "Request Too Long", method)

        event = build_event(
            environ, method, raw_path, path, raw_query, body, match, self.stage
        )
        if self.authorizer is not None:
            refused = self.authorizer.check(event, self.stage)
            if refused is not None:  # a gateway response: API Gateway renames none of it
                headers = [*refused.headers, ("x-amzn-RequestId", event["requestContext"]["requestId"])]
                return _send(start_response, refused.status, headers, refused.body, method, remap=False)
        if self.apigw_limits:
            size = _json_size(event)
            if size > MAX_LAMBDA_PAYLOAD:
                log.warning(
                    "%s %s: event of %d bytes (body %d) over Lambda's 6 MB: 413",
                    method,
                    raw_path,
                    size,
                    len(body),
                )
                return self._error(
                    start_response, 413, "Request Entity Too Large", method
                )

        context = LambdaContext(aws_request_id=str(uuid.uuid4()))
        if self.apigw_limits:
            context.deadline = time.monotonic() + self.integration_timeout
        outcome = self._invoke(event, context)
        if outcome is None:
            return self._error(
                start_response, 504, "Endpoint request timed out", method
            )
        try:
            result = outcome.result()
            # what the Lambda runtime does with the answer: bytes or sets fail here
            encoded = json.dumps(result).encode()
            status, headers, payload = parse_proxy_result(result)
        except Exception:  # noqa: BLE001 - any Lambda failure is API Gateway's 502
            log.error(
                "%s %s: the handler failed, answering 502 as API Gateway would\n%s",
                method,
                raw_path,
                traceback.format_exc(),
            )
            return self._error(start_response, 502, "Internal server error", method)
        if self.apigw_limits and len(encoded) > MAX_LAMBDA_PAYLOAD:
            log.error(
                "%s %s: response of %d bytes over Lambda's 6 MB: 413",
                method,
                raw_path,
                len(encoded),
            )
            return self._error(start_response, 413, "Request Entity Too Large", method)
        headers.append(("x-amzn-RequestId", event["requestContext"]["requestId"]))
        return _send(
            start_response, status, headers, payload, method, self.remap_headers
        )

    def _read_body(self, environ: dict[str, Any]) -> bytes:
        """The request body; _TooLong when it is over API Gateway's quota (limits mode)."""
        limit = MAX_REQUEST_BODY if self.apigw_limits else None
        stream = environ["wsgi.input"]
        length = environ.get("CONTENT_LENGTH", "")
        if environ.get("wsgi.input_terminated"):  # chunked: read to the end
            remaining = None
        elif length.strip().isdigit():
            remaining = int(length)
            if limit is not None and remaining > limit:
                raise _TooLong
        else:
            return b""
        chunks = []
        size = 0
        while remaining is None or remaining > 0:
            want = 1 << 20 if remaining is None else min(1 << 20, remaining)
            chunk = stream.read(want)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if remaining is not None:
                remaining -= len(chunk)
            if limit is not None and size > limit:
                raise _TooLong
        return b"".join(chunks)

    def _invoke(self, event: dict[str, Any], context: LambdaContext) -> _Outcome | None:
        """Run the handler; None when it outlives API Gateway's integration timeout."""
        if not self.apigw_limits:
            return _Outcome.run(self._call_app, event, context)
        holder: list[_Outcome] = []
        worker = threading.Thread(
            target=lambda: holder.append(_Outcome.run(self._call_app, event, context)),
            name=f"lambda-{context.aws_request_id[:8]}",
            daemon=True,
        )
        worker.start()
        worker.join(self.integration_timeout)
        return holder[0] if holder else None

    def _call_app(self, event: dict[str, Any], context: LambdaContext) -> Any:
        if self._lock is None:
            return self.app(event, context)
        with self._lock:
            return self.app(event, context)

    def _error(
        self,
        start_response: StartResponse,
        status: int,
        message: str,
        method: str,
        error_type: str | None = None,
    ) -> Iterable[bytes]:
        body = json.dumps({"message": message}, separators=(",", ":")).encode()
        headers = [("Content-Type", "application/json")]
        if error_type:
            headers.append(("x-amzn-ErrorType", error_type))
        headers.append(("x-amzn-RequestId", str(uuid.uuid4())))
        return _send(start_response, status, headers, body, method, remap=False)


class _TooLong(Exception):
    """The request body is over API Gateway's payload quota."""


class _Outcome:
    def __init__(self, value: Any = None, error: BaseException | None = None) -> None:
        self.value = value
        self.error = error

    @classmethod
    def run(cls, fn: Callable[..., Any], *args: Any) -> _Outcome:
        try:
            return cls(value=fn(*args))
        except Exception as exc:  # noqa: BLE001 - re-raised in the request thread by result()
            return cls(error=exc)

    def result(self) -> Any:
        if self.error is not None:
            raise self.error
        return self.value


def build_event(
    environ: Mapping[str, Any],
    method: str,
    raw_path: str,
    path: str,
    raw_query: str,
    body: bytes,
    match: Match,
    stage: str = STAGE,
) -> dict[str, Any]:
    """The REST API Lambda proxy event (payload format 1.0) for one request."""
    request_id = str(uuid.uuid4())
    source_ip = environ.get("REMOTE_ADDR", "127.0.0.1")
    headers, multi_headers = _event_headers(environ, source_ip)
    query, multi_query = _event_query(raw_query)
    now = time.time()
    host = (
        headers.get("Host")
        or headers.get("host")
        or environ.get("SERVER_NAME", "localhost")
    )
    return {
        "resource": match.resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": match.path_parameters or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": match.resource,
            "httpMethod": method,
            "extendedRequestId": request_id,
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "path": raw_path,
            "accountId": "123456789012",
            "protocol": environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
            "stage": stage,
            "domainPrefix": host.split(".", 1)[0],
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {
                "sourceIp": source_ip,
                "userAgent": headers.get("User-Agent") or headers.get("user-agent"),
            },
            "domainName": host,
            "apiId": "local",
        },
        "body": base64.b64encode(body).decode("ascii") if body else None,
        "isBase64Encoded": bool(body),
    }


def parse_proxy_result(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, header list and body bytes from a Lambda proxy answer.

    Raises ValueError for an answer API Gateway would reject as a malformed proxy response.
    """
    if not isinstance(result, dict) or "statusCode" not in result:
        raise ValueError(f"malformed Lambda proxy response: {result!r:.200}")
    status = int(result["statusCode"])
    # API Gateway merges the two maps; a name in multiValueHeaders takes its values there.
    multi = {k: v for k, v in (result.get("multiValueHeaders") or {}).items()}
    multi_names = {k.lower() for k in multi}
    headers: list[tuple[str, str]] = [
        (name, str(value))
        for name, value in (result.get("headers") or {}).items()
        if name.lower() not in multi_names
    ]
    for name, values in multi.items():
        headers.extend((name, str(value)) for value in values)
    body = result.get("body")
    if body is None:
        payload = b""
    elif result.get("isBase64Encoded"):
        try:
            payload = base64.b64decode(body, validate=True)
        except (binascii.Error, TypeError) as exc:
            raise ValueError(
                f"isBase64Encoded but the body is not base64: {exc}"
            ) from exc
    elif isinstance(body, str):
        payload = body.encode("utf-8")
    else:
        raise ValueError(f"body must be a string, not {type(body).__name__}")
    return status, headers, payload


def serve(app: Callable[..., Any], host: str, port: int) -> BaseWSGIServer:
    """A threaded werkzeug server for ``app`` whose environ keeps the raw request headers."""
    return make_server(
        host, port, app, threaded=True, request_handler=RawHeadersRequestHandler
    )


class RawHeadersRequestHandler(WSGIRequestHandler):
    """Keeps the request's header names as sent, in order, duplicates included.

    The WSGI environ folds them into HTTP_* keys; API Gateway passes the client's names.
    """

    def make_environ(self) -> dict[str, Any]:
        environ = super().make_environ()
        environ["devstack.raw_headers"] = list(self.headers.items())
        return environ

    def log_error(self, format: str, *args: Any) -> None:
        # Clients try TLS first (docker, podman, skopeo): the ClientHello is answered
        # with a 400 as before, which sends them to plain HTTP, but not logged.
        if getattr(self, "raw_requestline", b"").startswith(b"\x16\x03"):
            return
        super().log_error(format, *args)

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        if getattr(self, "raw_requestline", b"").startswith(b"\x16\x03"):
            return
        super().log_request(code, size)


def _send(
    start_response: StartResponse,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    method: str,
    remap: bool,
) -> list[bytes]:
    out: list[tuple[str, str]] = []
    declared_length = None
    for name, value in headers:
        lower = name.lower()
        if lower == "content-length":
            declared_length = value
            continue
        if remap and lower in _REMAPPED:
            out.append((f"x-amzn-Remapped-{name}", value))
        elif lower not in _HOP_BY_HOP:
            out.append((name, value))
    no_body = method == "HEAD" or status in (204, 304) or 100 <= status < 200
    if method == "HEAD":
        # API Gateway answers a HEAD with Content-Length 0 and moves the integration's to
        # x-amzn-Remapped-Content-Length; without limits the app's value goes out as is.
        if remap:
            if declared_length is not None:
                out.append(("x-amzn-Remapped-Content-Length", declared_length))
            out.append(("Content-Length", "0"))
        else:
            out.append(("Content-Length", declared_length or str(len(body))))
    elif not no_body:
        out.append(("Content-Length", str(len(body))))
    start_response(_status_line(status), out)
    return [] if no_body else [body]


def _status_line(status: int) -> str:
    try:
        return f"{status} {http.HTTPStatus(status).phrase}"
    except ValueError:
        return f"{status} Unknown"


def _raw_target(environ: Mapping[str, Any]) -> tuple[str, str]:
    """Path (still percent-encoded) and query string of the request line."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        if raw.startswith(("http://", "https://")):  # absolute-form request target
            parts = urlsplit(raw)
            return parts.path or "/", parts.query
        path, _, query = raw.partition("?")
        return path, query
    path = quote(
        environ.get("PATH_INFO", "").encode("latin-1"), safe="/%:@!$&'()*+,;=-._~"
    )
    return (environ.get("SCRIPT_NAME", "") + path) or "/", environ.get(
        "QUERY_STRING", ""
    )


def _event_headers(
    environ: Mapping[str, Any], source_ip: str
) -> tuple[dict[str, str], dict[str, list[str]]]:
    raw = environ.get("devstack.raw_headers")
    if raw is None:  # another WSGI server: rebuild names from the environ
        raw = [
            (key[5:].replace("_", "-").title(), value)
            for key, value in environ.items()
            if key.startswith("HTTP_")
        ]
        for key, name in (
            ("CONTENT_TYPE", "Content-Type"),
            ("CONTENT_LENGTH", "Content-Length"),
        ):
            if environ.get(key):
                raw.append((name, environ[key]))
    multi: dict[str, list[str]] = {}
    names: dict[str, str] = {}  # lower-case -> the first spelling seen
    for name, value in raw:
        if name.lower() in _HOP_BY_HOP:
            continue
        key = names.setdefault(name.lower(), name)
        multi.setdefault(key, []).append(value)
    # API Gateway adds the forwarding headers; the protocol and port are this server's.
    forwarded_for = names.get("x-forwarded-for")
    if forwarded_for:
        multi[forwarded_for] = [", ".join(multi[forwarded_for] + [source_ip])]
    else:
        multi["X-Forwarded-For"] = [source_ip]
    for header, value in (
        ("X-Forwarded-Proto", environ.get("wsgi.url_scheme", "http")),
        ("X-Forwarded-Port", str(environ.get("SERVER_PORT", ""))),
    ):
        multi[names.get(header.lower(), header)] = [value]
    single = {name: values[-1] for name, values in multi.items()}
    return single, multi


def _event_query(
    raw_query: str,
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    if not raw_query:
        return None, None
    multi: dict[str, list[str]] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        multi.setdefault(key, []).append(value)
    if not multi:
        return None, None
    return {key: values[-1] for key, values in multi.items()}, multi


def _json_size(value: Any) -> int:
    return len(json.dumps(value, separators=(",", ":")).encode())


_LITERAL, _VAR, _GREEDY = 0, 1, 2


def _parse_template(template: str) -> tuple[tuple[int, str], ...]:
    if template in ("", "/"):
        return ()
    parts = []
    for segment in template.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append((_GREEDY, segment[1:-2]))
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append((_VAR, segment[1:-1]))
        else:
            parts.append((_LITERAL, segment))
    return tuple(parts)


def _match_parts(
    parts: tuple[tuple[int, str], ...], segments: list[str]
) -> tuple[tuple[int, ...], dict[str, str]] | None:
    # A trailing slash does not make another resource ("/a/" is "/a"), but a greedy
    # variable receives the rest of the path exactly as sent, trailing slash included.
    fixed = segments[:-1] if len(segments) > 1 and segments[-1] == "" else segments
    if fixed == [""]:
        fixed = []
    rank: list[int] = []
    params: dict[str, str] = {}
    for index, (kind, value) in enumerate(parts):
        if kind == _GREEDY:
            rest = "/".join(segments[index:])
            if index >= len(fixed) or not rest:
                return None
            params[value] = rest
            rank.append(_GREEDY)
            return tuple(rank), params
        if index >= len(fixed):
            return None
        segment = fixed[index]
        if kind == _LITERAL:
            if unquote(segment) != value:
                return None
        elif not segment:
            return None
        else:
            params[value] = segment
        rank.append(kind)
    if len(fixed) != len(parts):
        return None
    return tuple(rank), params


def _cors_preflight(methods: Mapping[str, Any]) -> list[tuple[str, str]] | None:
    """API Gateway's mock OPTIONS integration that Chalice deploys for CORS routes."""
    cors = next(
        (entry.cors for entry in methods.values() if getattr(entry, "cors", None)), None
    )
    if cors is None:
        return None
    headers = list(cors.get_access_control_headers().items())
    allowed = sorted(set(methods) | {"OPTIONS"})
    headers.append(("Access-Control-Allow-Methods", ",".join(allowed)))
    return headers


def _make_request_state_thread_local(app: Any) -> None:
    """Give the app object per-thread ``current_request`` and ``lambda_context``.

    Chalice stores both on the app; concurrent requests in threads would read each
    other's. ``chalice local`` solves this the same way (LocalChalice).
    """
    cls = type(app)
    if getattr(cls, "_devstack_thread_local", False):
        return
    state = threading.local()

    def attribute(name: str) -> property:
        def get(self: Any) -> Any:
            return getattr(state, name, None)

        def set_(self: Any, value: Any) -> None:
            setattr(state, name, value)

        return property(get, set_)

    app.__class__ = type(
        cls.__name__,
        (cls,),
        {
            "_devstack_thread_local": True,
            "current_request": attribute("current_request"),
            "lambda_context": attribute("lambda_context"),
            "__module__": cls.__module__,
        },
    )
