"""/projects/{p}/repositories/{r}/artifacts/{ref}/labels: putting labels on an
artifact and taking them off (Harbor's addLabel and removeLabel).

Developers and up may do it (`artifact.label`); a project label goes only on its own
project's artifacts. The label item joins the artifact's repository partition in a
transaction that checks the manifest and the label still exist (chalicelib/meta/labels.py).
"""
from __future__ import annotations

from chalicelib.errors import Conflict
from chalicelib.management.artifacts import Repository
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import AlreadyExists, NotFound
from chalicelib.management.labels import LABEL_REF, label_for_artifact
from chalicelib.management.repositories import project_and_repository
from chalicelib.management.spec import operation
from chalicelib.web.http import Request, Response


@operation("addLabel", "Add a label to an artifact (only the label's id counts)", "artifact", body=LABEL_REF, errors=(400, 403, 404, 409))
def add_label(svc: ManagementDependencies, req: Request, project_name: str, repository_name: str, reference: str, body: dict) -> Response:
    project, repository = project_and_repository(svc, req, project_name, repository_name, "artifact.label")
    record = Repository(svc, repository.name).resolve(reference)
    label = label_for_artifact(svc, req, int(body["id"]), project.project_id)
    try:
        svc.labels.add_to_artifact(repository.name, record.digest, label)
    except Conflict:
        raise AlreadyExists(f"label {label.label_id} is already added to the artifact") from None
    except KeyError:
        raise NotFound("the artifact or the label was deleted meanwhile") from None
    return Response.empty(200)


@operation("removeLabel", "Remove a label from an artifact", "artifact", errors=(400, 403, 404))
def remove_label(svc: ManagementDependencies, req: Request, project_name: str, repository_name: str, reference: str, label_id: int) -> Response:
    _, repository = project_and_repository(svc, req, project_name, repository_name, "artifact.label")
    record = Repository(svc, repository.name).resolve(reference)
    if not svc.labels.remove_from_artifact(repository.name, record.digest, label_id):
        raise NotFound(f"reference with label {label_id} and artifact {record.digest} not found")
    return Response.empty(200)
