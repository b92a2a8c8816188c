"""Projects: the rules for creating and deleting one, the same whoever asks —
`POST /api/v2.0/projects`, or a system administrator's first push into a project
that does not exist yet (the token service creates it, as ECR's create-on-push).

- A name is Harbor's: 1-255 lower-case letters and digits with single `.`, `_` or
  `-` between them; `service`, `api` and `ui` are paths under /v2, not projects.
- The creator becomes the project's admin; the creation's project.created event, written in
  its transaction, is what the audit log enters (chalicelib/events/audit.py).
- A project that still holds repositories is not deleted.
"""
from __future__ import annotations

import logging
import re

from chalicelib.dependencies import DomainDependencies
from chalicelib.errors import BerthError, InvalidName
from chalicelib.meta.accounts import AccountNotFound, Project

logger = logging.getLogger("berth.projects")

NAME = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*")
MAX_NAME = 255
RESERVED = frozenset({"service", "api", "ui"})  # paths under /v2 that are not repositories


class ProjectNotEmpty(BerthError):
    """the project still holds repositories; delete them first"""


def check_name(name: str) -> str:
    if not 1 <= len(name) <= MAX_NAME or not NAME.fullmatch(name):
        raise InvalidName(
            "project_name must be 1-255 lower case letters and digits, with single '.', '_' or '-' between them"
        )
    if name in RESERVED:
        raise InvalidName(f"project_name {name!r} is reserved")
    return name


def is_valid_name(name: str) -> bool:
    try:
        check_name(name)
    except InvalidName:
        return False
    return True


def create(svc: DomainDependencies, name: str, creator: str, *, public: bool = False, metadata: dict | None = None,
           registry_id: int = 0) -> Project:
    """Create the project with `creator` as its admin. Conflict if it exists. `registry_id`:
    a proxy cache project of that upstream registry (chalicelib/proxy_cache.py)."""
    new = Project(name=check_name(name), public=public, owner=creator, metadata=dict(metadata or {}),
                  registry_id=registry_id)
    try:
        # the project and its creator as project admin in one transaction: no fault leaves a
        # project nobody administers (docs/faults.md)
        project = svc.accounts.create_project(new, admin=creator)
    except AccountNotFound:
        # the bootstrap admin without an account item yet: the project, for administrators
        project = svc.accounts.create_project(new)
    logger.info("project created", extra={"project": name, "user": creator})
    return project


def repository_count(svc: DomainDependencies, name: str) -> int:
    return len(svc.meta.repositories(name + "/"))


def delete(svc: DomainDependencies, project: Project) -> None:
    count = repository_count(svc, project.name)
    if count:
        raise ProjectNotEmpty(f"project {project.name} still holds {count} repositories; delete them first")
    # its tag rules and quota go in the same transaction: a project made again under the
    # name starts without them, and a fault never leaves them behind a deleted project
    also = [svc.immutable_rules.removal(project.name), svc.quotas.removal(project.name)]
    retention_id = str(project.metadata.get("retention_id") or "")
    if retention_id.isdigit():  # its retention policy goes with it too
        also.append(svc.retention.removal(int(retention_id)))
    svc.accounts.delete_project(project.name, also=also)
    if retention_id.isdigit():
        from chalicelib.retention import scheduled

        # after the project: a schedule a fault leaves behind removes itself when it fires
        scheduled.forget(svc.schedules, int(retention_id))
