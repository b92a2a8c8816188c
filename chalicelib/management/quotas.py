"""/quotas: Harbor's project storage quotas, for system administrators.

A quota's id is its project's id (one quota per project); `hard.storage` is the limit in
bytes (-1: none), `used.storage` what the project's manifests name, each blob once
(chalicelib/quotas.py counts it, in the pushes' and deletions' own writes).
"""
from __future__ import annotations

from chalicelib.management import paging
from chalicelib.management.access import require_admin
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import BadRequest, NotFound
from chalicelib.management.schema import DATE_TIME, integer, obj, string
from chalicelib.management.spec import PAGE, PAGE_SIZE, Param, operation
from chalicelib.management.times import iso
from chalicelib.meta.accounts import Project
from chalicelib.meta.quotas import UNLIMITED, Quota
from chalicelib.web.http import Request, Response

# the largest limit Harbor's console offers (1024 TiB); the quota is an int64 of bytes
MAX_STORAGE = 1024**5
RESOURCES = {"type": "object", "additionalProperties": integer()}
QUOTA = {
    "type": "object",
    "properties": {
        "id": integer(),
        "ref": {"type": "object", "additionalProperties": True},
        "hard": RESOURCES,
        "used": RESOURCES,
        "creation_time": DATE_TIME,
        "update_time": DATE_TIME,
    },
}
UPDATE = obj({"hard": obj({"storage": integer(minimum=UNLIMITED, maximum=MAX_STORAGE)}, required=("storage",))}, required=("hard",))


def check_limit(value) -> int:
    """A storage limit as projects and quotas take it: bytes, or -1 for none."""
    if value is None:
        return UNLIMITED
    if not isinstance(value, int) or isinstance(value, bool) or value < UNLIMITED or value == 0 or value > MAX_STORAGE:
        raise BadRequest(f"storage_limit must be -1 (no limit) or 1 to {MAX_STORAGE} bytes")
    return value


def resources(quota: Quota) -> dict:
    return {"hard": {"storage": quota.hard}, "used": {"storage": max(0, quota.used)}}


def render(project: Project, quota: Quota) -> dict:
    return {
        "id": project.project_id,
        "ref": {"id": project.project_id, "name": project.name, "owner_name": project.owner},
        **resources(quota),
        "creation_time": iso(quota.created or project.created),
        "update_time": iso(quota.updated or project.updated),
    }


def _project(svc: ManagementDependencies, quota_id: int) -> Project:
    project = svc.accounts.get_project_by_id(quota_id) if quota_id > 0 else None
    if project is None:
        raise NotFound(f"quota {quota_id} not found")
    return project


_FIELDS = {
    "hard.storage": lambda row: row[1].hard,
    "used.storage": lambda row: row[1].used,
    "creation_time": lambda row: row[1].created,
    "update_time": lambda row: row[1].updated,
}


@operation(
    "listQuotas",
    "The projects' storage quotas",
    "quota",
    response={"type": "array", "items": QUOTA},
    params=(
        PAGE,
        PAGE_SIZE,
        Param("reference", string(enum=["project"]), "The reference type of quota"),
        Param("reference_id", string(), "The reference id of quota"),
        Param("sort", string(), "hard.storage, used.storage, creation_time or update_time; - for descending"),
    ),
    errors=(400, 403),
    paged=True,
)
def list_quotas(svc: ManagementDependencies, req: Request) -> Response:
    require_admin(req)
    page = paging.page_args(req)
    reference = req.arg("reference")
    if reference not in (None, "", "project"):
        raise BadRequest("reference must be project")
    projects = svc.accounts.all_projects()
    reference_id = req.arg("reference_id")
    if reference_id:
        projects = [p for p in projects if str(p.project_id) == reference_id]
    quotas = svc.quotas.many(p.name for p in projects)
    rows = [(p, quotas[p.name]) for p in projects]
    order = paging.sort_args(req, _FIELDS, "creation_time")
    rows = paging.sorted_by(rows, order, _FIELDS)
    return paging.paged(req, rows, lambda row: render(*row), page)


@operation("getQuota", "A project's storage quota (its id is the project's)", "quota", response=QUOTA, errors=(400, 403, 404))
def get_quota(svc: ManagementDependencies, req: Request, id: int) -> Response:
    require_admin(req)
    project = _project(svc, id)
    return Response.json(200, render(project, svc.quotas.get(project.name)))


@operation("updateQuota", "Set a project's storage limit in bytes (-1: none)", "quota", body=UPDATE, errors=(400, 403, 404))
def update_quota(svc: ManagementDependencies, req: Request, id: int, body: dict) -> Response:
    require_admin(req)
    project = _project(svc, id)
    svc.quotas.set_hard(project.name, check_limit(body["hard"]["storage"]))
    return Response.empty(200)
