"""Who may do what through the management API: the same roles as the registry
(chalicelib/auth/rbac.py holds the table), looked up per request.

`req.identity` is the caller's Principal (chalicelib/auth/principal.py), set
by the dispatcher after Basic authentication; None only on public routes.
"""
from __future__ import annotations

from chalicelib.auth import rbac
from chalicelib.auth.principal import Principal
from chalicelib.management.errors import BadRequest, Forbidden, NotFound
from chalicelib.meta.accounts import Project
from chalicelib.registry.http import OciRequest

# what a robot's registry permissions let it do here (robots manage no accounts)
_ROBOT_ACTIONS = {
    "pull": ("project.read", "repository.read"),
    "push": ("tag.create", "artifact.copy"),
    "delete": ("repository.delete", "artifact.delete", "tag.delete"),
}
# what anyone who is logged in may do in a public project
_PUBLIC_ACTIONS = frozenset({"project.read", "repository.read", "pull"})


def caller(req: OciRequest) -> Principal:
    principal = req.identity
    if principal is None:  # only on routes that allow anonymous callers, which check themselves
        raise Forbidden("log in first")
    return principal


def is_admin(req: OciRequest) -> bool:
    return req.identity is not None and req.identity.kind == "user" and req.identity.admin


def require_admin(req: OciRequest) -> Principal:
    principal = caller(req)
    if not is_admin(req):
        raise Forbidden("only a system administrator may do this")
    return principal


def require_user(req: OciRequest) -> Principal:
    principal = caller(req)
    if principal.kind != "user":
        raise Forbidden("robot accounts may not do this")
    return principal


def role_in(svc, req: OciRequest, project: str) -> rbac.Role | None:
    """The caller's strongest role in `project`, their groups' included."""
    principal = req.identity
    if principal is None or principal.kind != "user":
        return None
    return svc.accounts.access_context(principal.name, principal.groups, [project]).role(project)


def roles_in(svc, req: OciRequest, projects: list[str]) -> dict[str, rbac.Role | None]:
    """Roles in many projects at once (one BatchGetItem per 100 keys)."""
    principal = req.identity
    if principal is None or principal.kind != "user" or not projects:
        return {}
    context = svc.accounts.access_context(principal.name, principal.groups, projects)
    return {p: context.role(p) for p in projects}


def allowed(svc, req: OciRequest, project: Project, action: str, *, role: rbac.Role | None = None) -> bool:
    principal = req.identity
    if principal is None:
        return False
    if is_admin(req):
        return True
    if project.public and action in _PUBLIC_ACTIONS:
        return True
    if principal.kind == "robot":
        granted = set(principal.robot_permissions.get(project.name, ())) | set(principal.robot_permissions.get("*", ()))
        return any(action in _ROBOT_ACTIONS.get(a, ()) for a in granted)
    if role is None:
        role = role_in(svc, req, project.name)
    return rbac.allows(role, action)


def require(svc, req: OciRequest, project: Project, action: str) -> None:
    if not allowed(svc, req, project, action):
        raise Forbidden(f"you may not do this in project {project.name} ({action})")


def visible(svc, req: OciRequest, projects: list[Project]) -> list[Project]:
    """The projects the caller may see: all for a system administrator; public
    ones and the caller's own (directly or through a group) for a user; those
    its permissions name for a robot."""
    if is_admin(req):
        return projects
    principal = caller(req)
    if principal.kind == "robot":
        return [p for p in projects if allowed(svc, req, p, "project.read")]
    roles = roles_in(svc, req, [p.name for p in projects if not p.public])
    return [p for p in projects if p.public or roles.get(p.name) is not None]


def find_project(svc, req: OciRequest, name_or_id: str, *, by_name: bool = False) -> Project:
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
        raise NotFound(f"project {name_or_id[:100]} not found")
    return project


def project_for(svc, req: OciRequest, name_or_id: str, action: str) -> Project:
    """The project, if the caller may do `action` in it (403 otherwise)."""
    project = find_project(svc, req, name_or_id)
    require(svc, req, project, action)
    return project
