"""Small helpers shared by the handlers."""
from __future__ import annotations

from urllib.parse import urlencode

from chalicelib.errors import InvalidPagination
from chalicelib.oci.names import project_of
from chalicelib.registry.dependencies import RegistryDependencies
from chalicelib.web.http import Request

DEFAULT_PAGE = 100
MAX_PAGE = 1000
MAX_LAST = 256


def page_args(req: Request) -> tuple[int, str | None]:
    """`n` and `last` of a list request; n is clamped to MAX_PAGE."""
    raw = req.arg("n")
    if raw is None or raw == "":
        n = DEFAULT_PAGE
    else:
        if not raw.isdigit():
            raise InvalidPagination(f"n={raw[:20]!r} is not a non-negative integer")
        n = min(int(raw), MAX_PAGE)
    last = req.arg("last") or None
    if last is not None and len(last) > MAX_LAST:
        # longer than any tag or name could be, and beyond DynamoDB's key size
        raise InvalidPagination("last is longer than any tag or repository name")
    return n, last


def next_link(path: str, n: int, last: str) -> str:
    return f'<{path}?{urlencode({"n": n, "last": last})}>; rel="next"'


def range_header(offset: int) -> str:
    """The upload's Range header: inclusive end of what was received."""
    return f"0-{max(offset - 1, 0)}"


def write_guard(svc: RegistryDependencies, name: str) -> str | None:
    """The project a write into `name` must find still existing, checked inside the
    write's own transaction (docs/security.md, "Writes into a deleted project"). An open
    registry (BERTH_AUTH=none) has no projects."""
    return project_of(name) if svc.settings.auth == "token" else None
