"""A token outlives the project it was issued for: a write into a project deleted
since is refused inside the write itself (issue 10, integrity), with no extra AWS
call on the push path."""
from __future__ import annotations

import itertools

import pytest

from tests.api.auth.conftest import bearer, make_world
from tests.api.helpers import digest, encode, with_query

OCTET = {"Content-Type": "application/octet-stream"}


SOURCE = "library/mount-source"
_names = itertools.count()


@pytest.fixture(scope="module")
def world(_moto):
    """With clients of its own: a test attaches a recorder and a hook to its clients."""
    return make_world(_moto)


@pytest.fixture
def doomed(world):
    """A project with a developer, a token for a push into it (and a pull from a public
    repository, to mount from), then the project deleted: it held no repository yet."""
    if world.svc.meta.get_repository(SOURCE) is None:
        world.admin_push(SOURCE)
    name = f"doomed{next(_names)}"
    world.project(name)
    user = f"dev-{name}"
    world.user(user)
    world.member(name, user, 2)
    repo = f"{name}/app"
    token = world.token([f"repository:{repo}:pull,push", f"repository:{SOURCE}:pull"], user)
    world.svc.accounts.remove_member(name, "u", user)
    world.svc.accounts.delete_project(name)
    assert world.svc.accounts.get_project(name) is None
    return repo, token


def test_manifest_put_with_an_old_token_is_refused(world, api, doomed):
    repo, token = doomed
    body = encode({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": []})
    reply = api.put(f"/v2/{repo}/manifests/v1", body, headers={**bearer(token), "Content-Type": "application/vnd.oci.image.index.v1+json"})
    assert reply.status == 403, reply.body
    assert reply.error_codes == ["DENIED"]
    assert world.svc.meta.get_repository(repo) is None
    assert world.svc.meta.get_manifest(repo, digest(body)) is None


def test_blob_writes_with_an_old_token_are_refused(world, api, doomed):
    repo, token = doomed
    data = b"a layer for a deleted project"
    monolithic = api.post(with_query(f"/v2/{repo}/blobs/uploads/", digest=digest(data)), data, headers={**bearer(token), **OCTET})
    assert monolithic.status == 403 and monolithic.error_codes == ["DENIED"]
    location = start_upload_with(api, repo, token)
    completed = api.put(with_query(location, digest=digest(data)), data, headers={**bearer(token), **OCTET})
    assert completed.status == 403 and completed.error_codes == ["DENIED"]
    assert world.svc.meta.link_size(repo, digest(data)) is None


def test_mount_with_an_old_token_is_refused(world, api, doomed):
    repo, token = doomed
    config = world.svc.meta.list_manifests(SOURCE)[0].blobs[0]
    reply = api.post(with_query(f"/v2/{repo}/blobs/uploads/", mount=config, **{"from": SOURCE}), headers=bearer(token))
    assert reply.status == 403 and reply.error_codes == ["DENIED"]
    assert world.svc.meta.link_size(repo, config) is None


def start_upload_with(api, repo: str, token: str) -> str:
    reply = api.post(f"/v2/{repo}/blobs/uploads/", headers=bearer(token))
    assert reply.status == 202, reply.body
    return reply.headers["location"]


def test_the_check_costs_no_extra_call(world, api):
    """The project condition rides in the manifest PUT's own transaction: the push makes
    the same calls as before (the references' BatchGetItem, one transaction, the audit
    entry's write), and the transaction holds the ConditionCheck."""
    from tests.faults.injector import FaultInjector

    token = world.admin_token("repository:library/counted:pull,push")
    body, replies = world.image(token, "library/counted", "counted")
    assert [r.status for r in replies] == [201, 201]
    recorder = FaultInjector()
    recorder.attach(world.svc.dynamodb)
    recorder.attach(world.svc.s3)
    checks = []
    world.svc.dynamodb.meta.events.register(
        "before-call.dynamodb.TransactWriteItems", lambda params, **_: checks.append(b"ConditionCheck" in params["body"])
    )
    recorder.arm()
    reply = world.put_manifest(token, "library/counted", "v1", body)
    calls = [str(c) for c in recorder.disarm()]
    assert reply.status == 201
    assert [c for c in calls if not c.startswith("dynamodb.PutItem") and "Audit" not in c][:2] == [
        "dynamodb.BatchGetItem",
        "dynamodb.TransactWriteItems?",
    ], calls
    assert any(checks)
