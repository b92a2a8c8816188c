"""/projects/{p}/members: users and LDAP groups, read with member.read and
changed with member.write (project admins)."""
from __future__ import annotations

import pytest

from tests.api.management.conftest import codes

GROUP_DN = "cn=Builders,ou=groups,dc=example,dc=com"


def make_team(world):
    """A project with an admin, a developer, a limited guest and an outsider."""
    name = world.name("team")
    world.project(name)
    people = {role: world.user() for role in ("admin", "developer", "limited", "outsider")}
    world.member(name, people["admin"].username, 1)
    world.member(name, people["developer"].username, 2)
    world.member(name, people["limited"].username, 5)
    return name, {k: v.username for k, v in people.items()}


@pytest.fixture
def team(world):
    return make_team(world)


@pytest.fixture(scope="module")
def refusing_team(world):
    """A team for the tests of refused requests, which change nothing: one for the module."""
    return make_team(world)


def test_project_admin_adds_lists_updates_and_removes_a_user(world, team):
    project, people = team
    newcomer = world.user()
    harbor = world.as_(people["admin"])
    reply = harbor.post(f"/projects/{project}/members", {"role_id": 3, "member_user": {"username": newcomer.username}})
    assert reply.status == 201
    member = world.svc.accounts.get_member(project, "u", newcomer.username)
    pid = world.svc.accounts.get_project(project).project_id
    assert reply.headers["location"] == f"/api/v2.0/projects/{pid}/members/{member.member_id}"
    listed = harbor.get(f"/projects/{project}/members").json()
    entry = next(m for m in listed if m["entity_name"] == newcomer.username)
    assert entry == {
        "id": member.member_id,
        "project_id": pid,
        "entity_name": newcomer.username,
        "role_name": "guest",
        "role_id": 3,
        "entity_id": newcomer.user_id,
        "entity_type": "u",
    }
    assert harbor.get(f"/projects/{project}/members/{member.member_id}").json() == entry
    assert harbor.put(f"/projects/{project}/members/{member.member_id}", {"role_id": 4}).status == 200
    assert world.svc.accounts.get_member(project, "u", newcomer.username).role_id == 4
    assert harbor.delete(f"/projects/{project}/members/{member.member_id}").status == 200
    assert world.svc.accounts.get_member(project, "u", newcomer.username) is None
    assert harbor.get(f"/projects/{project}/members/{member.member_id}").status == 404


def test_add_by_user_id_and_by_project_id(world, team, admin):
    project, _ = team
    user = world.user()
    pid = world.svc.accounts.get_project(project).project_id
    assert admin.post(f"/projects/{pid}/members", {"role_id": 2, "member_user": {"user_id": user.user_id}}).status == 201
    assert world.svc.accounts.get_member(project, "u", user.username).role_id == 2


def test_an_ldap_group_member(world, team, admin):
    project, _ = team
    reply = admin.post(f"/projects/{project}/members", {"role_id": 2, "member_group": {"ldap_group_dn": GROUP_DN, "group_type": 1}})
    assert reply.status == 201
    entry = next(m for m in admin.get(f"/projects/{project}/members").json() if m["entity_type"] == "g")
    assert entry["entity_name"] == GROUP_DN and entry["role_name"] == "developer"
    duplicate = admin.post(f"/projects/{project}/members", {"role_id": 3, "member_group": {"ldap_group_dn": GROUP_DN.upper()}})
    assert duplicate.status == 409  # DNs compare without case


def test_readers_and_writers(world, team):
    project, people = team
    path = f"/projects/{project}/members"
    assert world.as_(people["developer"]).get(path).status == 200
    assert world.as_(people["limited"]).get(path).status == 403
    assert world.as_(people["outsider"]).get(path).status == 404  # who may learn what: as if it did not exist
    body = {"role_id": 2, "member_user": {"username": people["outsider"]}}
    assert world.as_(people["developer"]).post(path, body).status == 403
    assert world.as_(people["outsider"]).post(path, body).status == 404  # who may learn what: as if it did not exist
    mid = world.svc.accounts.get_member(project, "u", people["developer"]).member_id
    assert world.as_(people["developer"]).put(f"{path}/{mid}", {"role_id": 1}).status == 403
    assert world.as_(people["developer"]).delete(f"{path}/{mid}").status == 403


@pytest.mark.parametrize(
    "body, status, code",
    [
        ({"role_id": 2, "member_user": {"username": "nobody-here"}}, 404, "NOT_FOUND"),
        ({"role_id": 2, "member_user": {"user_id": 999999}}, 404, "NOT_FOUND"),
        ({"role_id": 9, "member_user": {"username": "x"}}, 400, "BAD_REQUEST"),
        ({"role_id": "2", "member_user": {"username": "x"}}, 400, "BAD_REQUEST"),
        ({"member_user": {"username": "x"}}, 400, "BAD_REQUEST"),
        ({"role_id": 2}, 400, "BAD_REQUEST"),
        ({"role_id": 2, "member_user": {}}, 400, "BAD_REQUEST"),
        ({"role_id": 2, "member_user": {"username": "x"}, "member_group": {"ldap_group_dn": "cn=x"}}, 400, "BAD_REQUEST"),
        ({"role_id": 2, "member_group": {"group_name": "no-dn"}}, 400, "BAD_REQUEST"),
        ({"role_id": 2, "member_group": {"ldap_group_dn": "cn=x", "group_type": 2}}, 400, "BAD_REQUEST"),
        ({"role_id": 2, "member_user": {"username": "x", "password": "y"}}, 400, "BAD_REQUEST"),
    ],
)
def test_bad_member_requests(refusing_team, admin, body, status, code):
    project, _ = refusing_team
    reply = admin.post(f"/projects/{project}/members", body)
    assert reply.status == status, reply.body
    assert codes(reply) == [code]


def test_duplicate_member_is_409(refusing_team, admin):
    project, people = refusing_team
    reply = admin.post(f"/projects/{project}/members", {"role_id": 3, "member_user": {"username": people["developer"]}})
    assert reply.status == 409 and codes(reply) == ["CONFLICT"]


def test_unknown_members_and_projects(refusing_team, admin):
    project, _ = refusing_team
    assert admin.get(f"/projects/{project}/members/999999").status == 404
    assert admin.get(f"/projects/{project}/members/abc").status == 400
    assert admin.put(f"/projects/{project}/members/999999", {"role_id": 2}).status == 404
    assert admin.put(f"/projects/{project}/members/1", {"role_id": 0}).status == 400
    assert admin.delete(f"/projects/{project}/members/999999").status == 404
    assert admin.get("/projects/nosuchproject/members").status == 404


def test_list_pages_and_filters_by_entity_name(world, team, admin):
    project, people = team
    reply = admin.get(f"/projects/{project}/members?page_size=2")
    assert reply.headers["x-total-count"] == "3" and len(reply.json()) == 2
    assert 'rel="next"' in reply.headers["link"]
    found = admin.get(f"/projects/{project}/members?entityname={people['limited']}").json()
    assert [m["entity_name"] for m in found] == [people["limited"]]


def test_a_new_member_gets_the_roles_rights_at_once(world, team, admin):
    project, _ = team
    user = world.user()
    assert world.as_(user.username).get(f"/projects/{project}").status == 404  # who may learn what: as if it did not exist
    admin.post(f"/projects/{project}/members", {"role_id": 2, "member_user": {"username": user.username}})
    assert world.as_(user.username).get(f"/projects/{project}").status == 200
