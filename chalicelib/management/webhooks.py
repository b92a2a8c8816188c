"""/projects/{p}/webhook: Harbor's webhook policies, their delivery log
(executions, tasks, a task's log) and the supported types; plus Berth's
`POST .../webhook/policies/test`, which sends a test event to targets now.

Project admins manage policies (`webhook.write`), maintainers read them
(`webhook.read`; chalicelib/policy.py decides). Secrets — a target's
`auth_header` and Berth's `signing_secret` — are never answered: a set one reads
as "******", and a PUT that sends "******" back (or leaves the field out) keeps
the stored value of the target at the same address. Delivery: docs/webhooks.md.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

from chalicelib.events.envelope import ARTIFACT_PUSHED, new_event, new_id
from chalicelib.management import paging
from chalicelib.management.access import caller, project_for
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import BadRequest, NotFound
from chalicelib.management.schema import DATE_TIME, array, boolean, integer, obj, string
from chalicelib.management.spec import IS_RESOURCE_NAME, PAGING, operation
from chalicelib.management.times import iso
from chalicelib.meta.accounts import Project
from chalicelib.meta.webhooks import Execution, Policy, Target
from chalicelib.web.http import Request, Response
from chalicelib.webhooks import targets as rules
from chalicelib.webhooks.payloads import ProjectInfo, request_for

MASK = "******"
MAX_TARGETS = 10

TARGET = obj(
    {
        "type": string(enum=list(rules.NOTIFY_TYPES)),
        "address": string(maxLength=rules.MAX_ADDRESS),
        "auth_header": string(maxLength=rules.MAX_HEADER),
        "skip_cert_verify": boolean(),
        "payload_format": string(enum=["Default", "CloudEvents"]),
        "signing_secret": string(maxLength=256, description="Berth: HMAC-SHA256 key of X-Berth-Signature; never answered"),
    },
    required=("address",),
)
# POST and PUT carry a WebhookPolicy, as GET answers it; the read-only fields are ignored
POLICY_IN = obj(
    {
        "id": integer(),
        "name": string(minLength=1, maxLength=256),
        "description": string(maxLength=1024),
        "project_id": integer(),
        "targets": array(TARGET, minItems=1, maxItems=MAX_TARGETS),
        "event_types": array(string(), minItems=1, maxItems=20),
        "creator": string(),
        "creation_time": string(),
        "update_time": string(),
        "enabled": boolean(),
    },
    required=("name", "targets", "event_types"),
)
TARGET_OUT = {
    "type": "object",
    "properties": {
        "type": string(),
        "address": string(),
        "auth_header": string(description='"******" when one is set'),
        "skip_cert_verify": boolean(),
        "payload_format": string(),
        "signing_secret": string(description='Berth: "******" when one is set'),
    },
}
POLICY = {
    "type": "object",
    "properties": {
        "id": integer(),
        "name": string(),
        "description": string(),
        "project_id": integer(),
        "targets": array(TARGET_OUT),
        "event_types": array(string()),
        "creator": string(),
        "creation_time": DATE_TIME,
        "update_time": DATE_TIME,
        "enabled": boolean(),
    },
}
METRICS = {
    "type": "object",
    "properties": {k: integer() for k in (
        "task_count", "success_task_count", "error_task_count", "pending_task_count",
        "running_task_count", "scheduled_task_count", "stopped_task_count")},
}
EXECUTION = {
    "type": "object",
    "properties": {
        "id": integer(),
        "vendor_type": string(),
        "vendor_id": integer(),
        "status": string(),
        "status_message": string(),
        "metrics": METRICS,
        "trigger": string(),
        "extra_attrs": {"type": "object"},
        "start_time": string(),
        "end_time": string(),
    },
}
TASK = {
    "type": "object",
    "properties": {
        "id": integer(),
        "execution_id": integer(),
        "status": string(),
        "status_message": string(),
        "run_count": integer(),
        "extra_attrs": {"type": "object"},
        "creation_time": string(),
        "update_time": string(),
        "start_time": string(),
        "end_time": string(),
    },
}
SUPPORTED = {
    "type": "object",
    "properties": {
        "event_type": array(string()),
        "notify_type": array(string()),
        "payload_formats": array({"type": "object", "properties": {"notify_type": string(), "formats": array(string())}}),
    },
}
TEST_IN = obj({"targets": array(TARGET, minItems=1, maxItems=MAX_TARGETS), "policy_id": integer()})
TEST_OUT = array(
    {
        "type": "object",
        "properties": {"address": string(), "status_code": integer(), "duration_ms": integer(), "error": string()},
    }
)
VENDOR = "WEBHOOK"


# -- rendering -----------------------------------------------------------------------------
def render(policy: Policy, project: Project) -> dict:
    return {
        "id": policy.policy_id,
        "name": policy.name,
        "description": policy.description,
        "project_id": project.project_id,
        "targets": [_render_target(t) for t in policy.targets],
        "event_types": list(policy.event_types),
        "creator": policy.creator,
        "creation_time": iso(policy.created),
        "update_time": iso(policy.updated),
        "enabled": policy.enabled,
    }


def _render_target(target: Target) -> dict:
    out = {
        "type": target.type,
        "address": rules.safe_address(target.address),
        "auth_header": MASK if target.auth_header else "",
        "skip_cert_verify": target.skip_cert_verify,
        "payload_format": target.payload_format,
    }
    if target.signing_secret:
        out["signing_secret"] = MASK
    return out


def render_execution(run: Execution) -> dict:
    states = [t.get("status") for t in run.tasks.values()]
    failed = [t for t in run.tasks.values() if t.get("status") == "Error"]
    return {
        "id": run.execution_id,
        "vendor_type": VENDOR,
        "vendor_id": run.policy_id,
        "status": run.status,
        "status_message": failed[0].get("status_message", "") if failed else "",
        "metrics": {
            "task_count": len(states),
            "success_task_count": states.count("Success"),
            "error_task_count": states.count("Error"),
            "pending_task_count": states.count("Pending"),
            "running_task_count": states.count("Running"),
            "scheduled_task_count": 0,
            "stopped_task_count": states.count("Stopped"),
        },
        "trigger": "EVENT",
        "extra_attrs": {"event_type": run.event_type, "event_id": run.event_id},
        "start_time": iso(run.started),
        "end_time": iso(run.ended) if run.ended is not None else "",
    }


def render_task(run: Execution, number: str, task: dict) -> dict:
    return {
        "id": int(number),
        "execution_id": run.execution_id,
        "status": task.get("status", ""),
        "status_message": task.get("status_message", ""),
        "run_count": int(task.get("run_count", 0)),
        "extra_attrs": {
            "address": task.get("address", ""),
            "notify_type": task.get("notify_type", ""),
            "payload_format": task.get("payload_format", ""),
            "status_code": int(task.get("status_code", 0)),
            "duration_ms": int(task.get("duration_ms", 0)),
            "event_type": run.event_type,
            "event_id": run.event_id,
        },
        "creation_time": iso(task.get("creation_time", run.started)),
        "update_time": iso(task.get("last_attempt_time") or task.get("creation_time", run.started)),
        "start_time": iso(task["start_time"]) if task.get("start_time") else "",
        "end_time": iso(task["end_time"]) if task.get("end_time") else "",
    }


# -- policies --------------------------------------------------------------------------------
@operation(
    "ListWebhookPoliciesOfProject",
    "A project's webhook policies",
    "webhook",
    response={"type": "array", "items": POLICY},
    params=(IS_RESOURCE_NAME, *PAGING),
    errors=(400, 403, 404),
    paged=True,
)
def list_webhook_policies(svc: ManagementDependencies, req: Request, project_name_or_id: str) -> Response:
    project = project_for(svc, req, project_name_or_id, "webhook.read")
    page = paging.page_args(req)
    conditions = paging.query_args(req, ("name", "enabled"))
    fields = {"name": lambda p: p.name, "enabled": lambda p: str(p.enabled).lower()}
    policies = paging.filtered(svc.webhooks.list(project.name), conditions, fields)
    return paging.paged(req, policies, lambda p: render(p, project), page)


@operation(
    "CreateWebhookPolicyOfProject",
    "Create a webhook policy: its targets get the project's events of the types it names",
    "webhook",
    ok=201,
    body=POLICY_IN,
    location=True,
    params=(IS_RESOURCE_NAME,),
    errors=(400, 403, 404, 409),
)
def create_webhook_policy(svc: ManagementDependencies, req: Request, project_name_or_id: str, body: dict) -> Response:
    project = project_for(svc, req, project_name_or_id, "webhook.write")
    name = body["name"].strip()
    if any(p.name == name for p in svc.webhooks.list(project.name)):
        from chalicelib.management.errors import AlreadyExists

        raise AlreadyExists(f"project {project.name} has a webhook policy named {name} already")
    policy = svc.webhooks.create(
        Policy(
            project=project.name,
            name=name,
            targets=_targets(svc, req, body["targets"], ()),
            event_types=_event_types(body["event_types"]),
            enabled=bool(body.get("enabled", True)),
            description=body.get("description", ""),
            creator=caller(req).name,
        )
    )
    location = f"{paging.API_BASE}/projects/{project.project_id}/webhook/policies/{policy.policy_id}"
    return Response.empty(201, {"Location": location})


@operation(
    "GetWebhookPolicyOfProject",
    "One webhook policy (secrets read as ******)",
    "webhook",
    response=POLICY,
    params=(IS_RESOURCE_NAME,),
    errors=(400, 403, 404),
)
def get_webhook_policy(svc: ManagementDependencies, req: Request, project_name_or_id: str, webhook_policy_id: int) -> Response:
    project = project_for(svc, req, project_name_or_id, "webhook.read")
    return Response.json(200, render(_policy(svc, project, webhook_policy_id), project))


@operation(
    "UpdateWebhookPolicyOfProject",
    "Replace a webhook policy (enable or disable it with `enabled`)",
    "webhook",
    body=POLICY_IN,
    params=(IS_RESOURCE_NAME,),
    errors=(400, 403, 404, 409),
)
def update_webhook_policy(svc: ManagementDependencies, req: Request, project_name_or_id: str, webhook_policy_id: int, body: dict) -> Response:
    project = project_for(svc, req, project_name_or_id, "webhook.write")
    current = _policy(svc, project, webhook_policy_id)
    name = body["name"].strip()
    if any(p.name == name and p.policy_id != current.policy_id for p in svc.webhooks.list(project.name)):
        from chalicelib.management.errors import AlreadyExists

        raise AlreadyExists(f"project {project.name} has a webhook policy named {name} already")
    updated = Policy(
        project=project.name,
        name=name,
        targets=_targets(svc, req, body["targets"], current.targets),
        event_types=_event_types(body["event_types"]),
        enabled=bool(body.get("enabled", current.enabled)),
        description=body.get("description", current.description),
        creator=current.creator,
        created=current.created,
        policy_id=current.policy_id,
    )
    try:
        svc.webhooks.update(updated)
    except KeyError:
        raise NotFound(f"webhook policy {webhook_policy_id} not found") from None
    return Response.empty(200)


@operation(
    "DeleteWebhookPolicyOfProject",
    "Delete a webhook policy (deliveries still queued for it stop)",
    "webhook",
    params=(IS_RESOURCE_NAME,),
    errors=(400, 403, 404),
)
def delete_webhook_policy(svc: ManagementDependencies, req: Request, project_name_or_id: str, webhook_policy_id: int) -> Response:
    project = project_for(svc, req, project_name_or_id, "webhook.write")
    if not svc.webhooks.delete(project.name, webhook_policy_id):
        raise NotFound(f"webhook policy {webhook_policy_id} not found")
    return Response.empty(200)


@operation(
    "GetSupportedEventTypes",
    "The event types, notify types and payload formats a policy may name",
    "webhook",
    response=SUPPORTED,
    params=(IS_RESOURCE_NAME,),
    errors=(400, 403, 404),
)
def get_supported_event_types(svc: ManagementDependencies, req: Request, project_name_or_id: str) -> Response:
    project_for(svc, req, project_name_or_id, "webhook.read")
    return Response.json(
        200,
        {
            "event_type": list(rules.EVENT_TYPES),
            "notify_type": list(rules.NOTIFY_TYPES),
            "payload_formats": [{"notify_type": k, "formats": list(v)} for k, v in rules.PAYLOAD_FORMATS.items()],
        },
    )


# -- the delivery log ---------------------------------------------------------------------------
@operation(
    "ListExecutionsOfWebhookPolicy",
    "A policy's deliveries, newest first: one execution per event (kept 30 days)",
    "webhook",
    response={"type": "array", "items": EXECUTION},
    params=(IS_RESOURCE_NAME, *PAGING),
    errors=(400, 403, 404),
    paged=True,
)
def list_executions(svc: ManagementDependencies, req: Request, project_name_or_id: str, webhook_policy_id: int) -> Response:
    project = project_for(svc, req, project_name_or_id, "webhook.read")
    _policy(svc, project, webhook_policy_id)
    page = paging.page_args(req)
    conditions = paging.query_args(req, ("status", "id"))
    fields = {"status": lambda r: r.status, "id": lambda r: str(r.execution_id)}
    # a page from the newest 1,000 (Harbor's console shows the latest ones)
    runs = paging.filtered(svc.webhooks.executions(project.name, webhook_policy_id, limit=1000), conditions, fields)
    return paging.paged(req, runs, render_execution, page)


@operation(
    "ListTasksOfWebhookExecution",
    "The tasks of one execution: one per target, with attempts, response code and duration",
    "webhook",
    response={"type": "array", "items": TASK},
    params=(IS_RESOURCE_NAME, *PAGING),
    errors=(400, 403, 404),
    paged=True,
)
def list_tasks(svc: ManagementDependencies, req: Request, project_name_or_id: str, webhook_policy_id: int, execution_id: int) -> Response:
    project = project_for(svc, req, project_name_or_id, "webhook.read")
    run = _execution(svc, project, webhook_policy_id, execution_id)
    tasks = sorted(run.tasks.items(), key=lambda kv: int(kv[0]))
    return paging.paged(req, tasks, lambda kv: render_task(run, kv[0], kv[1]))


@operation(
    "GetLogsOfWebhookTask",
    "One task's log, as text",
    "webhook",
    response=string(),
    params=(IS_RESOURCE_NAME,),
    errors=(400, 403, 404),
    content_type="text/plain",
)
def get_task_log(svc: ManagementDependencies, req: Request, project_name_or_id: str, webhook_policy_id: int, execution_id: int, task_id: int) -> Response:
    project = project_for(svc, req, project_name_or_id, "webhook.read")
    run = _execution(svc, project, webhook_policy_id, execution_id)
    task = run.tasks.get(str(task_id))
    if task is None:
        raise NotFound(f"task {task_id} not found")
    lines = [
        f"event {run.event_id} ({run.event_type}) to {task.get('address', '')} [{task.get('notify_type', '')}, {task.get('payload_format', '')}]",
        f"status: {task.get('status', '')} after {int(task.get('run_count', 0))} attempt(s)",
    ]
    if task.get("status_code") is not None:
        lines.append(f"last response: {int(task['status_code']) or 'none'} in {int(task.get('duration_ms', 0))} ms")
    if task.get("status_message"):
        lines.append(f"message: {task['status_message']}")
    body = ("\n".join(lines) + "\n").encode()
    return Response(200, {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body))}, body)


@operation(
    "TestWebhookPolicyOfProject",
    "Berth: send a test PUSH_ARTIFACT event to targets now and answer what each said",
    "webhook",
    body=TEST_IN,
    response=TEST_OUT,
    params=(IS_RESOURCE_NAME,),
    errors=(400, 403, 404),
)
def test_webhook_policy(svc: ManagementDependencies, req: Request, project_name_or_id: str, body: dict) -> Response:
    project = project_for(svc, req, project_name_or_id, "webhook.write")
    if "policy_id" in body:
        policy = _policy(svc, project, body["policy_id"])
        chosen = policy.targets
        policy_id = policy.policy_id
    elif body.get("targets"):
        chosen, policy_id = _targets(svc, req, body["targets"], ()), 0
    else:
        raise BadRequest("give targets or policy_id")
    now = svc.clock()
    event = new_event(
        ARTIFACT_PUSHED,
        "/berth/webhook-test",
        f"{project.name}/webhook-test:test",
        {"repository": f"{project.name}/webhook-test", "project": project.name, "reference": "test",
         "tag": "test", "digest": "sha256:" + "0" * 64, "operator": caller(req).name, "via": "test"},
        at=now,
        id=new_id(),
    )
    info = ProjectInfo(project.name, project.project_id, project.public)
    host = _registry_host(svc, req)

    def send(target: Target) -> dict:
        headers, payload = request_for(event, info, policy_id, target, host, attempt=1, now=now)
        headers["X-Berth-Test"] = "true"
        outcome = svc.webhook_sender.post(target.address, headers, payload, verify_tls=not target.skip_cert_verify)
        return {"address": rules.safe_address(target.address), "status_code": outcome.status_code,
                "duration_ms": outcome.duration_ms, "error": outcome.error}

    # side by side: the call takes one receiver's timeout at most, within the gateway's 29 s
    with ThreadPoolExecutor(max_workers=len(chosen)) as pool:
        results = list(pool.map(send, chosen))
    return Response.json(200, results)


# -- helpers -----------------------------------------------------------------------------------
def _policy(svc: ManagementDependencies, project: Project, policy_id: int) -> Policy:
    policy = svc.webhooks.get(project.name, policy_id)
    if policy is None:
        raise NotFound(f"webhook policy {policy_id} not found")
    return policy


def _execution(svc: ManagementDependencies, project: Project, policy_id: int, execution_id: int) -> Execution:
    _policy(svc, project, policy_id)
    run = svc.webhooks.execution(project.name, policy_id, execution_id)
    if run is None:
        raise NotFound(f"execution {execution_id} not found")
    return run


def _event_types(values: list[str]) -> tuple[str, ...]:
    unknown = [v for v in values if v not in rules.EVENT_TYPES]
    if unknown:
        raise BadRequest(f"event type {unknown[0][:64]} is not one of {', '.join(rules.EVENT_TYPES)}")
    return tuple(dict.fromkeys(values))


def _targets(svc: ManagementDependencies, req: Request, values: list[dict], stored: tuple[Target, ...]) -> tuple[Target, ...]:
    by_address = {t.address: t for t in stored}
    out: list[Target] = []
    for value in values:
        notify_type = value.get("type") or "http"
        try:
            address = rules.check_address(value["address"].strip(), svc.settings.public_url or _request_origin(req))
            payload_format = rules.check_format(notify_type, value.get("payload_format") or "Default")
            old = by_address.get(address)
            auth_header = _secret(value.get("auth_header"), old.auth_header if old else "")
            rules.check_auth_header(auth_header)
            signing_secret = _secret(value.get("signing_secret"), old.signing_secret if old else "")
        except ValueError as exc:
            raise BadRequest(f"target {len(out) + 1}: {exc}") from None
        out.append(Target(notify_type, address, auth_header, bool(value.get("skip_cert_verify", False)),
                          payload_format, signing_secret))
    return tuple(out)


def _secret(given: str | None, stored: str) -> str:
    """A secret as sent: "******" (what GET answers) or absent keeps the stored one."""
    if given is None or given == MASK:
        return stored
    return given


def _request_origin(req: Request) -> str:
    host = req.header("Host") or ""
    return f"{req.scheme}://{host}" if host else ""


def _registry_host(svc: ManagementDependencies, req: Request) -> str:
    return urlsplit(svc.settings.public_url).netloc if svc.settings.public_url else (req.header("Host") or "")
