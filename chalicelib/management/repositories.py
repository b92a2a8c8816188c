"""/projects/{p}/repositories: the repositories of a project, from the
registry's catalog (one Query on the names that start with "<project>/").

`repository_name` is the name below the project, percent-encoded by Harbor's
clients when it has slashes (`a%2Fb`, or twice: `a%252Fb`); routes.py decodes it.
"""
from __future__ import annotations

from chalicelib import artifacts
from chalicelib.management import paging
from chalicelib.management.access import find_project, require
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import NotFound
from chalicelib.management.ids import stable_id
from chalicelib.management.schema import DATE_TIME, integer, string
from chalicelib.management.spec import PAGING, operation
from chalicelib.management.times import iso
from chalicelib.meta.accounts import Project
from chalicelib.meta.registry import RepositoryRecord
from chalicelib.oci.names import validate_name
from chalicelib.web.http import Request, Response

REPOSITORY = {
    "type": "object",
    "properties": {
        "id": integer(),
        "project_id": integer(),
        "name": string(),
        "description": string(),
        "artifact_count": integer(),
        "pull_count": integer(),
        "creation_time": DATE_TIME,
        "update_time": DATE_TIME,
    },
    "required": ["project_id", "name", "artifact_count", "pull_count"],
}


def full_name(project: Project, repository_name: str) -> str:
    """"<project>/<repository>", a valid registry name (400 otherwise)."""
    return validate_name(f"{project.name}/{repository_name}")


def project_and_repository(svc: ManagementDependencies, req: Request, project_name: str, repository_name: str, action: str) -> tuple[Project, RepositoryRecord]:
    project = find_project(svc, req, project_name, by_name=True)
    require(svc, req, project, action)
    name = full_name(project, repository_name)
    repository = svc.meta.get_repository(name)
    if repository is None:
        raise NotFound(f"repository {name} not found")
    return project, repository


def render(svc: ManagementDependencies, project: Project, repository: RepositoryRecord) -> dict:
    return {
        "id": stable_id(repository.name),
        "project_id": project.project_id,
        "name": repository.name,
        "description": "",
        "artifact_count": svc.meta.artifact_count(repository.name),
        "pull_count": repository.pull_count,
        "creation_time": iso(repository.created),
        "update_time": iso(repository.updated),
    }


_FIELDS = {
    "name": lambda r: r.name,
    "creation_time": lambda r: r.created,
    "update_time": lambda r: r.updated,
}


@operation(
    "listRepositories",
    "The repositories of a project",
    "repository",
    response={"type": "array", "items": REPOSITORY},
    params=PAGING,
    errors=(400, 403, 404),
    paged=True,
)
def list_repositories(svc: ManagementDependencies, req: Request, project_name: str) -> Response:
    project = find_project(svc, req, project_name, by_name=True)
    require(svc, req, project, "repository.read")
    page = paging.page_args(req)
    conditions = paging.query_args(req, ("name",))
    order = paging.sort_args(req, _FIELDS, "name")
    if paging.by_key_order(req, "name"):  # the catalog's order: a page, and the project's counter
        total = svc.meta.repository_counts([project.name])[project.name]
        page_of = svc.meta.repositories_in_order(project.name)
        return paging.keyed(req, page_of, total, lambda shown: [render(svc, project, r) for r in shown], page)
    repositories = paging.sorted_by(paging.filtered(svc.meta.repositories(project.name + "/"), conditions, _FIELDS), order, _FIELDS)
    shown = {r.name: render(svc, project, r) for r in page.window(repositories)}
    return paging.paged(req, repositories, lambda r: shown[r.name], page)


@operation("getRepository", "A repository", "repository", response=REPOSITORY, errors=(400, 403, 404))
def get_repository(svc: ManagementDependencies, req: Request, project_name: str, repository_name: str) -> Response:
    project, repository = project_and_repository(svc, req, project_name, repository_name, "repository.read")
    return Response.json(200, render(svc, project, repository))


@operation(
    "deleteRepository",
    "Delete a repository with all its artifacts and tags (the bytes go at garbage collection)",
    "repository",
    errors=(400, 403, 404, 412),
)
def delete_repository(svc: ManagementDependencies, req: Request, project_name: str, repository_name: str) -> Response:
    _, repository = project_and_repository(svc, req, project_name, repository_name, "repository.delete")
    if not artifacts.delete_repository(svc, repository.name):
        raise NotFound(f"repository {repository.name} not found")
    return Response.empty(200)
