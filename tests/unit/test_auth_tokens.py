"""Docker registry tokens: issuing, verifying, and refusing every forgery we can think of."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from chalicelib.auth.tokens import (
    InvalidToken,
    SigningKey,
    TokenIssuer,
    TokenVerifier,
    granted,
    jwk_thumbprint,
    jwks,
)

NOW = 1_700_000_000
ISSUER = "berth-token-service"
AUDIENCE = "registry.example.com"
LEEWAY = 30
TTL = 300
ACCESS = [{"type": "repository", "name": "library/app", "actions": ["pull", "push"]}]


class Clock:
    def __init__(self, now: float = NOW):
        self.now = now

    def __call__(self) -> float:
        return self.now


def b64url(data: bytes | str) -> str:
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(obj) -> str:
    return b64url(json.dumps(obj, separators=(",", ":")))


def claims(**overrides) -> dict:
    base = {
        "iss": ISSUER,
        "sub": "alice",
        "aud": AUDIENCE,
        "exp": NOW + TTL,
        "nbf": NOW,
        "iat": NOW,
        "jti": "0123456789abcdef",
        "access": ACCESS,
    }
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return SigningKey.generate("RS256")


@pytest.fixture(scope="module")
def ec_key() -> SigningKey:
    return SigningKey.generate("ES256")


@pytest.fixture(scope="module")
def other_rsa_key() -> SigningKey:
    return SigningKey.generate("RS256")


@pytest.fixture(params=["RS256", "ES256"])
def key(request, rsa_key, ec_key) -> SigningKey:
    return rsa_key if request.param == "RS256" else ec_key


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def verifier(rsa_key, ec_key, clock) -> TokenVerifier:
    return TokenVerifier(jwks(rsa_key, ec_key), issuer=ISSUER, audience=AUDIENCE, clock=clock, leeway=LEEWAY)


def forge(key: SigningKey, payload, **header) -> str:
    """Sign any payload with `key`, bypassing PyJWT's checks on what it encodes."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return jwt.api_jws.encode(body, key._private_key, algorithm=key.algorithm, headers={"kid": key.kid, **header})


def refused(verifier: TokenVerifier, token) -> str:
    with pytest.raises(InvalidToken) as exc:
        verifier.verify(token)
    return str(exc.value)


# --- keys -------------------------------------------------------------------


def test_generated_keys_have_their_algorithm(rsa_key, ec_key):
    assert rsa_key.algorithm == "RS256"
    assert ec_key.algorithm == "ES256"


def test_generate_refuses_other_algorithms():
    for alg in ("HS256", "none", "RS512", "EdDSA"):
        with pytest.raises(ValueError):
            SigningKey.generate(alg)


def test_pem_round_trip_keeps_algorithm_and_kid(key):
    pem = key.to_pem()
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    again = SigningKey.from_pem(pem)
    assert (again.algorithm, again.kid, again.public_jwk()) == (key.algorithm, key.kid, key.public_jwk())


def test_from_pem_accepts_traditional_rsa_format(rsa_key):
    pkcs1 = rsa_key._private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()
    ).decode()
    assert SigningKey.from_pem(pkcs1).kid == rsa_key.kid


@pytest.mark.parametrize(
    "pem",
    [
        "",
        "garbage",
        "-----BEGIN PRIVATE KEY-----\nnot base64!\n-----END PRIVATE KEY-----\n",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        None,
        42,
    ],
)
def test_from_pem_refuses_garbage(pem):
    with pytest.raises(ValueError):
        SigningKey.from_pem(pem)


def test_from_pem_refuses_public_keys(rsa_key):
    public = rsa_key._private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()
    with pytest.raises(ValueError):
        SigningKey.from_pem(public)


@pytest.mark.parametrize(
    "make",
    [
        lambda: ec.generate_private_key(ec.SECP384R1()),
        lambda: ed25519.Ed25519PrivateKey.generate(),
        lambda: rsa.generate_private_key(public_exponent=65537, key_size=1024),
    ],
    ids=["p384", "ed25519", "rsa1024"],
)
def test_from_pem_refuses_unsupported_keys(make):
    pem = make().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    with pytest.raises(ValueError):
        SigningKey.from_pem(pem)


def test_from_pem_refuses_encrypted_keys(ec_key):
    pem = ec_key._private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"secret"),
    ).decode()
    with pytest.raises(ValueError):
        SigningKey.from_pem(pem)


def test_repr_does_not_show_key_material(rsa_key):
    assert "PRIVATE" not in repr(rsa_key)
    assert rsa_key.kid in repr(rsa_key)


def test_kid_is_the_rfc7638_thumbprint_of_the_rfc_example():
    # RFC 7638 section 3.1
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    assert jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_kid_is_thumbprint_of_public_jwk(key):
    jwk = key.public_jwk()
    members = ("e", "kty", "n") if jwk["kty"] == "RSA" else ("crv", "kty", "x", "y")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    assert key.kid == b64url(hashlib.sha256(canonical.encode()).digest())


def test_kid_differs_per_key(rsa_key, ec_key, other_rsa_key):
    assert len({rsa_key.kid, ec_key.kid, other_rsa_key.kid}) == 3


def test_public_jwk_shape(rsa_key, ec_key):
    r = rsa_key.public_jwk()
    assert set(r) == {"kty", "n", "e", "kid", "alg", "use"}
    assert (r["kty"], r["e"], r["alg"], r["use"], r["kid"]) == ("RSA", "AQAB", "RS256", "sig", rsa_key.kid)
    e = ec_key.public_jwk()
    assert set(e) == {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert (e["kty"], e["crv"], e["alg"], e["use"]) == ("EC", "P-256", "ES256", "sig")
    assert len(base64.urlsafe_b64decode(e["x"] + "=")) == 32 == len(base64.urlsafe_b64decode(e["y"] + "="))


def test_jwks_publishes_public_keys_only(rsa_key, ec_key):
    keyset = jwks(rsa_key, ec_key)
    assert keyset == {"keys": [rsa_key.public_jwk(), ec_key.public_jwk()]}
    for jwk in keyset["keys"]:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(jwk)
    json.dumps(keyset)  # serialisable as is


# --- issuing and round trips -------------------------------------------------


def test_round_trip(key, verifier, clock):
    token, issued_at = TokenIssuer(key, issuer=ISSUER, clock=clock).issue(
        subject="alice", audience=AUDIENCE, access=ACCESS, ttl=TTL
    )
    assert issued_at == NOW
    got = verifier.verify(token)
    assert got["iss"] == ISSUER and got["sub"] == "alice" and got["aud"] == AUDIENCE
    assert (got["iat"], got["nbf"], got["exp"]) == (NOW, NOW, NOW + TTL)
    assert got["access"] == ACCESS
    assert isinstance(got["jti"], str) and len(got["jti"]) >= 16


def test_header_names_kid_and_alg(key, clock):
    token, _ = TokenIssuer(key, issuer=ISSUER, clock=clock).issue(
        subject="alice", audience=AUDIENCE, access=[], ttl=TTL
    )
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["kid"] == key.kid
    assert header["alg"] == key.algorithm


def test_issued_at_is_whole_seconds_of_the_clock(rsa_key):
    _, issued_at = TokenIssuer(rsa_key, issuer=ISSUER, clock=lambda: NOW + 0.9).issue(
        subject="a", audience=AUDIENCE, access=[], ttl=TTL
    )
    assert issued_at == NOW


def test_jti_is_random(rsa_key, verifier, clock):
    issuer = TokenIssuer(rsa_key, issuer=ISSUER, clock=clock)
    a, _ = issuer.issue(subject="alice", audience=AUDIENCE, access=ACCESS, ttl=TTL)
    b, _ = issuer.issue(subject="alice", audience=AUDIENCE, access=ACCESS, ttl=TTL)
    assert verifier.verify(a)["jti"] != verifier.verify(b)["jti"]


def test_anonymous_subject_and_empty_access(rsa_key, verifier, clock):
    token, _ = TokenIssuer(rsa_key, issuer=ISSUER, clock=clock).issue(
        subject="", audience=AUDIENCE, access=[], ttl=TTL
    )
    got = verifier.verify(token)
    assert got["sub"] == "" and got["access"] == []


def test_extra_claims_are_added(rsa_key, verifier, clock):
    token, _ = TokenIssuer(rsa_key, issuer=ISSUER, clock=clock).issue(
        subject="alice", audience=AUDIENCE, access=ACCESS, ttl=TTL, extra={"robot": True}
    )
    assert verifier.verify(token)["robot"] is True


@pytest.mark.parametrize("claim", ["iss", "sub", "aud", "exp", "nbf", "iat", "jti", "access"])
def test_extra_claims_cannot_override_standard_ones(rsa_key, clock, claim):
    with pytest.raises(ValueError):
        TokenIssuer(rsa_key, issuer=ISSUER, clock=clock).issue(
            subject="alice", audience=AUDIENCE, access=ACCESS, ttl=TTL, extra={claim: "x"}
        )


@pytest.mark.parametrize("ttl", [0, -1, 1.5, True, "300"])
def test_issue_refuses_bad_ttl(rsa_key, clock, ttl):
    with pytest.raises(ValueError):
        TokenIssuer(rsa_key, issuer=ISSUER, clock=clock).issue(
            subject="alice", audience=AUDIENCE, access=ACCESS, ttl=ttl
        )


def test_issue_refuses_malformed_access(rsa_key, clock):
    with pytest.raises(ValueError):
        TokenIssuer(rsa_key, issuer=ISSUER, clock=clock).issue(
            subject="alice", audience=AUDIENCE, access=[{"type": "repository"}], ttl=TTL
        )


def test_rotation_old_and_new_keys_both_verify(rsa_key, other_rsa_key, clock):
    verifier = TokenVerifier(jwks(other_rsa_key, rsa_key), issuer=ISSUER, audience=AUDIENCE, clock=clock)
    for key in (rsa_key, other_rsa_key):
        token, _ = TokenIssuer(key, issuer=ISSUER, clock=clock).issue(
            subject="alice", audience=AUDIENCE, access=ACCESS, ttl=TTL
        )
        assert verifier.verify(token)["sub"] == "alice"


def test_verifier_works_from_a_json_round_tripped_jwks(ec_key, clock):
    keyset = json.loads(json.dumps(jwks(ec_key)))
    verifier = TokenVerifier(keyset, issuer=ISSUER, audience=AUDIENCE, clock=clock)
    assert verifier.verify(forge(ec_key, claims()))["sub"] == "alice"


# --- the JWKS the verifier is given -----------------------------------------


@pytest.mark.parametrize(
    "keyset",
    [
        None,
        {},
        {"keys": "nope"},
        {"keys": ["nope"]},
        {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "x"}]},
        {"keys": [{"kty": "RSA", "n": "!!", "e": "AQAB", "kid": "x"}]},
        {"keys": [{"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA", "kid": "x"}]},
        {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "AA", "kid": "x"}]},
    ],
)
def test_verifier_refuses_bad_jwks(keyset, clock):
    with pytest.raises(ValueError):
        TokenVerifier(keyset, issuer=ISSUER, audience=AUDIENCE, clock=clock)


def test_verifier_refuses_private_keys_in_jwks(rsa_key, clock):
    jwk = {**rsa_key.public_jwk(), "d": "AQAB"}
    with pytest.raises(ValueError):
        TokenVerifier({"keys": [jwk]}, issuer=ISSUER, audience=AUDIENCE, clock=clock)


def test_verifier_refuses_jwk_with_mismatched_alg(rsa_key, clock):
    jwk = {**rsa_key.public_jwk(), "alg": "HS256"}
    with pytest.raises(ValueError):
        TokenVerifier({"keys": [jwk]}, issuer=ISSUER, audience=AUDIENCE, clock=clock)


def test_verifier_refuses_duplicate_kids(rsa_key, clock):
    with pytest.raises(ValueError):
        TokenVerifier(jwks(rsa_key, rsa_key), issuer=ISSUER, audience=AUDIENCE, clock=clock)


# --- forgeries ---------------------------------------------------------------


def test_unknown_kid_is_refused(other_rsa_key, verifier):
    refused(verifier, forge(other_rsa_key, claims()))


def test_missing_kid_is_refused(rsa_key, verifier):
    token = jwt.encode(claims(), rsa_key._private_key, algorithm="RS256")
    refused(verifier, token)


def test_non_string_kid_is_refused(rsa_key, verifier):
    header = {"alg": "RS256", "kid": 1}
    refused(verifier, f"{b64json(header)}.{b64json(claims())}.{b64url(b'x' * 256)}")


def test_foreign_key_with_the_right_kid_is_refused(rsa_key, other_rsa_key, verifier):
    token = jwt.encode(claims(), other_rsa_key._private_key, algorithm="RS256", headers={"kid": rsa_key.kid})
    refused(verifier, token)


def test_foreign_ec_key_with_the_right_kid_is_refused(ec_key, verifier):
    foreign = ec.generate_private_key(ec.SECP256R1())
    token = jwt.encode(claims(), foreign, algorithm="ES256", headers={"kid": ec_key.kid})
    refused(verifier, token)


@pytest.mark.parametrize("signature", ["", "AAAA"])
def test_alg_none_is_refused(rsa_key, verifier, signature):
    header = {"alg": "none", "typ": "JWT", "kid": rsa_key.kid}
    refused(verifier, f"{b64json(header)}.{b64json(claims())}.{signature}")


def _hs256(header: dict, payload: dict, secret: bytes) -> str:
    signing_input = f"{b64json(header)}.{b64json(payload)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64url(signature)}"


def test_hs256_with_public_pem_as_secret_is_refused(key, verifier):
    public_pem = key._private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    refused(verifier, _hs256({"alg": "HS256", "typ": "JWT", "kid": key.kid}, claims(), public_pem))


def test_hs256_with_public_jwk_as_secret_is_refused(key, verifier):
    for secret in (json.dumps(key.public_jwk()).encode(), json.dumps(jwks(key)).encode()):
        refused(verifier, _hs256({"alg": "HS256", "typ": "JWT", "kid": key.kid}, claims(), secret))


def test_algorithm_swap_between_published_keys_is_refused(rsa_key, ec_key, verifier):
    # a genuine ES256 signature, but the header points at the RSA key's kid
    token = jwt.encode(claims(), ec_key._private_key, algorithm="ES256", headers={"kid": rsa_key.kid})
    refused(verifier, token)


def test_other_rsa_algorithms_are_refused(rsa_key, verifier):
    for alg in ("RS512", "PS256"):
        token = jwt.encode(claims(), rsa_key._private_key, algorithm=alg, headers={"kid": rsa_key.kid})
        refused(verifier, token)


def test_tampered_payload_is_refused(rsa_key, verifier):
    header, _, signature = forge(rsa_key, claims()).split(".")
    forged = b64json(claims(access=[{"type": "repository", "name": "library/app", "actions": ["*"]}]))
    refused(verifier, f"{header}.{forged}.{signature}")


def test_tampered_signature_is_refused(ec_key, verifier):
    header, payload, signature = forge(ec_key, claims()).split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[5] ^= 1
    refused(verifier, f"{header}.{payload}.{b64url(bytes(raw))}")


def test_critical_header_extension_is_refused(rsa_key, verifier):
    token = jwt.encode(
        claims(), rsa_key._private_key, algorithm="RS256", headers={"kid": rsa_key.kid, "crit": ["exp"], "exp": 1}
    )
    refused(verifier, token)


# --- claims ------------------------------------------------------------------


def test_wrong_audience_is_refused(rsa_key, verifier):
    refused(verifier, forge(rsa_key, claims(aud="other.example.com")))


def test_audience_list_is_refused(rsa_key, verifier):
    refused(verifier, forge(rsa_key, claims(aud=[AUDIENCE, "other"])))


def test_wrong_issuer_is_refused(rsa_key, verifier):
    refused(verifier, forge(rsa_key, claims(iss="someone-else")))


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "access"])
def test_missing_claim_is_refused(rsa_key, verifier, claim):
    refused(verifier, forge(rsa_key, claims(**{claim: _DROP})))


@pytest.mark.parametrize("claim", ["exp", "iat", "nbf", "iss", "aud", "sub", "jti", "access"])
def test_null_claim_is_refused(rsa_key, verifier, claim):
    refused(verifier, forge(rsa_key, claims(**{claim: None})))


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": str(NOW + TTL)},
        {"exp": True},
        {"nbf": "0"},
        {"iat": [NOW]},
        {"sub": 7},
        {"jti": 7},
        {"jti": ""},
        {"iss": [ISSUER]},
    ],
    ids=lambda o: next(iter(o)),
)
def test_ill_typed_claims_are_refused(rsa_key, verifier, overrides):
    refused(verifier, forge(rsa_key, claims(**overrides)))


@pytest.mark.parametrize(
    "access",
    [
        {"type": "repository", "name": "library/app", "actions": ["pull"]},
        "repository:library/app:pull",
        [["repository", "library/app", ["pull"]]],
        [{"name": "library/app", "actions": ["pull"]}],
        [{"type": "repository", "actions": ["pull"]}],
        [{"type": "repository", "name": "library/app"}],
        [{"type": "repository", "name": "library/app", "actions": "pull"}],
        [{"type": "repository", "name": "library/app", "actions": [1]}],
        [{"type": "repository", "name": "", "actions": ["pull"]}],
        [{"type": 1, "name": "library/app", "actions": ["pull"]}],
        [ACCESS[0], None],
    ],
)
def test_malformed_access_claim_is_refused(rsa_key, verifier, access):
    refused(verifier, forge(rsa_key, claims(access=access)))


# --- time --------------------------------------------------------------------


def test_valid_until_expiry_plus_leeway(rsa_key, verifier, clock):
    token = forge(rsa_key, claims())
    clock.now = NOW + TTL + LEEWAY - 1
    verifier.verify(token)
    clock.now = NOW + TTL + LEEWAY - 0.001
    verifier.verify(token)


def test_expired_beyond_leeway_is_refused(rsa_key, verifier, clock):
    token = forge(rsa_key, claims())
    clock.now = NOW + TTL + LEEWAY
    assert "expired" in refused(verifier, token)
    clock.now = NOW + 10 * TTL
    refused(verifier, token)


def test_valid_from_nbf_minus_leeway(rsa_key, verifier, clock):
    token = forge(rsa_key, claims(nbf=NOW + 100, iat=NOW + 100, exp=NOW + 100 + TTL))
    clock.now = NOW + 100 - LEEWAY
    verifier.verify(token)


def test_not_yet_valid_beyond_leeway_is_refused(rsa_key, verifier, clock):
    token = forge(rsa_key, claims(nbf=NOW + 100, iat=NOW, exp=NOW + 100 + TTL))
    clock.now = NOW + 100 - LEEWAY - 1
    assert "not yet valid" in refused(verifier, token)
    clock.now = NOW + 100 - LEEWAY
    verifier.verify(token)


def test_issued_in_the_future_is_refused(rsa_key, verifier, clock):
    token = forge(rsa_key, claims(iat=NOW + LEEWAY + 1))
    refused(verifier, token)


def test_zero_leeway(rsa_key, clock):
    verifier = TokenVerifier(jwks(rsa_key), issuer=ISSUER, audience=AUDIENCE, clock=clock, leeway=0)
    token = forge(rsa_key, claims())
    clock.now = NOW + TTL - 1
    verifier.verify(token)
    clock.now = NOW + TTL
    refused(verifier, token)
    clock.now = NOW - 1
    refused(verifier, token)


def test_uses_the_injected_clock_not_the_system_clock(rsa_key):
    # a token that expired decades ago verifies at a clock from back then
    verifier = TokenVerifier(jwks(rsa_key), issuer=ISSUER, audience=AUDIENCE, clock=lambda: 1_000_000_000)
    token = forge(rsa_key, claims(iat=1_000_000_000, nbf=1_000_000_000, exp=1_000_000_060))
    verifier.verify(token)


def test_issuer_and_verifier_agree_with_one_clock(rsa_key, verifier, clock):
    token, _ = TokenIssuer(rsa_key, issuer=ISSUER, clock=clock).issue(
        subject="alice", audience=AUDIENCE, access=ACCESS, ttl=60
    )
    clock.now += 60 + LEEWAY - 1
    verifier.verify(token)
    clock.now += 1
    refused(verifier, token)


# --- malformed tokens --------------------------------------------------------


@pytest.mark.parametrize(
    "token",
    [
        "",
        "garbage",
        "a.b",
        "a.b.c.d",
        "..",
        "a..c",
        "!!!.???.***",
        "eyJhbGciOiJSUzI1NiJ9.e30.c2ln=",  # padding is not base64url in JWS
        f"{b64url('not json')}.{b64json({'sub': 'x'})}.c2ln",
        f"{b64json(['alg', 'RS256'])}.{b64json({'sub': 'x'})}.c2ln",
        "eyJhbGciOiJSUzI1NiJ9 .e30.c2ln",
        "é.é.é",
    ],
)
def test_malformed_tokens_are_refused(verifier, token):
    refused(verifier, token)


def test_too_many_segments_with_a_genuine_signature_is_refused(rsa_key, verifier):
    token = forge(rsa_key, claims())
    refused(verifier, token + ".AAAA")
    header, payload, signature = token.split(".")
    refused(verifier, f"{header}.{payload}.AAAA.{signature}")


def test_non_json_payload_is_refused(rsa_key, verifier):
    token = jwt.api_jws.encode(b"not json", rsa_key._private_key, algorithm="RS256", headers={"kid": rsa_key.kid})
    refused(verifier, token)


def test_json_array_payload_is_refused(rsa_key, verifier):
    token = jwt.api_jws.encode(b"[1,2]", rsa_key._private_key, algorithm="RS256", headers={"kid": rsa_key.kid})
    refused(verifier, token)


def test_oversized_token_is_refused(rsa_key, verifier):
    small = forge(rsa_key, claims(padding="x" * 100))
    verifier.verify(small)
    big = forge(rsa_key, claims(padding="x" * 16 * 1024))
    assert len(big) > 16 * 1024
    assert "too large" in refused(verifier, big)


@pytest.mark.parametrize("token", [None, 42, b"a.b.c", ["a", "b", "c"]])
def test_non_string_tokens_are_refused(verifier, token):
    refused(verifier, token)


# --- granted -----------------------------------------------------------------


def test_granted():
    c = {
        "access": [
            {"type": "repository", "name": "library/app", "actions": ["pull", "push"]},
            {"type": "repository", "name": "team/all", "actions": ["*"]},
            {"type": "registry", "name": "catalog", "actions": ["*"]},
        ]
    }
    assert granted(c, "repository", "library/app", "pull")
    assert granted(c, "repository", "library/app", "push")
    assert not granted(c, "repository", "library/app", "delete")
    assert granted(c, "repository", "team/all", "delete")
    assert granted(c, "registry", "catalog", "*")
    assert not granted(c, "repository", "library/other", "pull")
    assert not granted(c, "registry", "library/app", "pull")
    assert not granted(c, "repository", "library", "pull")
    assert not granted(c, "repository", "*", "pull")


@pytest.mark.parametrize(
    "c",
    [{}, {"access": None}, {"access": "repository:library/app:pull"}, {"access": [None, 1, "x"]},
     {"access": [{"type": "repository", "name": "library/app", "actions": "pull"}]}, None],
)
def test_granted_is_false_for_malformed_claims(c):
    assert not granted(c, "repository", "library/app", "pull")


def test_granted_on_verified_claims(ec_key, verifier, clock):
    token, _ = TokenIssuer(ec_key, issuer=ISSUER, clock=clock).issue(
        subject="alice", audience=AUDIENCE, access=ACCESS, ttl=TTL
    )
    got = verifier.verify(token)
    assert granted(got, "repository", "library/app", "push")
    assert not granted(got, "repository", "library/app", "delete")
