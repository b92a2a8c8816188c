from __future__ import annotations

from chalicelib.registry.http import OciRequest, OciResponse


def ping(svc, req: OciRequest) -> OciResponse:
    return OciResponse.json(200, {})
