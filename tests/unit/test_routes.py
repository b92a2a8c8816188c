"""The OCI route table, asserted whole, and path matching on the awkward cases."""
from __future__ import annotations

import pytest

from chalicelib.auth.access import Access
from chalicelib.oci.errcodes import CODES
from chalicelib.registry.routes import ROUTES, match
from chalicelib.web.http import Request

NAME = r"(?P<name>.+)"
DIGEST = r"(?P<digest>[^/]+)"
MANIFEST = rf"^{NAME}/manifests/(?P<reference>[^/]+)$"
UPLOAD = rf"^{NAME}/blobs/uploads/(?P<upload_id>[^/]+)$"
BLOB = rf"^{NAME}/blobs/{DIGEST}$"
PULL, PUSH, DELETE = ("pull",), ("pull", "push"), ("delete",)

# (method, pattern, handler, actions, upload_host), in table order
EXPECTED = [
    ("GET", "^$", "ping", (), False),
    ("HEAD", "^$", "ping", (), False),
    ("GET", "^_catalog$", "list_repositories", (), False),
    ("GET", MANIFEST, "get_manifest", PULL, False),
    ("HEAD", MANIFEST, "check_manifest", PULL, False),
    ("PUT", MANIFEST, "put_manifest", PUSH, False),
    ("DELETE", MANIFEST, "delete_manifest", DELETE, False),
    ("POST", rf"^{NAME}/blobs/uploads/?$", "start_upload", PUSH, False),
    ("GET", UPLOAD, "get_upload", PUSH, True),
    ("PATCH", UPLOAD, "patch_upload", PUSH, True),
    ("PUT", UPLOAD, "complete_upload", PUSH, True),
    ("DELETE", UPLOAD, "cancel_upload", PUSH, True),
    ("HEAD", BLOB, "check_blob", PULL, False),
    ("GET", BLOB, "get_blob", PULL, False),
    ("DELETE", BLOB, "delete_blob", DELETE, False),
    ("GET", rf"^{NAME}/tags/list$", "list_tags", PULL, False),
    ("GET", rf"^{NAME}/referrers/{DIGEST}$", "get_referrers", PULL, False),
]

D = "sha256:" + "ab" * 32


def test_the_whole_route_table():
    actual = [(r.method, r.pattern.pattern, r.handler.__name__, r.actions, r.upload_host) for r in ROUTES]
    assert actual == EXPECTED


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method}-{r.name}")
def test_each_route_is_consistent(route):
    assert route.name == route.handler.__name__
    assert route.handler.__module__.startswith("chalicelib.registry.handlers.")
    assert set(route.errors) <= set(CODES), "a route declares a code the error table lacks"
    if route.upload_host:
        assert route.handler.__module__.endswith(".uploads")


def test_method_and_pattern_pairs_are_unique():
    pairs = [(r.method, r.pattern.pattern) for r in ROUTES]
    assert len(pairs) == len(set(pairs))


@pytest.mark.parametrize(
    "method, path, handler, params",
    [
        ("GET", "", "ping", {}),
        ("HEAD", "", "ping", {}),
        ("GET", "_catalog", "list_repositories", {}),
        # names with several slashes
        ("GET", "a/b/c/d/manifests/latest", "get_manifest", {"name": "a/b/c/d", "reference": "latest"}),
        ("HEAD", "a/b/c/manifests/" + D, "check_manifest", {"name": "a/b/c", "reference": D}),
        ("PUT", "library/tools/app/manifests/v1.0", "put_manifest", {"name": "library/tools/app", "reference": "v1.0"}),
        ("DELETE", "a/b/manifests/" + D, "delete_manifest", {"name": "a/b", "reference": D}),
        ("GET", "a/b/c/tags/list", "list_tags", {"name": "a/b/c"}),
        ("GET", "a/b/c/referrers/" + D, "get_referrers", {"name": "a/b/c", "digest": D}),
        ("GET", "a/b/c/blobs/" + D, "get_blob", {"name": "a/b/c", "digest": D}),
        # repositories whose names contain the API's own segments
        ("GET", "a/manifests/b/manifests/v1", "get_manifest", {"name": "a/manifests/b", "reference": "v1"}),
        ("GET", "manifests/manifests/manifests", "get_manifest", {"name": "manifests", "reference": "manifests"}),
        ("GET", "a/manifests/tags/list", "list_tags", {"name": "a/manifests"}),
        ("GET", "a/tags/list/tags/list", "list_tags", {"name": "a/tags/list"}),
        ("HEAD", "x/blobs/y/blobs/" + D, "check_blob", {"name": "x/blobs/y", "digest": D}),
        ("GET", "blobs/blobs/" + D, "get_blob", {"name": "blobs", "digest": D}),
        ("GET", "a/blobs/manifests/latest", "get_manifest", {"name": "a/blobs", "reference": "latest"}),
        ("GET", "a/manifests/blobs/" + D, "get_blob", {"name": "a/manifests", "digest": D}),
        ("GET", "a/blobs/uploads/manifests/latest", "get_manifest", {"name": "a/blobs/uploads", "reference": "latest"}),
        ("GET", "a/blobs/uploads/blobs/" + D, "get_blob", {"name": "a/blobs/uploads", "digest": D}),
        ("POST", "a/blobs/uploads/blobs/uploads/", "start_upload", {"name": "a/blobs/uploads"}),
        ("PATCH", "a/blobs/uploads/blobs/uploads/u-1", "patch_upload", {"name": "a/blobs/uploads", "upload_id": "u-1"}),
        ("GET", "a/referrers/manifests/" + D, "get_manifest", {"name": "a/referrers", "reference": D}),
        # uploads: with and without the trailing slash, and sessions
        ("POST", "x/blobs/uploads", "start_upload", {"name": "x"}),
        ("POST", "x/blobs/uploads/", "start_upload", {"name": "x"}),
        ("POST", "x/y/blobs/uploads/", "start_upload", {"name": "x/y"}),
        ("GET", "x/blobs/uploads/abc-123", "get_upload", {"name": "x", "upload_id": "abc-123"}),
        ("PATCH", "x/blobs/uploads/abc-123", "patch_upload", {"name": "x", "upload_id": "abc-123"}),
        ("PUT", "x/blobs/uploads/abc-123", "complete_upload", {"name": "x", "upload_id": "abc-123"}),
        ("DELETE", "x/blobs/uploads/abc-123", "cancel_upload", {"name": "x", "upload_id": "abc-123"}),
        ("HEAD", "x/blobs/" + D, "check_blob", {"name": "x", "digest": D}),
        ("DELETE", "x/blobs/" + D, "delete_blob", {"name": "x", "digest": D}),
        # the name is matched loosely: validation (NAME_INVALID) is the dispatcher's
        ("GET", "Bad Name/tags/list", "list_tags", {"name": "Bad Name"}),
        ("GET", "a//b/tags/list", "list_tags", {"name": "a//b"}),
    ],
)
def test_match(method, path, handler, params):
    route, found, known = match(ROUTES, method, path)
    assert route is not None and route.handler.__name__ == handler
    assert found == params
    assert known is True


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", ""),
        ("DELETE", ""),
        ("POST", "_catalog"),
        ("DELETE", "_catalog"),
        ("POST", "x/manifests/latest"),
        ("PATCH", "x/manifests/latest"),
        # a path ending in blobs/uploads is an upload start, never a blob named "uploads"
        ("GET", "x/blobs/uploads"),
        ("HEAD", "x/blobs/uploads"),
        ("DELETE", "x/blobs/uploads"),
        ("GET", "x/blobs/uploads/"),
        ("PUT", "x/blobs/uploads/"),
        ("POST", "x/blobs/uploads/abc"),
        ("HEAD", "x/blobs/uploads/abc"),
        ("PUT", "x/blobs/" + D),
        ("POST", "x/blobs/" + D),
        ("PATCH", "x/blobs/" + D),
        ("DELETE", "x/tags/list"),
        ("PUT", "x/referrers/" + D),
    ],
)
def test_known_path_wrong_method_is_405(method, path):
    assert match(ROUTES, method, path) == (None, {}, True)


@pytest.mark.parametrize(
    "path",
    [
        "x",
        "x/",
        "x/manifests",
        "x/manifests/",
        "x/manifests/a/b",
        "/manifests/latest",
        "manifests/latest",
        "x/blobs",
        "x/blobs/",
        "x/blobs/uploads/abc/extra",
        "x/tags",
        "x/tags/list/",
        "x/tags/list/extra",
        "x/referrers/",
        "_catalog/x",
        "v2/_catalog_",
        "x/tags/list\n",
        "_catalog\n",
        "\n",
    ],
)
def test_unknown_paths_are_404(path):
    for method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"):
        assert match(ROUTES, method, path) == (None, {}, False), method


def test_match_honours_the_given_table():
    upload_routes = tuple(r for r in ROUTES if r.upload_host)
    assert match(upload_routes, "GET", "x/manifests/latest") == (None, {}, False)
    assert match(upload_routes, "POST", "x/blobs/uploads/") == (None, {}, False)
    route, params, _ = match(upload_routes, "PATCH", "x/blobs/uploads/u1")
    assert route is not None and route.name == "patch_upload" and params == {"name": "x", "upload_id": "u1"}


# -- accesses -------------------------------------------------------------------
def _accesses(method: str, path: str, query: dict[str, list[str]] | None = None) -> list[Access]:
    route, params, _ = match(ROUTES, method, path)
    assert route is not None
    return route.accesses(Request(method, path, query=query or {}), params)


@pytest.mark.parametrize(
    "method, path, scopes",
    [
        ("GET", "", []),
        ("HEAD", "", []),
        ("GET", "_catalog", ["registry:catalog:*"]),
        ("GET", "a/b/manifests/latest", ["repository:a/b:pull"]),
        ("HEAD", "a/b/manifests/latest", ["repository:a/b:pull"]),
        ("PUT", "a/b/manifests/latest", ["repository:a/b:pull,push"]),
        ("DELETE", "a/b/manifests/" + D, ["repository:a/b:delete"]),
        ("GET", "a/b/blobs/" + D, ["repository:a/b:pull"]),
        ("HEAD", "a/b/blobs/" + D, ["repository:a/b:pull"]),
        ("DELETE", "a/b/blobs/" + D, ["repository:a/b:delete"]),
        ("POST", "a/b/blobs/uploads/", ["repository:a/b:pull,push"]),
        ("GET", "a/b/blobs/uploads/u", ["repository:a/b:pull,push"]),
        ("PATCH", "a/b/blobs/uploads/u", ["repository:a/b:pull,push"]),
        ("PUT", "a/b/blobs/uploads/u", ["repository:a/b:pull,push"]),
        ("DELETE", "a/b/blobs/uploads/u", ["repository:a/b:pull,push"]),
        ("GET", "a/b/tags/list", ["repository:a/b:pull"]),
        ("GET", "a/b/referrers/" + D, ["repository:a/b:pull"]),
    ],
)
def test_accesses(method, path, scopes):
    assert [a.scope() for a in _accesses(method, path)] == scopes


def test_catalog_access_is_the_registry_resource():
    assert _accesses("GET", "_catalog") == [Access("registry", "catalog", ("*",))]


def test_a_mount_asks_for_pull_on_the_source_without_requiring_it():
    # the challenge names the source, so token clients request it (as distribution
    # asks); pull there is checked by the handler: without it the mount falls back to
    # an upload (the spec's fallback), so the request must not fail for lack of it
    accesses = _accesses("POST", "a/b/blobs/uploads/", {"mount": [D], "from": ["other/repo"]})
    assert [a.scope() for a in accesses] == ["repository:a/b:pull,push", "repository:other/repo:pull"]
    assert [a.required for a in accesses] == [True, False]


@pytest.mark.parametrize(
    "query",
    [{"mount": [D]}, {"from": ["other/repo"]}, {"mount": [""], "from": ["x"]}, {"mount": [D], "from": ["Bad..Name"]},
     {"mount": [D], "from": ["a/b"]}],
)
def test_a_mount_without_a_usable_source_asks_only_for_the_target(query):
    assert [a.scope() for a in _accesses("POST", "a/b/blobs/uploads/", query)] == ["repository:a/b:pull,push"]


class _Meta:
    def __init__(self):
        self.linked = []

    def get_link(self, name, digest):
        from chalicelib.meta.registry import BlobLink

        return BlobLink(42, "blobs/uploaded/u1") if name == "other/repo" else None

    def link_blob(self, name, digest, size, now, *, key=None, project=None):
        self.linked.append((name, digest, size, key))


class _Svc:
    def __init__(self):
        self.meta = _Meta()
        self.settings = type("Settings", (), {"auth": "none"})()

    def clock(self):
        return 0


def _mount(identity) -> tuple[object, list]:
    from chalicelib.registry.handlers.uploads import _try_mount

    svc = _Svc()
    request = Request("POST", "a/b/blobs/uploads/", query={"mount": [D], "from": ["other/repo"]})
    request.identity = identity
    return _try_mount(svc, request, "a/b"), svc.meta.linked


def test_mount_needs_pull_on_the_source():
    from chalicelib.auth.access import Identity

    allowed = Identity("alice", "user", frozenset({("repository", "other/repo", "pull"), ("repository", "a/b", "push")}))
    response, linked = _mount(allowed)
    assert response is not None and response.status == 201
    # the new link names the object the source's link names (no copy)
    assert linked == [("a/b", D, 42, "blobs/uploaded/u1")]

    denied = Identity("bob", "user", frozenset({("repository", "a/b", "pull"), ("repository", "a/b", "push")}))
    assert _mount(denied) == (None, [])
