"""The one front door: every path under the stage, as one greedy route plus the bare
root (design.md, Routing), handed to the API that serves it — the OCI registry, the
token service, Harbor's management API and its console sessions, or the web console.

On the raw API Gateway URL the stage `v2` is stripped, so the ping arrives as
`/` and everything else under `/{proxy+}`; behind a custom domain the paths keep
`/v2`, which `Settings.oci_prefix` removes here and nowhere else.

Deployed, those two routes sit behind the `challenge` authorizer (app.py): API Gateway
answers a request without a token there with the 401 challenge docker needs. The token
service, the management API and the console authenticate in the app, so they have routes of
their own without it (OPEN_ROUTES); every route serves the same way, by the path it names.
"""
from __future__ import annotations

import io
import logging
from collections.abc import Callable

from chalice import Blueprint
from chalice import Response as ChaliceResponse

from chalicelib.config import ConfigurationError
from chalicelib.oci.errcodes import error_response
from chalicelib.services import Services
from chalicelib.web.http import Headers, Request, Response

logger = logging.getLogger("berth.front")
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
SESSION_PATHS = frozenset({"c/login", "c/log_out"})
# Routes without the authorizer: the reserved names `service` (token service) and `api`
# (management API, Basic or the console's cookie), and the console's exact paths (a project
# named "c" or "ui" keeps its repositories under /{proxy+}).
OPEN_ROUTES = ("/service/{proxy+}", "/api/{proxy+}", "/c/login", "/c/log_out", "/ui", "/ui/{asset}")


def build_blueprint(services: Callable[[], Services], authorizer=None) -> Blueprint:
    """`services` returns the container's Services (built on first call); `authorizer`,
    Chalice's built-in authorizer that guards the OCI routes in API Gateway (None: none)."""
    bp = Blueprint(__name__)

    def serve():
        request = bp.current_request
        requested = request.to_original_event().get("path") or ""
        return _serve_with(bp, services, _path_below_stage(request.path, request.uri_params, requested))

    # every method, so that the dispatcher answers 405 UNSUPPORTED (with the API
    # version header) rather than Chalice or API Gateway with a body of their own
    for path in ("/", "/{proxy+}"):
        bp.route(path, methods=METHODS, content_types=["*/*"], authorizer=authorizer)(_named(serve, path))
    for path in OPEN_ROUTES:
        bp.route(path, methods=METHODS, content_types=["*/*"])(_named(serve, path))
    return bp


def _named(view: Callable, path: str) -> Callable:
    """One view per route: Chalice names a route's handler by its function."""

    def route_view(**_variables):  # Chalice passes {asset}-style variables as arguments
        return view()

    route_view.__name__ = "serve_" + ("".join(c if c.isalnum() else "_" for c in path).strip("_") or "root")
    return route_view


def _path_below_stage(resource: str, params, requested: str = "") -> str:
    """The request's path below the stage, from the route it matched (Chalice gives the
    resource, e.g. /service/{proxy+}) and its variables (passed as API Gateway sent them).
    A trailing slash of the requested path is kept: `ui/` is not `ui` (a redirect to it)."""
    path = resource
    for name, value in (params or {}).items():
        path = path.replace(f"{{{name}+}}", value).replace(f"{{{name}}}", value)
    path = path.removeprefix("/")
    if path and requested.endswith("/") and not path.endswith("/"):
        path += "/"
    return path


def _serve_with(bp: Blueprint, services: Callable[[], Services], proxy: str) -> ChaliceResponse:
    """A deployment with a missing or malformed setting answers every request, the
    health check included, with 503 naming the setting (and logs it), rather than
    a bare 500 from Chalice."""
    try:
        svc = services()
    except ConfigurationError as exc:
        logger.error("configuration error", extra={"error": str(exc)})
        return _to_chalice(
            error_response("UNKNOWN", f"server misconfigured: {exc}", status=503), bp.current_request.method
        )
    return _serve(bp, svc, proxy)


def _serve(bp: Blueprint, svc: Services, proxy: str) -> ChaliceResponse:
    request = bp.current_request
    path = _oci_path(proxy, svc.settings.oci_prefix)
    if path is None:
        return _to_chalice(error_response("NAME_UNKNOWN", "no such endpoint", status=404), request.method)
    event = request.to_original_event()
    body = request.raw_body or b""
    if isinstance(body, str):
        body = body.encode()
    query = request.query_params
    oci_request = Request(
        method=request.method,
        path=path,
        query={k: query.getlist(k) for k in query} if query else {},
        headers=Headers(request.headers),
        body=io.BytesIO(body),
        content_length=len(body),
        source_ip=(event.get("requestContext", {}).get("identity") or {}).get("sourceIp", ""),
        request_id=event.get("requestContext", {}).get("requestId", ""),
    )
    if path == "api/v2.0" or path.startswith("api/v2.0/"):
        # the management API answers Harbor's errors, so it has a dispatcher of its own
        from chalicelib.management.dispatch import dispatch as manage

        return _to_chalice(manage(svc, oci_request), request.method)
    if path in SESSION_PATHS:
        # the web console's login and logout (Harbor's /c/ paths); exact paths, so a
        # project named "c" keeps its repositories
        from chalicelib.management.dispatch import dispatch as manage
        from chalicelib.management.routes import SESSION_PREFIX, SESSION_ROUTES

        return _to_chalice(manage(svc, oci_request, SESSION_ROUTES, SESSION_PREFIX), request.method)
    if path == "ui" or (path.startswith("ui/") and "/" not in path[3:]):
        # the web console's static files (chalicelib/console); one segment deep, so a
        # project named "ui" keeps its repositories (ui/app/manifests/1)
        from chalicelib.console.static import serve as serve_console

        return _to_chalice(serve_console(oci_request), request.method)
    if path.startswith("service/"):
        # the token service shares the greedy route: behind a custom domain its path
        # arrives as /v2/service/token, so the app, not API Gateway, tells them apart
        from chalicelib.tokens.dispatch import dispatch as serve_tokens

        return _to_chalice(serve_tokens(svc, oci_request), request.method)
    from chalicelib.registry.dispatch import dispatch

    return _to_chalice(dispatch(svc, oci_request), request.method)


def _oci_path(proxy: str, prefix: str) -> str | None:
    """The path below /v2/, or None when it is outside the OCI API."""
    path = proxy.strip("/") if proxy else ""
    if prefix:
        bare = prefix.strip("/")
        if path == bare:
            return ""
        if not path.startswith(bare + "/"):
            return None
        path = path[len(bare) + 1 :]
    # keep a trailing slash that is part of the route ("blobs/uploads/")
    if proxy.endswith("/") and path:
        path += "/"
    return path


def _to_chalice(response: Response, method: str) -> ChaliceResponse:
    headers = dict(response.headers)
    body = b"" if method == "HEAD" else response.body
    # a response without a body names no type (Harbor's clients parse every application/json
    # body, and an empty one is not JSON); HEAD keeps the type its GET would have
    if response.body:
        headers.setdefault("Content-Type", "application/octet-stream")
    return ChaliceResponse(body=body, headers=dict(headers), status_code=response.status)
