"""/projects: create, list (only what the caller may see), HEAD, get, update,
delete (412 while it holds repositories), summary, X-Is-Resource-Name."""
from __future__ import annotations

import pytest

from tests.api.management.conftest import clear_config, codes, password_hash, set_config

PROJECT_FIELDS = {
    "project_id", "owner_id", "name", "creation_time", "update_time", "deleted", "owner_name", "togglable",
    "current_user_role_id", "current_user_role_ids", "repo_count", "chart_count", "metadata", "cve_allowlist",
}


def create(harbor, name, public=None, **extra):
    body = {"project_name": name, **extra}
    if public is not None:
        body["metadata"] = {"public": "true" if public else "false"}
    return harbor.post("/projects", body)


def names(reply) -> list[str]:
    assert reply.status == 200, reply.body
    return [p["name"] for p in reply.json()]


# -- create ---------------------------------------------------------------------------------
def test_create_answers_201_with_harbors_location(world, admin):
    name = world.name("proj")
    reply = create(admin, name, public=True)
    assert reply.status == 201
    project = world.svc.accounts.get_project(name)
    assert reply.headers["location"] == f"/api/v2.0/projects/{project.project_id}"
    assert project.public and project.owner == "admin"
    body = admin.get(f"/projects/{project.project_id}").json()
    assert set(body) == PROJECT_FIELDS
    assert body["name"] == name and body["metadata"]["public"] == "true" and body["repo_count"] == 0
    assert body["owner_name"] == "admin" and body["owner_id"] == world.svc.accounts.get_user("admin").user_id
    assert body["current_user_role_id"] == 1  # the creator is its project admin


def test_location_by_name_on_request(world, admin):
    name = world.name("proj")
    reply = admin.post("/projects", {"project_name": name}, headers={"X-Resource-Name-In-Location": "true"})
    assert reply.headers["location"] == f"/api/v2.0/projects/{name}"


def test_private_by_default_and_public_flag_forms(world, admin):
    a, b = world.name("priv"), world.name("pub")
    create(admin, a)
    admin.post("/projects", {"project_name": b, "public": True})
    assert world.svc.accounts.get_project(a).public is False
    assert world.svc.accounts.get_project(b).metadata["public"] == "true"


def test_duplicate_name_is_409(world, admin):
    name = world.name("twice")
    assert create(admin, name).status == 201
    reply = create(admin, name)
    assert reply.status == 409 and codes(reply) == ["CONFLICT"]


@pytest.mark.parametrize(
    "body",
    [
        {"project_name": "Upper"},
        {"project_name": "-dash"},
        {"project_name": "dash-"},
        {"project_name": "a..b"},
        {"project_name": "has space"},
        {"project_name": "a/b"},
        {"project_name": ""},
        {"project_name": "x" * 256},
        {"project_name": "api"},
        {"project_name": "service"},
        {"project_name": "ok", "metadata": {"public": "yes"}},
        {"project_name": "ok", "metadata": {"unknown": "x"}},
        {"project_name": "ok", "metadata": {"severity": "extreme"}},
        {"project_name": "ok", "public": "true"},
        {"project_name": "ok", "owner": "someone"},
        {"project_name": 5},
        {"project_name": "ok", "registry_id": 3},
        {"metadata": {"public": "true"}},
    ],
)
def test_bad_projects_are_400(admin, body):
    reply = admin.post("/projects", body)
    assert reply.status == 400, body
    assert codes(reply) == ["BAD_REQUEST"]


def test_longest_name_is_fine(world, admin):
    assert create(admin, "a" * 255).status == 201


def test_creation_restriction(world):
    user = world.user()
    assert create(world.as_(user.username), world.name("mine")).status == 403
    set_config(world, "project_creation_restriction", "everyone")
    try:
        name = world.name("mine")
        assert create(world.as_(user.username), name).status == 201
        assert world.svc.accounts.get_member(name, "u", user.username).role_id == 1
        assert world.as_(user.username).get(f"/projects/{name}").json()["current_user_role_id"] == 1
    finally:
        clear_config(world, "project_creation_restriction")


# -- list ------------------------------------------------------------------------------------
def test_a_user_lists_public_projects_and_their_own(world, admin):
    user = world.user()
    mine, theirs, public = world.name("mine"), world.name("theirs"), world.name("public")
    world.project(mine)
    world.project(theirs)
    world.project(public, public=True)
    world.member(mine, user.username, 3)
    seen = names(world.as_(user.username).get("/projects?page_size=100"))
    assert mine in seen and public in seen and theirs not in seen
    assert theirs in names(admin.get(f"/projects?name={theirs}"))


def test_a_group_membership_shows_the_project(world):
    from chalicelib.meta.accounts import User

    dn = "cn=devs,ou=groups,dc=example,dc=com"
    user = world.svc.accounts.create_user(User(username=world.name("grp"), password_hash=password_hash(), groups=[dn]))
    name = world.name("grouped")
    world.project(name)
    world.member(name, dn, 2, entity_type="g")
    reply = world.as_(user.username).get(f"/projects?name={name}")
    assert names(reply) == [name]
    assert reply.json()[0]["current_user_role_id"] == 2


def test_list_filters_and_pages(world, admin):
    prefix = world.name("flt")
    for i in range(3):
        world.project(f"{prefix}-{i}", public=i == 1)
    assert names(admin.get(f"/projects?q=name%3D~{prefix}")) == [f"{prefix}-0", f"{prefix}-1", f"{prefix}-2"]
    assert names(admin.get(f"/projects?q=name%3D~{prefix}&public=true")) == [f"{prefix}-1"]
    assert names(admin.get(f"/projects?q=name%3D~{prefix},public%3Dfalse")) == [f"{prefix}-0", f"{prefix}-2"]
    assert names(admin.get(f"/projects?name={prefix}-2")) == [f"{prefix}-2"]
    page = admin.get(f"/projects?q=name%3D~{prefix}&page=2&page_size=2&sort=-name")
    assert names(page) == [f"{prefix}-0"]
    assert page.headers["x-total-count"] == "3"
    assert admin.get(f"/projects?q=name%3D~{prefix}&page=5").json() == []
    assert admin.get("/projects?public=maybe").status == 400
    assert admin.get("/projects?q=secret%3Dx").status == 400


def test_list_counts_repositories(world, admin):
    name = world.name("counted")
    world.project(name)
    world.push(f"{name}/a")
    world.push(f"{name}/b/c")
    world.push(f"{name}x/other")
    assert admin.get(f"/projects?name={name}").json()[0]["repo_count"] == 2


# -- HEAD, get ---------------------------------------------------------------------------------
def test_head_says_whether_a_name_exists(world, admin):
    name = world.name("exists")
    world.project(name)
    assert admin.head(f"/projects?project_name={name}").status == 200
    assert admin.head("/projects?project_name=nosuchproject").status == 404
    assert admin.head("/projects").status == 400
    assert world.anonymous.head(f"/projects?project_name={name}").status == 401


def test_get_by_id_or_name_and_x_is_resource_name(world, admin):
    numeric = "4242"
    world.project(numeric)
    other = world.project(world.name("byid"))
    assert admin.get(f"/projects/{other.project_id}").json()["name"] == other.name
    assert admin.get(f"/projects/{other.name}").json()["name"] == other.name
    # a number is an id unless the header says it is a name
    by_name = admin.get(f"/projects/{numeric}", headers={"X-Is-Resource-Name": "true"})
    assert by_name.json()["name"] == numeric
    assert admin.get("/projects/999999").status == 404
    assert admin.get("/projects/nosuchproject").status == 404


def test_private_projects_are_hidden_from_others(world):
    outsider = world.user()
    name = world.name("closed")
    world.project(name)
    reply = world.as_(outsider.username).get(f"/projects/{name}")
    assert reply.status == 404 and codes(reply) == ["NOT_FOUND"]  # as if it did not exist
    public = world.name("open")
    world.project(public, public=True)
    assert world.as_(outsider.username).get(f"/projects/{public}").status == 200


# -- update ------------------------------------------------------------------------------------
def test_project_admin_updates_metadata(world, admin):
    owner, dev = world.user(), world.user()
    name = world.name("upd")
    world.project(name)
    world.member(name, owner.username, 1)
    world.member(name, dev.username, 2)
    assert world.as_(dev.username).put(f"/projects/{name}", {"metadata": {"public": "true"}}).status == 403
    assert world.as_(owner.username).put(f"/projects/{name}", {"metadata": {"public": "true", "auto_scan": "true"}}).status == 200
    project = world.svc.accounts.get_project(name)
    assert project.public and project.metadata["auto_scan"] == "true"
    assert admin.put(f"/projects/{name}", {"public": False}).status == 200
    assert world.svc.accounts.get_project(name).metadata["public"] == "false"
    assert admin.put(f"/projects/{name}", {"project_name": "renamed"}).status == 400
    assert admin.put(f"/projects/{name}", {"project_name": name}).status == 200
    assert admin.put(f"/projects/{name}", {"metadata": {"public": 1}}).status == 400
    assert admin.put("/projects/nosuchproject", {"public": True}).status == 404


# -- delete ------------------------------------------------------------------------------------
def test_delete_only_when_empty(world, admin):
    name = world.name("del")
    world.project(name)
    world.push(f"{name}/app")
    reply = admin.delete(f"/projects/{name}")
    assert reply.status == 412 and codes(reply) == ["PRECONDITION"]
    assert admin.get(f"/projects/{name}/_deletable").json()["deletable"] is False
    assert admin.delete(f"/projects/{name}/repositories/app").status == 200
    assert admin.get(f"/projects/{name}/_deletable").json() == {"deletable": True, "message": ""}
    assert admin.delete(f"/projects/{name}").status == 200
    assert admin.get(f"/projects/{name}").status == 404
    assert admin.delete(f"/projects/{name}").status == 404


def test_delete_needs_project_admin(world):
    maintainer = world.user()
    name = world.name("keep")
    world.project(name)
    world.member(name, maintainer.username, 4)
    assert world.as_(maintainer.username).delete(f"/projects/{name}").status == 403
    assert world.svc.accounts.get_project(name) is not None


# -- summary ------------------------------------------------------------------------------------
def test_summary_counts_repositories_and_members_by_role(world, admin):
    name = world.name("sum")
    world.project(name)
    users = [world.user() for _ in range(4)]
    for user, role in zip(users, (1, 2, 2, 5)):
        world.member(name, user.username, role)
    world.member(name, "cn=ops,dc=example,dc=com", 4, entity_type="g")
    world.push(f"{name}/one")
    body = admin.get(f"/projects/{name}/summary").json()
    assert body == {
        "repo_count": 1,
        "chart_count": 0,
        "project_admin_count": 1,
        "maintainer_count": 1,
        "developer_count": 2,
        "guest_count": 0,
        "limited_guest_count": 1,
        # written straight into the store, the image charged nothing (tests/api/management/test_quotas.py pushes)
        "quota": {"hard": {"storage": -1}, "used": {"storage": 0}},
    }
    limited = world.as_(users[3].username).get(f"/projects/{name}/summary").json()
    # a limited guest does not see the members
    assert limited == {"repo_count": 1, "chart_count": 0, "quota": {"hard": {"storage": -1}, "used": {"storage": 0}}}
    assert world.as_(world.user().username).get(f"/projects/{name}/summary").status == 404  # who may learn what: as if it did not exist


def test_a_private_project_the_caller_may_not_see_answers_as_if_it_did_not_exist(world, admin):
    """Who may learn what (issue 10): the same status and message for a missing project
    and a private one the caller may not see, and no name in either."""
    world.project("hidden-team")
    world.user("outsider")
    outsider = world.as_("outsider")
    hidden = outsider.get("/projects/hidden-team")
    missing = outsider.get("/projects/no-such-team")
    assert (hidden.status, hidden.json()) == (missing.status, missing.json()) == (404, missing.json())
    assert "hidden-team" not in hidden.body.decode()
    by_id = outsider.get(f"/projects/{admin.get('/projects/hidden-team').json()['project_id']}")
    assert (by_id.status, by_id.json()) == (404, missing.json())
    assert outsider.get("/projects/hidden-team/repositories").status == 404
    assert outsider.get("/projects/hidden-team/members").status == 404


def test_robots_may_not_search_users(world, admin):
    world.project("robo-team")
    reply = admin.post("/robots", {"name": "finder", "level": "system", "duration": 1, "permissions": [
        {"kind": "project", "namespace": "robo-team", "access": [{"resource": "repository", "action": "pull"}]}]})
    assert reply.status == 201, reply.body
    robot = world.as_(reply.json()["name"], reply.json()["secret"])
    assert robot.get("/users/search?username=a").status == 403
    assert admin.get("/users/search?username=a").status == 200
