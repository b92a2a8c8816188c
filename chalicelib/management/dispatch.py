"""From an `Request` below /v2/api/v2.0 to a response: match the route,
authenticate (Basic, as Harbor's scripts do), validate the body, call the
handler, and turn every error into Harbor's body
`{"errors":[{"code","message"}]}` — here and nowhere else.
"""
from __future__ import annotations

import base64
import binascii
import logging
import uuid

from chalicelib import errors
from chalicelib.auth.sessions import CSRF_HEADER, has_session_cookie
from chalicelib.events.actor import Actor, acting_as
from chalicelib.management import errors as api
from chalicelib.management import routes as route_table
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import CODES
from chalicelib.management.schema import read_json
from chalicelib.meta.accounts import AccountNotFound
from chalicelib.projects import ProjectNotEmpty
from chalicelib.web import faults
from chalicelib.web.http import OPERATION_HEADER, Request, Response

logger = logging.getLogger("berth.management")

# error type -> code; the first that matches wins (subclasses before their parents)
_BY_ERROR: list[tuple[type[Exception], str]] = [
    (api.BadRequest, "BAD_REQUEST"),
    (api.Forbidden, "FORBIDDEN"),
    (api.NotFound, "NOT_FOUND"),
    (api.AlreadyExists, "CONFLICT"),
    (api.PreconditionFailed, "PRECONDITION"),
    (api.UnsupportedMediaType, "UNSUPPORTED_MEDIA_TYPE"),
    (AccountNotFound, "NOT_FOUND"),
    (errors.Unauthorized, "UNAUTHORIZED"),
    # Harbor answers 412: the request is fine, the project's rules refuse it
    (errors.TagImmutable, "PRECONDITION"),
    (errors.Denied, "FORBIDDEN"),
    (errors.InvalidRule, "BAD_REQUEST"),
    (errors.Unsupported, "METHOD_NOT_ALLOWED"),
    (errors.ManifestReferenced, "PRECONDITION"),
    (ProjectNotEmpty, "PRECONDITION"),
    # the stores raise Conflict for a duplicate name and for a lost race; both are 409
    (errors.Conflict, "CONFLICT"),
    (errors.InvalidName, "BAD_REQUEST"),
    (errors.InvalidReference, "BAD_REQUEST"),
    (errors.InvalidDigest, "BAD_REQUEST"),
    (errors.InvalidManifest, "BAD_REQUEST"),
    (errors.InvalidPagination, "BAD_REQUEST"),
    (errors.PayloadTooLarge, "BAD_REQUEST"),
    (errors.RepositoryNotFound, "NOT_FOUND"),
    (errors.ManifestNotFound, "NOT_FOUND"),
    (errors.BlobNotFound, "NOT_FOUND"),
    (errors.ManifestBlobUnknown, "NOT_FOUND"),
]
# how each fault below the domain is answered here (chalicelib/web/faults.py)
_FAULTS = {
    faults.Fault.THROTTLED: ("TOO_MANY_REQUESTS", "storage is busy; retry"),
    faults.Fault.UNAVAILABLE: ("SERVICE_UNAVAILABLE", "storage unavailable"),
    faults.Fault.IDENTITY_PROVIDER: ("SERVICE_UNAVAILABLE", "the identity provider is unavailable; retry later"),
    faults.Fault.MISCONFIGURED: ("INTERNAL_SERVER_ERROR", "server misconfigured"),
    faults.Fault.INTERNAL: ("INTERNAL_SERVER_ERROR", "internal error"),
}
MAX_CREDENTIALS = 4096
_CHANGES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def classify(exc: Exception) -> str:
    for error_type, code in _BY_ERROR:
        if isinstance(exc, error_type):
            return code
    return "INTERNAL_SERVER_ERROR"


def error_response(code: str, message: str) -> Response:
    return Response.json(CODES[code], {"errors": [{"code": code, "message": message}]})


def dispatch(
    svc: ManagementDependencies, req: Request, routes: tuple[route_table.Route, ...] | None = None, prefix: str = route_table.PREFIX
) -> Response:
    routes = route_table.ROUTES if routes is None else routes
    path = req.path[len(prefix) :].strip("/")
    route = None
    try:
        route, found, path_known = route_table.match(routes, req.method, path)
        if route is None or found is None:
            if path_known:
                return _not_allowed(req, routes, path)
            raise api.NotFound("no such endpoint")
        req.identity = None if route.auth == "public" else _authenticate(svc, req, required=route.auth == "required")
        if req.session is not None and req.method in _CHANGES:
            _check_csrf(svc, req)
        params = route.params(found)
        op = route.operation
        body = read_json(req, op.body, required=op.body_required) if op.body is not None else None
        actor = Actor(getattr(req.identity, "name", "") or "anonymous", req.source_ip, "management")
        with acting_as(actor):  # who the stores' domain events name (chalicelib/events/actor.py)
            response = route.handler(svc, req, **params, **({"body": body} if op.body is not None else {}))
        if req.method in _CHANGES and response.status < 300 and route.audited:
            _audit(svc, req, route, params, body)
    except errors.LoginThrottled as exc:
        response = error_response("TOO_MANY_REQUESTS", exc.message)
        response.headers["Retry-After"] = str(exc.retry_after)
    except errors.BerthError as exc:
        code = classify(exc)
        if code == "INTERNAL_SERVER_ERROR":
            logger.exception("unmapped error", extra={"method": req.method, "path": req.path})
        response = error_response(code, exc.message if code != "INTERNAL_SERVER_ERROR" else "internal error")
    except Exception as exc:  # noqa: BLE001 - the one place a fault becomes an answer, logged once with its trace
        response = fault_response(exc, method=req.method, path=req.path)
    response.headers["X-Request-Id"] = _request_id(req)
    if req.session is not None:
        response.headers[CSRF_HEADER] = req.session.csrf
    elif response.status == 401 and _has_session_cookie(req):
        # an ended session: the browser may forget its cookie
        response.headers["Set-Cookie"] = svc.sessions.clear_cookie(req.scheme == "https")
    if route is not None:
        # read (and removed) by the observability middleware, for logs and metrics
        response.headers[OPERATION_HEADER] = f"api.{route.name}"
    return response


def fault_response(exc: Exception, **context: str) -> Response:
    """A fault from below the domain (chalicelib/web/faults.py) in Harbor's body, logged once."""
    fault = faults.classify(exc)
    faults.log(fault, exc, **context)
    response = error_response(*_FAULTS[fault])
    if fault.name in faults.RETRYABLE:
        response.headers.update(faults.RETRY_AFTER)
    return response


def _audit(svc: ManagementDependencies, req: Request, route: route_table.Route, params: dict, body) -> None:
    from chalicelib.management.audit import record_change

    try:
        record_change(svc, req, route, params, body if isinstance(body, dict) else None)
    except Exception:  # the change is done: a fault in describing it must not turn it into an error
        logger.exception("audit entry failed", extra={"method": req.method, "path": req.path})


def _not_allowed(req: Request, routes: tuple[route_table.Route, ...], path: str) -> Response:
    methods = sorted({r.method for r in routes if r.pattern.fullmatch(path)})
    response = error_response("METHOD_NOT_ALLOWED", f"{req.method} is not allowed here; use {', '.join(methods)}")
    response.headers["Allow"] = ", ".join(methods)
    response.headers["X-Request-Id"] = _request_id(req)
    return response


def _authenticate(svc: ManagementDependencies, req: Request, *, required: bool):
    """The caller's Principal from Basic credentials, else from a web-console
    session cookie; None for an anonymous caller on a route that allows one.
    Wrong credentials are always a 401; an ended session is one where a caller
    is required."""
    header = (req.header("Authorization") or "").strip()
    if not header and _has_session_cookie(req):
        resumed = svc.sessions.resume(req.header("Cookie"))
        if resumed is not None:
            req.session = resumed.session
            return resumed.principal
        if required:
            raise errors.Unauthorized("your session has ended; log in again")
        return None
    if not header:
        if required:
            raise errors.Unauthorized("log in with Basic credentials or a console session")
        return None
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic" or len(encoded) > MAX_CREDENTIALS:
        raise errors.Unauthorized("use Basic credentials")
    try:
        username, sep, password = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise errors.Unauthorized("malformed credentials") from None
    # counted and throttled like every login; an API call is no login for the audit log
    login = svc.login_gate.login(username, password, req.source_ip, audited=False) if sep else None
    principal = login.principal if login is not None else None
    if principal is None:
        logger.info("management login failed", extra={"user": username[:64]})
        raise errors.Unauthorized("invalid username or password")
    return principal


def _check_csrf(svc: ManagementDependencies, req: Request) -> None:
    """A change asked with a session cookie must echo the session's CSRF token."""
    if not svc.sessions.csrf_valid(req.session, req.header(CSRF_HEADER)):
        logger.info("CSRF token invalid", extra={"method": req.method, "path": req.path, "user": req.session.username})
        raise api.Forbidden("CSRF token invalid")


def _has_session_cookie(req: Request) -> bool:
    return has_session_cookie(req.header("Cookie"))


def _request_id(req: Request) -> str:
    given = (req.header("X-Request-Id") or "").strip()
    if given and len(given) <= 128 and given.isprintable():
        return given
    return req.request_id or str(uuid.uuid4())
