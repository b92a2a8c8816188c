"""Upload-session tokens: bound to one session of one repository, until expiry."""
from __future__ import annotations

import base64
import json

import pytest

from chalicelib.errors import UploadNotFound
from chalicelib.registry.upload_tokens import UploadTokens

KEY = bytes(range(32))
NOW = 1_700_000_000
UPLOAD = "5f0c1b6e-2a7d-4b8e-9c3f-0d1e2f3a4b5c"
NAME = "library/app"


@pytest.fixture
def tokens() -> UploadTokens:
    return UploadTokens(KEY)


@pytest.fixture
def token(tokens) -> str:
    return tokens.issue(UPLOAD, NAME, NOW + 3600)


def test_issued_token_verifies(tokens, token):
    tokens.verify(token, UPLOAD, NAME, NOW)


def test_token_is_url_safe(token):
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert "=" not in token


def test_valid_until_its_expiry_second(tokens, token):
    tokens.verify(token, UPLOAD, NAME, NOW + 3600)
    tokens.verify(token, UPLOAD, NAME, NOW + 3599.5)
    with pytest.raises(UploadNotFound):
        tokens.verify(token, UPLOAD, NAME, NOW + 3600.001)
    with pytest.raises(UploadNotFound):
        tokens.verify(token, UPLOAD, NAME, NOW + 86400)


@pytest.mark.parametrize(
    "upload_id, name",
    [
        ("00000000-0000-0000-0000-000000000000", NAME),
        (UPLOAD, "library/other"),
        (UPLOAD, "library/app/sub"),
        (UPLOAD, "library"),
        (UPLOAD.upper(), NAME),
        ("", NAME),
        (UPLOAD, ""),
    ],
)
def test_token_is_bound_to_session_and_repository(tokens, token, upload_id, name):
    with pytest.raises(UploadNotFound):
        tokens.verify(token, upload_id, name, NOW)


def test_other_key_rejects(token):
    with pytest.raises(UploadNotFound):
        UploadTokens(b"another key entirely, 32 bytes!!").verify(token, UPLOAD, NAME, NOW)


def _payload(token: str) -> dict:
    payload = token.split(".", 1)[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def _encode(claims: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize(
    "change",
    [
        {"e": NOW + 10**9},  # extend the expiry
        {"n": "library/other"},  # move to another repository
        {"u": "00000000-0000-0000-0000-000000000000"},
    ],
)
def test_tampered_claims_are_rejected(tokens, token, change):
    claims = {**_payload(token), **change}
    forged = f"{_encode(claims)}.{token.split('.', 1)[1]}"
    with pytest.raises(UploadNotFound):
        tokens.verify(forged, claims["u"], claims["n"], NOW)


def test_every_single_character_change_is_rejected(tokens, token):
    for i, c in enumerate(token):
        if c == ".":
            continue
        replacement = "A" if c != "A" else "B"
        changed = token[:i] + replacement + token[i + 1 :]
        with pytest.raises(UploadNotFound):
            tokens.verify(changed, UPLOAD, NAME, NOW)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        ".",
        "..",
        "abc",
        "abc.",
        ".abc",
        "a.b.c",
        "!!!.???",
        "é.é",
        "\x00.\x00",
        "eyJ1IjoxfQ.",
        "x" * 10_000,
    ],
)
def test_garbage_is_upload_unknown(tokens, garbage):
    with pytest.raises(UploadNotFound):
        tokens.verify(garbage, UPLOAD, NAME, NOW)


def test_truncated_and_extended_tokens_are_rejected(tokens, token):
    for bad in (token[:-1], token + "A", token[1:], "A" + token, token.replace(".", "..", 1)):
        with pytest.raises(UploadNotFound):
            tokens.verify(bad, UPLOAD, NAME, NOW)


def test_tokens_for_different_sessions_differ(tokens):
    a = tokens.issue(UPLOAD, NAME, NOW)
    assert a != tokens.issue("other", NAME, NOW)
    assert a != tokens.issue(UPLOAD, "other", NOW)
    assert a != tokens.issue(UPLOAD, NAME, NOW + 1)


def test_the_api_base_is_signed_into_the_token(tokens):
    token = tokens.issue(UPLOAD, NAME, NOW + 3600, api_base="https://registry.example")
    assert tokens.verify(token, UPLOAD, NAME, NOW)[2] == "https://registry.example"
    assert tokens.verify(tokens.issue(UPLOAD, NAME, NOW + 3600), UPLOAD, NAME, NOW)[2] == ""
    payload, signature = token.split(".", 1)
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["a"] = "https://evil.example"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(UploadNotFound):
        tokens.verify(f"{forged}.{signature}", UPLOAD, NAME, NOW)


def test_the_session_state_is_signed_into_the_token(tokens):
    state = {"o": 1234, "h": "c3RhdGU=", "m": "multipart-id", "p": 0, "c": 2}
    token = tokens.issue(UPLOAD, NAME, NOW + 3600, state)
    assert tokens.verify(token, UPLOAD, NAME, NOW) == (NOW + 3600, state, "")
    payload, signature = token.split(".", 1)
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["s"]["o"] = 0  # rewind the upload
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    with pytest.raises(UploadNotFound):
        tokens.verify(f"{forged}.{signature}", UPLOAD, NAME, NOW)
