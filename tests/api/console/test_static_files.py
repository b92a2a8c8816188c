"""Serving the console: /v2/ui, /v2/ui/, /v2/ui/<file>, through the handler as API
Gateway delivers requests (stage v2, bodies base64, `*/*` binary)."""
from __future__ import annotations

import re

import pytest

from chalicelib.console.static import ASSET_DIR, CONTENT_SECURITY_POLICY

UI = "/v2/ui/"
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
ASSETS = sorted(p.name for p in ASSET_DIR.iterdir() if p.is_file())


def test_the_bare_path_redirects_to_the_directory(api):
    for method in ("GET", "HEAD"):
        reply = api.request(method, "/v2/ui")
        assert reply.status == 301
        # relative: /v2/ui + "ui/" is /v2/ui/ on the raw API URL and behind a custom domain
        assert reply.headers["location"] == "ui/"


def test_the_directory_is_index_html(api):
    reply = api.get(UI, headers={"Accept": BROWSER_ACCEPT})
    assert reply.status == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert reply.headers["cache-control"] == "no-cache"
    assert reply.body == (ASSET_DIR / "index.html").read_bytes()
    assert reply.headers["content-length"] == str(len(reply.body))
    assert api.get(UI + "index.html").body == reply.body


@pytest.mark.parametrize(
    "name, content_type",
    [
        ("app.js", "text/javascript; charset=utf-8"),
        ("api.js", "text/javascript; charset=utf-8"),
        ("tab-robots.js", "text/javascript; charset=utf-8"),
        ("lists.js", "text/javascript; charset=utf-8"),
        ("view-configuration.js", "text/javascript; charset=utf-8"),
        ("app.css", "text/css; charset=utf-8"),
        ("favicon.svg", "image/svg+xml"),
    ],
)
def test_files_have_their_type(api, name, content_type):
    reply = api.get(UI + name, headers={"Accept": "*/*"})
    assert reply.status == 200
    assert reply.headers["content-type"] == content_type
    assert reply.body == (ASSET_DIR / name).read_bytes()


def test_every_file_comes_back_byte_exact(api):
    # bodies travel base64-encoded (binary_types */*): text must survive the trip unchanged
    for name in ASSETS:
        reply = api.get(UI + name)
        assert reply.status == 200, name
        assert reply.body == (ASSET_DIR / name).read_bytes(), name


def test_security_headers(api):
    reply = api.get(UI)
    csp = reply.headers["content-security-policy"]
    assert csp == CONTENT_SECURITY_POLICY
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in csp
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["referrer-policy"] == "same-origin"


def test_etag_and_not_modified(api):
    first = api.get(UI + "app.js")
    etag = first.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    for presented in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = api.get(UI + "app.js", headers={"If-None-Match": presented})
        assert again.status == 304, presented
        assert again.body == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == "no-cache"
    changed = api.get(UI + "app.js", headers={"If-None-Match": '"0000"'})
    assert changed.status == 200
    assert changed.body == first.body
    # each file has its own tag
    assert api.get(UI + "app.css").headers["etag"] != etag


def test_head_answers_the_headers_without_a_body(api):
    get = api.get(UI + "app.css")
    head = api.head(UI + "app.css")
    assert head.status == 200
    assert head.body == b""
    for name in ("content-type", "etag", "cache-control", "content-security-policy"):
        assert head.headers[name] == get.headers[name]


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize("path", ["/v2/ui", UI, UI + "app.js", UI + "missing.js"])
def test_other_methods_are_not_allowed(api, method, path):
    reply = api.request(method, path, b"x=1", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 405
    assert reply.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    "path",
    [
        "missing.js",
        "app.py",
        "static.py",
        "__init__.py",
        "../app.py",
        "../static.py",
        "../../../app.py",
        "%2e%2e/app.py",
        "%2e%2e%2fapp.py",
        "..%2fstatic.py",
        ".%2e/%2e%2e/app.py",
        "%252e%252e%252fapp.py",
        "./app.js",
        "assets/app.js",
        "/app.js",
        "app.js/",
        ".",
        "..",
        "index.html%00",
        "APP.JS",
    ],
)
def test_unknown_files_and_traversal_are_not_found(api, path):
    reply = api.get(UI + path)
    assert reply.status == 404, path
    if "/" in path:
        # more than one segment is not the console's (a project named "ui" has repositories):
        # the registry answers, with its own 404
        assert reply.json()["errors"][0]["code"] == "NAME_UNKNOWN"
        return
    assert reply.headers["content-type"] == "text/plain; charset=utf-8"
    assert reply.body == b"not found\n"


def test_the_registry_still_owns_repository_names_that_start_like_ui(api):
    # "uikit/app" is a repository, not the console
    reply = api.get("/v2/uikit/app/tags/list")
    assert reply.status == 404
    assert reply.json()["errors"][0]["code"] == "NAME_UNKNOWN"
    assert "content-security-policy" not in reply.headers


def test_no_accept_header_is_fine(api):
    # curl and scripts send none; the app treats it as */* (app.py)
    assert api.get(UI + "app.js", headers={}).status == 200


def test_a_project_named_ui_keeps_its_repositories(api):
    """The console is one segment deep: ui/app/manifests/1 is a registry path."""
    reply = api.get("/v2/ui/app/manifests/latest")
    assert reply.status in (401, 404)
    assert reply.headers["content-type"].startswith("application/json")
    assert reply.json()["errors"][0]["code"] in ("UNAUTHORIZED", "NAME_UNKNOWN", "MANIFEST_UNKNOWN")
