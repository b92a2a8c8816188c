"""/labels: Harbor's labels, global (scope "g", managed by system administrators)
and a project's (scope "p", managed by its project administrators), and putting
them on artifacts (/projects/{p}/repositories/{r}/artifacts/{ref}/labels).

Any logged-in caller may read global labels; a project's labels are read by whoever
may read the project. A project label goes only on artifacts of its own project.
Names are unique within a scope (409), at most 128 characters (Harbor's rule).
"""
from __future__ import annotations

from chalicelib.errors import Conflict
from chalicelib.management import paging
from chalicelib.management.access import caller, require, require_admin
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import AlreadyExists, BadRequest, NotFound
from chalicelib.management.schema import DATE_TIME, integer, obj, string
from chalicelib.management.spec import PAGING, Param, operation
from chalicelib.management.times import iso
from chalicelib.meta.labels import Label, NameTaken
from chalicelib.web.http import Request, Response

MAX_NAME = 128
SCOPES = ("g", "p")

LABEL = {
    "type": "object",
    "properties": {
        "id": integer(),
        "name": string(),
        "description": string(),
        "color": string(),
        "scope": string(),
        "project_id": integer(),
        "creation_time": DATE_TIME,
        "update_time": DATE_TIME,
    },
}
# POST and PUT carry a Label, as GET answers it; on PUT only name, description and colour change
LABEL_IN = obj(
    {
        "id": integer(),
        "name": string(maxLength=MAX_NAME),
        "description": string(maxLength=1024),
        "color": string(maxLength=32),
        "scope": string(),
        "project_id": integer(minimum=0),
        "creation_time": string(),
        "update_time": string(),
        "deleted": {"type": "boolean"},
    },
)
# adding a label to an artifact: only its id counts (Harbor: "Only the ID property is needed")
LABEL_REF = obj({**LABEL_IN["properties"], "id": integer(minimum=1)}, required=("id",))


def render(label: Label) -> dict:
    return {
        "id": label.label_id,
        "name": label.name,
        "description": label.description,
        "color": label.color,
        "scope": label.scope,
        "project_id": label.project_id,
        "creation_time": iso(label.created),
        "update_time": iso(label.updated),
    }


def _check_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        raise BadRequest("name: cannot be empty")
    if len(name) > MAX_NAME:
        raise BadRequest(f"name: max length is {MAX_NAME}")
    return name


def require_manage(svc: ManagementDependencies, req: Request, label: Label) -> None:
    """Global labels: system administrators; a project's: its project administrators."""
    if label.scope == "g":
        require_admin(req)
        return
    project = svc.accounts.get_project_by_id(label.project_id)
    if project is None:
        raise NotFound(f"project {label.project_id} not found")
    require(svc, req, project, "label.write")


def _require_read(svc: ManagementDependencies, req: Request, label: Label) -> None:
    caller(req)
    if label.scope == "p":
        project = svc.accounts.get_project_by_id(label.project_id)
        if project is None:
            raise NotFound(f"label {label.label_id} not found")
        require(svc, req, project, "project.read")


def find_label(svc: ManagementDependencies, req: Request, label_id: int) -> Label:
    label = svc.labels.get(label_id) if label_id > 0 else None
    if label is None:
        raise NotFound(f"label {label_id} not found")
    _require_read(svc, req, label)
    return label


@operation(
    "ListLabels",
    "Labels of a scope: global (scope=g) or a project's (scope=p&project_id=)",
    "label",
    response={"type": "array", "items": LABEL},
    params=PAGING
    + (
        Param("name", string(), "The label name (fuzzy)"),
        Param("scope", string(enum=list(SCOPES)), "g for global labels, p for project labels", required=True),
        Param("project_id", integer(minimum=1), "Relevant project ID, required when scope is p"),
    ),
    errors=(400, 404),
    paged=True,
)
def list_labels(svc: ManagementDependencies, req: Request) -> Response:
    caller(req)
    scope = req.arg("scope") or ""
    if scope not in SCOPES:
        raise BadRequest(f"invalid scope: {scope[:20]}")
    project_id = 0
    if scope == "p":
        raw = req.arg("project_id") or ""
        if not raw.isdigit() or int(raw) == 0 or len(raw) > 18:
            raise BadRequest("must with project ID when to query project labels")
        project = svc.accounts.get_project_by_id(int(raw))
        if project is None:
            raise NotFound("project not found")
        require(svc, req, project, "project.read")
        project_id = project.project_id
    page = paging.page_args(req)
    fields = {"name": lambda label: label.name, "creation_time": lambda label: label.created, "update_time": lambda label: label.updated}
    conditions = paging.query_args(req, ("name",))
    labels = paging.filtered(svc.labels.list(scope, project_id), conditions, fields)
    name = (req.arg("name") or "").lower()
    if name:
        labels = [label for label in labels if name in label.name.lower()]
    labels = paging.sorted_by(labels, paging.sort_args(req, fields, "name"), fields)
    return paging.paged(req, labels, render, page)


@operation("CreateLabel", "Create a label", "label", ok=201, body=LABEL_IN, location=True, errors=(400, 403, 404, 409))
def create_label(svc: ManagementDependencies, req: Request, body: dict) -> Response:
    scope = body.get("scope") or ""
    if scope not in SCOPES:
        raise BadRequest(f"scope: invalid: {scope[:20]}")
    project_id = 0
    if scope == "p":
        project_id = int(body.get("project_id") or 0)
        if project_id <= 0:
            raise BadRequest(f"project_id: invalid: {project_id}")
    label = Label(
        name=_check_name(body.get("name")),
        scope=scope,
        project_id=project_id,
        description=body.get("description") or "",
        color=body.get("color") or "",
    )
    require_manage(svc, req, label)
    try:
        created = svc.labels.create(label)
    except NameTaken:
        raise AlreadyExists(f"label {label.name} already exists") from None
    return Response.empty(201, {"Location": f"{paging.API_BASE}/labels/{created.label_id}"})


@operation("GetLabelByID", "A label", "label", response=LABEL, errors=(400, 403, 404))
def get_label(svc: ManagementDependencies, req: Request, label_id: int) -> Response:
    return Response.json(200, render(find_label(svc, req, label_id)))


@operation("UpdateLabel", "Rename a label or change its description or colour", "label", body=LABEL_IN, errors=(400, 403, 404, 409))
def update_label(svc: ManagementDependencies, req: Request, label_id: int, body: dict) -> Response:
    label = find_label(svc, req, label_id)
    require_manage(svc, req, label)
    name = _check_name(body.get("name", label.name))
    try:
        svc.labels.update(label, name, body.get("description", label.description) or "", body.get("color", label.color) or "")
    except NameTaken:
        raise AlreadyExists(f"label {name} already exists") from None
    except Conflict:
        raise AlreadyExists("the label changed meanwhile; read it again") from None
    return Response.empty(200)


@operation("DeleteLabel", "Delete a label (it leaves every artifact that had it)", "label", errors=(400, 403, 404))
def delete_label(svc: ManagementDependencies, req: Request, label_id: int) -> Response:
    label = find_label(svc, req, label_id)
    require_manage(svc, req, label)
    if not svc.labels.delete(label):
        raise NotFound(f"label {label_id} not found")
    return Response.empty(200)


def label_for_artifact(svc: ManagementDependencies, req: Request, label_id: int, project_id: int) -> Label:
    """A label that may go on an artifact of project `project_id` (400 otherwise)."""
    label = svc.labels.get(label_id) if label_id > 0 else None
    if label is None:
        raise NotFound(f"label {label_id} not found")
    if label.scope == "p" and label.project_id != project_id:
        raise BadRequest(f"label {label_id} belongs to another project")
    return label
