from __future__ import annotations

from chalicelib.registry.handlers.common import next_link, page_args
from chalicelib.registry.http import OciRequest, OciResponse
from chalicelib.registry.oci.names import project_of


def list_repositories(svc, req: OciRequest) -> OciResponse:
    """Lexically sorted repositories, only those in projects the caller may see."""
    n, last = page_args(req)
    visible = _visible(svc, req)
    names: list[str] = []
    more = False
    while n and len(names) < n:
        page, more = svc.meta.list_repositories(last=last, limit=n)
        names.extend(name for name in page if visible is None or project_of(name) in visible)
        if not more or not page:
            break
        last = page[-1]
    if len(names) > n:
        names, more = names[:n], True
    headers = {"Link": next_link("/v2/_catalog", n, names[-1])} if more and names else {}
    return OciResponse.json(200, {"repositories": names}, headers)


def _visible(svc, req: OciRequest) -> set[str] | None:
    identity = req.identity
    if identity is None or identity.grants is None:
        return None
    from chalicelib.auth.visibility import visible_projects

    return visible_projects(svc.accounts, identity)
