from __future__ import annotations

from chalicelib.errors import RepositoryNotFound
from chalicelib.registry.dependencies import RegistryDependencies
from chalicelib.registry.handlers.common import next_link, page_args
from chalicelib.web.http import Request, Response


def list_tags(svc: RegistryDependencies, req: Request, name: str) -> Response:
    n, last = page_args(req)
    tags, more = svc.meta.list_tags(name, last=last, limit=n) if n else ([], False)
    if not tags and not svc.meta.repository_exists(name):
        raise RepositoryNotFound(f"repository {name} is not known", detail={"name": name})
    headers = {"Link": next_link(f"/v2/{name}/tags/list", n, tags[-1])} if more else {}
    return Response.json(200, {"name": name, "tags": tags}, headers)
