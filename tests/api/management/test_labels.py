"""/labels and an artifact's labels: who manages which scope, names unique within a
scope, labels shown on artifacts with with_label, Harbor's error shapes."""
from __future__ import annotations

import pytest

from tests.api.management.conftest import codes

LABEL_KEYS = {"id", "name", "description", "color", "scope", "project_id", "creation_time", "update_time"}


@pytest.fixture
def proj(world):
    name = world.name("lp")
    world.project(name)
    return world.svc.accounts.get_project(name)


def create(harbor, **body):
    reply = harbor.post("/labels", body)
    assert reply.status == 201, reply.body
    return int(reply.headers["location"].rsplit("/", 1)[1])


def art(project: str, repository: str, reference: str) -> str:
    return f"/projects/{project}/repositories/{repository}/artifacts/{reference}"


def test_global_labels_by_system_administrators_only(world, admin):
    name = world.name("urgent")
    label_id = create(admin, name=name, scope="g", color="#FF0000", description="fix first")
    reply = admin.get(f"/labels/{label_id}")
    assert reply.status == 200
    body = reply.json()
    assert set(body) == LABEL_KEYS
    assert (body["name"], body["scope"], body["project_id"], body["color"]) == (name, "g", 0, "#FF0000")
    user = world.user()
    reply = world.as_(user.username).post("/labels", {"name": world.name("mine"), "scope": "g"})
    assert reply.status == 403 and codes(reply) == ["FORBIDDEN"]
    # anyone logged in reads them
    assert world.as_(user.username).get(f"/labels/{label_id}").status == 200
    listed = world.as_(user.username).get("/labels?scope=g").json()
    assert name in [label["name"] for label in listed]
    assert world.anonymous.get("/labels?scope=g").status == 401


def test_names_are_unique_within_a_scope(world, admin, proj):
    name = world.name("dup")
    create(admin, name=name, scope="g")
    reply = admin.post("/labels", {"name": name, "scope": "g"})
    assert reply.status == 409 and codes(reply) == ["CONFLICT"]
    # the same name in a project's scope is another label
    create(admin, name=name, scope="p", project_id=proj.project_id)


def test_project_labels_by_project_administrators(world, proj):
    owner, developer, outsider = world.user(), world.user(), world.user()
    world.member(proj.name, owner.username, 1)
    world.member(proj.name, developer.username, 2)
    name = world.name("team")
    label_id = create(world.as_(owner.username), name=name, scope="p", project_id=proj.project_id)
    reply = world.as_(developer.username).post("/labels", {"name": world.name("x"), "scope": "p", "project_id": proj.project_id})
    assert reply.status == 403
    listed = world.as_(developer.username).get(f"/labels?scope=p&project_id={proj.project_id}")
    assert listed.status == 200 and [label["name"] for label in listed.json()] == [name]
    assert listed.headers["x-total-count"] == "1"
    # an outsider learns nothing of a private project
    assert world.as_(outsider.username).get(f"/labels/{label_id}").status == 404
    assert world.as_(outsider.username).get(f"/labels?scope=p&project_id={proj.project_id}").status == 404
    # rename, then the old name is free again
    assert world.as_(owner.username).put(f"/labels/{label_id}", {"name": name + "-new", "color": "#00FF00"}).status == 200
    assert world.as_(owner.username).get(f"/labels/{label_id}").json()["name"] == name + "-new"
    create(world.as_(owner.username), name=name, scope="p", project_id=proj.project_id)
    assert world.as_(developer.username).delete(f"/labels/{label_id}").status == 403
    assert world.as_(owner.username).delete(f"/labels/{label_id}").status == 200
    assert world.as_(owner.username).get(f"/labels/{label_id}").status == 404


@pytest.mark.parametrize(
    "body",
    [
        {"name": "", "scope": "g"},
        {"name": "x" * 129, "scope": "g"},
        {"name": "a", "scope": "q"},
        {"name": "a"},
        {"name": "a", "scope": "p"},
        {"name": "a", "scope": "p", "project_id": 0},
        {"name": "a", "scope": "g", "colour": "red"},
        {"name": 5, "scope": "g"},
    ],
)
def test_bad_labels_are_400(admin, body):
    reply = admin.post("/labels", body)
    assert reply.status == 400 and codes(reply) == ["BAD_REQUEST"], reply.body


def test_list_needs_a_scope_and_a_project_for_project_labels(admin):
    assert admin.get("/labels").status == 400
    assert admin.get("/labels?scope=p").status == 400
    assert admin.get("/labels?scope=p&project_id=999999").status == 404


def test_labels_on_artifacts(world, admin, proj):
    repository = f"{proj.name}/app"
    digest = world.push(repository, "v1")
    global_id = create(admin, name=world.name("g"), scope="g")
    own_id = create(admin, name=world.name("p"), scope="p", project_id=proj.project_id)
    other = world.project(world.name("other"))
    foreign_id = create(admin, name=world.name("f"), scope="p", project_id=other.project_id)
    path = art(proj.name, "app", "v1") + "/labels"
    developer = world.user()
    world.member(proj.name, developer.username, 2)
    dev = world.as_(developer.username)
    assert dev.post(path, {"id": global_id}).status == 200
    assert dev.post(path, {"id": own_id}).status == 200
    again = dev.post(path, {"id": own_id})
    assert again.status == 409 and codes(again) == ["CONFLICT"]
    foreign = dev.post(path, {"id": foreign_id})
    assert foreign.status == 400 and codes(foreign) == ["BAD_REQUEST"]
    assert dev.post(path, {"id": 987654321}).status == 404
    assert dev.post(path, {}).status == 400
    guest = world.user()
    world.member(proj.name, guest.username, 3)
    assert world.as_(guest.username).post(path, {"id": global_id}).status == 403

    shown = admin.get(art(proj.name, "app", digest) + "?with_label=true").json()
    assert sorted(label["id"] for label in shown["labels"]) == sorted([global_id, own_id])
    assert "labels" not in admin.get(art(proj.name, "app", digest)).json()
    listed = admin.get(f"/projects/{proj.name}/repositories/app/artifacts?with_label=true").json()
    assert sorted(label["id"] for label in listed[0]["labels"]) == sorted([global_id, own_id])

    # off again; a deleted label leaves every artifact
    assert dev.delete(f"{path}/{own_id}").status == 200
    assert dev.delete(f"{path}/{own_id}").status == 404
    assert admin.delete(f"/labels/{global_id}").status == 200
    assert admin.get(art(proj.name, "app", "v1") + "?with_label=true").json()["labels"] == []


def test_an_artifacts_labels_go_with_it(world, admin, proj):
    repository = f"{proj.name}/gone"
    digest = world.push(repository, "v1")
    label_id = create(admin, name=world.name("l"), scope="g")
    assert admin.post(art(proj.name, "gone", "v1") + "/labels", {"id": label_id}).status == 200
    assert admin.delete(art(proj.name, "gone", digest)).status == 200
    assert world.svc.labels.artifact_label_ids(repository) == {}
    # pushed again, it starts without labels
    world.push(repository, "v1")
    assert admin.get(art(proj.name, "gone", "v1") + "?with_label=true").json()["labels"] == []
