"""/robots: create (secret shown once, stored hashed), list, get, update,
refresh the secret, delete; a creator grants no more than they hold."""
from __future__ import annotations

import pytest

from tests.api.management.conftest import codes

DAY = 24 * 3600


def perm(namespace: str, *actions: str, resource: str = "repository") -> dict:
    return {"kind": "project", "namespace": namespace, "access": [{"resource": resource, "action": a} for a in actions]}


def make_team(world):
    name = world.name("rb")
    world.project(name)
    owner, maintainer, dev = world.user(), world.user(), world.user()
    world.member(name, owner.username, 1)
    world.member(name, maintainer.username, 4)
    world.member(name, dev.username, 2)
    return name, owner.username, maintainer.username, dev.username


@pytest.fixture
def team(world):
    return make_team(world)


@pytest.fixture(scope="module")
def refusing_team(world):
    """A team for the tests of refused requests, which change nothing: one for the module."""
    return make_team(world)


def create(harbor, name, level="project", permissions=(), **extra):
    return harbor.post("/robots", {"name": name, "level": level, "permissions": list(permissions), **extra})


def test_project_admin_creates_a_project_robot_that_logs_in(world, team):
    project, owner, _, _ = team
    reply = create(world.as_(owner), "ci", permissions=[perm(project, "pull", "push")], duration=30, description="ci bot")
    assert reply.status == 201, reply.body
    body = reply.json()
    assert set(body) == {"id", "name", "secret", "creation_time", "expires_at"}
    assert body["name"] == f"robot${project}+ci"
    assert reply.headers["location"] == f"/api/v2.0/robots/{body['id']}"
    stored = world.svc.accounts.get_robot(body["name"])
    assert body["secret"] not in stored.secret_hash and stored.secret_hash.startswith("scrypt$")
    assert body["expires_at"] == stored.created + 30 * DAY
    # the robot can use the API with its secret (here: its own project)
    robot = world.as_(body["name"], body["secret"])
    assert robot.get(f"/projects/{project}").status == 200
    assert robot.get(f"/projects/{project}/members").status == 403


def test_the_secret_is_never_shown_again(world, team, admin):
    project, owner, _, _ = team
    created = create(world.as_(owner), "quiet", permissions=[perm(project, "pull")]).json()
    one = admin.get(f"/robots/{created['id']}")
    assert "secret" not in one.json() and created["secret"].encode() not in one.body
    listed = admin.get("/robots?q=name%3D~quiet&page_size=100")
    assert created["secret"].encode() not in listed.body and all("secret" not in r for r in listed.json())


def test_robot_representation(world, team, admin):
    project, owner, _, _ = team
    created = create(world.as_(owner), "shape", permissions=[perm(project, "pull")], duration=-1, description="d").json()
    body = admin.get(f"/robots/{created['id']}").json()
    assert body == {
        "id": created["id"],
        "name": f"robot${project}+shape",
        "description": "d",
        "level": "project",
        "duration": -1,
        "editable": True,
        "disable": False,
        "expires_at": -1,
        "permissions": [perm(project, "pull")],
        "creation_time": body["creation_time"],
        "update_time": body["update_time"],
    }


def test_default_duration_is_30_days(world, team):
    project, owner, _, _ = team
    body = create(world.as_(owner), "dflt", permissions=[perm(project, "pull")]).json()
    assert body["expires_at"] == world.svc.accounts.get_robot(body["name"]).created + 30 * DAY


def test_a_given_secret_must_be_strong(world, team):
    project, owner, _, _ = team
    weak = create(world.as_(owner), "weak", permissions=[perm(project, "pull")], secret="weak")
    assert weak.status == 400
    strong = create(world.as_(owner), "strong", permissions=[perm(project, "pull")], secret="Str0ng-Secret")
    assert strong.json()["secret"] == "Str0ng-Secret"
    assert world.as_(strong.json()["name"], "Str0ng-Secret").get(f"/projects/{project}").status == 200


def test_creators_grant_no_more_than_they_hold(world, team):
    project, owner, maintainer, dev = team
    other = world.name("other")
    world.project(other)
    assert create(world.as_(maintainer), "m", permissions=[perm(project, "pull")]).status == 403
    assert create(world.as_(dev), "d", permissions=[perm(project, "pull")]).status == 403
    # a project admin of one project cannot reach into another, nor make system robots
    assert create(world.as_(owner), "x", permissions=[perm(other, "pull")]).status == 403
    assert create(world.as_(owner), "s", level="system", permissions=[perm(project, "pull")]).status == 403
    assert create(world.as_(owner), "s", level="system", permissions=[perm("*", "pull")]).status == 403


def test_system_robots_are_for_system_administrators(world, team, admin):
    project, _, _, _ = team
    reply = create(admin, world.name("sys"), level="system", permissions=[perm(project, "pull"), perm("*", "pull")])
    assert reply.status == 201
    assert reply.json()["name"].startswith("robot$sys")
    assert create(admin, world.name("sys"), level="system", permissions=[perm("nosuchproject", "pull")]).status == 404


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Bad Name", "level": "project"},
        {"name": "ok", "level": "galaxy"},
        {"name": "ok", "level": "project", "duration": -2},
        {"name": "ok", "level": "project", "duration": "30"},
        {"name": "ok", "level": "project", "unknown": True},
        {"name": "ok", "level": "project", "permissions_extra": []},
        {"level": "project"},
    ],
)
def test_bad_robot_requests_are_400(refusing_team, admin, body):
    project = refusing_team[0]
    body = {"permissions": [perm(project, "pull")], **body}
    reply = admin.post("/robots", body)
    assert reply.status == 400, body
    assert codes(reply) == ["BAD_REQUEST"]


@pytest.mark.parametrize(
    "permissions",
    [
        [],
        [perm("P", "pull"), perm("P", "push")],
        [{"kind": "system", "namespace": "/", "access": [{"resource": "user", "action": "read"}]}],
        [{"kind": "project", "namespace": "P", "access": [{"resource": "repository", "action": "fly"}]}],
        [{"kind": "project", "namespace": "P", "access": [{"resource": "repository"}]}],
        [{"kind": "project", "namespace": "P"}],
    ],
)
def test_bad_project_robot_permissions_are_400(refusing_team, admin, permissions):
    project = refusing_team[0]
    permissions = [{**p, "namespace": project} if p.get("namespace") == "P" else p for p in permissions]
    reply = create(admin, "bp", permissions=permissions)
    assert reply.status == 400, permissions


def test_duplicate_robot_name_is_409(team, admin):
    project = team[0]
    assert create(admin, "twin", permissions=[perm(project, "pull")]).status == 201
    reply = create(admin, "twin", permissions=[perm(project, "pull")])
    assert reply.status == 409 and codes(reply) == ["CONFLICT"]


def test_listing(world, team, admin):
    project, owner, maintainer, dev = team
    create(world.as_(owner), "l1", permissions=[perm(project, "pull")])
    create(world.as_(owner), "l2", permissions=[perm(project, "push")])
    pid = world.svc.accounts.get_project(project).project_id
    query = f"/robots?q=Level%3Dproject,ProjectID%3D{pid}"
    for who in (owner, maintainer):
        reply = world.as_(who).get(query)
        assert reply.status == 200
        assert [r["name"] for r in reply.json()] == [f"robot${project}+l1", f"robot${project}+l2"]
        assert reply.headers["x-total-count"] == "2"
    assert world.as_(dev).get(query).status == 403
    assert world.as_(owner).get("/robots").status == 403
    assert admin.get("/robots?page_size=100").status == 200
    assert admin.get("/robots?q=ProjectID%3D999999").status == 404


def test_update_disable_duration_and_permissions(world, team):
    project, owner, _, _ = team
    created = create(world.as_(owner), "upd", permissions=[perm(project, "pull")], duration=1).json()
    path = f"/robots/{created['id']}"
    current = world.as_(owner).get(path).json()
    current.update({"disable": True, "duration": 10, "description": "changed", "permissions": [perm(project, "pull", "push")]})
    assert world.as_(owner).put(path, current).status == 200
    robot = world.svc.accounts.get_robot(created["name"])
    assert robot.disabled and robot.description == "changed"
    assert robot.expiry == robot.created + 10 * DAY
    assert robot.access == [perm(project, "pull", "push")]
    # disabled: the robot cannot log in
    assert world.as_(created["name"], created["secret"]).get(f"/projects/{project}").status == 401
    assert world.as_(owner).put(path, {"level": "system"}).status == 400
    assert world.as_(owner).put(path, {"name": "robot$other+x"}).status == 400
    assert world.as_(owner).put(path, {"permissions": [perm("library", "pull")]}).status == 400
    assert world.as_(owner).put(path, {"bogus": 1}).status == 400
    assert world.as_(owner).put("/robots/999999", {"disable": False}).status == 404


def test_maintainers_read_but_do_not_change(world, team):
    project, owner, maintainer, _ = team
    created = create(world.as_(owner), "ro", permissions=[perm(project, "pull")]).json()
    path = f"/robots/{created['id']}"
    assert world.as_(maintainer).get(path).status == 200
    assert world.as_(maintainer).put(path, {"disable": True}).status == 403
    assert world.as_(maintainer).patch(path, {}).status == 403
    assert world.as_(maintainer).delete(path).status == 403
    assert world.as_(world.user().username).get(path).status == 403


def test_refresh_secret(world, team):
    project, owner, _, _ = team
    created = create(world.as_(owner), "rot", permissions=[perm(project, "pull")]).json()
    path = f"/robots/{created['id']}"
    reply = world.as_(owner).patch(path, {})
    assert reply.status == 200
    fresh = reply.json()["secret"]
    assert fresh != created["secret"]
    assert world.as_(created["name"], created["secret"]).get(f"/projects/{project}").status == 401
    assert world.as_(created["name"], fresh).get(f"/projects/{project}").status == 200
    # the robot may refresh its own secret, to one it chooses
    mine = world.as_(created["name"], fresh).patch(path, {"secret": "Chosen-Secr3t"})
    assert mine.status == 200 and mine.json() == {"secret": "Chosen-Secr3t"}
    assert world.as_(owner).patch(path, {"secret": "weak"}).status == 400


def test_delete(world, team, admin):
    project, owner, _, _ = team
    created = create(world.as_(owner), "gone", permissions=[perm(project, "pull")]).json()
    assert world.as_(owner).delete(f"/robots/{created['id']}").status == 200
    assert admin.get(f"/robots/{created['id']}").status == 404
    assert world.as_(created["name"], created["secret"]).get(f"/projects/{project}").status == 401
    assert admin.delete(f"/robots/{created['id']}").status == 404
    assert admin.delete("/robots/abc").status == 400


def test_system_robots_are_only_the_admins(world, admin):
    created = create(admin, world.name("sysro"), level="system", permissions=[perm("*", "pull")]).json()
    someone = world.user()
    assert world.as_(someone.username).get(f"/robots/{created['id']}").status == 403
    assert world.as_(someone.username).delete(f"/robots/{created['id']}").status == 403
