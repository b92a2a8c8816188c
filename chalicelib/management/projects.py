"""/projects: Harbor's projects, the first segment of every repository name.

A project's name follows Harbor's rule (lower case letters and digits, single
`.`, `_` or `-` between them, 1-255 characters) and may not be one of the
paths the API itself uses under /v2 (`service`, `api`, `ui`). A project is
deleted only when it holds no repositories (412 otherwise)."""
from __future__ import annotations

from typing import Any

from chalicelib import projects as project_service
from chalicelib import roles as rbac
from chalicelib.management import paging
from chalicelib.management.access import (
    PROJECT_NOT_FOUND,
    allowed,
    caller,
    find_project,
    is_admin,
    project_for,
    require_user,
    role_in,
    roles_in,
    visible,
)
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import BadRequest, Forbidden, NotFound
from chalicelib.management.schema import DATE_TIME, array, boolean, integer, obj, string
from chalicelib.management.spec import IS_RESOURCE_NAME, PAGING, Param, operation
from chalicelib.management.times import iso
from chalicelib.meta.accounts import Project
from chalicelib.web.http import Request, Response

_BOOLEAN_TEXT = string(enum=["true", "false"])
_METADATA_PROPERTIES = {
    "public": _BOOLEAN_TEXT,
    "enable_content_trust": _BOOLEAN_TEXT,
    "enable_content_trust_cosign": _BOOLEAN_TEXT,
    "prevent_vul": _BOOLEAN_TEXT,
    "severity": string(enum=["none", "low", "medium", "high", "critical"]),
    "auto_scan": _BOOLEAN_TEXT,
    "auto_sbom_generation": _BOOLEAN_TEXT,
    "reuse_sys_cve_allowlist": _BOOLEAN_TEXT,
    "retention_id": string(maxLength=64),
    "proxy_speed_kb": string(pattern=r"^-?[0-9]{1,12}$"),
}
METADATA = obj(_METADATA_PROPERTIES)
CVE_ALLOWLIST = obj(
    {
        "id": integer(),
        "project_id": integer(),
        "expires_at": integer(nullable=True),
        "items": array(obj({"cve_id": string(maxLength=64)}), maxItems=1000),
        "creation_time": string(),
        "update_time": string(),
    }
)
PROJECT_REQ = obj(
    {
        "project_name": string(maxLength=project_service.MAX_NAME),
        "public": boolean(nullable=True),
        "metadata": METADATA,
        "cve_allowlist": CVE_ALLOWLIST,
        "storage_limit": integer(nullable=True, minimum=-1),
        "registry_id": integer(nullable=True),
    }
)
PROJECT = {
    "type": "object",
    "properties": {
        "project_id": integer(),
        "owner_id": integer(),
        "name": string(),
        "creation_time": DATE_TIME,
        "update_time": DATE_TIME,
        "deleted": boolean(),
        "owner_name": string(),
        "togglable": boolean(),
        "current_user_role_id": integer(),
        "current_user_role_ids": array(integer()),
        "repo_count": integer(),
        "chart_count": integer(),
        "metadata": {"type": "object", "additionalProperties": string()},
        "registry_id": integer(),  # a proxy cache project's upstream (docs/proxy-cache.md)
        "cve_allowlist": {"type": "object"},
    },
    "required": ["project_id", "name", "metadata", "repo_count"],
}
SUMMARY = {
    "type": "object",
    "properties": {
        "repo_count": integer(),
        "chart_count": integer(),
        "project_admin_count": integer(),
        "maintainer_count": integer(),
        "developer_count": integer(),
        "guest_count": integer(),
        "limited_guest_count": integer(),
        "quota": {
            "type": "object",
            "properties": {
                "hard": {"type": "object", "additionalProperties": integer()},
                "used": {"type": "object", "additionalProperties": integer()},
            },
        },
    },
    "required": ["repo_count"],
}
DELETABLE = {"type": "object", "properties": {"deletable": boolean(), "message": string()}, "required": ["deletable"]}
_ROLE_COUNTS = {
    rbac.Role.PROJECT_ADMIN: "project_admin_count",
    rbac.Role.MAINTAINER: "maintainer_count",
    rbac.Role.DEVELOPER: "developer_count",
    rbac.Role.GUEST: "guest_count",
    rbac.Role.LIMITED_GUEST: "limited_guest_count",
}


def repo_count(svc: ManagementDependencies, project: str) -> int:
    return svc.meta.repository_counts([project])[project]


def render(project: Project, role: rbac.Role | None, repos: int, owner_ids: dict[str, int]) -> dict:
    return {
        "project_id": project.project_id,
        "owner_id": owner_ids.get(project.owner, 0),
        "name": project.name,
        "creation_time": iso(project.created),
        "update_time": iso(project.updated),
        "deleted": False,
        "owner_name": project.owner,
        "togglable": True,
        "current_user_role_id": int(role) if role is not None else 0,
        "current_user_role_ids": [int(role)] if role is not None else [],
        "repo_count": repos,
        "chart_count": 0,
        "metadata": {k: str(v) for k, v in project.metadata.items()},
        **({"registry_id": project.registry_id} if project.registry_id else {}),
        "cve_allowlist": {
            "id": 0,
            "project_id": project.project_id,
            "items": [],
            "creation_time": iso(project.created),
            "update_time": iso(project.updated),
        },
    }


def _owner_ids(svc: ManagementDependencies, owners: set[str]) -> dict[str, int]:
    out = {}
    for owner in owners:
        user = svc.accounts.get_user(owner) if owner else None
        if user is not None:
            out[owner] = user.user_id
    return out


# -- handlers -----------------------------------------------------------------------------------
_FIELDS = {
    "name": lambda p: p.name,
    "project_id": lambda p: p.project_id,
    "public": lambda p: "true" if p.public else "false",
    "owner": lambda p: p.owner,
    "creation_time": lambda p: p.created,
    "update_time": lambda p: p.updated,
}


@operation(
    "listProjects",
    "List the projects the caller may see",
    "project",
    response={"type": "array", "items": PROJECT},
    params=PAGING
    + (
        Param("name", string(), "The project's name (exact)"),
        Param("public", boolean(), "Only public (true) or private (false) projects"),
        Param("owner", string(), "The owner's username"),
        Param("with_detail", boolean(), "Accepted for compatibility; details are always included"),
    ),
    errors=(400,),
    paged=True,
)
def list_projects(svc: ManagementDependencies, req: Request) -> Response:
    caller(req)
    page = paging.page_args(req)
    conditions = paging.query_args(req, ("name", "public", "owner", "project_id"), {"name": "name", "owner": "owner"})
    public = req.arg("public")
    if public:
        conditions["public"] = paging.Condition("exact", (_flag(public, "public"),))
    order = paging.sort_args(req, ("name", "project_id", "creation_time", "update_time"), "name")
    listed = _in_name_order(svc, req, conditions) if paging.by_key_order(req, "name", ("public",)) else None
    if listed is not None:
        source, total = listed
        return paging.keyed(req, source, total, lambda shown: _render_page(svc, req, shown), page)
    projects = paging.sorted_by(paging.filtered(visible(svc, req, svc.accounts.all_projects()), conditions, _FIELDS), order, _FIELDS)
    shown = {p.name: body for p, body in zip(page.window(projects), _render_page(svc, req, list(page.window(projects))))}
    return paging.paged(req, projects, lambda p: shown[p.name], page)


def _render_page(svc: ManagementDependencies, req: Request, shown: list[Project]) -> list[dict]:
    """The page's projects with the caller's roles, owners' ids and repository counts:
    reads that follow the page, not the list."""
    roles = roles_in(svc, req, [p.name for p in shown])
    owners = _owner_ids(svc, {p.owner for p in shown})
    counts = svc.meta.repository_counts(p.name for p in shown)
    return [render(p, roles.get(p.name), counts[p.name], owners) for p in shown]


def _in_name_order(svc: ManagementDependencies, req: Request, conditions: dict) -> tuple[paging.KeyedList, int] | None:
    """The projects the caller sees, as a list in name order with its size, when the
    listings serve it: everything (an administrator), the public projects, or the public
    ones with the caller's own private ones (a user without LDAP groups: their
    memberships are one Query of their index). None: read everything (paging.paged)."""
    public = conditions.get("public")
    if set(conditions) - {"public"} or (public is not None and public.values[0] != "true"):
        return None
    public_only = public is not None
    if is_admin(req) or public_only:
        return svc.accounts.projects_in_order(public_only=public_only), svc.accounts.project_count(public_only=public_only)
    principal = caller(req)
    if principal.kind != "user" or principal.groups:
        return None
    member_of = svc.accounts.list_memberships(principal.name)
    private = [p for p in svc.accounts.projects_named(member_of) if not p.public]
    total = svc.accounts.project_count(public_only=True) + len(private)
    return paging.Merged(svc.accounts.projects_in_order(public_only=True), paging.InMemory((p.name, p) for p in private)), total


@operation(
    "headProject",
    "Whether a project of this name exists",
    "project",
    params=(Param("project_name", string(), "The name to check", required=True),),
    errors=(400, 404),
)
def head_project(svc: ManagementDependencies, req: Request) -> Response:
    caller(req)
    name = req.arg("project_name")
    if not name:
        raise BadRequest("project_name is required")
    if len(name) > project_service.MAX_NAME or svc.accounts.get_project(name) is None:
        raise NotFound(f"project {name[:100]} not found")
    return Response.empty(200)


@operation(
    "createProject",
    "Create a project; its creator becomes its project admin",
    "project",
    ok=201,
    body=PROJECT_REQ,
    location=True,
    params=(
        Param(
            "X-Resource-Name-In-Location",
            {"type": "boolean", "default": False},
            "Put the project's name, not its id, in Location",
            where="header",
        ),
    ),
    errors=(400, 403, 409),
)
def create_project(svc: ManagementDependencies, req: Request, body: dict) -> Response:
    principal = require_user(req)
    if not is_admin(req) and svc.runtime_config.typed("project_creation_restriction") != "everyone":
        raise Forbidden("only a system administrator may create projects (project_creation_restriction is adminonly)")
    if "project_name" not in body:
        raise BadRequest("project_name is required")
    name = body["project_name"]
    registry_id = _proxy_registry(svc, req, body.get("registry_id"))
    metadata = dict(body.get("metadata") or {})
    public = body.get("public")
    if public is not None:
        metadata["public"] = "true" if public else "false"
    limit = _storage_limit(req, body)
    project = project_service.create(
        svc, name, principal.name, public=metadata.get("public") == "true", metadata=metadata, registry_id=registry_id,
    )
    if limit is not None:
        svc.quotas.set_hard(project.name, limit)
    in_location = (req.header("X-Resource-Name-In-Location") or "").strip().lower() == "true"
    return Response.empty(
        201, {"Location": f"{paging.API_BASE}/projects/{project.name if in_location else project.project_id}"}
    )


def _proxy_registry(svc: ManagementDependencies, req: Request, registry_id: int | None) -> int:
    """A proxy cache project's upstream (Harbor: system administrators only, an existing
    registry); 0 for a normal project."""
    if registry_id is None or registry_id == 0:
        return 0
    if not is_admin(req):
        raise Forbidden("only a system administrator may create a proxy cache project")
    if registry_id < 0 or svc.registries.get(registry_id) is None:
        raise BadRequest(f"registry {registry_id} not found")
    return registry_id


@operation(
    "getProject",
    "A project",
    "project",
    response=PROJECT,
    params=(IS_RESOURCE_NAME,),
    errors=(400, 403, 404),
)
def get_project(svc: ManagementDependencies, req: Request, project_name_or_id: str) -> Response:
    project = project_for(svc, req, project_name_or_id, "project.read")
    role = role_in(svc, req, project.name)
    body = render(project, role, repo_count(svc, project.name), _owner_ids(svc, {project.owner}))
    return Response.json(200, body)


@operation(
    "updateProject",
    "Change a project's metadata (public, ...); project admins",
    "project",
    body=PROJECT_REQ,
    params=(IS_RESOURCE_NAME,),
    errors=(400, 403, 404),
)
def update_project(svc: ManagementDependencies, req: Request, project_name_or_id: str, body: dict) -> Response:
    project = project_for(svc, req, project_name_or_id, "project.write")
    if body.get("project_name") not in (None, project.name):
        raise BadRequest("a project cannot be renamed")
    if body.get("registry_id") not in (None, project.registry_id or None):
        raise BadRequest("a project's registry_id cannot be changed (a proxy cache project stays one)")
    metadata = dict(body.get("metadata") or {})
    public = body.get("public")
    if public is None and "public" in metadata:
        public = metadata["public"] == "true"
    limit = _storage_limit(req, body)
    if metadata or public is not None:
        svc.accounts.update_project(project.name, public=public, metadata=metadata)
    if limit is not None:
        svc.quotas.set_hard(project.name, limit)
    return Response.empty(200)


def _storage_limit(req: Request, body: dict) -> int | None:
    """The storage_limit a request sets (None: leaves it); only system administrators
    set one (Harbor's rule), -1 meaning none."""
    from chalicelib.management.quotas import check_limit

    if body.get("storage_limit") is None:
        return None
    if not is_admin(req):
        raise Forbidden("only a system administrator may set storage_limit")
    return check_limit(body["storage_limit"])


@operation(
    "deleteProject",
    "Delete a project that holds no repositories; project admins",
    "project",
    params=(IS_RESOURCE_NAME,),
    errors=(400, 403, 404, 412),
)
def delete_project(svc: ManagementDependencies, req: Request, project_name_or_id: str) -> Response:
    project = project_for(svc, req, project_name_or_id, "project.write")
    project_service.delete(svc, project)
    return Response.empty(200)


@operation(
    "getProjectDeletable",
    "Whether a project may be deleted now",
    "project",
    response=DELETABLE,
    params=(IS_RESOURCE_NAME,),
    errors=(400, 403, 404),
)
def get_project_deletable(svc: ManagementDependencies, req: Request, project_name_or_id: str) -> Response:
    project = project_for(svc, req, project_name_or_id, "project.write")
    count = repo_count(svc, project.name)
    if count:
        return Response.json(200, {"deletable": False, "message": f"the project holds {count} repositories"})
    return Response.json(200, {"deletable": True, "message": ""})


@operation(
    "getProjectSummary",
    "Counts of a project's repositories and members by role",
    "project",
    response=SUMMARY,
    params=(IS_RESOURCE_NAME,),
    errors=(400, 403, 404),
)
def get_project_summary(svc: ManagementDependencies, req: Request, project_name_or_id: str) -> Response:
    project = find_project(svc, req, project_name_or_id)
    role = role_in(svc, req, project.name)
    if not allowed(svc, req, project, "project.read", role=role):
        raise NotFound(PROJECT_NOT_FOUND)  # who may learn what: as if it did not exist
    summary: dict[str, Any] = {"repo_count": repo_count(svc, project.name), "chart_count": 0}
    from chalicelib.management.quotas import resources

    summary["quota"] = resources(svc.quotas.get(project.name))
    if allowed(svc, req, project, "member.read", role=role):
        counts = dict.fromkeys(_ROLE_COUNTS.values(), 0)
        for member in svc.accounts.list_members(project.name):
            if member.role_id in _ROLE_COUNTS:
                counts[_ROLE_COUNTS[rbac.Role(member.role_id)]] += 1
        summary.update(counts)
    return Response.json(200, summary)


# -- helpers ------------------------------------------------------------------------------------
def _flag(value: str, name: str) -> str:
    text = value.strip().lower()
    if text in ("1", "t", "true"):
        return "true"
    if text in ("0", "f", "false"):
        return "false"
    raise BadRequest(f"{name} must be true or false")
