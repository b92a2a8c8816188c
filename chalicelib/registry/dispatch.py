"""From an `Request` to an `Response`: match the route, validate the
name, ask the authorizer, call the handler, map errors. Transport adapters
(Lambda, the upload host) call `dispatch` and nothing else."""
from __future__ import annotations

import logging
import os

from chalicelib.auth.access import Identity
from chalicelib.errors import BerthError, Unsupported
from chalicelib.events.actor import Actor, acting_as
from chalicelib.oci.errcodes import API_VERSION_HEADER, error_response, fault_response, response_for
from chalicelib.oci.names import validate_name
from chalicelib.registry import routes as route_table
from chalicelib.registry.dependencies import RegistryDependencies
from chalicelib.web.http import OPERATION_HEADER, Request, Response

logger = logging.getLogger("berth.registry")

UPLOAD_STATE = Identity(subject="", kind="upload-state")


def dispatch(svc: RegistryDependencies, req: Request, routes: tuple[route_table.Route, ...] = route_table.ROUTES) -> Response:
    route = None
    try:
        route, params, path_known = route_table.match(routes, req.method, req.path)
        if route is None:
            if path_known:
                raise Unsupported(f"{req.method} is not supported here")
            return error_response("NAME_UNKNOWN", "no such endpoint", status=404, headers=API_VERSION_HEADER)
        if "name" in params:
            validate_name(params["name"])
        if route.public:
            req.identity = None
        elif route.upload_host and req.arg("_state"):
            # the signed upload state is the credential (checked by the handler):
            # the upload host may be another host, where clients send no token
            req.identity = UPLOAD_STATE
        else:
            req.identity = svc.authorizer.authorize(req, route.accesses(req, params))
        # the stores' domain events name who acted (chalicelib/events/actor.py)
        actor = Actor(getattr(req.identity, "subject", "") or "anonymous", req.source_ip, "registry")
        with acting_as(actor):
            response = route.handler(svc, req, **params)
        if route.name == "get_manifest" and response.status < 300:
            _pulled(svc, req, params, response)
    except BerthError as exc:
        response = response_for(exc)
    except Exception as exc:  # noqa: BLE001 - the one place a fault becomes an answer, logged once with its trace
        response = fault_response(exc, method=req.method, path=req.path)
    response.headers.update(API_VERSION_HEADER)
    if route is not None:
        # read (and removed) by the observability middleware, for logs and metrics
        response.headers[OPERATION_HEADER] = route.name
    return response


def _pulled(svc: RegistryDependencies, req: Request, params: dict[str, str], response: Response) -> None:
    """A pull is recorded by chalicelib/pulls.py (its event, its counts), in the request or
    from its log line; pushes and deletes are events of their stores' transactions, which
    the audit log's consumer enters (chalicelib/events/audit.py). A fault here never fails
    the pull."""
    try:
        _record_pull(svc, req, params, response)
    except Exception:  # the pull is served; its record is best effort
        logger.exception("pull record failed")


def _record_pull(svc: RegistryDependencies, req: Request, params: dict[str, str], response: Response) -> None:
    from chalicelib import pulls

    digest = response.headers.get("Docker-Content-Digest", "")
    pull = pulls.Pull(
        username=getattr(req.identity, "subject", "") or "anonymous",
        repository=params["name"],
        reference=params["reference"],
        digest=digest,
        source_ip=req.source_ip,
        time=svc.clock(),
        # its audit entry's id comes from it: a redelivered log line writes the same entry
        request_id=req.request_id or os.urandom(16).hex(),
        user_agent=(req.header("User-Agent") or "")[:256],
        covers=pulls.served_digests(digest, response.headers.get("Content-Type", ""), response.body)
        if ":" not in params["reference"]
        else (),
    )
    if svc.settings.pull_recording == "log":
        pulls.announce(pull)
    else:
        pulls.record(svc, [pull])
