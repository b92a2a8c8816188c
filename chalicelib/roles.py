"""Harbor's project roles and what each may do, as one table.

Role ids are Harbor's (`role_id` in its API). Registry actions are the ones in
Docker token scopes; management actions name what the management API checks.
"""
from __future__ import annotations

from enum import IntEnum


class Role(IntEnum):
    PROJECT_ADMIN = 1
    DEVELOPER = 2
    GUEST = 3
    MAINTAINER = 4
    LIMITED_GUEST = 5

    @property
    def harbor_name(self) -> str:
        return _NAMES[self]


_NAMES = {
    Role.PROJECT_ADMIN: "projectAdmin",
    Role.DEVELOPER: "developer",
    Role.GUEST: "guest",
    Role.MAINTAINER: "maintainer",
    Role.LIMITED_GUEST: "limitedGuest",
}

# action -> roles allowed. "pull", "push", "delete" are registry scope actions;
# "member.read" / "member.write" and "log.read" are the management API's.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "pull": frozenset(Role),
    "push": frozenset({Role.PROJECT_ADMIN, Role.MAINTAINER, Role.DEVELOPER}),
    "delete": frozenset({Role.PROJECT_ADMIN, Role.MAINTAINER}),
    "member.read": frozenset({Role.PROJECT_ADMIN, Role.MAINTAINER, Role.DEVELOPER, Role.GUEST}),
    "member.write": frozenset({Role.PROJECT_ADMIN}),
    "log.read": frozenset({Role.PROJECT_ADMIN, Role.MAINTAINER, Role.DEVELOPER, Role.GUEST}),
    # the management API's checks on a project and what it holds (Harbor's rbac policies)
    "project.read": frozenset(Role),
    "project.write": frozenset({Role.PROJECT_ADMIN}),
    "repository.read": frozenset(Role),
    "repository.delete": frozenset({Role.PROJECT_ADMIN, Role.MAINTAINER}),
    "artifact.delete": frozenset({Role.PROJECT_ADMIN, Role.MAINTAINER}),
    "artifact.copy": frozenset({Role.PROJECT_ADMIN, Role.MAINTAINER, Role.DEVELOPER}),
    "tag.create": frozenset({Role.PROJECT_ADMIN, Role.MAINTAINER, Role.DEVELOPER}),
    "tag.delete": frozenset({Role.PROJECT_ADMIN, Role.MAINTAINER}),
    "robot.read": frozenset({Role.PROJECT_ADMIN, Role.MAINTAINER}),
    "robot.write": frozenset({Role.PROJECT_ADMIN}),
    # tag immutability rules (Harbor: project admins manage, maintainers read)
    "immutable.read": frozenset({Role.PROJECT_ADMIN, Role.MAINTAINER}),
    "immutable.write": frozenset({Role.PROJECT_ADMIN}),
    # tag retention (Harbor: project admins manage and run it, maintainers read it)
    "retention.read": frozenset({Role.PROJECT_ADMIN, Role.MAINTAINER}),
    "retention.write": frozenset({Role.PROJECT_ADMIN}),
    # a project's labels (Harbor: project admins), and putting labels on its artifacts
    "label.write": frozenset({Role.PROJECT_ADMIN}),
    "artifact.label": frozenset({Role.PROJECT_ADMIN, Role.MAINTAINER, Role.DEVELOPER}),
    # webhook policies and their delivery log (Harbor: project admins manage, maintainers read)
    "webhook.read": frozenset({Role.PROJECT_ADMIN, Role.MAINTAINER}),
    "webhook.write": frozenset({Role.PROJECT_ADMIN}),
}

REGISTRY_ACTIONS = ("pull", "push", "delete")


def allows(role: Role | None, action: str) -> bool:
    return role is not None and role in PERMISSIONS.get(action, frozenset())


def best(roles: list[Role]) -> Role | None:
    """The strongest of several roles (a user's own and their groups')."""
    order = [Role.PROJECT_ADMIN, Role.MAINTAINER, Role.DEVELOPER, Role.GUEST, Role.LIMITED_GUEST]
    for role in order:
        if role in roles:
            return role
    return None
