"""What the token service needs from the object graph: the domain's dependencies
(chalicelib/dependencies.py), the signing keys, the login gate and the cache of callers'
access contexts."""
from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from chalicelib.dependencies import DomainDependencies

if TYPE_CHECKING:
    from chalicelib.auth.context_cache import AccessContextCache
    from chalicelib.auth.keys import TokenKeys
    from chalicelib.auth.login_gate import LoginGate


class TokenDependencies(DomainDependencies, Protocol):
    @property
    def token_keys(self) -> TokenKeys: ...
    @property
    def login_gate(self) -> LoginGate: ...
    @property
    def access_contexts(self) -> AccessContextCache: ...
