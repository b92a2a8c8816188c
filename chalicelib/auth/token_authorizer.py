"""The registry side of Docker token auth: verify the Bearer token locally
(public key only, no database read) and check it grants what the route needs.
Anything short of that is a 401 with a challenge naming exactly the scopes the
request needs, which is what clients use to fetch the right token."""
from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from chalicelib.auth.access import Access, Identity
from chalicelib.errors import Unauthorized
from chalicelib.web.http import Request

if TYPE_CHECKING:
    from chalicelib.auth.tokens import TokenVerifier

TOKEN_PATH = "/v2/service/token"


class TokenAuthorizer:
    def __init__(self, verifier: Callable[[], TokenVerifier], *, service: str, public_url: str = ""):
        """`verifier()` returns a chalicelib.auth.tokens.TokenVerifier (built lazily)."""
        self._verifier = verifier
        self._service = service
        self._public_url = public_url

    def authorize(self, request: Request, accesses: Sequence[Access]) -> Identity:
        from chalicelib.auth.tokens import InvalidToken

        header = request.header("Authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise self._challenge(request, accesses, None)
        try:
            claims = self._verifier().verify(token.strip())
        except InvalidToken:
            raise self._challenge(request, accesses, "invalid_token") from None
        grants = frozenset(
            (entry["type"], entry["name"], action)
            for entry in claims.get("access") or []
            for action in entry.get("actions") or []
        )
        identity = Identity(subject=claims.get("sub", ""), kind=claims.get("kind", "user" if claims.get("sub") else "anonymous"), grants=grants)
        for access in accesses:
            if access.required and not all(identity.can(access.type, access.name, action) for action in access.actions):
                raise self._challenge(request, accesses, "insufficient_scope")
        return identity

    def realm(self, request: Request) -> str:
        if self._public_url:
            return self._public_url + TOKEN_PATH
        host = request.header("Host") or "localhost"
        return f"{request.scheme}://{host}{TOKEN_PATH}"

    def _challenge(self, request: Request, accesses: Sequence[Access], error: str | None) -> Unauthorized:
        parts = [f'realm="{self.realm(request)}"', f'service="{self._service}"']
        if accesses:
            parts.append(f'scope="{" ".join(a.scope() for a in accesses)}"')
        if error:
            parts.append(f'error="{error}"')
        exc = Unauthorized("authentication required", detail=[{"Type": a.type, "Name": a.name, "Action": ",".join(a.actions)} for a in accesses] or None)
        exc.headers = {"WWW-Authenticate": "Bearer " + ",".join(parts)}  # type: ignore[attr-defined]
        return exc
