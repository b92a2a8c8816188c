"""Every write operation of the fault matrix: how to set up the state it starts
from (with no faults), and the one request it is (sent faulted, then retried).

Add an operation here and the matrix runs it at every call position with every
fault kind. `setup` returns what `request` needs; both get the cell.
"""
from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.api.helpers import (
    OCI_INDEX,
    OCI_MANIFEST,
    MiB,
    descriptor,
    digest,
    image_manifest,
    index_manifest,
    push_blob,
    push_image,
    push_manifest,
    put_manifest,
    start_upload,
    with_query,
)
from tests.api.management.conftest import password_hash

ADMIN_PASSWORD = "Admin-Passw0rd"
PASSWORD = "Member-Passw0rd"
BASE = "/v2/api/v2.0"
REPO = "library/app"
OTHER = "library/other"


@dataclass
class Cell:
    svc: Any
    api: Any


@dataclass(frozen=True)
class Operation:
    name: str
    setup: Callable[[Cell], Any]
    request: Callable[[Cell, Any], Any]
    api: str = "registry"  # or "management": which error body the client must get
    auth: str = "none"  # the management API needs accounts: "token"
    # a chunk of an upload session writes only S3 (its state travels in the signed URL):
    # the matrix then checks the objects it wrote, not the table
    writes_objects_only: bool = False
    # besides an error, what a lost race may honestly answer (a mount that cannot link the
    # blob falls back to an upload session, 202, as the OCI distribution spec says)
    race_fallback: tuple[int, ...] = ()

    def __str__(self) -> str:
        return self.name


# -- registry: uploads -----------------------------------------------------------
LAYER = b"layer bytes " * 100
BIG = bytes(range(256)) * (6 * MiB // 256)  # more than one 5 MiB part: a multipart upload


def _nothing(cell: Cell) -> None:
    return None


def _session(cell: Cell) -> str:
    return start_upload(cell.api, REPO).headers["location"]


def _session_with_chunk(data: bytes) -> Callable[[Cell], str]:
    def setup(cell: Cell) -> str:
        location = _session(cell)
        reply = cell.api.patch(location, data, headers={"Content-Type": "application/octet-stream"})
        assert reply.status == 202, reply.body
        return reply.headers["location"]

    return setup


def _put_digest(data: bytes, body: bytes) -> Callable[[Cell, str], Any]:
    def request(cell: Cell, location: str):
        return cell.api.put(with_query(location, digest=digest(data)), body, headers={"Content-Type": "application/octet-stream"})

    return request


def _blob_in_other(cell: Cell) -> str:
    return push_blob(cell.api, OTHER, LAYER)


# -- registry: manifests and tags -------------------------------------------------
def _blobs_for(seed: str, **kw) -> Callable[[Cell], bytes]:
    def setup(cell: Cell) -> bytes:
        return image_manifest(cell.api, REPO, seed=seed, **kw)

    return setup


def _put(reference: Callable[[bytes], str]) -> Callable[[Cell, bytes], Any]:
    def request(cell: Cell, body: bytes):
        return put_manifest(cell.api, REPO, reference(body), body)

    return request


def _tagged_and_next(cell: Cell) -> bytes:
    push_image(cell.api, REPO, "v1", seed="first")
    return image_manifest(cell.api, REPO, seed="second")


def _referrer(cell: Cell) -> bytes:
    _, subject = push_image(cell.api, REPO, "v1", seed="subject")
    return image_manifest(
        cell.api, REPO, seed="sbom", artifact_type="application/spdx+json", subject=descriptor(OCI_MANIFEST, subject)
    )


def _children(cell: Cell) -> bytes:
    children = []
    for seed in ("amd64", "arm64"):
        body = image_manifest(cell.api, REPO, seed=seed)
        push_manifest(cell.api, REPO, digest(body), body)
        children.append((OCI_MANIFEST, body))
    return index_manifest(children)


def _image_with_tags(cell: Cell) -> str:
    manifest_digest, body = push_image(cell.api, REPO, "v1", seed="doomed")
    push_manifest(cell.api, REPO, "v2", body)
    push_image(cell.api, REPO, "keep", seed="kept")
    return manifest_digest


def _delete(reference: Callable[[Any], str]) -> Callable[[Cell, Any], Any]:
    def request(cell: Cell, ctx: Any):
        return cell.api.delete(f"/v2/{REPO}/manifests/{reference(ctx)}")

    return request


# -- management ---------------------------------------------------------------------
def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def _manage(cell: Cell, method: str, path: str, body: Any = None):
    headers = {"Authorization": _basic("admin", ADMIN_PASSWORD)}
    data = b""
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    return cell.api.request(method, BASE + path, data, headers)


def _accounts(cell: Cell) -> dict[str, Any]:
    """The bootstrap's `library` and `admin`, a project `team` with a member, a
    project robot, and a user; pushes through the stores."""
    from chalicelib.meta.accounts import Member, Project, Robot, User, robot_full_name

    accounts = cell.svc.accounts
    accounts.create_project(Project(name="library", public=True, owner="admin"))
    accounts.create_user(User(username="admin", password_hash=password_hash(ADMIN_PASSWORD), sysadmin=True, source="db"))
    team = accounts.create_project(Project(name="team", public=False, owner="admin"))
    alice = accounts.create_user(User(username="alice", password_hash=password_hash(PASSWORD), source="db", email="alice@example.com"))
    bob = accounts.create_user(User(username="bob", password_hash=password_hash(PASSWORD), source="db", email="bob@example.com"))
    member = accounts.add_member("team", Member(entity_type="u", entity_name="alice", role_id=2))
    robot = accounts.create_robot(
        Robot(
            full_name=robot_full_name("ci", "team"),
            secret_hash=password_hash(PASSWORD),
            level="project",
            project="team",
            permissions=[{"kind": "project", "namespace": "team", "access": [{"resource": "repository", "action": "pull"}]}],
        )
    )
    from tests.api.management.images import push_image as store_image

    image = store_image(cell.svc, "team/app", "v1", seed="team-app")
    return {"team": team, "alice": alice, "bob": bob, "member": member, "robot": robot, "image": image}


def _call(method: str, path: Callable[[dict], str], body: Callable[[dict], Any] | None = None):
    def request(cell: Cell, ctx: dict):
        return _manage(cell, method, path(ctx), body(ctx) if body else None)

    return request


_ART = "/projects/team/repositories/app/artifacts"

OPERATIONS: tuple[Operation, ...] = (
    # uploads
    # (opening an upload session writes nothing: its state travels in its signed URL)
    Operation(
        "monolithic upload",
        _nothing,
        lambda c, _: c.api.post(with_query(f"/v2/{REPO}/blobs/uploads/", digest=digest(LAYER)), LAYER),
    ),
    Operation(
        "cross-repository mount",
        _blob_in_other,
        lambda c, d: c.api.post(with_query(f"/v2/{REPO}/blobs/uploads/", mount=d, **{"from": OTHER})),
        race_fallback=(202,),
    ),
    Operation(
        "patch chunk",
        _session,
        lambda c, loc: c.api.patch(loc, LAYER, headers={"Content-Type": "application/octet-stream"}),
        writes_objects_only=True,  # the session's state travels in its signed URL
    ),
    Operation("complete upload in one PUT", _session, _put_digest(LAYER, LAYER)),
    Operation("complete upload after a chunk", _session_with_chunk(LAYER), _put_digest(LAYER, b"")),
    Operation(
        "patch chunk into a multipart upload",
        _session,
        lambda c, loc: c.api.patch(loc, BIG, headers={"Content-Type": "application/octet-stream"}),
        writes_objects_only=True,
    ),
    Operation("complete multipart upload", _session_with_chunk(BIG), _put_digest(BIG, b"")),
    Operation("cancel upload", _session_with_chunk(LAYER), lambda c, loc: c.api.delete(loc)),
    # manifests and tags
    Operation("put manifest by tag", _blobs_for("tagged"), _put(lambda body: "v1")),
    Operation("put manifest by digest", _blobs_for("untagged"), _put(digest)),
    Operation("move a tag", _tagged_and_next, _put(lambda body: "v1")),
    Operation("put referrer", _referrer, _put(digest)),
    Operation("put index by tag", _children, lambda c, body: put_manifest(c.api, REPO, "multi", body, OCI_INDEX)),
    Operation("delete tag", _image_with_tags, _delete(lambda d: "v2")),
    Operation("delete manifest with its tags", _image_with_tags, _delete(lambda d: d)),
    # management
    Operation("create project", _accounts, _call("POST", lambda c: "/projects", lambda c: {"project_name": "fresh"}), "management", "token"),
    Operation(
        "make project public",
        _accounts,
        _call("PUT", lambda c: "/projects/team", lambda c: {"metadata": {"public": "true"}}),
        "management",
        "token",
    ),
    Operation(
        "add member",
        _accounts,
        _call("POST", lambda c: "/projects/team/members", lambda c: {"role_id": 3, "member_user": {"username": "bob"}}),
        "management",
        "token",
    ),
    Operation(
        "change member role",
        _accounts,
        _call("PUT", lambda c: f"/projects/team/members/{c['member'].member_id}", lambda c: {"role_id": 1}),
        "management",
        "token",
    ),
    Operation(
        "remove member",
        _accounts,
        _call("DELETE", lambda c: f"/projects/team/members/{c['member'].member_id}"),
        "management",
        "token",
    ),
    Operation(
        "create user",
        _accounts,
        _call(
            "POST",
            lambda c: "/users",
            lambda c: {"username": "carol", "password": PASSWORD, "email": "carol@example.com", "realname": "Carol"},
        ),
        "management",
        "token",
    ),
    Operation(
        "change password",
        _accounts,
        _call("PUT", lambda c: f"/users/{c['bob'].user_id}/password", lambda c: {"new_password": "Other-Passw0rd"}),
        "management",
        "token",
    ),
    Operation("delete user with a membership", _accounts, _call("DELETE", lambda c: f"/users/{c['alice'].user_id}"), "management", "token"),
    Operation(
        "create project robot",
        _accounts,
        _call(
            "POST",
            lambda c: "/robots",
            lambda c: {
                "name": "deploy",
                "level": "project",
                "duration": -1,
                "permissions": [{"kind": "project", "namespace": "team", "access": [{"resource": "repository", "action": "push"}]}],
            },
        ),
        "management",
        "token",
    ),
    Operation("delete robot", _accounts, _call("DELETE", lambda c: f"/robots/{c['robot'].robot_id}"), "management", "token"),
    Operation(
        "add tag to artifact",
        _accounts,
        _call("POST", lambda c: f"{_ART}/v1/tags", lambda c: {"name": "v2"}),
        "management",
        "token",
    ),
    Operation("delete artifact tag", _accounts, _call("DELETE", lambda c: f"{_ART}/v1/tags/v1"), "management", "token"),
    Operation("delete artifact", _accounts, _call("DELETE", lambda c: f"{_ART}/{c['image']}"), "management", "token"),
    Operation(
        "copy artifact",
        _accounts,
        _call("POST", lambda c: "/projects/library/repositories/copied/artifacts?from=team/app:v1"),
        "management",
        "token",
    ),
    Operation("delete repository", _accounts, _call("DELETE", lambda c: "/projects/team/repositories/app"), "management", "token"),
    Operation("delete empty project", lambda c: (_accounts(c), c.svc.meta.delete_repository("team/app"))[0],
              _call("DELETE", lambda c: "/projects/team"), "management", "token"),
)
