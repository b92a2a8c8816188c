"""/users: create, list, get, update, delete, current, search, password, sysadmin flag."""
from __future__ import annotations

import pytest

from tests.api.management.conftest import ADMIN_PASSWORD, PASSWORD, clear_config, codes, set_config

NEW_PASSWORD = "Another-Passw0rd"
USER_FIELDS = {
    "user_id", "username", "email", "realname", "comment", "sysadmin_flag", "admin_role_in_auth", "creation_time", "update_time",
}


def create(harbor, username, password=PASSWORD, **fields):
    return harbor.post("/users", {"username": username, "password": password, **fields})


def user_id(world, username) -> int:
    return world.svc.accounts.get_user(username).user_id


# -- create -------------------------------------------------------------------------------------
def test_admin_creates_a_user_who_can_then_log_in(world, admin):
    name = world.name("alice")
    reply = create(admin, name, email=f"{name}@example.com", realname="Alice A", comment="tester")
    assert reply.status == 201
    uid = user_id(world, name)
    assert reply.headers["location"] == f"/api/v2.0/users/{uid}"
    me = world.as_(name).get("/users/current")
    assert me.status == 200
    body = me.json()
    assert set(body) == USER_FIELDS
    assert body["username"] == name and body["user_id"] == uid
    assert body["email"] == f"{name}@example.com" and body["realname"] == "Alice A" and body["comment"] == "tester"
    assert body["sysadmin_flag"] is False
    assert body["creation_time"].endswith("Z")


def test_no_response_ever_carries_a_password_hash(world, admin):
    name = world.name("hashless")
    create(admin, name)
    replies = [admin.get("/users?page_size=100"), admin.get(f"/users/{user_id(world, name)}"), world.as_(name).get("/users/current")]
    for reply in replies:
        assert b"scrypt" not in reply.body and b"password" not in reply.body


def test_duplicate_username_is_409(world, admin):
    name = world.name("dup")
    assert create(admin, name).status == 201
    reply = create(admin, name)
    assert reply.status == 409
    assert codes(reply) == ["CONFLICT"]


@pytest.mark.parametrize(
    "fields",
    [
        {"username": "weak", "password": "short"},
        {"username": "weak", "password": "alllowercase1"},
        {"username": "weak", "password": "NoDigitsHere"},
        {"username": "bad,name", "password": PASSWORD},
        {"username": "bad%name", "password": PASSWORD},
        {"username": "colon:name", "password": PASSWORD},
        {"username": "robot$sneaky", "password": PASSWORD},
        {"username": " padded", "password": PASSWORD},
        {"username": "x" * 256, "password": PASSWORD},
        {"username": "", "password": PASSWORD},
        {"username": "fine", "password": PASSWORD, "email": "not-an-email"},
        {"username": "fine", "password": PASSWORD, "comment": "c" * 31},
        {"username": "fine", "password": PASSWORD, "unknown": 1},
        {"username": 7, "password": PASSWORD},
        {"username": "fine", "password": PASSWORD, "sysadmin_flag": True},
        {"password": PASSWORD},
    ],
)
def test_bad_user_input_is_400(admin, fields):
    reply = admin.post("/users", fields)
    assert reply.status == 400, reply.body
    assert codes(reply) == ["BAD_REQUEST"]


def test_bodies_that_are_not_json_objects(admin):
    assert admin.post("/users", raw=b"{not json", headers={"Content-Type": "application/json"}).status == 400
    assert admin.post("/users", raw=b"[1, 2]", headers={"Content-Type": "application/json"}).status == 400
    assert admin.post("/users", raw=b"").status == 400
    reply = admin.post("/users", raw=b"username=x", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert reply.status == 415
    assert codes(reply) == ["UNSUPPORTED_MEDIA_TYPE"]


def test_only_an_admin_creates_users_while_self_registration_is_off(world):
    world.user("plainuser")
    reply = create(world.as_("plainuser"), world.name("x"))
    assert reply.status == 403 and codes(reply) == ["FORBIDDEN"]
    assert create(world.anonymous, world.name("x")).status == 401


def test_self_registration_lets_anyone_register(world):
    set_config(world, "self_registration", "true")
    try:
        name = world.name("self")
        assert create(world.anonymous, name).status == 201
        assert world.as_(name).get("/users/current").json()["sysadmin_flag"] is False
        assert create(world.as_("admin", "wrong"), world.name("x")).status == 401
    finally:
        clear_config(world, "self_registration")


def test_users_are_not_created_in_ldap_mode(world, admin):
    set_config(world, "auth_mode", "ldap_auth")
    try:
        reply = create(admin, world.name("x"))
        assert reply.status == 403
    finally:
        clear_config(world, "auth_mode")


# -- list and search ---------------------------------------------------------------------------------
def test_list_is_for_admins_and_pages(world, admin):
    prefix = world.name("pg")
    for i in range(5):
        world.user(f"{prefix}-{i}")
    reply = admin.get(f"/users?q=username%3D~{prefix}&page=1&page_size=2&sort=username")
    assert reply.status == 200
    assert [u["username"] for u in reply.json()] == [f"{prefix}-0", f"{prefix}-1"]
    assert reply.headers["x-total-count"] == "5"
    assert 'rel="next"' in reply.headers["link"] and 'rel="prev"' not in reply.headers["link"]
    assert "/api/v2.0/users?" in reply.headers["link"]
    middle = admin.get(f"/users?q=username%3D~{prefix}&page=2&page_size=2&sort=username")
    assert [u["username"] for u in middle.json()] == [f"{prefix}-2", f"{prefix}-3"]
    assert 'rel="prev"' in middle.headers["link"] and 'rel="next"' in middle.headers["link"]
    last = admin.get(f"/users?q=username%3D~{prefix}&page=3&page_size=2&sort=-username")
    assert [u["username"] for u in last.json()] == [f"{prefix}-0"]
    past = admin.get(f"/users?q=username%3D~{prefix}&page=9&page_size=2")
    assert past.status == 200 and past.json() == [] and past.headers["x-total-count"] == "5"
    exact = admin.get(f"/users?q=username%3D{prefix}-3")
    assert [u["username"] for u in exact.json()] == [f"{prefix}-3"]
    world.user("lister")
    assert world.as_("lister").get("/users").status == 403


@pytest.mark.parametrize(
    "query", ["page=0", "page=x", "page_size=101", "page_size=0", "page_size=-1", "q=nokey", "q=password%3Dx", "sort=password"]
)
def test_bad_paging_and_queries_are_400(admin, query):
    reply = admin.get(f"/users?{query}")
    assert reply.status == 400, query
    assert codes(reply) == ["BAD_REQUEST"]


def test_default_page_size_is_10(world, admin):
    for _ in range(11):
        world.user()
    reply = admin.get("/users")
    assert len(reply.json()) == 10
    assert int(reply.headers["x-total-count"]) >= 12


def test_search_is_open_to_users_and_shows_only_ids_and_names(world):
    name = world.name("findme")
    world.user(name)
    world.user("searcher")
    reply = world.as_("searcher").get(f"/users/search?username={name[:6]}")
    assert reply.status == 200
    assert {"user_id": user_id(world, name), "username": name} in reply.json()
    assert all(set(u) == {"user_id", "username"} for u in reply.json())
    assert world.as_("searcher").get("/users/search").status == 400


# -- one user ---------------------------------------------------------------------------------------
def test_a_user_sees_and_edits_only_themselves(world, admin):
    me, other = world.user(), world.user()
    harbor = world.as_(me.username)
    assert harbor.get(f"/users/{me.user_id}").status == 200
    assert harbor.get(f"/users/{other.user_id}").status == 403
    assert harbor.put(f"/users/{other.user_id}", {"email": "x@example.com"}).status == 403
    assert harbor.put(f"/users/{me.user_id}", {"email": "me@example.com", "realname": "Me"}).status == 200
    body = harbor.get("/users/current").json()
    assert body["email"] == "me@example.com" and body["realname"] == "Me"
    assert admin.put(f"/users/{other.user_id}", {"comment": "by admin"}).status == 200
    assert admin.get(f"/users/{other.user_id}").json()["comment"] == "by admin"


def test_profile_updates_refuse_other_fields(world):
    me = world.user()
    harbor = world.as_(me.username)
    for body in ({"username": "renamed"}, {"sysadmin_flag": True}, {"email": 5}, {"email": "bad"}):
        reply = harbor.put(f"/users/{me.user_id}", body)
        assert reply.status == 400, body


def test_unknown_and_malformed_user_ids(admin):
    assert admin.get("/users/999999").status == 404
    assert admin.get("/users/0").status == 404
    assert admin.get("/users/abc").status == 400
    assert admin.get("/users/99999999999999999999999").status == 400
    assert admin.delete("/users/999999").status == 404


def test_admin_deletes_a_user_but_not_themselves(world, admin):
    doomed = world.user()
    world.project(name := world.name("p"))
    world.member(name, doomed.username, 2)
    assert admin.delete(f"/users/{doomed.user_id}").status == 200
    assert admin.get(f"/users/{doomed.user_id}").status == 404
    assert world.as_(doomed.username).get("/users/current").status == 401
    assert world.svc.accounts.get_member(name, "u", doomed.username) is None
    assert admin.delete(f"/users/{user_id(world, 'admin')}").status == 403
    assert world.as_(world.user().username).delete(f"/users/{user_id(world, 'admin')}").status == 403


# -- password ----------------------------------------------------------------------------------------
def test_a_user_changes_their_password_with_the_old_one(world):
    me = world.user()
    harbor = world.as_(me.username)
    path = f"/users/{me.user_id}/password"
    assert harbor.put(path, {"new_password": NEW_PASSWORD}).status == 400  # old one missing
    wrong = harbor.put(path, {"old_password": "Wrong-Passw0rd", "new_password": NEW_PASSWORD})
    assert wrong.status == 403
    assert harbor.put(path, {"old_password": PASSWORD, "new_password": "weak"}).status == 400
    assert harbor.put(path, {"old_password": PASSWORD, "new_password": PASSWORD}).status == 400
    assert harbor.put(path, {"old_password": PASSWORD, "new_password": NEW_PASSWORD}).status == 200
    assert world.as_(me.username).get("/users/current").status == 401
    assert world.as_(me.username, NEW_PASSWORD).get("/users/current").status == 200


def test_admin_resets_anyones_password_without_the_old_one(world, admin):
    other = world.user()
    assert admin.put(f"/users/{other.user_id}/password", {"new_password": NEW_PASSWORD}).status == 200
    assert world.as_(other.username, NEW_PASSWORD).get("/users/current").status == 200
    attempt = {"old_password": ADMIN_PASSWORD, "new_password": NEW_PASSWORD}
    assert world.as_(other.username, NEW_PASSWORD).put(f"/users/{user_id(world, 'admin')}/password", attempt).status == 403


def test_ldap_users_have_no_password_here(world, admin):
    from chalicelib.meta.accounts import User

    ldap_user = world.svc.accounts.create_user(User(username=world.name("ld"), source="ldap"))
    assert admin.put(f"/users/{ldap_user.user_id}/password", {"new_password": NEW_PASSWORD}).status == 403


# -- sysadmin flag ------------------------------------------------------------------------------------
def test_admin_grants_and_revokes_sysadmin(world, admin):
    other = world.user()
    path = f"/users/{other.user_id}/sysadmin"
    assert world.as_(other.username).get("/users").status == 403
    assert admin.put(path, {"sysadmin_flag": True}).status == 200
    assert world.as_(other.username).get("/users").status == 200
    assert admin.get(f"/users/{other.user_id}").json()["sysadmin_flag"] is True
    assert admin.put(path, {"sysadmin_flag": False}).status == 200
    assert world.as_(other.username).get("/users").status == 403
    assert admin.put(path, {"sysadmin_flag": "yes"}).status == 400
    assert admin.put(path, {}).status == 400
    assert world.as_(other.username).put(path, {"sysadmin_flag": True}).status == 403
    assert admin.put(f"/users/{user_id(world, 'admin')}/sysadmin", {"sysadmin_flag": False}).status == 403


def test_robots_have_no_user_profile(world):
    world.project(name := world.name("p"))
    world.robot("bot", [{"kind": "project", "namespace": name, "access": [{"resource": "repository", "action": "pull"}]}], project=name)
    reply = world.as_(f"robot${name}+bot").get("/users/current")
    assert reply.status == 403
