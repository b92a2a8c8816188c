from __future__ import annotations

from chalicelib.registry.dependencies import RegistryDependencies
from chalicelib.registry.handlers.common import next_link, page_args
from chalicelib.web.http import Request, Response


def list_repositories(svc: RegistryDependencies, req: Request) -> Response:
    """Lexically sorted repositories, only those in projects the caller may see."""
    n, last = page_args(req)
    visible = _visible(svc, req)
    if not n:
        names: list[str] = []
        more = False
    elif visible is None:
        names, more = svc.meta.list_repositories(last=last, limit=n)
    else:
        names, more = _visible_page(svc.meta, visible, last, n)
    headers = {"Link": next_link("/v2/_catalog", n, names[-1])} if more and names else {}
    return Response.json(200, {"repositories": names}, headers)


def _visible_page(meta, projects: set[str], last: str | None, n: int) -> tuple[list[str], bool]:
    """A page drawn only from the caller's projects: each project's repositories are one
    contiguous key range ("<project>/..."), and the ranges of different projects never
    interleave, so walking them in order gives the catalog's order at a cost that follows
    what the caller may see, not the size of the registry."""
    names: list[str] = []
    for prefix in sorted(f"{p}/" for p in projects):
        if last is not None and last >= prefix + "\U0010ffff":
            continue
        page, more = meta.list_repositories(last=last, limit=n - len(names), prefix=prefix)
        names.extend(page)
        if len(names) >= n:
            return names, more or _any_after(meta, projects, prefix, names[-1])
    return names, False


def _any_after(meta, projects: set[str], current: str, last: str) -> bool:
    """Whether a later project of the caller's holds a repository (for the Link header)."""
    for prefix in sorted(f"{p}/" for p in projects):
        if prefix > current and meta.list_repositories(last=None, limit=1, prefix=prefix)[0]:
            return True
    return False


def _visible(svc: RegistryDependencies, req: Request) -> set[str] | None:
    identity = req.identity
    if identity is None or identity.grants is None:
        return None
    from chalicelib.policy import visible_project_names

    return visible_project_names(svc.accounts, identity)
