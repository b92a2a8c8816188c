"""Who may do what, and who may see which projects: the one place Berth decides.

Every entry point asks here — the token service (what a token grants), the
registry's catalog, the management API and, through `/users/current/permissions`,
the web console — so a rule changes once. The role table itself is
`chalicelib/roles.py`; callers fetch the roles (one BatchGetItem) and pass them in,
so nothing here reads a store except `visible_project_names`, whose reads are the
point of it.

Actions are the registry's Docker-scope actions (`pull`, `push`, `delete`) and the
management API's (`project.read`, `tag.create`, ...), all named in `roles.PERMISSIONS`.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from chalicelib import roles as rbac

if TYPE_CHECKING:
    from chalicelib.meta.accounts import AccountStore

REGISTRY_ACTIONS = rbac.REGISTRY_ACTIONS
ALL_ACTIONS = frozenset(rbac.PERMISSIONS)
# what anyone may do in a public project, anonymous callers included
PUBLIC_ACTIONS = frozenset({"pull", "project.read", "repository.read"})
# what a robot's registry permission lets it do through the management API too
# (robots manage no accounts)
ROBOT_ACTIONS = {
    "pull": frozenset({"pull", "project.read", "repository.read"}),
    "push": frozenset({"push", "tag.create", "artifact.copy"}),
    "delete": frozenset({"delete", "repository.delete", "artifact.delete", "tag.delete"}),
}


def actions_in(principal: Any | None, project: Any | None, roles: Iterable[rbac.Role] = ()) -> frozenset[str]:
    """Every action `principal` (a `chalicelib.auth.principal.Principal`, None for an
    anonymous caller) may take in `project` (None: no such project), given its roles
    there — its own and its groups'."""
    if project is None:
        return frozenset()
    allowed = set(PUBLIC_ACTIONS) if getattr(project, "public", False) else set()
    if principal is None:
        return frozenset(allowed)
    if principal.kind == "user" and principal.admin:
        return ALL_ACTIONS
    if principal.kind == "robot":
        for action in robot_registry_actions(principal, project.name):
            allowed |= ROBOT_ACTIONS[action]
    else:
        role = rbac.best(list(roles))
        allowed |= {action for action in ALL_ACTIONS if rbac.allows(role, action)}
    return frozenset(allowed)


def may(principal: Any | None, project: Any | None, action: str, roles: Iterable[rbac.Role] = ()) -> bool:
    return action in actions_in(principal, project, roles)


def token_grant(principal: Any | None, scope: Any, project: Any | None, roles: Iterable[rbac.Role]) -> tuple[str, ...]:
    """The subset of a Docker token scope's actions to put in the token: what the
    caller may do, never more. `scope` is a `chalicelib.auth.access.Access`."""
    if scope.type == "registry" and scope.name == "catalog":
        # everyone may list; the catalog shows only what the caller may see
        return ("*",) if "*" in scope.actions else ()
    if scope.type != "repository":
        return ()
    allowed = actions_in(principal, project, roles) & set(REGISTRY_ACTIONS)
    granted = []
    for action in scope.actions:
        if action == "*":
            if allowed >= set(REGISTRY_ACTIONS):
                granted.append("*")
        elif action in allowed:
            granted.append(action)
    return tuple(granted)


def visible(principal: Any, projects: list[Any], roles: dict[str, rbac.Role | None]) -> list[Any]:
    """The projects `principal` may see: all for a system administrator; public ones
    and its own (directly or through a group) for a user, given its `roles` in the
    private ones; those its permissions name for a robot."""
    if principal.kind == "user" and principal.admin:
        return projects
    if principal.kind == "robot":
        return [p for p in projects if may(principal, p, "project.read")]
    return [p for p in projects if p.public or roles.get(p.name) is not None]


def visible_project_names(accounts: AccountStore, identity: Any) -> set[str] | None:
    """Names of the projects a registry caller (a token's `Identity`) may pull from;
    None means all of them. A user without LDAP groups costs three reads that follow
    what they may see, not how many projects there are: their user item, the public
    projects' listing and their memberships."""
    if identity is None or identity.grants is None:
        return None
    username: str | None = None
    groups: tuple[str, ...] = ()
    if identity.kind == "user" and identity.subject:
        user = accounts.get_user(identity.subject)
        if user is not None and user.sysadmin:
            return None  # before listing anything: an administrator sees it all
        username, groups = identity.subject, tuple(user.groups or ()) if user else ()
    names = set(accounts.public_project_names())  # one Query of the public listing
    if username and groups:  # a group's roles have no index by group: read them per project
        private = [name for name in accounts.project_names() if name not in names]
        context = accounts.access_context(username, groups, private)
        names |= {name for name in private if context.roles.get(name)}
    elif username:  # the user's own memberships: one Query of their reverse index
        names |= set(accounts.list_memberships(username))
    if identity.kind == "robot":
        robot = accounts.get_robot(identity.subject)
        if robot is not None:
            namespaces = {n for n, actions in robot_grants(robot).items() if "pull" in actions}
            if "*" in namespaces:
                return None
            names |= {n for n in namespaces if n}
    return names


# -- robot accounts' permissions ---------------------------------------------------------
def robot_registry_actions(principal: Any, project: str) -> frozenset[str]:
    """The registry actions a robot principal holds in `project`."""
    held = principal.robot_permissions
    return frozenset(held.get(project, frozenset()) | held.get("*", frozenset()))


def robot_grants(robot: Any) -> dict[str, frozenset[str]]:
    """A robot account's {project ("*": all): registry actions}. A project robot acts
    in its own project only, whatever its stored permissions name (Harbor's rule)."""
    permissions = json.loads(robot.permissions) if isinstance(robot.permissions, str) else robot.permissions
    actions = robot_actions(permissions or [])
    if getattr(robot, "level", "system") == "project":
        own = actions.get(robot.project or "")
        return {robot.project: own} if own else {}
    return actions


def robot_actions(permissions: list[dict]) -> dict[str, frozenset[str]]:
    """Harbor's robot permission list -> {project: registry actions}."""
    out: dict[str, set[str]] = {}
    for entry in permissions or []:
        if entry.get("kind") not in ("project", None):
            continue
        namespace = entry.get("namespace") or ""
        for access in entry.get("access") or []:
            resource, action = access.get("resource"), access.get("action")
            allowed = access.get("effect", "allow") == "allow"
            if resource in ("repository", "artifact") and action in REGISTRY_ACTIONS and allowed:
                out.setdefault(namespace, set()).add(action)
    return {k: frozenset(v) for k, v in out.items()}
