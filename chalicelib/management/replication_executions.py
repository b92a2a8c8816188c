"""/replication/executions: Harbor's replication runs and their tasks (one per artifact),
plus Berth's `POST /replication/executions/{id}/retry`, which runs again only what failed.
System administrators only.

A run is a Step Functions execution (chalicelib/replication/runs.py) named
`<policy>-<execution id>`; its tasks are recorded by the workers
(chalicelib/replicator/tasks.py) with their timings, bytes, error and log.
"""
from __future__ import annotations

from chalicelib.management import paging
from chalicelib.management.access import require_admin
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import BadRequest, NotFound
from chalicelib.management.replication_policies import find as find_policy
from chalicelib.management.schema import DATE_TIME, integer, obj, string
from chalicelib.management.spec import PAGE, PAGE_SIZE, Param, operation
from chalicelib.management.times import iso
from chalicelib.meta.replication import FAILED, PENDING, RUNNING, STOPPED, SUCCEEDED, Execution, Task
from chalicelib.replication import runs
from chalicelib.web.http import Request, Response

EXECUTION = {
    "type": "object",
    "properties": {
        "id": integer(),
        "policy_id": integer(),
        "status": string(description="InProgress, Succeed, Failed or Stopped"),
        "trigger": string(description="manual, scheduled or event_based"),
        "start_time": DATE_TIME,
        "end_time": DATE_TIME,
        "status_text": string(),
        "total": integer(),
        "failed": integer(),
        "succeed": integer(),
        "in_progress": integer(),
        "stopped": integer(),
    },
}
TASK = {
    "type": "object",
    "properties": {
        "id": integer(),
        "execution_id": integer(),
        "status": string(description="Pending, InProgress, Succeed, Failed or Stopped"),
        "job_id": string(description="The Step Functions execution that runs it"),
        "operation": string(),
        "resource_type": string(),
        "src_resource": string(),
        "dst_resource": string(),
        "start_time": DATE_TIME,
        "end_time": DATE_TIME,
        "bytes": integer(description="Berth: blob bytes copied"),
        "error": string(description="Berth: why it failed"),
    },
}
START = obj({"policy_id": integer(minimum=1)}, required=("policy_id",))
PAGE_ONLY = (PAGE, PAGE_SIZE)
SORT = Param("sort", string(), 'Sort by fields: "start_time" or "-start_time" (the default)')


def render(svc: ManagementDependencies, execution: Execution) -> dict:
    counts = svc.replication_runs.counts(execution)
    return {
        "id": execution.execution_id,
        "policy_id": execution.policy_id,
        "status": execution.status,
        "trigger": execution.trigger,
        "start_time": iso(execution.started),
        "end_time": iso(execution.ended) if execution.ended else "",
        "status_text": execution.status_text,
        "total": sum(counts.values()),
        "failed": counts.get(FAILED, 0),
        "succeed": counts.get(SUCCEEDED, 0),
        "in_progress": counts.get(RUNNING, 0) + counts.get(PENDING, 0),
        "stopped": counts.get(STOPPED, 0),
    }


def render_task(execution: Execution, task: Task) -> dict:
    return {
        "id": task.task_id,
        "execution_id": task.execution_id,
        "status": task.status,
        "job_id": execution.workflow_arn,
        "operation": task.operation,
        "resource_type": task.resource_type,
        "src_resource": task.src_resource,
        "dst_resource": task.dst_resource,
        "start_time": iso(task.started) if task.started else "",
        "end_time": iso(task.ended) if task.ended else "",
        "bytes": task.bytes,
        "error": task.error,
    }


@operation(
    "ListReplicationExecutions",
    "Replication runs, newest first (the latest 1,000)",
    "replication",
    response={"type": "array", "items": EXECUTION},
    params=(*PAGE_ONLY, SORT, Param("policy_id", integer()), Param("status", string()), Param("trigger", string())),
    errors=(400, 403),
    paged=True,
)
def list_replication_executions(svc: ManagementDependencies, req: Request) -> Response:
    require_admin(req)
    page = paging.page_args(req)
    found = svc.replication_runs.list()
    policy_id, status, trigger = req.arg("policy_id"), req.arg("status"), req.arg("trigger")
    if policy_id:
        if not policy_id.isdigit():
            raise BadRequest("policy_id must be an integer")
        found = [e for e in found if e.policy_id == int(policy_id)]
    if status:
        found = [e for e in found if e.status == status]
    if trigger:
        found = [e for e in found if e.trigger == trigger]
    if (req.arg("sort") or "-start_time") == "start_time":
        found.reverse()
    return paging.paged(req, found, lambda e: render(svc, e), page)


@operation(
    "StartReplication",
    "Run a replication policy now (a Step Functions execution named after it)",
    "replication",
    ok=201,
    body=START,
    location=True,
    errors=(400, 403, 404, 409),
)
def start_replication(svc: ManagementDependencies, req: Request, body: dict) -> Response:
    require_admin(req)
    policy = find_policy(svc, body["policy_id"])
    if not policy.enabled:
        raise BadRequest(f"the policy {policy.policy_id} is disabled")
    execution = runs.start(svc, policy, "manual")
    return Response.empty(201, {"Location": f"{paging.API_BASE}/replication/executions/{execution.execution_id}"})


@operation(
    "RetryReplication",
    "Berth: a new run of what failed (or was stopped) in this one, and nothing else",
    "replication",
    ok=201,
    location=True,
    errors=(400, 403, 404, 409),
)
def retry_replication(svc: ManagementDependencies, req: Request, execution_id: int) -> Response:
    require_admin(req)
    execution = find(svc, execution_id)
    if execution.status == RUNNING:
        raise BadRequest(f"execution {execution_id} is still running")
    if not any(t.status in (FAILED, STOPPED) for t in svc.replication_runs.tasks(execution_id)):
        raise BadRequest(f"execution {execution_id} has no failed tasks to retry")
    policy = find_policy(svc, execution.policy_id)
    retry = runs.start(svc, policy, "manual", retry_of=execution_id)
    return Response.empty(201, {"Location": f"{paging.API_BASE}/replication/executions/{retry.execution_id}"})


@operation("GetReplicationExecution", "One replication run", "replication", response=EXECUTION,
           errors=(400, 403, 404))
def get_replication_execution(svc: ManagementDependencies, req: Request, execution_id: int) -> Response:
    require_admin(req)
    return Response.json(200, render(svc, find(svc, execution_id)))


@operation("StopReplication", "Stop a running replication run (its unfinished tasks read Stopped)", "replication",
           errors=(400, 403, 404))
def stop_replication(svc: ManagementDependencies, req: Request, execution_id: int) -> Response:
    require_admin(req)
    runs.stop(svc, find(svc, execution_id))
    return Response.empty(200)


@operation(
    "ListReplicationTasks",
    "The tasks of a run: one per artifact, with status, times, bytes and error",
    "replication",
    response={"type": "array", "items": TASK},
    params=(*PAGE_ONLY, Param("status", string()), Param("resource_type", string())),
    errors=(400, 403, 404),
    paged=True,
)
def list_replication_tasks(svc: ManagementDependencies, req: Request, execution_id: int) -> Response:
    require_admin(req)
    execution = find(svc, execution_id)
    tasks = svc.replication_runs.tasks(execution_id)
    status, resource_type = req.arg("status"), req.arg("resource_type")
    if status:
        tasks = [t for t in tasks if t.status == status]
    if resource_type:
        tasks = [t for t in tasks if t.resource_type == resource_type]
    return paging.paged(req, tasks, lambda t: render_task(execution, t))


@operation("GetReplicationLog", "One task's log, as text", "replication", response=string(),
           errors=(400, 403, 404), content_type="text/plain")
def get_replication_log(svc: ManagementDependencies, req: Request, execution_id: int, task_id: int) -> Response:
    require_admin(req)
    find(svc, execution_id)
    task = svc.replication_runs.task(execution_id, task_id)
    if task is None:
        raise NotFound(f"execution {execution_id} contains no task with ID {task_id}")
    lines = [f"{task.operation} {task.src_resource} -> {task.dst_resource}", *task.log,
             f"status: {task.status}" + (f" ({task.error})" if task.error else "")]
    body = ("\n".join(lines) + "\n").encode()
    return Response(200, {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body))}, body)


def find(svc: ManagementDependencies, execution_id: int) -> Execution:
    execution = svc.replication_runs.get(execution_id)
    if execution is None:
        raise NotFound(f"execution {execution_id} not found")
    return execution
