"""/system/gc: Harbor's garbage collection API, for system administrators. A run's
history (paged), one run, its log, stop it; the schedule (Hourly, Daily, Weekly, Custom
with Harbor's 6-field cron; None removes it; Manual starts a run now) with its parameters
`delete_untagged`, `dry_run` and `workers`. What a run does: chalicelib/gc.py and
docs/lifecycle.md.
"""
from __future__ import annotations

import json
import time

from chalicelib import gc
from chalicelib.management import paging
from chalicelib.management.access import require_admin
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import BadRequest, NotFound
from chalicelib.management.schema import DATE_TIME, boolean, integer, string
from chalicelib.management.spec import PAGE, PAGE_SIZE, QUERY, Param, operation
from chalicelib.management.times import iso
from chalicelib.meta.gc import Run, Schedule
from chalicelib.web.http import Request, Response

# Harbor's presets (its console's): the cron each type stands for
PRESETS = {"Hourly": "0 0 * * * *", "Daily": "0 0 0 * * *", "Weekly": "0 0 0 * * 0"}
TYPES = ("Hourly", "Daily", "Weekly", "Custom", "Manual", "None", "Schedule")
JOB_NAME = "GARBAGE_COLLECTION"

SCHEDULE_OBJ = {
    "type": "object",
    "properties": {
        "type": string(enum=list(TYPES), description="Manual: run now; None: no schedule; the others: when to run"),
        "cron": string(description="Harbor's 6 fields: second minute hour day month weekday"),
        "next_scheduled_time": DATE_TIME,
    },
}
GC_HISTORY = {
    "type": "object",
    "properties": {
        "id": integer(),
        "job_name": string(),
        "job_kind": string(description="MANUAL or SCHEDULE"),
        "job_parameters": string(description="the run's parameters and what it freed, as JSON"),
        "schedule": SCHEDULE_OBJ,
        "job_status": string(description="Pending, Running, Success, Error or Stopped"),
        "deleted": boolean(),
        "creation_time": DATE_TIME,
        "update_time": DATE_TIME,
    },
}
SCHEDULE = {
    "type": "object",
    "properties": {
        "id": integer(),
        "status": string(),
        "creation_time": DATE_TIME,
        "update_time": DATE_TIME,
        "schedule": SCHEDULE_OBJ,
        "parameters": {"type": "object", "additionalProperties": True},
    },
}
SCHEDULE_BODY = {
    "type": "object",
    "properties": {
        "schedule": {
            "type": "object",
            "properties": {"type": string(), "cron": string(), "next_scheduled_time": string()},
        },
        "parameters": {"type": "object", "additionalProperties": True},
        "id": integer(),
        "status": string(),
        "creation_time": string(),
        "update_time": string(),
    },
    "required": ["schedule"],
}


def render(run: Run) -> dict:
    kind = run.trigger.upper()
    parameters = dict(run.parameters)
    return {
        "id": run.run_id,
        "job_name": JOB_NAME,
        "job_kind": kind,
        "job_parameters": json.dumps({**parameters, **{f"freed_{k}": v for k, v in run.counts.items()}}, sort_keys=True),
        "schedule": {"type": kind},
        "job_status": run.status,
        "deleted": False,
        "creation_time": iso(run.created),
        "update_time": iso(run.updated),
    }


def render_schedule(schedule: Schedule | None) -> dict:
    if schedule is None:
        return {}
    return {
        "id": 1,
        "job_name": JOB_NAME,
        "job_kind": "SCHEDULE",
        "job_parameters": json.dumps(schedule.parameters, sort_keys=True),
        "schedule": {"type": schedule.type, "cron": schedule.cron, "next_scheduled_time": next_time(schedule.cron)},
        "job_status": "Scheduled",
        "deleted": False,
        "creation_time": iso(schedule.created),
        "update_time": iso(schedule.updated),
    }


def next_time(cron: str, now: float | None = None) -> str:
    from datetime import UTC, datetime

    from croniter import croniter

    start = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return croniter(cron, start, second_at_beginning=True).get_next(datetime).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_cron(cron: str) -> None:
    """Harbor's 6 fields, seconds first; croniter checks ranges, steps and names."""
    from croniter import croniter

    if not isinstance(cron, str) or not cron.strip():
        raise BadRequest("invalid cron string for scheduled gc: the cron string cannot be empty")
    if len(cron.split()) != 6 or not croniter.is_valid(cron, second_at_beginning=True):
        raise BadRequest(f"invalid cron string for scheduled gc: {cron[:64]} (6 fields: second minute hour day month weekday)")


def _parameters(body: dict) -> dict:
    raw = body.get("parameters")
    if raw is not None and not isinstance(raw, dict):
        raise BadRequest("parameters must be an object")
    try:
        return gc.parameters_of(raw)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None


def _kick(svc: ManagementDependencies, body: dict) -> Run | None:
    """Harbor's: Manual starts a run; None removes the schedule; the others set it."""
    schedule = body.get("schedule") or {}
    if not isinstance(schedule, dict):
        raise BadRequest("schedule must be an object")
    kind = schedule.get("type")
    if kind not in TYPES:
        raise BadRequest(f"schedule type must be one of {', '.join(TYPES)}")
    parameters = _parameters(body)
    if kind == "Manual":
        return gc.start(svc, gc.MANUAL, parameters)
    if kind == "None":
        gc.follow_schedule(svc.schedules, None)
        svc.gc.delete_schedule()
        return None
    cron = PRESETS.get(kind) or schedule.get("cron") or ""
    check_cron(cron)
    try:
        # EventBridge Scheduler keeps it (chalicelib/schedules.py); its job reads the
        # stored parameters when it fires
        gc.follow_schedule(svc.schedules, cron)
    except ValueError as exc:
        raise BadRequest(f"invalid cron string for scheduled gc: {exc}") from None
    svc.gc.set_schedule("Custom" if kind == "Schedule" else kind, cron, parameters)
    return None


@operation(
    "getGCHistory",
    "Garbage collection runs, newest first",
    "gc",
    response={"type": "array", "items": GC_HISTORY},
    params=(QUERY, Param("sort", string(), '"creation_time" or "-creation_time" (the default)'), PAGE, PAGE_SIZE),
    errors=(400, 403),
    paged=True,
)
def get_gc_history(svc: ManagementDependencies, req: Request) -> Response:
    require_admin(req)
    page = paging.page_args(req)
    runs = svc.gc.runs()
    query = req.arg("q") or ""
    for term in filter(None, query.split(",")):
        key, _, value = term.partition("=")
        value = value.lstrip("~")
        if key == "job_status":
            runs = [r for r in runs if r.status == value]
        elif key == "job_kind":
            runs = [r for r in runs if r.trigger.upper() == value.upper()]
        elif key == "id":
            runs = [r for r in runs if str(r.run_id) == value]
        else:
            raise BadRequest(f"cannot query by {key[:32]!r} (job_status, job_kind or id)")
    sort = req.arg("sort") or "-creation_time"
    if sort not in ("creation_time", "-creation_time"):
        raise BadRequest("sort must be creation_time or -creation_time")
    if sort == "creation_time":
        runs.reverse()
    return paging.paged(req, runs, lambda run: render(gc.settle(svc, run)), page)


@operation("getGC", "One garbage collection run", "gc", response=GC_HISTORY, errors=(400, 403, 404))
def get_gc(svc: ManagementDependencies, req: Request, gc_id: int) -> Response:
    require_admin(req)
    return Response.json(200, render(gc.settle(svc, _find(svc, gc_id))))


@operation("getGCLog", "A garbage collection run's log", "gc", response=string(), errors=(400, 403, 404),
           content_type="text/plain")
def get_gc_log(svc: ManagementDependencies, req: Request, gc_id: int) -> Response:
    require_admin(req)
    run = _find(svc, gc_id)
    lines = svc.gc.log_lines(run.run_id)
    body = ("\n".join(lines) + "\n").encode() if lines else b""
    return Response(200, {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body))}, body)


@operation("stopGC", "Stop a garbage collection run", "gc", errors=(400, 403, 404))
def stop_gc(svc: ManagementDependencies, req: Request, gc_id: int) -> Response:
    require_admin(req)
    gc.stop(svc, _find(svc, gc_id))
    return Response.empty(200)


@operation("getGCSchedule", "Garbage collection's schedule (empty: none)", "gc", response=GC_HISTORY, errors=(403,))
def get_gc_schedule(svc: ManagementDependencies, req: Request) -> Response:
    require_admin(req)
    return Response.json(200, render_schedule(svc.gc.schedule()))


@operation(
    "createGCSchedule",
    "Set garbage collection's schedule, or run it now (type Manual: the run's Location)",
    "gc",
    ok=201,
    body=SCHEDULE_BODY,
    location=True,
    errors=(400, 403, 409),
)
def create_gc_schedule(svc: ManagementDependencies, req: Request, body: dict) -> Response:
    require_admin(req)
    run = _kick(svc, body)
    headers = {"Location": f"{paging.API_BASE}/system/gc/{run.run_id}"} if run is not None else {}
    return Response.empty(201, headers)


@operation("updateGCSchedule", "Change garbage collection's schedule (or run it now)", "gc", body=SCHEDULE_BODY,
           errors=(400, 403, 409))
def update_gc_schedule(svc: ManagementDependencies, req: Request, body: dict) -> Response:
    require_admin(req)
    _kick(svc, body)
    return Response.empty(200)


def _find(svc: ManagementDependencies, gc_id: int) -> Run:
    run = svc.gc.get(gc_id)
    if run is None:
        raise NotFound(f"garbage collection {gc_id} not found")
    return run
