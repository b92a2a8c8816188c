"""The audit log: /audit-logs (system administrators) and /projects/{p}/logs
(members with log.read), and `record_change`, which the dispatcher calls once
for every successful change made through this API that no domain event carries
(chalicelib/audit.py records). The changes an event of their own transaction carries
(an artifact copied or deleted, a tag created or deleted, a project created or deleted), and pushes, pulls and deletes
through /v2, are entered by the domain events' audit consumer (chalicelib/events/audit.py),
in the same words: docs/decisions/audit-entries.md.

Reads pick the narrowest partition the query names (user, operation, project,
else the days of the time range; chalicelib/meta/audit.py) and filter the rest.
"""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

from chalicelib import audit
from chalicelib.management import paging
from chalicelib.management.access import find_project, require, require_admin
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import BadRequest, NotFound
from chalicelib.management.schema import DATE_TIME, integer, string
from chalicelib.management.spec import PAGING, operation
from chalicelib.management.times import iso
from chalicelib.meta.audit import AuditEntry
from chalicelib.web.http import Request, Response

AUDIT_LOG: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": integer(),
        "username": string(),
        "resource": string(),
        "resource_type": string(),
        "operation": string(),
        "op_time": DATE_TIME,
    },
    "required": ["id", "username", "resource", "resource_type", "operation", "op_time"],
}
_KEYS = ("username", "operation", "resource_type", "resource", "op_time", "project")
_FIELDS = {
    "username": lambda e: e.username,
    "operation": lambda e: e.operation,
    "resource_type": lambda e: e.resource_type,
    "resource": lambda e: e.resource,
    "project": lambda e: e.project or "",
    "op_time": lambda e: e.op_time,
}
_METHOD_OPERATIONS = {"POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}
AUDIT_LOG_EXT = {
    "type": "object",
    "properties": {
        **AUDIT_LOG["properties"],
        "operation_description": string(),
        "operation_result": {"type": "boolean"},
        "source_ip": string(description="Berth's addition: where the request came from"),
    },
    "required": [*AUDIT_LOG["required"], "operation_description", "operation_result"],
}


def render(entry: AuditEntry) -> dict:
    return {
        "id": entry.id,
        "username": entry.username,
        "resource": entry.resource,
        "resource_type": entry.resource_type,
        "operation": entry.operation,
        "op_time": iso(entry.op_time),
    }


def render_ext(entry: AuditEntry) -> dict:
    """Harbor's AuditLogExt (the audit log of Harbor 2.13+): failures included."""
    where = f" from {entry.source_ip}" if entry.source_ip else ""
    verb = entry.operation if entry.succeeded else f"failed {entry.operation}"
    return {
        **render(entry),
        "operation_description": f"{verb} {entry.resource_type} {entry.resource}{where}",
        "operation_result": entry.succeeded,
        "source_ip": entry.source_ip,
    }


# -- reading ------------------------------------------------------------------------------------
def _log_operation(operation_id: str, summary: str, tag: str, *, ext: bool, in_project: bool):
    return operation(
        operation_id,
        summary,
        tag,
        response={"type": "array", "items": AUDIT_LOG_EXT if ext else AUDIT_LOG},
        params=PAGING,
        errors=(400, 403, 404) if in_project else (400, 403),
        paged=True,
    )


_FILTERS = "q: username, operation, resource_type, resource, project, op_time=[from~to]"
_EXT = "with each operation's description and result (failed logins included)"


@_log_operation("listAuditLogs", f"The audit log, newest first; {_FILTERS}", "auditlog", ext=False, in_project=False)
def list_audit_logs(svc: ManagementDependencies, req: Request) -> Response:
    require_admin(req)
    return _answer(svc, req, None)


@_log_operation("listAuditLogExts", f"The audit log {_EXT}, newest first", "auditlog", ext=True, in_project=False)
def list_audit_log_exts(svc: ManagementDependencies, req: Request) -> Response:
    require_admin(req)
    return _answer(svc, req, None, ext=True)


@_log_operation("getLogs", "A project's audit log, newest first (log.read)", "project", ext=False, in_project=True)
def get_logs(svc: ManagementDependencies, req: Request, project_name: str) -> Response:
    return _answer(svc, req, _readable_project(svc, req, project_name))


@_log_operation("getLogExts", f"A project's audit log {_EXT} (log.read)", "project", ext=True, in_project=True)
def get_log_exts(svc: ManagementDependencies, req: Request, project_name: str) -> Response:
    return _answer(svc, req, _readable_project(svc, req, project_name), ext=True)


def _readable_project(svc: ManagementDependencies, req: Request, project_name: str) -> str:
    project = find_project(svc, req, project_name, by_name=True)
    require(svc, req, project, "log.read")
    return project.name


def _answer(svc: ManagementDependencies, req: Request, project: str | None, *, ext: bool = False) -> Response:
    page = paging.page_args(req)
    conditions = paging.query_args(req, _KEYS)
    if project is not None:
        conditions["project"] = paging.Condition("exact", (project,))
    timed = "op_time" in conditions
    since, until = _time_range(svc, conditions.pop("op_time", None))
    log = svc.audit
    if not timed and set(conditions) <= {"project"} and paging.by_key_order(req, "-op_time"):
        # newest first is the store's order: a page reads its entries, the total is the
        # days' counters (whole days: the oldest day's total may include what just expired)
        source = log.newest_first(project=project, since=since, until=until, with_failed=ext)
        total = log.total(project=project, since=since, until=until, with_failed=ext)
        return paging.keyed(req, source, total, lambda shown: [(render_ext if ext else render)(e) for e in shown], page)
    exact = {k: c.values[0] for k, c in conditions.items() if c.op == "exact" and k in ("project", "username", "operation")}
    entries = log.matching(**exact, since=since, until=until)
    if not ext:  # Harbor's classic log has successful operations only
        entries = [e for e in entries if e.succeeded]
    entries = paging.filtered(entries, conditions, _FIELDS)
    order = paging.sort_args(req, ("op_time", "username", "operation"), "-op_time")
    entries = paging.sorted_by(entries, order + [("op_time", True)], _FIELDS)
    return paging.paged(req, entries, render_ext if ext else render, page)


_TIME_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%dT%H:%M:%S.%fZ", "%Y-%m-%d")


def _time_range(svc: ManagementDependencies, condition: paging.Condition | None) -> tuple[float, float]:
    """[since, until] in epoch seconds; the retention period by default."""
    now = svc.clock()
    since, until = now - svc.audit.retention_seconds(), now
    if condition is None:
        return since, until
    if condition.op != "range":
        raise BadRequest("op_time takes a range: op_time=[from~to]")
    low, high = (_moment(v) if v else None for v in condition.values)
    if low is not None and high is not None and low > high:
        raise BadRequest("op_time's range ends before it starts")
    # outside the retention period there is nothing: an empty range, an empty answer
    return max(since, low) if low is not None else since, min(until, high) if high is not None else until


def _moment(text: str) -> float:
    text = text.strip()
    if re.fullmatch(r"[0-9]{1,12}", text):
        return float(text)
    for fmt in _TIME_FORMATS:
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC).timestamp()
        except ValueError:
            continue
    raise BadRequest(f"op_time {text[:40]!r} is not a time (use 2006-01-02 15:04:05)")


# -- writing: the entry for a change made through this API (recorded by chalicelib/audit.py) ----
def record_change(svc: ManagementDependencies, req: Request, route, params: dict, body: dict | None) -> None:
    """The entry for a successful POST, PUT, PATCH or DELETE of this API (a route whose
    change its event enters is not `audited`: management/routes.py)."""
    principal = req.identity
    username = principal.name if principal is not None else (body or {}).get("username", "")
    project = _project(svc, req, params, body)
    kind = {"update_configurations": "configuration"}.get(route.name, route.operation.tag)
    audit.record(
        svc,
        AuditEntry(
            username=username,
            operation=_METHOD_OPERATIONS[req.method],
            resource_type=kind,
            resource=_resource(route, params, body, project),
            project=project,
            source_ip=req.source_ip,
        ),
    )


def _project(svc: ManagementDependencies, req: Request, params: dict, body: dict | None) -> str | None:
    if "project_name" in params:
        return str(params["project_name"])
    if "project_name_or_id" in params:
        try:
            return find_project(svc, req, str(params["project_name_or_id"])).name
        except BadRequest:
            return None
        except NotFound:  # gone meanwhile (its deletion is entered from its event)
            return str(params["project_name_or_id"])
    if body and isinstance(body.get("project_name"), str):
        return body["project_name"]
    permissions = (body or {}).get("permissions")
    if (body or {}).get("level") == "project" and permissions:
        return permissions[0].get("namespace")
    return None


def _resource(route, params: dict, body: dict | None, project: str | None) -> str:
    body = body or {}
    if "repository_name" in params:
        name = f"{params['project_name']}/{params['repository_name']}"
        if "reference" in params:
            reference = str(params["reference"])
            return f"{name}@{reference}" if ":" in reference else f"{name}:{reference}"
        return name
    if "mid" in params:
        return f"{project}/members/{params['mid']}"
    if route.name == "create_project_member":
        who = body.get("member_user") or body.get("member_group") or {}
        return f"{project}/{who.get('username') or who.get('ldap_group_dn') or who.get('user_id', '')}"
    if "user_id" in params:
        return f"user {params['user_id']}"
    if "robot_id" in params:
        return f"robot {params['robot_id']}"
    if route.name in ("create_robot", "create_label"):
        return str(body.get("name", ""))
    if "label_id" in params:
        return f"label {params['label_id']}"
    if route.name == "create_user":
        return str(body.get("username", ""))
    if route.name == "update_configurations":  # the keys changed, never their values
        return "configurations: " + ", ".join(sorted(body)) if body else "configurations"
    return project or route.template
