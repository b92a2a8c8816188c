"""oras-py's TokenAuth, made to fetch a new token when the registry asks for more scope.

Why this exists (an oras-py client limitation, not a registry bug): oras-py
0.2.43 keeps ONE bearer token per client. On a 401 its
`TokenAuth.authenticate_request` re-sends the token it already has whenever
it has one, and only `Registry.do_request`'s 403 branch (`refresh=True`)
drops it. The Docker token protocol (and Berth) answers a token that lacks a
scope with 401 and `WWW-Authenticate: Bearer ...,scope="...",
error="insufficient_scope"`, which docker, containerd and skopeo answer by
fetching a token for that scope. So without this adapter an oras client that
first did a HEAD (token for `pull`) cannot then POST an upload (`pull,push`),
nor move on to a second repository: it retries with the stale token and gets
the same 401.

`ScopeAwareTokenAuth` drops the cached token on a 401 whose challenge says
`error="insufficient_scope"` (or `invalid_token`), or names a scope the cached
token does not grant (read from the token's `access` claim, unverified: this
is only a client-side cache decision), and then lets oras fetch a new one as
usual. It keeps one retry per request, like oras itself, so a scope the
caller may not have still ends in a 401, never a loop.
"""
from __future__ import annotations

import base64
import json
import re

import oras.auth
import oras.client
import requests

_PARAM = re.compile(r'(\w+)="([^"]*)"')
_STALE_ERRORS = ("insufficient_scope", "invalid_token")


def _granted(token: str) -> set[tuple[str, str, str]] | None:
    """(type, name, action) the token's `access` claim grants; None if unreadable."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return {(entry["type"], entry["name"], action)
                for entry in claims.get("access") or []
                for action in entry.get("actions") or []}
    except (IndexError, ValueError, KeyError, TypeError):
        return None


def _covers(granted: set[tuple[str, str, str]], scopes: str) -> bool:
    for scope in scopes.split():
        kind, _, rest = scope.partition(":")
        name, _, actions = rest.rpartition(":")
        kind = kind.split("(", 1)[0]  # repository(plugin) -> repository
        for action in actions.split(","):
            if action and (kind, name, action) not in granted and (kind, name, "*") not in granted:
                return False
    return True


def challenge_wants_new_token(challenge: str, token: str | None) -> bool:
    """Whether a 401's Bearer challenge means the cached token will not do."""
    if not token or not challenge.lower().startswith("bearer "):
        return False
    params = dict(_PARAM.findall(challenge))
    if params.get("error") in _STALE_ERRORS:
        return True
    scope = params.get("scope")
    if not scope:
        return False
    granted = _granted(token)
    return granted is None or not _covers(granted, scope)


class ScopeAwareTokenAuth(oras.auth.TokenAuth):
    """TokenAuth that forgets its token when a 401 asks for a scope it lacks."""

    def authenticate_request(self, original: requests.Response, headers: dict, refresh: bool = False):
        if (not refresh and original.status_code == 401
                and challenge_wants_new_token(original.headers.get("Www-Authenticate", ""), self.token)):
            refresh = True
        return super().authenticate_request(original, headers, refresh=refresh)


def make_client(hostname: str, credentials: tuple[str, str] | None) -> oras.client.OrasClient:
    """A plain-HTTP oras client with ScopeAwareTokenAuth, Basic credentials if given,
    and no credentials from the machine's docker config (hermetic)."""
    client = oras.client.OrasClient(hostname=hostname, insecure=True, tls_verify=False)
    auth = ScopeAwareTokenAuth()
    # what oras.auth.get_auth_backend does for the built-in backends
    auth.session = client.session
    auth.prefix = client.prefix
    auth._tls_verify = client._tls_verify
    # a non-empty config makes load_configs skip ~/.docker/config.json
    auth._auth_config = {"auths": {}, "credsStore": None, "credHelpers": {}}
    client.auth = auth
    if credentials:
        auth.set_basic_auth(*credentials)
    return client
