"""The token service at /v2/service/token and its key set at /v2/service/jwks.json:
GET with Basic (docker, skopeo), anonymous GET, offline tokens, the OAuth2 POST
(containerd, podman) with password and refresh_token grants, the JWT's claims."""
from __future__ import annotations

import base64
import datetime as dt
import json
import re

import jwt
import pytest

from tests.api.auth.conftest import (
    ADMIN_PASSWORD,
    PASSWORD,
    SERVICE,
    TOKEN_URL,
    basic,
    bearer,
    make_world,
    password_hash,
    unverified_claims,
)

ISSUER = "berth-token-issuer"


@pytest.fixture(scope="module")
def world(_shared_clients):
    """With a signing key bootstrap makes (the other modules share one: make_world)."""
    return make_world(_shared_clients, own_key=True)


@pytest.fixture(scope="module", autouse=True)
def accounts(world):
    world.project("team")
    world.user("ursula")
    world.member("team", "ursula", 2)  # developer: pull, push
    world.user("pat")  # changes password in a test
    world.member("team", "pat", 2)
    world.user("rita")  # refresh rotation after a password change
    world.member("team", "rita", 2)
    world.stored_image("team/app")
    world.stored_image("library/app")


def access_of(token: str) -> list[dict]:
    return unverified_claims(token)["access"]


def verify_with_jwks(api, token: str, audience: str = SERVICE) -> dict:
    """Verify as a third party would: only the published JWKS."""
    keys = api.get(f"{TOKEN_URL[:-6]}/jwks.json").json()["keys"]
    kid = jwt.get_unverified_header(token)["kid"]
    (jwk,) = [k for k in keys if k["kid"] == kid]
    key = jwt.PyJWK(jwk)
    return jwt.decode(token, key.key, algorithms=[jwk["alg"]], audience=audience, issuer=ISSUER)


# -- GET ----------------------------------------------------------------------------------
def test_get_with_basic_and_one_scope(world, api):
    reply = world.token_reply(["repository:team/app:pull,push"], "ursula")
    assert reply.status == 200
    body = reply.json()
    assert body["token"] == body["access_token"]
    assert body["expires_in"] == 1800  # token_expiration: 30 minutes by default
    issued = dt.datetime.strptime(body["issued_at"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    claims = unverified_claims(body["token"])
    assert int(issued.timestamp()) == claims["iat"]
    assert "refresh_token" not in body
    assert reply.headers["cache-control"] == "no-store"
    assert claims["access"] == [{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}]
    assert api.get("/v2/team/app/tags/list", headers=bearer(body["token"])).status == 200


def test_get_with_several_scope_parameters(world):
    token = world.token(["repository:team/app:pull", "repository:library/app:pull", "registry:catalog:*"], "ursula")
    assert access_of(token) == [
        {"type": "repository", "name": "team/app", "actions": ["pull"]},
        {"type": "repository", "name": "library/app", "actions": ["pull"]},
        {"type": "registry", "name": "catalog", "actions": ["*"]},
    ]


def test_get_with_space_separated_scopes_in_one_parameter(world):
    token = world.token(["repository:team/app:pull repository:team/other:pull,push"], "ursula")
    assert access_of(token) == [
        {"type": "repository", "name": "team/app", "actions": ["pull"]},
        {"type": "repository", "name": "team/other", "actions": ["pull", "push"]},
    ]


def test_repeated_scopes_for_one_repository_are_merged(world):
    token = world.token(["repository:team/app:pull", "repository:team/app:push"], "ursula")
    assert access_of(token) == [{"type": "repository", "name": "team/app", "actions": ["pull", "push"]}]


def test_anonymous_get(world, api):
    reply = world.token_reply(["repository:library/app:pull,push", "repository:team/app:pull"])
    assert reply.status == 200
    token = reply.json()["token"]
    claims = unverified_claims(token)
    assert claims["sub"] == "" and claims["kind"] == "anonymous"
    assert claims["access"] == [
        {"type": "repository", "name": "library/app", "actions": ["pull"]},
        {"type": "repository", "name": "team/app", "actions": []},
    ]
    assert api.get("/v2/library/app/manifests/latest", headers=bearer(token)).status == 200
    assert api.get("/v2/team/app/manifests/latest", headers=bearer(token)).status == 401


def test_anonymous_offline_token_has_no_refresh_token(world):
    reply = world.token_reply(["repository:library/app:pull"], offline_token="true")
    assert reply.status == 200 and "refresh_token" not in reply.json()


def test_get_offline_token_returns_a_refresh_token(world, api):
    reply = world.token_reply(["repository:team/app:pull"], "ursula", offline_token="true", client_id="docker")
    assert reply.status == 200
    refresh = reply.json()["refresh_token"]
    claims = unverified_claims(refresh)
    assert claims["aud"] != SERVICE and claims["access"] == [] and claims["sub"] == "ursula"
    # it is no access token
    assert api.get("/v2/team/app/tags/list", headers=bearer(refresh)).status == 401
    # and it works at the OAuth2 endpoint
    again = world.post_token({"grant_type": "refresh_token", "refresh_token": refresh, "service": SERVICE, "scope": "repository:team/app:push"})
    assert again.status == 200, again.body
    assert access_of(again.json()["access_token"]) == [{"type": "repository", "name": "team/app", "actions": ["push"]}]


def test_get_rejects_bearer_credentials(world, api):
    token = world.admin_token()
    reply = api.get(f"{TOKEN_URL}?service={SERVICE}&scope=repository:team/app:pull", headers=bearer(token))
    assert reply.status == 401


@pytest.mark.parametrize("header", ["Basic", "Basic !!!", "Basic " + base64.b64encode(b"no-colon").decode(), "Basic " + base64.b64encode(b"\xff\xfe:x").decode()])
def test_get_with_malformed_basic_is_401(api, header):
    reply = api.get(f"{TOKEN_URL}?service={SERVICE}", headers={"Authorization": header})
    assert reply.status == 401
    assert reply.error_codes == ["UNAUTHORIZED"]


# -- POST (OAuth2) -------------------------------------------------------------------------
def test_post_password_grant(world, api):
    reply = world.post_token(
        {"grant_type": "password", "username": "ursula", "password": PASSWORD, "service": SERVICE, "client_id": "podman",
         "scope": "repository:team/app:pull,push repository:library/app:pull"}
    )
    assert reply.status == 200, reply.body
    body = reply.json()
    assert set(body) >= {"access_token", "expires_in", "issued_at", "scope"}
    assert "refresh_token" not in body
    assert body["scope"] == "repository:team/app:pull,push repository:library/app:pull"
    assert api.post("/v2/team/app/blobs/uploads/", headers=bearer(body["access_token"])).status == 202


def test_post_password_grant_with_several_scope_fields(world):
    reply = world.post_token(
        [("grant_type", "password"), ("username", "ursula"), ("password", PASSWORD), ("service", SERVICE),
         ("scope", "repository:team/app:pull"), ("scope", "repository:library/app:pull")]
    )
    assert reply.status == 200
    assert [a["name"] for a in access_of(reply.json()["access_token"])] == ["team/app", "library/app"]


def test_post_offline_access_returns_refresh_token_that_refreshes(world, api):
    reply = world.post_token(
        {"grant_type": "password", "username": "ursula", "password": PASSWORD, "service": SERVICE, "access_type": "offline",
         "client_id": "containerd", "scope": "repository:team/app:pull"}
    )
    assert reply.status == 200
    refresh = reply.json()["refresh_token"]
    again = world.post_token({"grant_type": "refresh_token", "refresh_token": refresh, "service": SERVICE, "scope": "repository:team/app:pull,push"})
    assert again.status == 200, again.body
    body = again.json()
    assert body["refresh_token"]  # rotated
    token = body["access_token"]
    assert unverified_claims(token)["sub"] == "ursula"
    assert api.post("/v2/team/app/blobs/uploads/", headers=bearer(token)).status == 202
    # the rotated refresh token works too
    third = world.post_token({"grant_type": "refresh_token", "refresh_token": body["refresh_token"], "service": SERVICE})
    assert third.status == 200, third.body


def test_refresh_grant_still_grants_only_the_role(world):
    refresh = world.token_reply([], "ursula", offline_token="true").json()["refresh_token"]
    reply = world.post_token({"grant_type": "refresh_token", "refresh_token": refresh, "scope": "repository:team/app:delete"})
    assert reply.status == 200
    assert access_of(reply.json()["access_token"]) == [{"type": "repository", "name": "team/app", "actions": []}]


def test_refresh_tokens_stop_working_after_a_password_change(world):
    old = world.token_reply([], "pat", offline_token="true").json()["refresh_token"]
    assert world.post_token({"grant_type": "refresh_token", "refresh_token": old}).status == 200
    world.svc.accounts.set_password("pat", password_hash("Changed-Passw0rd"))
    reply = world.post_token({"grant_type": "refresh_token", "refresh_token": old})
    assert reply.status == 401
    assert reply.json()["error"] == "invalid_grant"
    # the old password is refused, the new one works
    assert world.token_reply([], "pat").status == 401
    assert world.token_reply([], "pat", "Changed-Passw0rd").status == 200


def test_refresh_tokens_issued_after_a_password_change_keep_working(world):
    """A refresh token minted after a password change carries the new password
    version, and so does the one the refresh grant rotates in."""
    world.svc.accounts.set_password("rita", password_hash("Changed-Passw0rd"))
    first = world.token_reply([], "rita", "Changed-Passw0rd", offline_token="true").json()["refresh_token"]
    reply = world.post_token({"grant_type": "refresh_token", "refresh_token": first})
    assert reply.status == 200, reply.body
    rotated = reply.json()["refresh_token"]
    reply = world.post_token({"grant_type": "refresh_token", "refresh_token": rotated})
    assert reply.status == 200, reply.body


def test_access_token_is_no_refresh_token(world):
    token = world.token([], "ursula")
    reply = world.post_token({"grant_type": "refresh_token", "refresh_token": token})
    assert reply.status == 401 and reply.json()["error"] == "invalid_grant"


@pytest.mark.parametrize(
    "form, status, error",
    [
        ({"grant_type": "password", "username": "ursula", "password": "wrong"}, 401, "invalid_grant"),
        ({"grant_type": "password", "username": "ursula"}, 401, "invalid_grant"),
        ({"grant_type": "refresh_token", "refresh_token": "garbage"}, 401, "invalid_grant"),
        ({"grant_type": "refresh_token"}, 401, "invalid_grant"),
        ({"grant_type": "client_credentials"}, 400, "unsupported_grant_type"),
        ({}, 400, "unsupported_grant_type"),
        ({"grant_type": "password", "username": "ursula", "password": PASSWORD, "scope": "repository::pull"}, 400, "invalid_scope"),
    ],
)
def test_post_errors(world, form, status, error):
    reply = world.post_token(form)
    assert reply.status == status, reply.body
    assert reply.json()["error"] == error


def test_post_needs_a_form(api):
    reply = api.post(TOKEN_URL, json.dumps({"grant_type": "password"}).encode(), headers={"Content-Type": "application/json"})
    assert reply.status == 400 and reply.json()["error"] == "invalid_request"


def test_post_with_an_oversized_form_is_refused(api):
    body = b"grant_type=password&username=ursula&password=" + b"x" * 20000
    reply = api.post(TOKEN_URL, body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 400


# -- the JWT --------------------------------------------------------------------------------
def test_jwt_header_and_claims(world, api):
    reply = world.token_reply(["repository:team/app:pull"], "ursula")
    token = reply.json()["token"]
    header = jwt.get_unverified_header(token)
    keys = api.get("/v2/service/jwks.json").json()["keys"]
    assert header["alg"] == "RS256"
    assert header["kid"] in [k["kid"] for k in keys]
    claims = unverified_claims(token)
    assert set(claims) >= {"iss", "sub", "aud", "exp", "nbf", "iat", "jti", "access"}
    assert claims["iss"] == ISSUER
    assert claims["aud"] == SERVICE
    assert claims["sub"] == "ursula"
    assert claims["nbf"] == claims["iat"]
    assert claims["exp"] - claims["iat"] == reply.json()["expires_in"]
    assert abs(claims["iat"] - world.svc.clock()) < 60
    assert re.fullmatch(r"[A-Za-z0-9_-]{16,}", claims["jti"])
    assert claims["jti"] != unverified_claims(world.token([], "ursula"))["jti"]


def test_jwks_verifies_the_tokens(world, api):
    reply = api.get("/v2/service/jwks.json")
    assert reply.status == 200
    keys = reply.json()["keys"]
    assert len(keys) == 1
    assert keys[0]["kty"] == "RSA" and keys[0]["alg"] == "RS256" and keys[0]["use"] == "sig"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(keys[0])  # public only
    token = world.token(["repository:team/app:pull"], "ursula")
    claims = verify_with_jwks(api, token)
    assert claims["access"] == [{"type": "repository", "name": "team/app", "actions": ["pull"]}]
    refresh = world.token_reply([], "ursula", offline_token="true").json()["refresh_token"]
    assert verify_with_jwks(api, refresh, audience=f"{SERVICE}/refresh")["sub"] == "ursula"


def test_the_signing_key_is_the_bootstrapped_one_and_bootstrap_does_not_rotate_it(world, api):
    from chalicelib.bootstrap import bootstrap

    kid = api.get("/v2/service/jwks.json").json()["keys"][0]["kid"]
    assert world.signing_key().kid == kid
    done = bootstrap(world.svc, admin_password=ADMIN_PASSWORD)
    assert done == {"list_sizes": False, "upload_key": False, "signing_key": False, "library": False, "admin": False}
    world.svc.secrets.forget()  # read SSM again
    assert world.signing_key().kid == kid


def test_token_expiration_comes_from_the_runtime_configuration(_moto):
    from tests.api.auth.conftest import make_world

    def configure(svc):
        svc.ssm.put_parameter(Name=f"{svc.settings.ssm_prefix}/config/token_expiration", Value="5", Type="String")

    other = make_world(_moto, before_bootstrap=configure)
    reply = other.token_reply([], "admin", ADMIN_PASSWORD)
    assert reply.status == 200
    assert reply.json()["expires_in"] == 300
    claims = unverified_claims(reply.json()["token"])
    assert claims["exp"] - claims["iat"] == 300


def test_admin_login_is_a_sysadmin(world):
    claims = unverified_claims(world.token(["repository:team/app:pull,push,delete"], "admin", ADMIN_PASSWORD))
    assert claims["sub"] == "admin" and claims["kind"] == "user"
    assert claims["access"][0]["actions"] == ["pull", "push", "delete"]


def test_basic_helper_roundtrip():
    assert base64.b64decode(basic("a", "b:c")[6:]) == b"a:b:c"
