"""The web console's login and logout, at Harbor's paths: `POST /v2/c/login`
(form fields `principal` and `password`) and `GET /v2/c/log_out`.

Sessions themselves live in chalicelib/auth/sessions.py; this module turns
requests into calls on them and records both events in the audit log.
"""
from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

from chalicelib import audit, errors, strict_json
from chalicelib.auth.sessions import CSRF_HEADER, ConsoleSessions
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import BadRequest, Forbidden, UnsupportedMediaType
from chalicelib.management.schema import boolean, string
from chalicelib.management.spec import operation
from chalicelib.web.http import Request, Response

logger = logging.getLogger("berth.management")
MAX_FORM = 8 * 1024
LOGGED_IN = {
    "type": "object",
    "properties": {"username": string(), "sysadmin": boolean()},
    "required": ["username", "sysadmin"],
}


@operation("login", "Log in to the web console: starts a session (cookie sid) and answers its CSRF token", "auth",
           response=LOGGED_IN, errors=(400, 401, 403, 415, 429))
def login(svc: ManagementDependencies, req: Request) -> Response:
    _same_origin(req)
    username, password = _credentials(req)
    started = svc.sessions.login(username, password, source_ip=req.source_ip, secure=req.scheme == "https")
    if started is None:
        # the login gate counted the failure and audited it (Harbor records failed logins too)
        raise errors.Unauthorized("invalid username or password")
    audit.record_session(svc, started.principal.name, req.source_ip)
    response = Response.json(200, {"username": started.principal.name, "sysadmin": started.principal.admin})
    response.headers["Set-Cookie"] = started.cookie
    response.headers[CSRF_HEADER] = started.session.csrf
    response.headers["Cache-Control"] = "no-store"
    return response


@operation("logout", "End the web-console session the cookie names", "auth")
def log_out(svc: ManagementDependencies, req: Request) -> Response:
    ended = svc.sessions.logout(req.header("Cookie"))
    if ended is not None:
        audit.record_session(svc, ended.username, req.source_ip, "logout")
    response = Response(200, {"Content-Length": "0", "Cache-Control": "no-store"})
    response.headers["Set-Cookie"] = ConsoleSessions.clear_cookie(req.scheme == "https")
    return response


def _credentials(req: Request) -> tuple[str, str]:
    """Harbor's form (principal, password); a JSON object with the same keys (or
    username) is taken too, for scripts."""
    content_type = (req.header("Content-Type") or "").split(";")[0].strip().lower()
    try:
        raw = req.read_body(MAX_FORM).decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8") from None
    if content_type == "application/x-www-form-urlencoded":
        form = parse_qs(raw, keep_blank_values=True)
        fields = {k: v[0] for k, v in form.items()}
    elif content_type == "application/json":
        try:
            fields = strict_json.loads(raw or "{}")
        except strict_json.JsonRejected as exc:
            raise BadRequest(f"the body: {exc}") from None
        if not isinstance(fields, dict):
            raise BadRequest("send a JSON object")
    else:
        raise UnsupportedMediaType("send application/x-www-form-urlencoded with principal and password")
    username = fields.get("principal", fields.get("username", ""))
    password = fields.get("password", "")
    if not isinstance(username, str) or not isinstance(password, str) or not username or not password:
        raise BadRequest("principal and password are required")
    return username, password


def _same_origin(req: Request) -> None:
    """A browser's cross-site POST says where it came from: refuse it, so no other
    site can log a visitor in to an account of its choosing (login CSRF)."""
    origin = (req.header("Origin") or "").strip()
    if not origin:  # not a browser's request (curl, scripts)
        return
    host = (req.header("X-Forwarded-Host") or req.header("Host") or "").split(",")[0].strip().lower()
    if urlsplit(origin).netloc.lower() != host:
        raise Forbidden("cross-origin login refused")

