"""/projects/{p}/repositories/{r}/artifacts: the manifests of a repository as
Harbor's artifacts, their tags, and copying an artifact between repositories.

An artifact is a manifest. Like Harbor, the list leaves out the untagged
children of an index (they appear as its `references`). Sizes are Harbor's:
a manifest's own bytes plus its config and layers, an index's plus its
children's. Pull times come from chalicelib/pulls.py (Harbor's zero time for
"never"); integer ids from chalicelib/management/ids.py.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from urllib.parse import quote

from chalicelib import artifacts, immutability
from chalicelib.errors import ManifestNotFound
from chalicelib.management import paging
from chalicelib.management.access import allowed, find_project, require
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import AlreadyExists, BadRequest, Forbidden, NotFound
from chalicelib.management.ids import stable_id
from chalicelib.management.labels import LABEL
from chalicelib.management.labels import render as render_label
from chalicelib.management.repositories import full_name, project_and_repository
from chalicelib.management.schema import DATE_TIME, array, boolean, integer, obj, string
from chalicelib.management.spec import PAGING, Param, operation
from chalicelib.management.times import NEVER, iso
from chalicelib.meta.accounts import Project
from chalicelib.meta.registry import ManifestRecord
from chalicelib.oci.digests import Digest, looks_like_digest
from chalicelib.oci.mediatypes import IMAGE_CONFIGS, INDEXES
from chalicelib.oci.names import project_of, validate_name, validate_tag
from chalicelib.web.http import Request, Response

_TYPES = {
    "application/vnd.cncf.helm.config.v1+json": "CHART",
    "application/vnd.cnab.manifest.v1": "CNAB",
    "application/vnd.wasm.config.v1+json": "WASM",
}

TAG = {
    "type": "object",
    "properties": {
        "id": integer(),
        "repository_id": integer(),
        "artifact_id": integer(),
        "name": string(),
        "push_time": DATE_TIME,
        "pull_time": DATE_TIME,
        "immutable": boolean(),
        "signed": boolean(),
    },
    "required": ["name", "push_time"],
}
PLATFORM = {"type": "object", "additionalProperties": True}
REFERENCE = {
    "type": "object",
    "properties": {
        "child_digest": string(),
        "platform": PLATFORM,
        "annotations": {"type": "object", "additionalProperties": string()},
        "urls": array(string()),
    },
    "required": ["child_digest"],
}
ARTIFACT = {
    "type": "object",
    "properties": {
        "id": integer(),
        "repository_id": integer(),
        "type": string(),
        "media_type": string(),
        "manifest_media_type": string(),
        "artifact_type": string(),
        "project_id": integer(),
        "repository_name": string(),
        "digest": string(),
        "size": integer(),
        "push_time": DATE_TIME,
        "pull_time": DATE_TIME,
        "extra_attrs": {"type": "object"},
        "annotations": {"type": "object", "additionalProperties": string()},
        "references": array(REFERENCE),
        "tags": array(TAG),
        "labels": array(LABEL),
    },
    "required": ["digest", "media_type", "manifest_media_type", "size", "push_time"],
}
# Harbor's Tag: only the name counts when creating one
TAG_REQ = obj(
    {
        "name": string(minLength=1, maxLength=128),
        "id": integer(),
        "repository_id": integer(),
        "artifact_id": integer(),
        "push_time": string(),
        "pull_time": string(),
        "immutable": boolean(),
        "signed": boolean(),
    },
    required=("name",),
)
WITH_TAG = Param("with_tag", boolean(default=True), "Include the tags")
WITH_LABEL = Param("with_label", boolean(default=False), "Include the labels")


# -- reading -----------------------------------------------------------------------------------
class Repository:
    """A repository's manifests and tags, read once per request."""

    def __init__(self, svc: ManagementDependencies, name: str, *, manifests: Iterable[ManifestRecord] | None = None):
        self.svc = svc
        self.name = name
        self.manifests = {m.digest: m for m in (svc.meta.list_manifests(name) if manifests is None else manifests)}
        # digest -> [(tag, push time, last pull time or 0)]
        self.tags: dict[str, list[tuple[str, int, int]]] = {}
        for tag, digest, updated, pulled in svc.meta.tag_times(name):
            self.tags.setdefault(digest, []).append((tag, updated, pulled))
        self._documents: dict[str, dict] = {}
        self._labels: dict[str, list] | None = None
        self._rules: list | None = None

    def labels(self, digest: str) -> list:
        """The labels on an artifact (read for the whole repository on first use)."""
        if self._labels is None:
            self._labels = self.svc.labels.artifact_labels(self.name)
        return self._labels.get(digest, [])

    def document(self, record: ManifestRecord) -> dict:
        if record.digest not in self._documents:
            body = record.body if record.body is not None else self.svc.blobs.get_manifest(record.digest)
            try:
                parsed = json.loads(body)
            except (ValueError, UnicodeDecodeError, TypeError):
                parsed = {}
            self._documents[record.digest] = parsed if isinstance(parsed, dict) else {}
        return self._documents[record.digest]

    def size(self, record: ManifestRecord, seen: frozenset[str] = frozenset()) -> int:
        doc = self.document(record)
        total = record.size
        if record.media_type in INDEXES:
            for child in record.children:
                found = self.manifests.get(child)
                if found is not None and child not in seen:
                    total += self.size(found, seen | {record.digest})
            return total
        descriptors = [doc.get("config")] + list(doc.get("layers") or [])
        return total + sum(int(d.get("size") or 0) for d in descriptors if isinstance(d, dict) and isinstance(d.get("size"), int))

    def render(self, record: ManifestRecord, project: Project, *, with_tags: bool = True, with_labels: bool = False) -> dict:
        doc = self.document(record)
        raw_config = doc.get("config")
        config: dict = raw_config if isinstance(raw_config, dict) else {}
        raw_type = config.get("mediaType")
        config_type: str = raw_type if isinstance(raw_type, str) else ""
        if record.media_type in INDEXES:
            kind, media_type = "IMAGE", record.media_type
        else:
            kind = "IMAGE" if config_type in IMAGE_CONFIGS else _TYPES.get(config_type, "UNKNOWN")
            media_type = config_type or record.media_type
        out = {
            "id": stable_id(f"{self.name}@{record.digest}"),
            "repository_id": stable_id(self.name),
            "type": kind,
            "media_type": media_type,
            "manifest_media_type": record.media_type,
            "project_id": project.project_id,
            "repository_name": self.name,
            "digest": record.digest,
            "size": self.size(record),
            "push_time": iso(record.created),
            "pull_time": iso(record.pull_time) if record.pull_time else NEVER,
            "extra_attrs": {},
            "annotations": dict(record.annotations or {}),
            "references": _references(doc) if record.media_type in INDEXES else [],
        }
        if record.artifact_type:
            out["artifact_type"] = record.artifact_type
        if with_tags:
            out["tags"] = [self.tag(record.digest, *t) for t in sorted(self.tags.get(record.digest, []))]
        if with_labels:
            out["labels"] = [render_label(label) for label in self.labels(record.digest)]
        return out

    def tag(self, digest: str, name: str, updated: int, pulled: int = 0) -> dict:
        return _tag(self.name, digest, name, updated, pulled, immutable=self.immutable(name))

    def immutable(self, tag: str) -> bool:
        """Whether the project's rules protect the tag (read once per request)."""
        if self._rules is None:
            self._rules = self.svc.immutable_rules.get(project_of(self.name)).rules
        return immutability.protects(self._rules, self.name, tag)

    def resolve(self, reference: str) -> ManifestRecord:
        """A manifest by tag or digest (404 if the repository has no such one)."""
        try:
            digest = artifacts.resolve_digest(self.svc, self.name, reference)
        except ManifestNotFound:
            raise NotFound(f"tag {reference[:128]} not found in {self.name}") from None
        record = self.manifests.get(digest)
        if record is None:
            raise NotFound(f"artifact {digest} not found in {self.name}")
        return record


def _references(doc: dict) -> list[dict]:
    out = []
    for entry in doc.get("manifests") or []:
        if not isinstance(entry, dict) or not isinstance(entry.get("digest"), str):
            continue
        reference: dict = {"child_digest": entry["digest"]}
        if isinstance(entry.get("platform"), dict):
            reference["platform"] = entry["platform"]
        if isinstance(entry.get("annotations"), dict):
            reference["annotations"] = entry["annotations"]
        if isinstance(entry.get("urls"), list):
            reference["urls"] = entry["urls"]
        out.append(reference)
    return out


def _tag(repository: str, digest: str, name: str, updated: int, pulled: int = 0, *, immutable: bool = False) -> dict:
    return {
        "id": stable_id(f"{repository}:{name}"),
        "repository_id": stable_id(repository),
        "artifact_id": stable_id(f"{repository}@{digest}"),
        "name": name,
        "push_time": iso(updated),
        "pull_time": iso(pulled) if pulled else NEVER,
        "immutable": immutable,
        "signed": False,
    }


def _open(svc: ManagementDependencies, req: Request, project_name: str, repository_name: str, action: str) -> tuple[Project, Repository]:
    project, repository = project_and_repository(svc, req, project_name, repository_name, action)
    return project, Repository(svc, repository.name)


# -- handlers ------------------------------------------------------------------------------------
def _tag_matches(condition: paging.Condition, tags: list[str]) -> bool:
    if condition.op == "exact" and condition.values[0] == "*":
        return bool(tags)
    if condition.op == "exact" and condition.values[0] == "nil":
        return not tags
    return any(condition.matches(t) for t in tags)


@operation(
    "listArtifacts",
    "The artifacts of a repository, newest first; q: tags=* (tagged), tags=nil (untagged), tags=~v, tags=v, digest=, type=, media_type=",
    "artifact",
    response={"type": "array", "items": ARTIFACT},
    params=PAGING + (WITH_TAG, WITH_LABEL),
    errors=(400, 403, 404),
    paged=True,
)
def list_artifacts(svc: ManagementDependencies, req: Request, project_name: str, repository_name: str) -> Response:
    project, repo = _open(svc, req, project_name, repository_name, "repository.read")
    page = paging.page_args(req)
    conditions = paging.query_args(req, ("tags", "digest", "type", "media_type", "manifest_media_type"))
    order = paging.sort_args(req, ("push_time", "digest", "size"), "-push_time")
    with_tags, with_labels = _with(req)
    listed = artifacts.top_level(repo.manifests.values(), set(repo.tags))
    tag_condition = conditions.pop("tags", None)
    if tag_condition is not None:
        listed = [m for m in listed if _tag_matches(tag_condition, [t[0] for t in repo.tags.get(m.digest, [])])]
    rendered = {m.digest: repo.render(m, project, with_tags=with_tags, with_labels=with_labels) for m in listed}
    fields = {
        "digest": lambda m: m.digest,
        "push_time": lambda m: m.created,
        "size": lambda m: rendered[m.digest]["size"],
        "type": lambda m: rendered[m.digest]["type"],
        "media_type": lambda m: rendered[m.digest]["media_type"],
        "manifest_media_type": lambda m: m.media_type,
    }
    listed = paging.sorted_by(paging.filtered(listed, conditions, fields), order + [("digest", False)], fields)
    return paging.paged(req, listed, lambda m: rendered[m.digest], page)


@operation(
    "getArtifact",
    "An artifact by tag or digest",
    "artifact",
    response=ARTIFACT,
    params=(WITH_TAG, WITH_LABEL),
    errors=(400, 403, 404),
)
def get_artifact(svc: ManagementDependencies, req: Request, project_name: str, repository_name: str, reference: str) -> Response:
    project, repo = _open(svc, req, project_name, repository_name, "repository.read")
    with_tags, with_labels = _with(req)
    return Response.json(200, repo.render(repo.resolve(reference), project, with_tags=with_tags, with_labels=with_labels))


def _with(req: Request) -> tuple[bool, bool]:
    """with_tag (default true) and with_label (default false), as Harbor reads them."""
    with_tags = (req.arg("with_tag") or "true").strip().lower() != "false"
    with_labels = (req.arg("with_label") or "false").strip().lower() == "true"
    return with_tags, with_labels


@operation(
    "deleteArtifact",
    "Delete an artifact and its tags (not while an index in the repository refers to it)",
    "artifact",
    errors=(400, 403, 404, 412),
)
def delete_artifact(svc: ManagementDependencies, req: Request, project_name: str, repository_name: str, reference: str) -> Response:
    _, repo = _open(svc, req, project_name, repository_name, "artifact.delete")
    record = repo.resolve(reference)
    # the event names the artifact as the caller did: its audit entry's resource
    artifacts.delete_manifest(svc, repo.name, record.digest, manifests=repo.manifests.values(), named=reference)
    return Response.empty(200)


@operation(
    "listTags",
    "The tags of an artifact",
    "artifact",
    response={"type": "array", "items": TAG},
    params=PAGING,
    errors=(400, 403, 404),
    paged=True,
)
def list_tags(svc: ManagementDependencies, req: Request, project_name: str, repository_name: str, reference: str) -> Response:
    _, repo = _open(svc, req, project_name, repository_name, "repository.read")
    record = repo.resolve(reference)
    page = paging.page_args(req)
    conditions = paging.query_args(req, ("name",))
    fields = {"name": lambda t: t[0], "push_time": lambda t: t[1]}
    order = paging.sort_args(req, fields, "name")
    tags = paging.sorted_by(paging.filtered(repo.tags.get(record.digest, []), conditions, fields), order, fields)
    return paging.paged(req, tags, lambda t: repo.tag(record.digest, *t), page)


@operation(
    "createTag",
    "Tag an artifact",
    "artifact",
    ok=201,
    body=TAG_REQ,
    location=True,
    errors=(400, 403, 404, 409),
)
def create_tag(svc: ManagementDependencies, req: Request, project_name: str, repository_name: str, reference: str, body: dict) -> Response:
    project, repo = _open(svc, req, project_name, repository_name, "tag.create")
    record = repo.resolve(reference)
    tag = validate_tag(body["name"])
    if svc.meta.get_tag(repo.name, tag) is not None:
        raise AlreadyExists(f"tag {tag} already exists in {repo.name}")
    svc.meta.create_tag(repo.name, tag, record, int(svc.clock()))
    location = f"{_artifact_path(project, repo.name, record.digest)}/tags/{tag}"
    return Response.empty(201, {"Location": location})


@operation(
    "deleteTag",
    "Remove a tag from an artifact (not an immutable one: 412)",
    "artifact",
    errors=(400, 403, 404, 412),
)
def delete_tag(svc: ManagementDependencies, req: Request, project_name: str, repository_name: str, reference: str, tag_name: str) -> Response:
    _, repo = _open(svc, req, project_name, repository_name, "tag.delete")
    record = repo.resolve(reference)
    tag = validate_tag(tag_name)
    if tag not in [t[0] for t in repo.tags.get(record.digest, [])]:
        raise NotFound(f"artifact {record.digest} has no tag {tag}")
    if not artifacts.delete_tag(svc, repo.name, tag):
        # gone since it was read (a concurrent delete): say so rather than claim this one did it
        raise NotFound(f"artifact {record.digest} has no tag {tag}")
    return Response.empty(200)


@operation(
    "CopyArtifact",
    'Copy an artifact from "project/repository:tag" or "project/repository@digest" into this repository',
    "artifact",
    ok=201,
    location=True,
    params=(Param("from", string(), "The artifact to copy", required=True),),
    errors=(400, 403, 404, 412),
)
def copy_artifact(svc: ManagementDependencies, req: Request, project_name: str, repository_name: str) -> Response:
    target_project = find_project(svc, req, project_name, by_name=True)
    require(svc, req, target_project, "artifact.copy")
    target = full_name(target_project, repository_name)
    source_name, reference = _parse_from(req.arg("from") or "")
    source_project = find_project(svc, req, source_name.split("/", 1)[0], by_name=True)
    if not allowed(svc, req, source_project, "repository.read"):
        raise Forbidden(f"you may not pull from project {source_project.name}")
    if svc.meta.get_repository(source_name) is None:
        raise NotFound(f"repository {source_name} not found")
    source = Repository(svc, source_name)
    record = source.resolve(reference)
    tag = None if looks_like_digest(reference) else reference
    artifacts.copy(svc, source.name, source.manifests, target, record, tag)
    return Response.empty(201, {"Location": _artifact_path(target_project, target, record.digest)})


def _parse_from(value: str) -> tuple[str, str]:
    if "@" in value:
        name, _, reference = value.partition("@")
    else:
        name, _, reference = value.partition(":")
    if not name or not reference or "/" not in name:
        raise BadRequest('from must be "project/repository:tag" or "project/repository@digest"')
    validate_name(name)
    if looks_like_digest(reference):
        Digest.parse(reference)
    else:
        validate_tag(reference)
    return name, reference


def _artifact_path(project: Project, repository: str, digest: str) -> str:
    below = repository[len(project.name) + 1 :]
    return f"{paging.API_BASE}/projects/{project.name}/repositories/{quote(quote(below, safe=''), safe='')}/artifacts/{digest}"
