from __future__ import annotations

from chalicelib.web.http import Request, Response


def ping(svc, req: Request) -> Response:
    return Response.json(200, {})
