"""Pulls: audit entries, repositories' pull_count, artifacts' and tags' pull_time,
recorded in the request (BERTH_PULL_RECORDING=inline) or from the pull log lines
that a CloudWatch Logs subscription delivers to the record_pulls function (log)."""
from __future__ import annotations

import base64
import dataclasses
import gzip
import json

import pytest

from devstack.log_subscription import subscription_event
from tests.api.management.conftest import ADMIN_PASSWORD, make_world
from tests.api.management.test_audit import logs, token


@pytest.fixture(scope="module")
def world(_moto):
    """With clients of its own: log_mode registers a hook on its DynamoDB client."""
    return make_world(_moto)

NEVER = "0001-01-01T00:00:00.000Z"


def pull(world, name: str, reference: str, user="admin", password=ADMIN_PASSWORD):
    bearer = {"Authorization": "Bearer " + token(world, user, password, f"repository:{name}:pull")}
    reply = world.api.get(f"/v2/{name}/manifests/{reference}", headers=bearer)
    assert reply.status == 200, reply.body
    return reply


def repository(admin, name: str) -> dict:
    project, rest = name.split("/", 1)
    reply = admin.get(f"/projects/{project}/repositories/{rest}")
    assert reply.status == 200
    return reply.json()


def artifact(admin, name: str, reference: str) -> dict:
    project, rest = name.split("/", 1)
    reply = admin.get(f"/projects/{project}/repositories/{rest}/artifacts/{reference}?with_tag=true")
    assert reply.status == 200
    return reply.json()


def test_inline_pulls_count_and_stamp_times(world, admin):
    project = world.project()
    name = f"{project.name}/app"
    digest = world.push(name, "v1")
    assert repository(admin, name)["pull_count"] == 0
    assert artifact(admin, name, "v1")["pull_time"] == NEVER
    pull(world, name, "v1")
    pull(world, name, digest)  # the same client fetching what the tag resolved: the same pull
    assert repository(admin, name)["pull_count"] == 1
    found = artifact(admin, name, digest)
    assert found["pull_time"] != NEVER
    assert [t["pull_time"] != NEVER for t in found["tags"]] == [True]
    pull(world, name, "v1")  # a second pull
    entries = logs(admin, f"/projects/{project.name}/logs", operation="pull")
    assert [e["resource"] for e in entries] == [f"{name}:v1", f"{name}:v1"]
    assert len({e["id"] for e in entries}) == 2
    assert repository(admin, name)["pull_count"] == 2


def test_a_digest_pull_alone_counts(world, admin):
    project = world.project()
    name = f"{project.name}/app"
    digest = world.push(name, "v1")
    pull(world, name, digest)
    assert repository(admin, name)["pull_count"] == 1
    entries = logs(admin, f"/projects/{project.name}/logs", operation="pull")
    assert [e["resource"] for e in entries] == [f"{name}@{digest}"]


def test_a_head_is_not_a_pull(world, admin):
    project = world.project()
    name = f"{project.name}/app"
    world.push(name, "v1")
    bearer = {"Authorization": "Bearer " + token(world, "admin", ADMIN_PASSWORD, f"repository:{name}:pull")}
    assert world.api.head(f"/v2/{name}/manifests/v1", headers=bearer).status == 200
    assert repository(admin, name)["pull_count"] == 0


@pytest.fixture
def log_mode(world):
    """The app as deployed on AWS: pulls only write their log line."""
    import app as app_module

    svc = world.svc.replace(settings=dataclasses.replace(world.svc.settings, pull_recording="log"))
    calls: list[str] = []
    svc.dynamodb.meta.events.register("before-call.*.*", lambda model, **_: calls.append(model.name))
    world.api.svc = svc  # the world's client serves its requests with it
    with app_module.serving(svc):  # and the app its functions (record_pulls)
        yield svc, calls
    world.api.svc = world.svc


def pull_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.startswith("{") and json.loads(line).get("message") == "pull"]


def test_a_logged_pull_costs_no_write_and_the_subscription_records_it(world, admin, log_mode, capsys):
    import app as app_module

    _, calls = log_mode
    project = world.project()
    name = f"{project.name}/app"
    digest = world.push(name, "v1")
    bearer = {"Authorization": "Bearer " + token(world, "admin", ADMIN_PASSWORD, f"repository:{name}:pull")}
    capsys.readouterr()
    calls.clear()
    assert world.api.get(f"/v2/{name}/manifests/v1", headers=bearer).status == 200
    assert calls == ["GetItem"]  # the tag (with its manifest): nothing else on the pull's path
    lines = pull_lines(capsys.readouterr().out)
    assert len(lines) == 1
    assert json.loads(lines[0])["pull"]["digest"] == digest
    assert logs(admin, f"/projects/{project.name}/logs", operation="pull") == []

    event = subscription_event(["START RequestId: x", "not json {", *lines, '{"message": "request"}'])
    assert app_module.record_pulls(event, None) == {"recorded": 1}
    entries = logs(admin, f"/projects/{project.name}/logs", operation="pull")
    assert [(e["username"], e["resource"]) for e in entries] == [("admin", f"{name}:v1")]
    assert repository(admin, name)["pull_count"] == 1
    assert artifact(admin, name, "v1")["pull_time"] != NEVER
    # at least once: a batch delivered again writes the same entry again, not a second one
    assert app_module.record_pulls(event, None) == {"recorded": 1}
    assert len(logs(admin, f"/projects/{project.name}/logs", operation="pull")) == 1


def test_a_batch_adds_up_per_repository(world, admin, log_mode, capsys):
    import app as app_module

    _, calls = log_mode
    project = world.project()
    one, two = f"{project.name}/one", f"{project.name}/two"
    world.push(one, "a")
    world.push(two, "b")
    capsys.readouterr()
    for _ in range(3):
        pull(world, one, "a")
    pull(world, two, "b")
    lines = pull_lines(capsys.readouterr().out)
    assert len(lines) == 4
    calls.clear()
    assert app_module.record_pulls(subscription_event(lines), None) == {"recorded": 4}
    # 16 audit items in one BatchWriteItem; one update per repository, artifact and tag
    assert calls.count("BatchWriteItem") == 1
    assert calls.count("UpdateItem") == 6
    assert repository(admin, one)["pull_count"] == 3
    assert repository(admin, two)["pull_count"] == 1
    assert len(logs(admin, f"/projects/{project.name}/logs", operation="pull")) == 4


def test_pulls_of_a_deleted_repository_do_not_bring_it_back(world, admin, log_mode, capsys):
    import app as app_module

    svc, _ = log_mode
    project = world.project()
    name = f"{project.name}/gone"
    world.push(name, "v1")
    capsys.readouterr()
    pull(world, name, "v1")
    lines = pull_lines(capsys.readouterr().out)
    assert admin.delete(f"/projects/{project.name}/repositories/gone").status == 200
    assert app_module.record_pulls(subscription_event(lines), None) == {"recorded": 1}
    assert admin.get(f"/projects/{project.name}/repositories/gone").status == 404
    assert svc.meta.get_manifest(name, json.loads(lines[0])["pull"]["digest"]) is None
    # the pull itself stays in the audit log
    assert len(logs(admin, f"/projects/{project.name}/logs", operation="pull")) == 1


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"awslogs": {}},
        {"awslogs": {"data": "not base64!"}},
        {"awslogs": {"data": base64.b64encode(b"not gzip").decode()}},
        {"awslogs": {"data": base64.b64encode(gzip.compress(b"[1]")).decode()}},
        {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps({"messageType": "CONTROL_MESSAGE", "logEvents": [{"message": "CWL CONTROL MESSAGE"}]}).encode())).decode()}},
        "a string",
    ],
)
def test_what_is_not_a_batch_of_pulls_records_nothing(log_mode, event):
    import app as app_module

    _, calls = log_mode
    calls.clear()
    assert app_module.record_pulls(event, None) == {"recorded": 0}
    assert calls == []
