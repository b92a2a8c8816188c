from __future__ import annotations

from chalicelib.registry.dependencies import RegistryDependencies
from chalicelib.web.http import Request, Response


def ping(svc: RegistryDependencies, req: Request) -> Response:
    return Response.json(200, {})
