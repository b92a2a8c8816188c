"""The registry's 401 challenges (Docker token auth): without a token, or with a
token that grants too little, every /v2 request answers 401 with a
`WWW-Authenticate: Bearer` header naming the realm, the service and exactly the
scope the request needs."""
from __future__ import annotations

import pytest

from tests.api.auth.conftest import SERVICE, bearer
from tests.api.helpers import digest

HOST = "registry.example.com"
REALM = f'Bearer realm="https://{HOST}/v2/service/token",service="{SERVICE}"'
BLOB = b"challenge blob"
DIGEST = digest(BLOB)
UPLOAD_ID = "0123456789abcdef0123456789abcdef"


def challenge(scope: str | None = None, error: str | None = None) -> str:
    value = REALM
    if scope is not None:
        value += f',scope="{scope}"'
    if error is not None:
        value += f',error="{error}"'
    return value


def assert_challenge(reply, expected: str) -> None:
    assert reply.status == 401, (reply.status, reply.body[:300])
    assert reply.headers["www-authenticate"] == expected
    if reply.body:  # HEAD replies carry no body
        assert reply.error_codes == ["UNAUTHORIZED"]


# (method, path, the scope it needs)
REQUESTS = [
    ("GET", "/v2/library/app/manifests/latest", "repository:library/app:pull"),
    ("HEAD", "/v2/library/app/manifests/latest", "repository:library/app:pull"),
    ("GET", f"/v2/library/app/blobs/{DIGEST}", "repository:library/app:pull"),
    ("HEAD", f"/v2/library/app/blobs/{DIGEST}", "repository:library/app:pull"),
    ("GET", "/v2/library/app/tags/list", "repository:library/app:pull"),
    ("GET", f"/v2/library/app/referrers/{DIGEST}", "repository:library/app:pull"),
    ("PUT", "/v2/library/app/manifests/latest", "repository:library/app:pull,push"),
    ("POST", "/v2/library/app/blobs/uploads/", "repository:library/app:pull,push"),
    ("PATCH", f"/v2/library/app/blobs/uploads/{UPLOAD_ID}", "repository:library/app:pull,push"),
    ("PUT", f"/v2/library/app/blobs/uploads/{UPLOAD_ID}?digest={DIGEST}", "repository:library/app:pull,push"),
    ("GET", f"/v2/library/app/blobs/uploads/{UPLOAD_ID}", "repository:library/app:pull,push"),
    ("DELETE", f"/v2/library/app/blobs/uploads/{UPLOAD_ID}", "repository:library/app:pull,push"),
    ("DELETE", "/v2/library/app/manifests/latest", "repository:library/app:delete"),
    ("DELETE", f"/v2/library/app/blobs/{DIGEST}", "repository:library/app:delete"),
    ("GET", "/v2/library/nested/deep/app/tags/list", "repository:library/nested/deep/app:pull"),
    ("GET", "/v2/_catalog", "registry:catalog:*"),
    # a cross-repository mount asks for pull on the source too, so token clients can mount
    (
        "POST",
        f"/v2/library/app/blobs/uploads/?mount={DIGEST}&from=library/base",
        "repository:library/app:pull,push repository:library/base:pull",
    ),
    # ...but never for a source that is no repository name, nor the target itself
    ("POST", f"/v2/library/app/blobs/uploads/?mount={DIGEST}&from=Not..Valid", "repository:library/app:pull,push"),
    ("POST", f"/v2/library/app/blobs/uploads/?mount={DIGEST}&from=library/app", "repository:library/app:pull,push"),
]


@pytest.mark.parametrize("method, path, scope", REQUESTS, ids=[f"{m} {p[4:40]}" for m, p, _ in REQUESTS])
def test_no_token_is_challenged_with_the_scope_the_request_needs(api, method, path, scope):
    body = b"x" if method in ("PUT", "PATCH", "POST") else b""
    reply = api.request(method, path, body, headers={"Host": HOST, "Content-Type": "application/octet-stream"})
    assert_challenge(reply, challenge(scope))


def test_ping_without_token_names_realm_and_service_only(api):
    for method in ("GET", "HEAD"):
        reply = api.request(method, "/v2/", headers={"Host": HOST})
        assert_challenge(reply, challenge())


def test_ping_with_any_valid_token_is_ok(world, api):
    token = world.token()  # anonymous, no scope
    reply = api.get("/v2/", headers={"Host": HOST, **bearer(token)})
    assert reply.status == 200


def test_realm_follows_host_and_forwarded_proto(api):
    reply = api.get("/v2/", headers={"Host": "127.0.0.1:8000", "X-Forwarded-Proto": "http"})
    assert reply.headers["www-authenticate"] == f'Bearer realm="http://127.0.0.1:8000/v2/service/token",service="{SERVICE}"'


def test_a_configured_public_url_is_the_realm_whatever_the_host(world):
    """Issue 10: with BERTH_PUBLIC_URL set, a forged Host or X-Forwarded-Proto cannot send
    clients' credentials to another token service."""
    import dataclasses

    from tests.api.auth.conftest import WorldClient

    configured = dataclasses.replace(world.svc.settings, public_url="https://registry.example")
    api = WorldClient(world.svc.replace(settings=configured))
    reply = api.get("/v2/", headers={"Host": "evil.example", "X-Forwarded-Proto": "http"})
    assert reply.headers["www-authenticate"] == f'Bearer realm="https://registry.example/v2/service/token",service="{SERVICE}"'


def test_basic_credentials_at_the_registry_are_challenged(api):
    reply = api.get(
        "/v2/library/app/tags/list", headers={"Host": HOST, "Authorization": "Basic YWRtaW46QWRtaW4tUGFzc3cwcmQ="}
    )
    assert_challenge(reply, challenge("repository:library/app:pull"))


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer not-a-jwt", "Bearer a.b.c", "Token abc"])
def test_malformed_bearer_is_challenged(api, header):
    reply = api.get("/v2/library/app/tags/list", headers={"Host": HOST, "Authorization": header})
    assert reply.status == 401
    assert reply.headers["www-authenticate"].startswith(challenge("repository:library/app:pull"))


# -- a valid token that grants too little ----------------------------------------------
def test_pull_token_cannot_push(world, api):
    token = world.admin_token("repository:library/app:pull")
    headers = {"Host": HOST, **bearer(token)}
    assert api.get("/v2/library/app/tags/list", headers=headers).status in (200, 404)
    needed = challenge("repository:library/app:pull,push", "insufficient_scope")
    assert_challenge(api.post("/v2/library/app/blobs/uploads/", headers=headers), needed)
    assert_challenge(
        api.put("/v2/library/app/manifests/latest", b"{}", headers={**headers, "Content-Type": "application/json"}), needed
    )
    assert_challenge(api.patch(f"/v2/library/app/blobs/uploads/{UPLOAD_ID}", b"x", headers=headers), needed)


def test_push_token_cannot_delete(world, api):
    token = world.admin_token("repository:library/app:pull,push")
    reply = api.delete("/v2/library/app/manifests/latest", headers={"Host": HOST, **bearer(token)})
    assert_challenge(reply, challenge("repository:library/app:delete", "insufficient_scope"))


def test_token_without_catalog_scope_cannot_list(world, api):
    token = world.admin_token("repository:library/app:pull")
    reply = api.get("/v2/_catalog", headers={"Host": HOST, **bearer(token)})
    assert_challenge(reply, challenge("registry:catalog:*", "insufficient_scope"))


def test_token_for_another_repository_is_insufficient(world, api):
    token = world.admin_token("repository:library/other:pull,push,delete")
    reply = api.get("/v2/library/app/tags/list", headers={"Host": HOST, **bearer(token)})
    assert_challenge(reply, challenge("repository:library/app:pull", "insufficient_scope"))


def test_star_grants_every_action(world, api):
    world.admin_push("library/star")
    token = world.admin_token("repository:library/star:*")
    assert world.svc.token_keys.verifier().verify(token)["access"][0]["actions"] == ["*"]
    headers = {"Host": HOST, **bearer(token)}
    assert api.get("/v2/library/star/tags/list", headers=headers).status == 200
    assert api.delete("/v2/library/star/manifests/latest", headers=headers).status == 202


def test_upload_state_is_the_credential_on_the_upload_urls(world, api):
    """PATCH/PUT with the signed `_state` of a session need no token (the upload
    host may be another host); the session was opened with a push token."""
    token = world.admin_token("repository:library/up:pull,push")
    start = api.post("/v2/library/up/blobs/uploads/", headers=bearer(token))
    assert start.status == 202
    location = start.headers["location"]
    reply = api.put(f"{location}&digest={DIGEST}", BLOB, headers={"Content-Type": "application/octet-stream"})
    assert reply.status == 201, reply.body
    # the same session URL with the state of another session is refused
    other = api.post("/v2/library/up/blobs/uploads/", headers=bearer(token)).headers["location"]
    forged = location.split("?")[0] + "?" + other.split("?")[1]
    assert api.patch(forged, b"x", headers={"Content-Type": "application/octet-stream"}).status == 404
