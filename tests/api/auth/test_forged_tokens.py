"""Forged and tampered bearer tokens presented to the registry: every one is a 401.

Each forgery asks for exactly what a genuine token (the control, first test)
is granted, so a 401 can only come from the forgery itself.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.api.auth.conftest import SERVICE, bearer

ISSUER = "berth-token-issuer"
REPO = "vault/app"
URL = f"/v2/{REPO}/manifests/latest"
ACCESS = [{"type": "repository", "name": REPO, "actions": ["pull"]}]


@pytest.fixture(scope="module", autouse=True)
def setup(world):
    world.project("vault")
    world.stored_image(REPO)
    world.stored_image("vault/other")


@pytest.fixture(scope="module")
def key(world):
    return world.signing_key()


@pytest.fixture(scope="module")
def foreign_rsa():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def segment(obj: dict) -> str:
    return b64(json.dumps(obj, separators=(",", ":")).encode())


def claims(world, **overrides) -> dict:
    now = int(world.svc.clock())
    out = {
        "iss": ISSUER,
        "sub": "admin",
        "aud": SERVICE,
        "exp": now + 600,
        "nbf": now,
        "iat": now,
        "jti": secrets.token_urlsafe(16),
        "access": ACCESS,
        "kind": "user",
    }
    out.update(overrides)
    return out


def hs256(payload: dict, secret: bytes, kid: str) -> str:
    signing_input = f"{segment({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{segment(payload)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def assert_refused(api, token: str, error: str = "invalid_token") -> None:
    reply = api.get(URL, headers=bearer(token))
    assert reply.status == 401, (reply.status, reply.body[:200])
    assert reply.error_codes == ["UNAUTHORIZED"]
    assert f'error="{error}"' in reply.headers["www-authenticate"]
    assert f'scope="repository:{REPO}:pull"' in reply.headers["www-authenticate"]


def test_control_a_token_signed_by_the_real_key_is_accepted(world, api, key):
    assert api.get(URL, headers=bearer(key.sign(claims(world)))).status == 200
    assert api.get(URL, headers=bearer(world.admin_token(f"repository:{REPO}:pull"))).status == 200


def test_alg_none(world, api, key):
    unsigned = f"{segment({'alg': 'none', 'typ': 'JWT', 'kid': key.kid})}.{segment(claims(world))}"
    assert_refused(api, unsigned + ".")
    assert_refused(api, unsigned + "." + b64(b"x"))
    assert_refused(api, f"{segment({'alg': 'None', 'kid': key.kid})}.{segment(claims(world))}.")


def test_hs256_signed_with_the_public_key_pem(world, api, key):
    public = key._private_key.public_key()
    for fmt in (serialization.PublicFormat.SubjectPublicKeyInfo, serialization.PublicFormat.PKCS1):
        pem = public.public_bytes(serialization.Encoding.PEM, fmt)
        assert_refused(api, hs256(claims(world), pem, key.kid))
        assert_refused(api, hs256(claims(world), pem.strip(), key.kid))


def test_hs256_signed_with_the_public_jwk(world, api, key):
    published = api.get("/v2/service/jwks.json").json()["keys"][0]
    for secret in (
        json.dumps(published).encode(),
        json.dumps(published, separators=(",", ":"), sort_keys=True).encode(),
        published["n"].encode(),
        base64.urlsafe_b64decode(published["n"] + "=="),
    ):
        assert_refused(api, hs256(claims(world), secret, key.kid))


def test_foreign_rsa_key_with_the_right_kid(world, api, key, foreign_rsa):
    token = jwt.encode(claims(world), foreign_rsa, algorithm="RS256", headers={"kid": key.kid})
    assert_refused(api, token)


def test_foreign_key_with_a_new_kid(world, api, foreign_rsa):
    from chalicelib.auth.tokens import SigningKey

    forged = SigningKey(foreign_rsa)
    assert_refused(api, forged.sign(claims(world)))
    ec_key = SigningKey.generate("ES256")
    assert_refused(api, ec_key.sign(claims(world)))


def test_algorithm_swap_to_es256_with_the_right_kid(world, api, key):
    token = jwt.encode(claims(world), ec.generate_private_key(ec.SECP256R1()), algorithm="ES256", headers={"kid": key.kid})
    assert_refused(api, token)


def test_no_kid(world, api, key):
    token = jwt.encode(claims(world), key._private_key, algorithm="RS256")
    assert_refused(api, token)


@pytest.mark.parametrize("aud", ["other-registry", "berth-registry/refresh", ["berth-registry", "x"], ""])
def test_wrong_audience(world, api, key, aud):
    assert_refused(api, key.sign(claims(world, aud=aud)))


@pytest.mark.parametrize("iss", ["evil-issuer", "", "berth-token-issuer "])
def test_wrong_issuer(world, api, key, iss):
    assert_refused(api, key.sign(claims(world, iss=iss)))


def test_expired(world, api, key):
    now = int(world.svc.clock())
    assert_refused(api, key.sign(claims(world, iat=now - 7200, nbf=now - 7200, exp=now - 3600)))
    # just past the 30 s leeway
    assert_refused(api, key.sign(claims(world, iat=now - 700, nbf=now - 700, exp=now - 31)))


def test_not_yet_valid(world, api, key):
    now = int(world.svc.clock())
    assert_refused(api, key.sign(claims(world, nbf=now + 3600)))
    assert_refused(api, key.sign(claims(world, iat=now + 3600, nbf=now + 3600, exp=now + 7200)))


@pytest.mark.parametrize("missing", ["exp", "nbf", "iat", "jti", "iss", "aud", "sub", "access"])
def test_missing_claim(world, api, key, missing):
    payload = claims(world)
    del payload[missing]
    assert_refused(api, key.sign(payload))


def test_valid_token_for_another_repositorys_scope(world, api):
    token = world.admin_token("repository:vault/other:pull,push,delete")
    assert api.get("/v2/vault/other/manifests/latest", headers=bearer(token)).status == 200
    assert_refused(api, token, error="insufficient_scope")
    # a name that merely starts with the granted one is another repository too
    token = world.admin_token("repository:vault/app2:pull")
    assert_refused(api, token, error="insufficient_scope")


def test_access_claim_edited_without_resigning(world, api):
    token = world.admin_token("repository:vault/other:pull")
    header, payload, signature = token.split(".")
    edited = json.loads(base64.urlsafe_b64decode(payload + "=="))
    edited["access"] = ACCESS
    assert_refused(api, f"{header}.{segment(edited)}.{signature}")
    # the signature of one genuine token on the payload of another
    genuine = world.admin_token(f"repository:{REPO}:pull").split(".")
    assert_refused(api, f"{genuine[0]}.{payload}.{genuine[2]}")


def test_refresh_token_is_no_access_token(world, api):
    from tests.api.auth.conftest import ADMIN_PASSWORD

    reply = world.token_reply([f"repository:{REPO}:pull"], "admin", ADMIN_PASSWORD, offline_token="true")
    assert_refused(api, reply.json()["refresh_token"])


def test_oversized_and_garbage_tokens(world, api, key):
    assert_refused(api, key.sign(claims(world, pad="x" * 20000)))
    for garbage in ("a.b", "a.b.c.d", "...", "ey.ey.ey", "=.=.="):
        assert_refused(api, garbage)


def test_malformed_access_claim(world, api, key):
    for access in ({"type": "repository"}, [{"type": "repository", "name": REPO, "actions": "pull"}], "repository:vault/app:pull"):
        assert_refused(api, key.sign(claims(world, access=access)))
