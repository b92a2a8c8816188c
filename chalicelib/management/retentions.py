"""/retentions: Harbor's tag retention policies, their runs (executions) and each run's
tasks (one per repository) with their logs.

A project has at most one policy, which its metadata names (`retention_id`). Project
admins manage and run it, maintainers read it (Harbor's rbac). What a policy may say and
keeps: chalicelib/retention/policy.py; a run: chalicelib/retention/runs.py.
"""
from __future__ import annotations

from chalicelib.errors import Conflict
from chalicelib.management import paging
from chalicelib.management.access import require, require_user
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import AlreadyExists, BadRequest, NotFound
from chalicelib.management.schema import DATE_TIME, array, boolean, integer, obj, string
from chalicelib.management.spec import PAGE, PAGE_SIZE, operation
from chalicelib.management.times import iso
from chalicelib.meta.accounts import Project
from chalicelib.meta.retention import Execution, StoredPolicy, Task
from chalicelib.retention import policy as rules
from chalicelib.retention import runs, scheduled
from chalicelib.web.http import Request, Response

SELECTOR = obj({"kind": string(maxLength=32), "decoration": string(maxLength=32), "pattern": string(maxLength=1024),
                "extras": string(maxLength=256)})
RULE = obj({
    "id": integer(),
    "priority": integer(),
    "disabled": boolean(),
    "action": string(maxLength=32),
    "template": string(maxLength=64),
    "params": {"type": "object", "additionalProperties": True},
    "tag_selectors": array(SELECTOR, maxItems=10),
    "scope_selectors": {"type": "object", "additionalProperties": array(SELECTOR, maxItems=10)},
})
POLICY = obj({
    "id": integer(),
    "algorithm": string(maxLength=16),
    "rules": array(RULE, maxItems=50),
    "trigger": obj({"kind": string(maxLength=32), "settings": {"type": "object", "additionalProperties": True},
                    "references": {"type": "object", "additionalProperties": True}}),
    "scope": obj({"level": string(maxLength=32), "ref": integer()}),
})
POLICY_OUT = {**POLICY, "additionalProperties": True}
METADATA = {"type": "object", "properties": {"templates": array({"type": "object"}), "scope_selectors": array({"type": "object"}),
                                             "tag_selectors": array({"type": "object"})}}
EXECUTION = {"type": "object", "properties": {
    "id": integer(), "policy_id": integer(), "start_time": DATE_TIME, "end_time": DATE_TIME,
    "status": string(description="Running, Success, Error or Stopped"), "trigger": string(description="MANUAL or SCHEDULE"),
    "dry_run": boolean()}}
TASK = {"type": "object", "properties": {
    "id": integer(), "execution_id": integer(), "repository": string(), "job_id": string(), "status": string(),
    "status_code": integer(), "status_revision": integer(), "start_time": DATE_TIME, "end_time": DATE_TIME,
    "total": integer(), "retained": integer()}}
TRIGGER = obj({"dry_run": boolean()})
OPERATE = obj({"action": string(maxLength=16)})
# Harbor's task status codes (src/jobservice/job: pending 0, running 1, stopped 2, error 3, success 3)
_STATUS_CODES = {"Pending": 0, "Running": 1, "Stopped": 2, "Error": 3, "Success": 3}


def _policy(svc: ManagementDependencies, req: Request, policy_id: int, action: str) -> tuple[StoredPolicy, Project]:
    stored = svc.retention.get(policy_id)
    project = svc.accounts.get_project(stored.project) if stored is not None else None
    if stored is None or project is None or project.metadata.get("retention_id") != str(policy_id):
        raise NotFound(f"the retention policy {policy_id} is not found")
    require(svc, req, project, action)
    return stored, project


def _project_of(svc: ManagementDependencies, req: Request, body: dict) -> Project:
    project_id = rules.scope_of(body)
    project = svc.accounts.get_project_by_id(project_id)
    if project is None:
        raise BadRequest(f"invalid Project id {project_id}")
    return project


def _checked(body: dict, project: Project) -> dict:
    try:
        return rules.check(body, project.project_id)
    except rules.RuleConflict as exc:
        raise AlreadyExists(exc.message) from None


@operation("getRentenitionMetadata", "The rule templates and selectors a retention policy may use", "Retention",
           response=METADATA)
def get_retention_metadata(svc: ManagementDependencies, req: Request) -> Response:
    require_user(req)
    return Response.json(200, rules.metadata())


@operation("createRetention", "Create a project's retention policy (a project has one; its metadata names it)",
           "Retention", ok=201, body=POLICY, location=True, errors=(400, 403, 404, 409))
def create_retention(svc: ManagementDependencies, req: Request, body: dict) -> Response:
    require_user(req)
    project = _project_of(svc, req, body)
    require(svc, req, project, "retention.write")
    checked = _checked(body, project)
    if project.metadata.get("retention_id"):
        raise BadRequest(f"project {project.project_id} already has retention policy {project.metadata['retention_id']}")
    try:
        stored = svc.retention.create(project.name, checked)
    except Conflict:
        raise BadRequest(f"project {project.project_id} already has a retention policy") from None
    try:  # a scheduled policy's schedule; without it, no policy either
        scheduled.follow(svc.schedules, stored.policy_id, stored.policy)
    except Exception:
        svc.retention.delete(stored)
        raise
    return Response.empty(201, {"Location": f"{paging.API_BASE}/retentions/{stored.policy_id}"})


@operation("getRetention", "A retention policy", "Retention", response=POLICY_OUT, errors=(400, 403, 404))
def get_retention(svc: ManagementDependencies, req: Request, id: int) -> Response:
    stored, _ = _policy(svc, req, id, "retention.read")
    return Response.json(200, stored.policy)


@operation("updateRetention", "Change a retention policy (its rules, its schedule)", "Retention", body=POLICY,
           errors=(400, 403, 404, 409))
def update_retention(svc: ManagementDependencies, req: Request, id: int, body: dict) -> Response:
    stored, project = _policy(svc, req, id, "retention.write")
    scope = body.get("scope")
    if scope is not None and rules.scope_of(body) != project.project_id:
        raise BadRequest("a retention policy stays with its project: scope.ref must be the project's id")
    checked = _checked({**body, "scope": {"level": "project", "ref": project.project_id}}, project)
    # the schedule first: if the policy's write fails, the schedule goes back to the policy's
    scheduled.follow(svc.schedules, stored.policy_id, checked)
    try:
        svc.retention.update(stored, checked)
    except Exception:
        scheduled.follow(svc.schedules, stored.policy_id, stored.policy)
        raise
    return Response.empty(200)


@operation("deleteRetention", "Delete a retention policy (the project's metadata stops naming it)", "Retention",
           errors=(400, 403, 404))
def delete_retention(svc: ManagementDependencies, req: Request, id: int) -> Response:
    stored, _ = _policy(svc, req, id, "retention.write")
    svc.retention.delete(stored)
    # a schedule left by a failure here removes itself when it fires (retention/scheduled.py)
    scheduled.forget(svc.schedules, stored.policy_id)
    return Response.empty(200)


def render_execution(e: Execution) -> dict:
    return {"id": e.execution_id, "policy_id": e.policy_id, "start_time": iso(e.started),
            "end_time": iso(e.ended) if e.ended else "", "status": e.status, "trigger": e.trigger, "dry_run": e.dry_run}


def render_task(t: Task) -> dict:
    return {"id": t.task_id, "execution_id": t.execution_id, "repository": t.repository, "job_id": f"{t.execution_id}-{t.task_id}",
            "status": t.status, "status_code": _STATUS_CODES.get(t.status, 0), "status_revision": int(t.started),
            "start_time": iso(t.started) if t.started else "", "end_time": iso(t.ended) if t.ended else "",
            "total": t.total, "retained": t.retained}


@operation("triggerRetentionExecution", "Start a run of a retention policy (it runs after the answer: see its status); with dry_run nothing is deleted", "Retention",
           ok=201, body=TRIGGER, body_required=False, location=True, errors=(400, 403, 404))
def trigger_retention_execution(svc: ManagementDependencies, req: Request, id: int, body: dict | None) -> Response:
    stored, _ = _policy(svc, req, id, "retention.write")
    execution = runs.start(svc, stored, runs.MANUAL, dry_run=bool((body or {}).get("dry_run", False)))
    return Response.empty(201, {"Location": f"{paging.API_BASE}/retentions/{id}/executions/{execution.execution_id}"})


@operation("listRetentionExecutions", "A policy's runs, newest first", "Retention",
           response={"type": "array", "items": EXECUTION}, params=(PAGE, PAGE_SIZE), errors=(400, 403, 404), paged=True)
def list_retention_executions(svc: ManagementDependencies, req: Request, id: int) -> Response:
    stored, _ = _policy(svc, req, id, "retention.read")
    return paging.paged(req, svc.retention.executions(stored.policy_id), render_execution)


def _execution(svc: ManagementDependencies, stored: StoredPolicy, eid: int) -> Execution:
    execution = svc.retention.execution(stored.policy_id, eid)
    if execution is None:
        raise NotFound(f"execution {eid} of retention policy {stored.policy_id} not found")
    return execution


@operation("operateRetentionExecution", 'Stop a run ({"action": "stop"})', "Retention", body=OPERATE,
           errors=(400, 403, 404))
def operate_retention_execution(svc: ManagementDependencies, req: Request, id: int, eid: int, body: dict) -> Response:
    if body.get("action") != "stop":
        raise BadRequest("action should be 'stop'")
    stored, _ = _policy(svc, req, id, "retention.write")
    runs.stop(svc, _execution(svc, stored, eid))
    return Response.empty(200)


@operation("listRetentionTasks", "A run's tasks: one per repository, with how many artifacts it kept", "Retention",
           response={"type": "array", "items": TASK}, params=(PAGE, PAGE_SIZE), errors=(400, 403, 404), paged=True)
def list_retention_tasks(svc: ManagementDependencies, req: Request, id: int, eid: int) -> Response:
    stored, _ = _policy(svc, req, id, "retention.read")
    _execution(svc, stored, eid)
    return paging.paged(req, svc.retention.tasks(eid), render_task)


@operation("getRetentionTaskLog", "A task's log: each artifact and whether it was kept or deleted", "Retention",
           response=string(), errors=(400, 403, 404), content_type="text/plain")
def get_retention_task_log(svc: ManagementDependencies, req: Request, id: int, eid: int, tid: int) -> Response:
    stored, _ = _policy(svc, req, id, "retention.read")
    _execution(svc, stored, eid)
    task = svc.retention.task(eid, tid)
    if task is None:
        raise NotFound(f"execution {eid} contains no task with ID {tid}")
    body = ("\n".join(task.log) + "\n").encode()
    return Response(200, {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body))}, body)
