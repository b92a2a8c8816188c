"""How API Gateway picks the API's resource for a request path, and which request paths must
reach the app through the `challenge` authorizer and which without it: shared by the
`chalice package` test (the SAM template) and the `chalice deploy` test (the document Chalice
sent to API Gateway)."""
from __future__ import annotations

METHODS = {"get", "head", "post", "put", "patch", "delete"}  # chalicelib/front.py

# paths below the stage (the raw execute-api URL strips /v2)
GUARDED = [
    "/",  # the ping: GET /v2/ on the stage's URL (docker login's first request)
    "/_catalog",
    "/library/app/manifests/latest",
    "/team/sub/group/app/manifests/sha256:" + "a" * 64,
    "/a/b/c/d/e/blobs/sha256:" + "b" * 64,
    "/a/b/blobs/uploads/",
    "/a/b/blobs/uploads/3f2c9d",
    "/one/two/three/tags/list",
    "/x/y/referrers/sha256:" + "c" * 64,
    "/ui/app/manifests/1",  # a project named "ui" keeps its repositories
    "/c/app/blobs/sha256:" + "d" * 64,  # and one named "c"
    "/apis/x/manifests/1",  # a project whose name merely starts with "api"
]
OPEN = [
    "/service/token",  # anonymous and Basic token requests
    "/service/jwks.json",
    "/api/v2.0/projects",  # the management API: Basic, or the console's cookie
    "/api/v2.0/projects/p/repositories/a%252Fb/artifacts/sha256:00/tags",
    "/c/login",
    "/c/log_out",
    "/ui",
    "/ui/index.html",
]


def _score(template: str, path: str) -> tuple | None:
    """A sort key for how specifically `template` matches `path` (None: no match): per
    segment, a literal beats {var}, which beats the greedy {proxy+}."""
    if template == "/":
        return () if path == "/" else None
    parts, segments = template.strip("/").split("/"), path.strip("/").split("/")
    if path == "/" or (path.endswith("/") and not parts[-1].endswith("+}")):
        return None
    key = []
    for i, part in enumerate(parts):
        if part.endswith("+}"):
            return tuple(key) + (0,) if len(segments) > i else None
        if i >= len(segments):
            return None
        if part.startswith("{"):
            key.append(1)
        elif part == segments[i]:
            key.append(2)
        else:
            return None
    return tuple(key) if len(parts) == len(segments) else None


def resource_for(paths, request_path: str) -> str | None:
    """API Gateway's choice among the API's resources for a request path."""
    scored = [(_score(t, request_path.split("?")[0]), t) for t in paths]
    scored = [(s, t) for s, t in scored if s is not None]
    return max(scored)[1] if scored else None


def guarded_by(body: dict, resource: str) -> set:
    """The authorizers on each method of a resource (one set for all; they must agree)."""
    methods = body["paths"][resource]
    assert set(methods) == METHODS, resource
    seen = {tuple(sorted(name for entry in op.get("security", []) for name in entry)) for op in methods.values()}
    assert len(seen) == 1, (resource, seen)
    return set(seen.pop())
