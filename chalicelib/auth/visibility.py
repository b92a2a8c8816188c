"""Which projects a caller may see: for `_catalog`, which lists only those."""
from __future__ import annotations

from typing import Any


def visible_projects(accounts: Any, identity: Any) -> set[str] | None:
    """Project names the caller may pull from; None means all of them."""
    if identity is None or identity.grants is None:
        return None
    username, groups = None, ()
    if identity.kind == "user" and identity.subject:
        user = accounts.get_user(identity.subject)
        if user is not None and user.sysadmin:
            return None  # before listing anything: an administrator sees it all
        username, groups = identity.subject, tuple(user.groups or ()) if user else ()
    projects = _all_projects(accounts)
    context = accounts.access_context(username, groups, [p.name for p in projects])
    visible = {name for name, project in context.projects.items() if project.public or context.roles.get(name)}
    if identity.kind == "robot":
        from chalicelib.auth.authenticator import robot_grants

        robot = accounts.get_robot(identity.subject)
        if robot is not None:
            namespaces = {n for n, actions in robot_grants(robot).items() if "pull" in actions}
            if "*" in namespaces:
                return None
            visible |= {n for n in namespaces if n}
    return visible


def _all_projects(accounts: Any) -> list[Any]:
    out, last = [], None
    while True:
        page, more = accounts.list_projects(last=last, limit=100)
        out.extend(page)
        if not more or not page:
            return out
        last = page[-1].name
