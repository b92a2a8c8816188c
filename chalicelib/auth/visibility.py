"""Which projects a caller may see: for `_catalog`, which lists only those."""
from __future__ import annotations

from typing import Any


def visible_projects(accounts: Any, identity: Any) -> set[str] | None:
    """Project names the caller may pull from; None means all of them. A user without
    LDAP groups costs three reads that follow what they may see, not how many projects
    there are: their user item, the public projects' listing and their memberships."""
    if identity is None or identity.grants is None:
        return None
    username, groups = None, ()
    if identity.kind == "user" and identity.subject:
        user = accounts.get_user(identity.subject)
        if user is not None and user.sysadmin:
            return None  # before listing anything: an administrator sees it all
        username, groups = identity.subject, tuple(user.groups or ()) if user else ()
    visible = set(accounts.public_project_names())  # one Query of the public listing
    if username and groups:  # a group's roles have no index by group: read them per project
        private = [name for name in accounts.project_names() if name not in visible]
        context = accounts.access_context(username, groups, private)
        visible |= {name for name in private if context.roles.get(name)}
    elif username:  # the user's own memberships: one Query of their reverse index
        visible |= set(accounts.list_memberships(username))
    if identity.kind == "robot":
        from chalicelib.auth.authenticator import robot_grants

        robot = accounts.get_robot(identity.subject)
        if robot is not None:
            namespaces = {n for n, actions in robot_grants(robot).items() if "pull" in actions}
            if "*" in namespaces:
                return None
            visible |= {n for n in namespaces if n}
    return visible

