"""Who may do what through the management API: the caller's roles looked up per
request, the decision left to chalicelib/policy.py (the same as the registry's).

`req.identity` is the caller's Principal (chalicelib/auth/principal.py), set
by the dispatcher after Basic authentication; None only on public routes.
"""
from __future__ import annotations

from chalicelib import policy
from chalicelib import roles as rbac
from chalicelib.auth.principal import Principal
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import BadRequest, Forbidden, NotFound
from chalicelib.meta.accounts import Project
from chalicelib.web.http import Request


def caller(req: Request) -> Principal:
    principal = req.identity
    if principal is None:  # only on routes that allow anonymous callers, which check themselves
        raise Forbidden("log in first")
    return principal


def is_admin(req: Request) -> bool:
    return req.identity is not None and req.identity.kind == "user" and req.identity.admin


def require_admin(req: Request) -> Principal:
    principal = caller(req)
    if not is_admin(req):
        raise Forbidden("only a system administrator may do this")
    return principal


def require_user(req: Request) -> Principal:
    principal = caller(req)
    if principal.kind != "user":
        raise Forbidden("robot accounts may not do this")
    return principal


def role_in(svc: ManagementDependencies, req: Request, project: str) -> rbac.Role | None:
    """The caller's strongest role in `project`, their groups' included."""
    principal = req.identity
    if principal is None or principal.kind != "user":
        return None
    return svc.accounts.access_context(principal.name, principal.groups, [project]).role(project)


def roles_in(svc: ManagementDependencies, req: Request, projects: list[str]) -> dict[str, rbac.Role | None]:
    """Roles in many projects at once (one BatchGetItem per 100 keys)."""
    principal = req.identity
    if principal is None or principal.kind != "user" or not projects:
        return {}
    context = svc.accounts.access_context(principal.name, principal.groups, projects)
    return {p: context.role(p) for p in projects}


def actions(svc: ManagementDependencies, req: Request, project: Project, *, role: rbac.Role | None = None) -> frozenset[str]:
    """Everything the caller may do in `project` (chalicelib/policy.py decides)."""
    principal = req.identity
    if principal is None:
        return frozenset()
    if role is None and principal.kind == "user" and not principal.admin:
        role = role_in(svc, req, project.name)
    return policy.actions_in(principal, project, [role] if role is not None else [])


def allowed(svc: ManagementDependencies, req: Request, project: Project, action: str, *, role: rbac.Role | None = None) -> bool:
    return action in actions(svc, req, project, role=role)


# one answer for a project that does not exist and one the caller may not see, so that
# neither the status nor the message tells them apart (nor names what the caller did not)
PROJECT_NOT_FOUND = "project not found"


def require(svc: ManagementDependencies, req: Request, project: Project, action: str) -> None:
    granted = actions(svc, req, project)
    if action in granted:
        return
    if "project.read" not in granted:
        raise NotFound(PROJECT_NOT_FOUND)
    raise Forbidden(f"you may not do this in project {project.name} ({action})")


def visible(svc: ManagementDependencies, req: Request, projects: list[Project]) -> list[Project]:
    """The projects the caller may see: all for a system administrator; public
    ones and the caller's own (directly or through a group) for a user; those
    its permissions name for a robot."""
    principal = caller(req)
    needs_roles = principal.kind == "user" and not principal.admin
    roles = roles_in(svc, req, [p.name for p in projects if not p.public]) if needs_roles else {}
    return policy.visible(principal, projects, roles)


def find_project(svc: ManagementDependencies, req: Request, name_or_id: str, *, by_name: bool = False) -> Project:
    """Harbor's project_name_or_id: an id when it is a number, unless the
    X-Is-Resource-Name header (or `by_name`) says it is a name."""
    is_name = by_name or (req.header("X-Is-Resource-Name") or "").strip().lower() == "true"
    project = None
    if not is_name and name_or_id.isdigit():
        if len(name_or_id) > 18:
            raise BadRequest("project id out of range")
        project = svc.accounts.get_project_by_id(int(name_or_id))
    elif 0 < len(name_or_id) <= 255:
        project = svc.accounts.get_project(name_or_id)
    if project is None:
        raise NotFound(PROJECT_NOT_FOUND)
    return project


def project_for(svc: ManagementDependencies, req: Request, name_or_id: str, action: str) -> Project:
    """The project, if the caller may do `action` in it (403 otherwise)."""
    project = find_project(svc, req, name_or_id)
    require(svc, req, project, action)
    return project
