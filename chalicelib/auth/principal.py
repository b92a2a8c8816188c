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
    password_version: int = 0
