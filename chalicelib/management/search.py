"""/search, /statistics and /users/current/permissions: what the caller may see
and do, in Harbor's shapes.

Search and statistics see what the projects list sees (`access.visible`):
everything for a system administrator, public projects and the caller's own
for a user, those its permissions name for a robot. The catalog is read whole
(one Query per 1000 repositories) and grouped by project, as the lists are.
Storage is not metered per project, so `total_storage_consumption` is 0.
"""
from __future__ import annotations

import re
from collections import defaultdict

from chalicelib import roles as rbac
from chalicelib.management import projects as project_api
from chalicelib.management.access import actions, caller, role_in, roles_in, visible
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import BadRequest
from chalicelib.management.schema import boolean, integer, string
from chalicelib.management.spec import Param, operation
from chalicelib.web.http import Request, Response

MAX_QUERY = 255
_CATALOG_PAGE = 1000

SEARCH_REPOSITORY = {
    "type": "object",
    "properties": {
        "project_id": integer(),
        "project_name": string(),
        "project_public": boolean(),
        "repository_name": string(),
        "pull_count": integer(),
        "artifact_count": integer(),
    },
    "required": ["project_id", "project_name", "project_public", "repository_name", "artifact_count"],
}
SEARCH = {
    "type": "object",
    "properties": {
        "project": {"type": "array", "items": project_api.PROJECT},
        "repository": {"type": "array", "items": SEARCH_REPOSITORY},
    },
    "required": ["project", "repository"],
}
_COUNTS = (
    "private_project_count",
    "private_repo_count",
    "public_project_count",
    "public_repo_count",
    "total_project_count",
    "total_repo_count",
    "total_storage_consumption",
)
STATISTIC = {
    "type": "object",
    "properties": {name: integer(minimum=0) for name in _COUNTS},
    "required": list(_COUNTS),
}
PERMISSION = {
    "type": "object",
    "properties": {"resource": string(), "action": string()},
    "required": ["resource", "action"],
}

# each action of rbac.PERMISSIONS as Harbor's project policies: (resource below
# /project/<id>, "" for the project itself; action)
HARBOR_POLICIES: dict[str, tuple[tuple[str, str], ...]] = {
    "pull": (("repository", "pull"),),
    "push": (("repository", "push"),),
    "delete": (("repository", "delete"),),
    "member.read": (("member", "read"), ("member", "list")),
    "member.write": (("member", "create"), ("member", "update"), ("member", "delete")),
    "log.read": (("log", "list"),),
    "project.read": (("", "read"), ("metadata", "read"), ("metadata", "list")),
    "project.write": (("", "update"), ("", "delete"), ("metadata", "create"), ("metadata", "update"), ("metadata", "delete")),
    "repository.read": (
        ("repository", "read"),
        ("repository", "list"),
        ("artifact", "read"),
        ("artifact", "list"),
        ("tag", "list"),
    ),
    "repository.delete": (("repository", "delete"),),
    "artifact.delete": (("artifact", "delete"),),
    "artifact.copy": (("artifact", "create"),),
    "tag.create": (("tag", "create"),),
    "tag.delete": (("tag", "delete"),),
    "robot.read": (("robot", "read"), ("robot", "list")),
    "robot.write": (("robot", "create"), ("robot", "update"), ("robot", "delete")),
    "immutable.read": (("immutable-tag", "list"),),
    "immutable.write": (("immutable-tag", "create"), ("immutable-tag", "update"), ("immutable-tag", "delete")),
    "retention.read": (("tag-retention", "read"), ("tag-retention", "list")),
    "retention.write": (("tag-retention", "create"), ("tag-retention", "update"), ("tag-retention", "delete"),
                        ("tag-retention", "operate")),
    "label.write": (("label", "create"), ("label", "update"), ("label", "delete")),
    "artifact.label": (("artifact-label", "create"), ("artifact-label", "delete")),
    # Harbor's rbac resource for webhook policies
    "webhook.read": (("notification-policy", "read"), ("notification-policy", "list")),
    "webhook.write": (
        ("notification-policy", "create"), ("notification-policy", "update"), ("notification-policy", "delete"),
    ),
}
_PROJECT_SCOPE = re.compile(r"^/project/([0-9]{1,18})/?$")


def _catalog(svc: ManagementDependencies) -> list[str]:
    """Every repository name, in order."""
    names: list[str] = []
    last = None
    while True:
        page, more = svc.meta.list_repositories(last=last, limit=_CATALOG_PAGE)
        names.extend(page)
        if not more or not page:
            return names
        last = page[-1]


def _by_project(names: list[str]) -> dict[str, list[str]]:
    grouped: dict[str, list[str]] = defaultdict(list)
    for name in names:
        project, sep, _ = name.partition("/")
        if sep:
            grouped[project].append(name)
    return grouped


def _artifact_count(svc: ManagementDependencies, repository: str) -> int:
    from chalicelib.artifacts import top_level

    manifests = svc.meta.list_manifests(repository, with_body=False)
    tagged = {digest for _, digest, _ in svc.meta.tag_digests(repository)}
    return len(top_level(manifests, tagged))


@operation(
    "search",
    "Projects and repositories the caller may see whose names contain q",
    "search",
    response=SEARCH,
    params=(Param("q", string(maxLength=MAX_QUERY), "A part of a project's or repository's name", required=True),),
    errors=(400,),
)
def search(svc: ManagementDependencies, req: Request) -> Response:
    caller(req)
    query = req.arg("q")
    if query is None:
        raise BadRequest("q is required")
    if len(query) > MAX_QUERY:
        raise BadRequest(f"q must be at most {MAX_QUERY} characters")
    text = query.strip().lower()
    shown = sorted(visible(svc, req, svc.accounts.all_projects()), key=lambda p: p.name)
    repositories = _by_project(_catalog(svc))
    matching = [p for p in shown if text in p.name.lower()]
    roles = roles_in(svc, req, [p.name for p in matching])
    owners = project_api._owner_ids(svc, {p.owner for p in matching})
    found_projects = [project_api.render(p, roles.get(p.name), len(repositories.get(p.name, ())), owners) for p in matching]
    found_repositories = [
        {
            "project_id": p.project_id,
            "project_name": p.name,
            "project_public": p.public,
            "repository_name": name,
            "pull_count": 0,
            "artifact_count": _artifact_count(svc, name),
        }
        for p in shown
        for name in repositories.get(p.name, ())
        if text in name.lower()
    ]
    return Response.json(200, {"project": found_projects, "repository": found_repositories})


@operation(
    "getStatistic",
    "Counts of the projects and repositories the caller may see",
    "statistic",
    response=STATISTIC,
)
def get_statistic(svc: ManagementDependencies, req: Request) -> Response:
    caller(req)
    shown = visible(svc, req, svc.accounts.all_projects())
    repositories = _by_project(_catalog(svc))
    counts = dict.fromkeys(_COUNTS, 0)
    for project in shown:
        kind = "public" if project.public else "private"
        counts[f"{kind}_project_count"] += 1
        counts[f"{kind}_repo_count"] += len(repositories.get(project.name, ()))
    counts["total_project_count"] = counts["public_project_count"] + counts["private_project_count"]
    counts["total_repo_count"] = counts["public_repo_count"] + counts["private_repo_count"]
    return Response.json(200, counts)


@operation(
    "getCurrentUserPermissions",
    "What the caller may do in a project (scope /project/<id>), as Harbor's resource and action pairs",
    "user",
    response={"type": "array", "items": PERMISSION},
    params=(
        Param("scope", string(maxLength=300), "The scope, /project/<id>"),
        Param("relative", boolean(), "Answer resources relative to the scope"),
    ),
    errors=(400,),
)
def get_current_user_permissions(svc: ManagementDependencies, req: Request) -> Response:
    caller(req)
    relative = _flag(req.arg("relative"), "relative")
    scope = (req.arg("scope") or "").strip()
    found = _PROJECT_SCOPE.match(scope)
    project = svc.accounts.get_project_by_id(int(found[1])) if found else None
    if project is None:  # Harbor: a scope that is not a project's (or an unknown project) grants nothing
        return Response.json(200, [])
    role = role_in(svc, req, project.name)
    base = f"/project/{project.project_id}"
    out: list[dict[str, str]] = []
    seen: set[tuple[str, str]] = set()
    granted = actions(svc, req, project, role=role)
    for action in rbac.PERMISSIONS:
        if action not in granted:
            continue
        for resource, verb in HARBOR_POLICIES[action]:
            if (resource, verb) in seen:
                continue
            seen.add((resource, verb))
            if relative:
                shown = resource or "."
            else:
                shown = f"{base}/{resource}" if resource else base
            out.append({"resource": shown, "action": verb})
    return Response.json(200, out)


def _flag(value: str | None, name: str) -> bool:
    if value is None or value == "":
        return False
    text = value.strip().lower()
    if text in ("1", "t", "true"):
        return True
    if text in ("0", "f", "false"):
        return False
    raise BadRequest(f"{name} must be true or false")
