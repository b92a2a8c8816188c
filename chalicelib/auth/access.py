"""What a request needs and who is asking: Docker token auth's resource scopes.

`repository:<name>:pull,push` — the routes declare the actions; the
authorizer decides. Keeping this as data lets the 401 challenge name exactly
what a request needs.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from chalicelib.web.http import Request


@dataclass(frozen=True)
class Access:
    type: str  # "repository" or "registry"
    name: str  # repository name, or "catalog"
    actions: tuple[str, ...]
    # False: asked for in the challenge (so that token clients request it) but not
    # needed to proceed; the handler decides what to do without it (a mount's source)
    required: bool = True

    def scope(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


@dataclass(frozen=True)
class Identity:
    """The caller as the registry knows it: from a verified token, no database read."""

    subject: str  # "" for anonymous
    kind: str = "anonymous"  # "user", "robot", "anonymous"
    # granted (type, name, action) triples; None means everything (auth off)
    grants: frozenset[tuple[str, str, str]] | None = frozenset()

    @property
    def anonymous(self) -> bool:
        return self.kind == "anonymous"

    def can(self, type_: str, name: str, action: str) -> bool:
        if self.grants is None:
            return True
        return (type_, name, action) in self.grants or (type_, name, "*") in self.grants


ANONYMOUS = Identity(subject="")
EVERYONE = Identity(subject="", kind="anonymous", grants=None)


class Authorizer(Protocol):
    def authorize(self, request: Request, accesses: Sequence[Access]) -> Identity:
        """The caller's identity, or raise Unauthorized (with a challenge) / Denied."""


class OpenAuthorizer:
    """Everyone may do everything: a registry with auth switched off (BERTH_AUTH=none)."""

    def authorize(self, request: Request, accesses: Sequence[Access]) -> Identity:
        return EVERYONE
