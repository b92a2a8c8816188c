"""Ping, repository names, unknown paths and methods: the spec's base behaviour."""
from __future__ import annotations

import pytest

from tests.api.helpers import assert_error, digest, push_image

VERSION = "registry/2.0"


def test_ping_get(api):
    r = api.get("/v2/")
    assert r.status == 200
    assert r.headers["docker-distribution-api-version"] == VERSION
    assert r.json() == {}


def test_ping_head(api):
    r = api.head("/v2/")
    assert r.status == 200
    assert r.headers["docker-distribution-api-version"] == VERSION
    assert r.body == b""


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/v2/library/app/manifests/missing"),
        ("HEAD", "/v2/library/app/manifests/missing"),
        ("GET", f"/v2/library/app/blobs/{digest(b'x')}"),
        ("GET", "/v2/library/app/tags/list"),
        ("GET", "/v2/library/app/blobs/uploads/00000000-0000-0000-0000-000000000000"),
        ("GET", "/v2/Library/app/tags/list"),
        ("GET", "/v2/nothing/here"),
        ("POST", "/v2/library/app/tags/list"),
        ("GET", "/v2/_catalog?n=x"),
    ],
)
def test_error_replies_carry_api_version(api, method, path):
    r = api.request(method, path)
    assert 400 <= r.status < 500
    assert r.headers["docker-distribution-api-version"] == VERSION
    if method != "HEAD":
        assert r.headers["content-type"] == "application/json"
        assert r.json()["errors"][0]["code"]


@pytest.mark.parametrize(
    "name",
    [
        "Library/app",  # uppercase
        "library//app",  # empty component
        "library/app/",  # trailing slash
        "library/-app",  # component must start with [a-z0-9]
        "library/app-",  # ... and end with one
        "library/a..b",  # separators do not repeat (except "__" and "-+")
        "a" * 256,  # longer than 255
        "library/" + "a" * 248,  # 256 with a slash
    ],
)
@pytest.mark.parametrize("suffix", ["manifests/latest", "tags/list", "blobs/uploads/", f"blobs/{digest(b'x')}", f"referrers/{digest(b'x')}"])
def test_invalid_repository_names(api, name, suffix):
    method = "POST" if suffix == "blobs/uploads/" else "GET"
    r = api.request(method, f"/v2/{name}/{suffix}")
    assert_error(r, 400, "NAME_INVALID")


def test_longest_name_is_valid(api):
    name = "a" * 120 + "/" + "b" * 134
    assert len(name) == 255
    r = api.get(f"/v2/{name}/tags/list")
    assert_error(r, 404, "NAME_UNKNOWN")
    push_image(api, name, "v1")
    r = api.get(f"/v2/{name}/tags/list")
    assert r.status == 200 and r.json() == {"name": name, "tags": ["v1"]}


@pytest.mark.parametrize("name", ["a", "a/b/c/d", "a_b", "a__b", "a-b", "a---b", "a.b", "0/1"])
def test_valid_unusual_names(api, name):
    r = api.get(f"/v2/{name}/tags/list")
    assert_error(r, 404, "NAME_UNKNOWN")


@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "/v2/library/app"),
        ("GET", "/v2/library/app/manifests"),
        ("GET", "/v2/library/app/tags"),
        ("GET", "/v2/library/app/referrers"),
        ("GET", "/v2/library/app/unknown/thing"),
        ("PUT", "/v2/library/app/whatever"),
    ],
)
def test_unknown_path_is_404(api, method, path):
    r = api.request(method, path, b"x" if method == "PUT" else b"")
    assert r.status == 404
    assert r.headers["docker-distribution-api-version"] == VERSION


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/v2/library/app/manifests/latest"),
        ("PATCH", "/v2/library/app/manifests/latest"),
        ("POST", "/v2/library/app/tags/list"),
        ("DELETE", "/v2/library/app/tags/list"),
        ("PUT", f"/v2/library/app/blobs/{digest(b'x')}"),
        ("POST", f"/v2/library/app/blobs/{digest(b'x')}"),
        ("PATCH", f"/v2/library/app/blobs/{digest(b'x')}"),
        ("GET", "/v2/library/app/blobs/uploads/"),
        ("PUT", "/v2/library/app/blobs/uploads/"),
        ("POST", "/v2/library/app/blobs/uploads/00000000-0000-0000-0000-000000000000"),
        ("DELETE", "/v2/_catalog"),
        ("POST", "/v2/_catalog"),
        ("DELETE", f"/v2/library/app/referrers/{digest(b'x')}"),
    ],
)
def test_unsupported_method_is_405(api, method, path):
    r = api.request(method, path)
    assert_error(r, 405, "UNSUPPORTED")


def test_unsupported_method_on_a_valid_name_is_checked_before_the_name(api):
    # 405 is about the path's shape; the name is never looked at
    r = api.request("POST", "/v2/Bad/manifests/latest")
    assert_error(r, 405, "UNSUPPORTED")


def test_the_reply_guard_catches_server_errors(api, services, monkeypatch, checked_replies):
    """The autouse guard in conftest really fails a test on a 5xx."""

    def boom(**kwargs):
        raise RuntimeError("injected fault")

    monkeypatch.setattr(services.meta, "list_repositories", boom)
    with pytest.raises(pytest.fail.Exception):
        api.get("/v2/_catalog")
    assert checked_replies[-1][2].status == 500
    assert checked_replies[-1][2].error_codes == ["UNKNOWN"]
    checked_replies.clear()


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_unsupported_method_on_the_ping(api, method):
    assert_error(api.request(method, "/v2/"), 405, "UNSUPPORTED")
