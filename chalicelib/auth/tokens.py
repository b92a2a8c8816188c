"""Docker token authentication: the bearer JWTs the token service signs and the
registry verifies locally (distribution's docs/spec/auth/jwt.md and token.md).

A token's claims are `iss`, `sub`, `aud`, `exp`, `nbf`, `iat`, `jti` and
`access`, a list of `{"type", "name", "actions"}` grants. Tokens are signed
with RS256 (RSA 2048+) or ES256 (P-256); the public keys are published as a
JWKS and the verifier picks the key by the header's `kid`, the key's RFC 7638
thumbprint.

The verifier trusts nothing in the header but the `kid`: the algorithm is the
one the key was published with, so `none`, HS256-with-the-public-key and
algorithm swaps are all refused. Time comes from an injected clock so that
expiry is testable and independent of the system clock.

Importing this module is cheap: keys are generated or parsed only on demand.
"""
from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import secrets
from collections.abc import Callable, Mapping
from typing import Any

import jwt
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

RS256 = "RS256"
ES256 = "ES256"
ALGORITHMS = (RS256, ES256)

MAX_TOKEN_BYTES = 16 * 1024
MIN_RSA_BITS = 2048

REQUIRED_CLAIMS = ("iss", "sub", "aud", "exp", "nbf", "iat", "jti")
RESERVED_CLAIMS = frozenset(REQUIRED_CLAIMS) | {"access"}

# three base64url segments, no padding
_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")


class InvalidToken(Exception):
    """The token is not acceptable, for whatever reason (the message says which)."""


class InvalidKey(ValueError):
    """A PEM, JWK or JWKS that is not a usable RS256/ES256 key (or key set)."""


class InvalidAccess(ValueError):
    """An `access` claim that is not a list of {"type", "name", "actions"} grants."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_uint(value: int, length: int | None = None) -> str:
    size = length if length is not None else max(1, (value.bit_length() + 7) // 8)
    return _b64url(value.to_bytes(size, "big"))


def _b64url_to_int(text: Any) -> int:
    if not isinstance(text, str) or not _SEGMENT.fullmatch(text):
        raise InvalidKey("not a base64url string")
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of a public RSA or EC JWK, base64url without padding."""
    kty = jwk.get("kty")
    if kty == "RSA":
        members: tuple[str, ...] = ("e", "kty", "n")
    elif kty == "EC":
        members = ("crv", "kty", "x", "y")
    else:
        raise InvalidKey(f"unsupported key type {kty!r}")
    missing = [m for m in members if not isinstance(jwk.get(m), str)]
    if missing:
        raise InvalidKey(f"JWK lacks {', '.join(missing)}")
    canonical = json.dumps({m: jwk[m] for m in members}, separators=(",", ":"), sort_keys=True)
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def _public_members(public_key: Any) -> dict[str, str]:
    """The JWK members that describe a public key (the thumbprint's inputs)."""
    if isinstance(public_key, rsa.RSAPublicKey):
        numbers = public_key.public_numbers()
        return {"kty": "RSA", "n": _b64url_uint(numbers.n), "e": _b64url_uint(numbers.e)}
    if isinstance(public_key, ec.EllipticCurvePublicKey) and isinstance(public_key.curve, ec.SECP256R1):
        point = public_key.public_numbers()
        return {"kty": "EC", "crv": "P-256", "x": _b64url_uint(point.x, 32), "y": _b64url_uint(point.y, 32)}
    raise InvalidKey("only RSA and P-256 keys are supported")


def _algorithm_for(key: Any) -> str:
    if isinstance(key, (rsa.RSAPrivateKey, rsa.RSAPublicKey)):
        if key.key_size < MIN_RSA_BITS:
            raise InvalidKey(f"RSA keys must have at least {MIN_RSA_BITS} bits")
        return RS256
    if isinstance(key, (ec.EllipticCurvePrivateKey, ec.EllipticCurvePublicKey)):
        if not isinstance(key.curve, ec.SECP256R1):
            raise InvalidKey("EC keys must be on P-256")
        return ES256
    raise InvalidKey("only RSA and P-256 keys are supported")


class SigningKey:
    """A private key that signs tokens, with its algorithm and key id."""

    def __init__(self, private_key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        self.algorithm: str = _algorithm_for(private_key)
        self._private_key = private_key
        self._public_members = _public_members(private_key.public_key())
        self.kid: str = jwk_thumbprint(self._public_members)

    @classmethod
    def generate(cls, algorithm: str = RS256) -> SigningKey:
        if algorithm == RS256:
            return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        if algorithm == ES256:
            return cls(ec.generate_private_key(ec.SECP256R1()))
        raise ValueError(f"unsupported algorithm {algorithm!r}; use one of {', '.join(ALGORITHMS)}")

    @classmethod
    def from_pem(cls, pem: str) -> SigningKey:
        """An unencrypted PEM private key (PKCS#8, PKCS#1 or SEC1); ValueError if it is not one."""
        if isinstance(pem, str):
            data = pem.encode("utf-8", "surrogatepass")
        elif isinstance(pem, bytes):
            data = pem
        else:
            raise InvalidKey("PEM must be text")
        try:
            # The key is our own, from SSM: its RSA consistency check (tens of
            # milliseconds) is skipped, which keeps it off every cold start.
            key = serialization.load_pem_private_key(data, password=None, unsafe_skip_rsa_key_validation=True)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise InvalidKey(f"not a usable PEM private key: {exc}") from None
        if not isinstance(key, (rsa.RSAPrivateKey, ec.EllipticCurvePrivateKey)):
            raise InvalidKey("only RSA and P-256 keys are supported")
        return cls(key)

    def to_pem(self) -> str:
        return self._private_key.private_bytes(
            encoding=serialization.Encoding.PEM,
            format=serialization.PrivateFormat.PKCS8,
            encryption_algorithm=serialization.NoEncryption(),
        ).decode("ascii")

    def public_jwk(self) -> dict[str, str]:
        return {**self._public_members, "kid": self.kid, "alg": self.algorithm, "use": "sig"}

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._private_key, algorithm=self.algorithm, headers={"kid": self.kid, "typ": "JWT"})

    def __repr__(self) -> str:  # never the key material
        return f"SigningKey(algorithm={self.algorithm!r}, kid={self.kid!r})"


def jwks(*keys: SigningKey) -> dict[str, list[dict[str, str]]]:
    """The JWKS that publishes `keys` (e.g. the current key and the previous one)."""
    return {"keys": [key.public_jwk() for key in keys]}


def _check_access(access: Any) -> list[dict[str, Any]]:
    """`access` if it is a list of well-formed grants; ValueError otherwise."""
    if not isinstance(access, list):
        raise InvalidAccess("access must be a list")
    for entry in access:
        if not isinstance(entry, dict):
            raise InvalidAccess("access entries must be objects")
        if not isinstance(entry.get("type"), str) or not entry["type"]:
            raise InvalidAccess("access entry type must be a non-empty string")
        if not isinstance(entry.get("name"), str) or not entry["name"]:
            raise InvalidAccess("access entry name must be a non-empty string")
        actions = entry.get("actions")
        if not isinstance(actions, list) or not all(isinstance(a, str) and a for a in actions):
            raise InvalidAccess("access entry actions must be a list of non-empty strings")
    return access


class TokenIssuer:
    """Signs Docker registry tokens (the token service's side)."""

    def __init__(self, key: SigningKey, *, issuer: str, clock: Callable[[], float]):
        if not issuer:
            raise ValueError("issuer must be set")
        self._key = key
        self._issuer = issuer
        self._clock = clock

    @property
    def kid(self) -> str:
        return self._key.kid

    def issue(
        self,
        *,
        subject: str,
        audience: str,
        access: list[dict],
        ttl: int,
        extra: dict | None = None,
    ) -> tuple[str, int]:
        """A signed token and its issue time (unix seconds); it is valid from then for `ttl` seconds.

        `subject` is "" for an anonymous caller. `extra` adds claims; it may not
        override the standard ones.
        """
        if not isinstance(subject, str):
            raise TypeError("subject must be a string")
        if not isinstance(audience, str) or not audience:
            raise ValueError("audience must be a non-empty string")
        if isinstance(ttl, bool) or not isinstance(ttl, int) or ttl <= 0:
            raise ValueError("ttl must be a positive number of seconds")
        _check_access(access)
        extra = dict(extra or {})
        clash = RESERVED_CLAIMS & extra.keys()
        if clash:
            raise ValueError(f"extra claims may not override {', '.join(sorted(clash))}")
        issued_at = int(self._clock())
        claims: dict[str, Any] = {
            **extra,
            "iss": self._issuer,
            "sub": subject,
            "aud": audience,
            "exp": issued_at + ttl,
            "nbf": issued_at,
            "iat": issued_at,
            "jti": secrets.token_urlsafe(16),
            "access": [
                {"type": e["type"], "name": e["name"], "actions": list(e["actions"])} for e in access
            ],
        }
        return self._key.sign(claims), issued_at


def _load_jwks(keyset: Any) -> dict[str, tuple[str, Any]]:
    """kid -> (algorithm, public key). ValueError on anything but a set of public RS256/ES256 keys."""
    if not isinstance(keyset, Mapping) or not isinstance(keyset.get("keys"), list):
        raise InvalidKey('a JWKS is an object with a "keys" list')
    keys: dict[str, tuple[str, Any]] = {}
    for jwk in keyset["keys"]:
        if not isinstance(jwk, Mapping):
            raise InvalidKey("JWKS entries must be objects")
        if any(private in jwk for private in ("d", "p", "q", "dp", "dq", "qi", "k")):
            raise InvalidKey("JWKS entries must be public keys")
        if jwk.get("use", "sig") != "sig":
            raise InvalidKey("JWKS keys must be signing keys")
        try:
            if jwk.get("kty") == "RSA":
                public_key: Any = rsa.RSAPublicNumbers(_b64url_to_int(jwk.get("e")), _b64url_to_int(jwk.get("n"))).public_key()
            elif jwk.get("kty") == "EC" and jwk.get("crv") == "P-256":
                public_key = ec.EllipticCurvePublicNumbers(
                    _b64url_to_int(jwk.get("x")), _b64url_to_int(jwk.get("y")), ec.SECP256R1()
                ).public_key()
            else:
                raise InvalidKey(f"unsupported key type {jwk.get('kty')!r}")
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise InvalidKey(f"bad JWK: {exc}") from None
        algorithm = _algorithm_for(public_key)
        if jwk.get("alg", algorithm) != algorithm:
            raise InvalidKey(f"JWK alg {jwk.get('alg')!r} does not fit its {jwk['kty']} key")
        kid = jwk.get("kid") or jwk_thumbprint(_public_members(public_key))
        if not isinstance(kid, str):
            raise InvalidKey("JWK kid must be a string")
        if kid in keys:
            raise InvalidKey(f"duplicate kid {kid!r}")
        keys[kid] = (algorithm, public_key)
    return keys


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class TokenVerifier:
    """Verifies registry tokens against a JWKS, with no I/O (the registry's side)."""

    def __init__(
        self,
        jwks: Mapping[str, Any],
        *,
        issuer: str,
        audience: str,
        clock: Callable[[], float],
        leeway: int = 30,
    ):
        if not issuer or not audience:
            raise ValueError("issuer and audience must be set")
        if leeway < 0:
            raise ValueError("leeway must not be negative")
        self._keys = _load_jwks(jwks)
        self._issuer = issuer
        self._audience = audience
        self._clock = clock
        self._leeway = leeway

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims if it is signed by a known key, for us, and current; else InvalidToken."""
        try:
            return self._verify(token)
        except InvalidToken:
            raise
        except (jwt.PyJWTError, ValueError, TypeError, KeyError, OverflowError) as exc:
            raise InvalidToken(str(exc) or type(exc).__name__) from None

    def _verify(self, token: Any) -> dict[str, Any]:
        if not isinstance(token, str):
            raise InvalidToken("token must be a string")
        if len(token) > MAX_TOKEN_BYTES:
            raise InvalidToken("token too large")
        segments = token.split(".")
        if len(segments) != 3 or not all(_SEGMENT.fullmatch(s) for s in segments):
            raise InvalidToken("token must be three base64url segments")

        header = jwt.get_unverified_header(token)
        kid = header.get("kid")
        if not isinstance(kid, str) or kid not in self._keys:
            raise InvalidToken("unknown key id")
        algorithm, public_key = self._keys[kid]
        if header.get("alg") != algorithm:
            raise InvalidToken(f"algorithm must be {algorithm}")
        if "crit" in header or "b64" in header:
            raise InvalidToken("unsupported header extensions")

        claims = jwt.decode(
            token,
            key=public_key,
            algorithms=[algorithm],
            audience=self._audience,
            issuer=self._issuer,
            options={
                "require": list(REQUIRED_CLAIMS),
                "verify_signature": True,
                "verify_aud": True,
                "verify_iss": True,
                "verify_sub": True,
                "verify_jti": True,
                # time is checked below, against the injected clock
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "strict_aud": True,
            },
        )

        for name in ("exp", "nbf", "iat"):
            if not _is_number(claims[name]):
                raise InvalidToken(f"{name} must be a number")
        now = self._clock()
        if now >= claims["exp"] + self._leeway:
            raise InvalidToken("token has expired")
        if now < claims["nbf"] - self._leeway:
            raise InvalidToken("token is not yet valid")
        if now < claims["iat"] - self._leeway:
            raise InvalidToken("token was issued in the future")
        if not isinstance(claims["sub"], str) or not isinstance(claims["jti"], str) or not claims["jti"]:
            raise InvalidToken("sub and jti must be strings")
        if "access" not in claims:
            raise InvalidToken("access claim is missing")
        try:
            _check_access(claims["access"])
        except InvalidAccess as exc:
            raise InvalidToken(f"malformed access claim: {exc}") from None
        return claims


def granted(claims: Mapping[str, Any], type_: str, name: str, action: str) -> bool:
    """Whether the token's `access` claim grants `action` on `type_:name` ("*" grants every action)."""
    access = claims.get("access") if isinstance(claims, Mapping) else None
    if not isinstance(access, list):
        return False
    for entry in access:
        if not isinstance(entry, Mapping) or entry.get("type") != type_ or entry.get("name") != name:
            continue
        actions = entry.get("actions")
        if isinstance(actions, list) and (action in actions or "*" in actions):
            return True
    return False
