"""Who authenticated at the token service."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Principal:
    kind: str  # "user" or "robot"
    name: str
    admin: bool = False
    groups: tuple[str, ...] = ()  # LDAP group DNs (lower-case)
    # robots: project name ("*" for all) -> registry actions allowed
    robot_permissions: dict[str, frozenset[str]] = field(default_factory=dict)
    # the account's immutable id and its current epoch (chalicelib/meta/accounts.py):
    # sessions, refresh tokens and cached credentials are bound to both, so a
    # password change, a demotion or a new account under an old name ends them
    account_id: int = 0
    epoch: str = ""


class NameCollision(Exception):
    """A directory login whose name is a local account's (or looks like one): refused."""
