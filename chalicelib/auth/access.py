"""What a request needs: Docker token auth's resource scopes.

`repository:<name>:pull,push` — the routes declare the actions; the
authorizer decides. Keeping this as data lets the 401 challenge name exactly
what a request needs.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

from chalicelib.registry.http import OciRequest


@dataclass(frozen=True)
class Access:
    type: str  # "repository" or "registry"
    name: str  # repository name, or "catalog"
    actions: tuple[str, ...]

    def scope(self) -> str:
        return f"{self.type}:{self.name}:{','.join(self.actions)}"


@dataclass(frozen=True)
class Identity:
    subject: str  # "" for anonymous
    anonymous: bool = True


ANONYMOUS = Identity(subject="", anonymous=True)


class Authorizer(Protocol):
    def authorize(self, request: OciRequest, accesses: Sequence[Access]) -> Identity:
        """The caller's identity, or raise Unauthorized / Denied."""


class OpenAuthorizer:
    """Everyone may do everything: the registry before auth is configured."""

    def authorize(self, request: OciRequest, accesses: Sequence[Access]) -> Identity:
        return ANONYMOUS
