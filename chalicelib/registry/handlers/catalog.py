from __future__ import annotations

from chalicelib.registry.handlers.common import next_link, page_args
from chalicelib.registry.http import OciRequest, OciResponse


def list_repositories(svc, req: OciRequest) -> OciResponse:
    n, last = page_args(req)
    names, more = svc.meta.list_repositories(last=last, limit=n) if n else ([], False)
    headers = {"Link": next_link("/v2/_catalog", n, names[-1])} if more else {}
    return OciResponse.json(200, {"repositories": names}, headers)
