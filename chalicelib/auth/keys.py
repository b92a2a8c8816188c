"""The token signing key (SSM SecureString) and what is built from it."""
from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

TOKEN_SIGNING_KEY = "token-signing-key"
LEEWAY_SECONDS = 30


class TokenKeys:
    def __init__(self, secrets: Any, *, service: str, issuer: str, clock: Callable[[], float]):
        self._secrets = secrets
        self._service = service
        self._issuer_name = issuer
        self._clock = clock

    @property
    def refresh_audience(self) -> str:
        return f"{self._service}/refresh"

    @cached_property
    def _key(self):
        from chalicelib.auth.tokens import SigningKey

        return SigningKey.from_pem(self._secrets.get(TOKEN_SIGNING_KEY))

    def issuer(self):
        from chalicelib.auth.tokens import TokenIssuer

        return TokenIssuer(self._key, issuer=self._issuer_name, clock=self._clock)

    @cached_property
    def _verifier(self):
        from chalicelib.auth.tokens import TokenVerifier

        return TokenVerifier(self.jwks(), issuer=self._issuer_name, audience=self._service, clock=self._clock, leeway=LEEWAY_SECONDS)

    def verifier(self):
        return self._verifier

    @cached_property
    def _refresh_verifier(self):
        from chalicelib.auth.tokens import TokenVerifier

        return TokenVerifier(
            self.jwks(), issuer=self._issuer_name, audience=self.refresh_audience, clock=self._clock, leeway=LEEWAY_SECONDS
        )

    def refresh_verifier(self):
        return self._refresh_verifier

    def jwks(self) -> dict:
        from chalicelib.auth.tokens import jwks

        return jwks(self._key)
