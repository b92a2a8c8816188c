"""The token service's routes, in the same form as the registry's table."""
from __future__ import annotations

from chalicelib.auth import token_service
from chalicelib.registry.routes import Route, _route

TOKEN_ROUTES: tuple[Route, ...] = (
    _route("GET", "service/token", token_service.get_token, errors=("UNAUTHORIZED", "UNSUPPORTED"), public=True),
    _route("POST", "service/token", token_service.post_token, public=True),
    _route("GET", "service/jwks.json", token_service.jwks, public=True),
)
