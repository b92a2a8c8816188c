"""What a token may grant: the requested actions that the caller's role allows,
never more (Harbor's rules; chalicelib/auth/rbac.py holds the role table)."""
from __future__ import annotations

from typing import Any

from chalicelib.auth import rbac
from chalicelib.auth.access import Access
from chalicelib.auth.principal import Principal

ALL_ACTIONS = ("pull", "push", "delete")


def grant(principal: Principal | None, scope: Access, project: Any | None, roles: list[rbac.Role]) -> tuple[str, ...]:
    """The subset of `scope.actions` to put in the token.

    `project` is the project item of the scope's repository (None: no such
    project), `roles` the caller's roles in it (their own and their groups').
    """
    if scope.type == "registry" and scope.name == "catalog":
        # everyone may list; the catalog handler shows only what the caller may see
        return ("*",) if "*" in scope.actions else ()
    if scope.type != "repository" or project is None:
        return ()
    allowed: set[str] = set()
    if getattr(project, "public", False):
        allowed.add("pull")
    if principal is not None:
        if principal.admin:
            allowed.update(ALL_ACTIONS)
        elif principal.kind == "robot":
            allowed |= principal.robot_permissions.get(project.name, frozenset())
            allowed |= principal.robot_permissions.get("*", frozenset())
        else:
            role = rbac.best(roles)
            allowed.update(a for a in ALL_ACTIONS if rbac.allows(role, a))
    granted = []
    for action in scope.actions:
        if action == "*":
            if allowed >= set(ALL_ACTIONS):
                granted.append("*")
        elif action in allowed:
            granted.append(action)
    return tuple(granted)


def robot_actions(permissions: list[dict]) -> dict[str, frozenset[str]]:
    """Harbor robot permissions -> {project: registry actions}."""
    out: dict[str, set[str]] = {}
    for entry in permissions or []:
        if entry.get("kind") not in ("project", None):
            continue
        namespace = entry.get("namespace") or ""
        for access in entry.get("access") or []:
            resource, action = access.get("resource"), access.get("action")
            allowed = access.get("effect", "allow") == "allow"
            if resource in ("repository", "artifact") and action in ALL_ACTIONS and allowed:
                out.setdefault(namespace, set()).add(action)
    return {k: frozenset(v) for k, v in out.items()}
