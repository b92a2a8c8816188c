"""/robots: robot accounts, `robot$<project>+<name>` (project level) and
`robot$<name>` (system level), as Harbor 2's robot API.

The secret is generated here (or given, if strong enough), answered once by
the create or refresh call and stored only as a hash. A creator grants no more
than they hold: a project robot needs a project admin of its project, a system
robot a system administrator.
"""
from __future__ import annotations

import re
import secrets
from typing import cast

from chalicelib.auth.passwords import validate_password_strength
from chalicelib.management import paging
from chalicelib.management.access import allowed, caller, find_project, is_admin, require_admin, require_user
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import BadRequest, Forbidden, NotFound
from chalicelib.management.schema import DATE_TIME, array, boolean, integer, obj, string
from chalicelib.management.spec import PAGING, operation
from chalicelib.management.times import iso
from chalicelib.meta.accounts import NEVER, Project, Robot, robot_full_name
from chalicelib.runtime_config import SETTING
from chalicelib.web.http import Request, Response

NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
DAY = 24 * 3600
MAX_DURATION_DAYS = cast(int, SETTING["robot_token_duration"].maximum)  # bounded in the settings table (runtime_config.py)
ACTIONS = ("pull", "push", "delete", "read", "list", "create", "update", "stop", "operate", "scanner-pull", "*")

ACCESS = obj(
    {
        "resource": string(pattern=r"^[a-z*][a-z-]{0,63}$"),
        "action": string(enum=list(ACTIONS)),
        "effect": string(enum=["allow", "deny"]),
    },
    required=("resource", "action"),
)
PERMISSION = obj(
    {
        "kind": string(enum=["project", "system"]),
        "namespace": string(minLength=1, maxLength=255),
        "access": array(ACCESS, maxItems=100),
    },
    required=("kind", "namespace", "access"),
)
PERMISSIONS = array(PERMISSION, maxItems=100)
DURATION = integer(minimum=-1, maximum=MAX_DURATION_DAYS)
ROBOT_CREATE = obj(
    {
        "name": string(minLength=1, maxLength=255),
        "description": string(maxLength=1024),
        "secret": string(maxLength=128),
        "level": string(enum=["system", "project"]),
        "disable": boolean(),
        "duration": DURATION,
        "permissions": PERMISSIONS,
    },
    required=("name", "level", "permissions"),
)
# PUT carries the whole Robot, as GET answers it; the read-only fields are ignored
ROBOT_UPDATE = obj(
    {
        "id": integer(),
        "name": string(maxLength=512),
        "description": string(maxLength=1024),
        "secret": string(maxLength=128),
        "level": string(enum=["system", "project"]),
        "duration": DURATION,
        "editable": boolean(),
        "disable": boolean(),
        "expires_at": integer(),
        "permissions": PERMISSIONS,
        "creation_time": string(),
        "update_time": string(),
    }
)
ROBOT_SEC = obj({"secret": string(maxLength=128)})
ROBOT = {
    "type": "object",
    "properties": {
        "id": integer(),
        "name": string(),
        "description": string(),
        "level": string(enum=["system", "project"]),
        "duration": integer(),
        "editable": boolean(),
        "disable": boolean(),
        "expires_at": integer(),
        "permissions": array(PERMISSION),
        "creation_time": DATE_TIME,
        "update_time": DATE_TIME,
    },
    "required": ["id", "name", "level", "disable", "expires_at", "permissions"],
}
ROBOT_CREATED = {
    "type": "object",
    "properties": {
        "id": integer(),
        "name": string(),
        "secret": string(),
        "creation_time": DATE_TIME,
        "expires_at": integer(),
    },
    "required": ["id", "name", "secret", "expires_at"],
}
SECRET = {"type": "object", "properties": {"secret": string()}, "required": ["secret"]}


def render(robot: Robot) -> dict:
    return {
        "id": robot.robot_id,
        "name": robot.full_name,
        "description": robot.description or "",
        "level": robot.level,
        "duration": _duration(robot),
        "editable": True,
        "disable": bool(robot.disabled),
        "expires_at": int(robot.expiry),
        "permissions": robot.access,
        "creation_time": iso(robot.created),
        "update_time": iso(robot.updated),
    }


def _duration(robot: Robot) -> int:
    return NEVER if robot.expiry == NEVER else max(0, (int(robot.expiry) - int(robot.created)) // DAY)


# -- handlers --------------------------------------------------------------------------------
@operation(
    "CreateRobot",
    "Create a robot account; its secret is in this answer only",
    "robot",
    ok=201,
    body=ROBOT_CREATE,
    response=ROBOT_CREATED,
    location=True,
    errors=(400, 403, 404, 409),
)
def create_robot(svc: ManagementDependencies, req: Request, body: dict) -> Response:
    require_user(req)
    if not NAME.match(body["name"]):
        raise BadRequest("name must be lower case letters and digits, with single '.', '_' or '-' between them")
    permissions = body["permissions"]
    project = _authorize_grant(svc, req, body["level"], permissions)
    secret = _new_secret(body.get("secret"))
    now = int(svc.clock())
    robot = svc.accounts.create_robot(
        Robot(
            full_name=robot_full_name(body["name"], project.name if project else None),
            secret_hash=svc.passwords.hash(secret),
            level=body["level"],
            project=project.name if project else None,
            permissions=permissions,
            description=body.get("description", ""),
            expiry=_expiry(svc, now, body.get("duration")),
            disabled=bool(body.get("disable", False)),
            creator=caller(req).name,
            created=now,
        )
    )
    created = {
        "id": robot.robot_id,
        "name": robot.full_name,
        "secret": secret,
        "creation_time": iso(robot.created),
        "expires_at": int(robot.expiry),
    }
    return Response.json(201, created, {"Location": f"{paging.API_BASE}/robots/{robot.robot_id}", "Cache-Control": "no-store"})


_FIELDS = {
    "name": lambda r: r.full_name,
    "Level": lambda r: r.level,
    "level": lambda r: r.level,
    "id": lambda r: r.robot_id,
    "creation_time": lambda r: r.created,
    "update_time": lambda r: r.updated,
}


@operation(
    "ListRobot",
    "List robot accounts: all for a system administrator, a project's (q=Level=project,ProjectID=<id>) for its admins and maintainers",
    "robot",
    response={"type": "array", "items": ROBOT},
    params=PAGING,
    errors=(400, 403, 404),
    paged=True,
)
def list_robot(svc: ManagementDependencies, req: Request) -> Response:
    require_user(req)
    page = paging.page_args(req)
    conditions = paging.query_args(req, ("name", "Level", "level", "ProjectID", "project_id"))
    by_id = [conditions.pop(k) for k in ("ProjectID", "project_id") if k in conditions]
    project_condition = by_id[0] if by_id else None
    project = None
    if project_condition is not None:
        if project_condition.op != "exact":
            raise BadRequest("ProjectID takes one project id")
        project = find_project(svc, req, project_condition.values[0])
    if project is None and not is_admin(req):
        raise Forbidden("only a system administrator may list all robot accounts; name a project with q=ProjectID=<id>")
    if project is not None and not allowed(svc, req, project, "robot.read"):
        raise Forbidden(f"you may not see the robot accounts of project {project.name}")
    order = paging.sort_args(req, ("name", "id", "creation_time", "update_time"), "name")
    level = [c for k, c in conditions.items() if k.lower() == "level"]
    serves_level = not level or (len(level) == 1 and project is not None and level[0].values[0] == "project")
    if paging.by_key_order(req, "name", ("Level", "level", "ProjectID", "project_id")) and serves_level:
        # Harbor's order (name): a project's robots share a prefix of the listing
        total = svc.accounts.robot_count(project.name if project else None)
        source = svc.accounts.robots_in_order(project.name if project else None)
        return paging.keyed(req, source, total, lambda shown: [render(r) for r in shown], page)
    robots = _all_robots(svc, project.name if project else None)
    if project is not None:
        robots = [r for r in robots if r.level == "project"]
    robots = paging.sorted_by(paging.filtered(robots, conditions, _FIELDS), order, _FIELDS)
    return paging.paged(req, robots, render, page)


@operation("GetRobotByID", "A robot account (never its secret)", "robot", response=ROBOT, errors=(400, 403, 404))
def get_robot_by_id(svc: ManagementDependencies, req: Request, robot_id: int) -> Response:
    return Response.json(200, render(_robot_for(svc, req, robot_id, "robot.read")))


@operation(
    "UpdateRobot",
    "Change a robot's description, disable flag, duration or permissions",
    "robot",
    body=ROBOT_UPDATE,
    errors=(400, 403, 404),
)
def update_robot(svc: ManagementDependencies, req: Request, robot_id: int, body: dict) -> Response:
    robot = _robot_for(svc, req, robot_id, "robot.write")
    if body.get("level") not in (None, robot.level):
        raise BadRequest("a robot's level cannot change")
    if body.get("name") not in (None, robot.full_name, robot.short_name):
        raise BadRequest("a robot cannot be renamed")
    changes: dict = {}
    if "permissions" in body:
        _authorize_grant(svc, req, robot.level, body["permissions"], project_name=robot.project)
        changes["permissions"] = body["permissions"]
    if "description" in body:
        changes["description"] = body["description"]
    if "disable" in body:
        changes["disabled"] = bool(body["disable"])
    if "duration" in body:
        changes["expiry"] = _expiry(svc, int(robot.created), body["duration"])
    if changes:
        svc.accounts.update_robot(robot.full_name, **changes)
    return Response.empty(200)


@operation(
    "RefreshSec",
    "A new secret for a robot: the one given (if strong enough) or a generated one",
    "robot",
    body=ROBOT_SEC,
    response=SECRET,
    errors=(400, 403, 404),
)
def refresh_sec(svc: ManagementDependencies, req: Request, robot_id: int, body: dict) -> Response:
    principal = caller(req)
    robot = _robot_by_id(svc, robot_id)
    if not (principal.kind == "robot" and principal.name == robot.full_name):
        robot = _robot_for(svc, req, robot_id, "robot.write")
    secret = _new_secret(body.get("secret"))
    svc.accounts.update_robot(robot.full_name, secret_hash=svc.passwords.hash(secret))
    return Response.json(200, {"secret": secret}, {"Cache-Control": "no-store"})


@operation("DeleteRobot", "Delete a robot account", "robot", errors=(400, 403, 404))
def delete_robot(svc: ManagementDependencies, req: Request, robot_id: int) -> Response:
    robot = _robot_for(svc, req, robot_id, "robot.write")
    svc.accounts.delete_robot(robot.full_name)
    return Response.empty(200)


# -- rules ------------------------------------------------------------------------------------
def _authorize_grant(svc: ManagementDependencies, req: Request, level: str, permissions: list[dict], *, project_name: str | None = None) -> Project | None:
    """The robot's project (None for a system robot), once the caller is known to
    hold what the permissions grant. A project robot's permissions name its own
    project, once (Harbor's rule)."""
    if level == "system":
        require_admin(req)
        for permission in permissions:
            if permission["kind"] == "project" and permission["namespace"] != "*":
                find_project(svc, req, permission["namespace"], by_name=True)
        return None
    if len(permissions) != 1 or permissions[0]["kind"] != "project":
        raise BadRequest("a project robot has exactly one permission, of kind project")
    namespace = permissions[0]["namespace"]
    if project_name is not None and namespace != project_name:
        raise BadRequest(f"a project robot's permission names its own project, {project_name}")
    project = find_project(svc, req, namespace, by_name=True)
    if not allowed(svc, req, project, "robot.write"):
        raise Forbidden(f"only a project admin of {project.name} may grant permissions in it")
    return project


def _new_secret(given: str | None) -> str:
    if given:
        problem = validate_password_strength(given)
        if problem:
            raise BadRequest(f"secret: {problem}")
        return given
    return secrets.token_urlsafe(24)


def _expiry(svc: ManagementDependencies, created: int, duration: int | None) -> int:
    if duration == NEVER:
        return NEVER
    days = duration if duration else int(svc.runtime_config.typed("robot_token_duration"))
    return created + max(1, min(days, MAX_DURATION_DAYS)) * DAY


def _robot_by_id(svc: ManagementDependencies, robot_id: int) -> Robot:
    robot = svc.accounts.get_robot_by_id(robot_id) if 0 < robot_id < 2**63 else None
    if robot is None:
        raise NotFound(f"robot {robot_id} not found")
    return robot


def _robot_for(svc: ManagementDependencies, req: Request, robot_id: int, action: str) -> Robot:
    """The robot, if the caller may do `action` to it: system robots are a system
    administrator's, project robots their project's admins' (maintainers read)."""
    require_user(req)
    robot = _robot_by_id(svc, robot_id)
    if is_admin(req):
        return robot
    if robot.level == "project" and robot.project:
        project = svc.accounts.get_project(robot.project)
        if project is not None and allowed(svc, req, project, action):
            return robot
    raise Forbidden("you may not manage this robot account")


def _all_robots(svc: ManagementDependencies, project: str | None) -> list[Robot]:
    out: list[Robot] = []
    last = None
    while True:
        page, more = svc.accounts.list_robots(project=project, last=last, limit=100)
        out.extend(page)
        if not more or not page:
            return out
        last = page[-1].full_name

