"""Which projects a caller may see: for `_catalog`, which lists only those."""
from __future__ import annotations

from typing import Any


def visible_projects(accounts: Any, identity: Any) -> set[str] | None:
    """Project names the caller may pull from; None means all of them. A user without
    LDAP groups costs three reads however many projects there are: their user item,
    the projects' listing (names and public flags) and their memberships."""
    if identity is None or identity.grants is None:
        return None
    username, groups = None, ()
    if identity.kind == "user" and identity.subject:
        user = accounts.get_user(identity.subject)
        if user is not None and user.sysadmin:
            return None  # before listing anything: an administrator sees it all
        username, groups = identity.subject, tuple(user.groups or ()) if user else ()
    listing = accounts.project_visibility()  # one Query: every name and its public flag
    visible = {name for name, public in listing.items() if public}
    unknown = [name for name, public in listing.items() if public is None]
    if unknown:  # listing items written before they carried the flag: read those projects
        context = accounts.access_context(None, (), unknown)
        visible |= {name for name, project in context.projects.items() if project.public}
    if username and groups:  # a group's roles have no index by group: read them per project
        private = [name for name in listing if name not in visible]
        context = accounts.access_context(username, groups, private)
        visible |= {name for name in private if context.roles.get(name)}
    elif username:  # the user's own memberships: one Query of their reverse index
        visible |= set(accounts.list_memberships(username)) & set(listing)
    if identity.kind == "robot":
        from chalicelib.auth.authenticator import robot_grants

        robot = accounts.get_robot(identity.subject)
        if robot is not None:
            namespaces = {n for n, actions in robot_grants(robot).items() if "pull" in actions}
            if "*" in namespaces:
                return None
            visible |= {n for n in namespaces if n}
    return visible

