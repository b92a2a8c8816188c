"""Signed upload-session tokens (the `_state` query parameter of upload URLs).

The upload host may be another host, where clients send no Authorization
header; the token in the URL proves that the session was opened by someone
allowed to push to that repository, for that session only, until it expires.
It also carries the session's progress (offset, hash state, multipart upload:
`state`), as distribution's `_state` does: a session is no database item, so
a chunk costs no read or write of one. The signature makes the state the
server's own; what S3 holds decides races (conditional writes, upload_service).
It also carries the API's base URL, where the upload host's answers send the
client back (the finished blob's Location): signed, so that a link handed to a
client cannot send it elsewhere (docs/security.md, "Absolute URLs").
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json

from chalicelib.errors import UploadNotFound


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class UploadTokens:
    def __init__(self, key: bytes):
        self._key = key

    def issue(self, upload_id: str, name: str, expires_at: int, state: dict | None = None, api_base: str = "") -> str:
        claims: dict = {"u": upload_id, "n": name, "e": expires_at}
        if state:
            claims["s"] = state
        if api_base:
            claims["a"] = api_base
        payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}"

    def verify(self, token: str, upload_id: str, name: str, now: float) -> tuple[int, dict, str]:
        """(expiry, the session's state as issued: empty for a new session, the API base URL
        it carries: "" if none), or UploadNotFound."""
        try:
            payload, signature = token.split(".", 1)
            if not hmac.compare_digest(signature, self._sign(payload)):
                raise ValueError("bad signature")
            claims = json.loads(_unb64(payload))
        except (ValueError, TypeError):
            raise UploadNotFound("upload state is invalid") from None
        if claims.get("u") != upload_id or claims.get("n") != name:
            raise UploadNotFound("upload state does not belong to this upload")
        if not isinstance(claims.get("e"), int) or claims["e"] < now:
            raise UploadNotFound("upload session expired")
        state = claims.get("s") or {}
        if not isinstance(state, dict):
            raise UploadNotFound("upload state is invalid")
        api_base = claims.get("a", "")
        return claims["e"], state, api_base if isinstance(api_base, str) else ""

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._key, payload.encode(), hashlib.sha256).digest()[:24])
