"""From a `Request` below /v2/service/ to a response: the token service's three
routes, errors in the OCI body (the Docker token specification's clients read it)."""
from __future__ import annotations

from chalicelib.errors import BerthError
from chalicelib.oci.errcodes import API_VERSION_HEADER, error_response, fault_response, response_for
from chalicelib.tokens import service
from chalicelib.tokens.dependencies import TokenDependencies
from chalicelib.web.http import OPERATION_HEADER, Request, Response

# (method, path) -> handler; every route is public: the service is where credentials are checked
ROUTES = {
    ("GET", "service/token"): service.get_token,
    ("POST", "service/token"): service.post_token,
    ("GET", "service/jwks.json"): service.jwks,
}
_PATHS = frozenset(path for _, path in ROUTES)


def dispatch(svc: TokenDependencies, req: Request) -> Response:
    handler = ROUTES.get((req.method, req.path))
    if handler is None:
        if req.path in _PATHS:
            return error_response("UNSUPPORTED", f"{req.method} is not supported here", headers=API_VERSION_HEADER)
        return error_response("NAME_UNKNOWN", "no such endpoint", status=404, headers=API_VERSION_HEADER)
    req.identity = None
    try:
        response = handler(svc, req)
    except BerthError as exc:
        response = response_for(exc)
    except Exception as exc:  # noqa: BLE001 - the one place a fault becomes an answer here, logged once with its trace
        response = fault_response(exc, method=req.method, path=req.path)
    response.headers.update(API_VERSION_HEADER)
    response.headers[OPERATION_HEADER] = handler.__name__
    return response
