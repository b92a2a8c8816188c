"""Identity on the management API and the console, through the handler: sessions
belong to an account (id and epoch) not to a name; usernames and robot names are
NFKC, free of invisible characters and unique up to case and confusables; console
logins and Basic credentials are throttled; the throttle's settings are in
/configurations."""
from __future__ import annotations

import pytest

from tests.api.helpers import FrozenClock
from tests.api.management.conftest import PASSWORD, World, codes, make_world
from tests.api.management.test_sessions import Console

STRONG = "Strong-Passw0rd"


@pytest.fixture(scope="module")
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture(scope="module")
def world(_moto, clock) -> World:
    made = make_world(_moto)
    made.svc.clock = clock
    for built in ("login_gate", "sessions", "authenticator", "accounts", "audit", "access_contexts"):
        made.svc.__dict__.pop(built, None)  # rebuilt on the test clock
    return made


@pytest.fixture
def console(world):
    return Console(world.api)


# -- sessions belong to one account --------------------------------------------------------------
def test_a_console_session_does_not_survive_its_user_being_made_again(world, console):
    user = world.user()
    assert console.login(user.username, PASSWORD).status == 200
    assert console.call("GET", "/users/current").status == 200
    world.svc.accounts.delete_user(user.username)
    world.user(user.username)  # the same name and password: another account
    reply = console.call("GET", "/users/current")
    assert reply.status == 401
    assert console.login(user.username, PASSWORD).status == 200
    assert console.call("GET", "/users/current").json()["user_id"] != user.user_id


def test_a_demotion_ends_the_console_session(world, console, admin):
    user = world.user(sysadmin=True)
    assert console.login(user.username, PASSWORD).status == 200
    assert console.call("GET", "/users").status == 200
    assert admin.put(f"/users/{user.user_id}/sysadmin", {"sysadmin_flag": False}).status == 200
    assert console.call("GET", "/users/current").status == 401


def test_a_password_change_ends_the_console_session(world, console, admin):
    user = world.user()
    assert console.login(user.username, PASSWORD).status == 200
    assert admin.put(f"/users/{user.user_id}/password", {"new_password": STRONG}).status == 200
    assert console.call("GET", "/users/current").status == 401


# -- names -------------------------------------------------------------------------------------------
def create_user(admin, username: str):
    return admin.post("/users", {"username": username, "password": STRONG, "email": ""})


def test_usernames_are_stored_nfkc(world, admin):
    assert create_user(admin, "ｊｏｅｌ").status == 201
    assert world.svc.accounts.get_user("joel") is not None
    assert world.svc.accounts.get_user("ｊｏｅｌ") is None


@pytest.mark.parametrize("name", ["ad\u200bmin2", "evil\u202egnp", "zw\u200dj", "bom\ufeff", "fill\u3164er"])
def test_invisible_and_bidi_characters_in_a_username_are_400(admin, name):
    reply = create_user(admin, name)
    assert reply.status == 400 and codes(reply) == ["BAD_REQUEST"]
    assert "invisible" in reply.json()["errors"][0]["message"]


@pytest.mark.parametrize("other", ["KARL", "Karl", "k\u0430rl", "kar1"])
def test_a_username_taken_up_to_case_or_confusables_is_409(world, admin, other):
    if world.svc.accounts.get_user("karl") is None:
        assert create_user(admin, "karl").status == 201
    reply = create_user(admin, other)
    assert reply.status == 409 and codes(reply) == ["CONFLICT"]
    assert world.svc.accounts.get_user(other) is None


def test_a_robot_name_confusable_with_another_is_409(world, admin):
    permissions = [{"kind": "project", "namespace": "library", "access": [{"resource": "repository", "action": "pull"}]}]
    body = {"name": "deploy0", "level": "project", "permissions": permissions, "duration": -1}
    assert admin.post("/robots", body).status == 201
    reply = admin.post("/robots", {**body, "name": "deployo"})
    assert reply.status == 409 and codes(reply) == ["CONFLICT"]


# -- throttling ----------------------------------------------------------------------------------------
def test_console_logins_are_throttled_with_429_and_retry_after(world, console, clock):
    user = world.user()
    for _ in range(5):
        assert console.login(user.username, "wrong").status == 401
    held = console.login(user.username, PASSWORD)
    assert held.status == 429 and codes(held) == ["TOO_MANY_REQUESTS"]
    wait = int(held.headers["retry-after"])
    assert wait >= 1 and "too many failed logins" in held.json()["errors"][0]["message"]
    clock.now += wait
    assert console.login(user.username, PASSWORD).status == 200


def test_basic_credentials_on_the_api_are_throttled(world, clock):
    user = world.user()
    for _ in range(5):
        assert world.as_(user.username, "wrong").get("/users/current").status == 401
    held = world.as_(user.username).get("/users/current")
    assert held.status == 429 and codes(held) == ["TOO_MANY_REQUESTS"]
    clock.now += int(held.headers["retry-after"])
    assert world.as_(user.username).get("/users/current").status == 200


def test_the_throttle_settings_are_in_the_configuration_api(world, admin, clock):
    got = admin.get("/configurations").json()
    assert got["login_failures_before_delay"] == {"value": 5, "editable": True}
    assert got["login_throttle_enabled"]["value"] is True
    assert got["failed_login_audit_per_minute"]["value"] == 60
    assert admin.put("/configurations", {"login_failures_before_delay": 0}).status == 400
    assert admin.put("/configurations", {"login_failures_before_delay": 2}).status == 200
    try:
        user = world.user()
        for _ in range(2):
            assert world.as_(user.username, "wrong").get("/users/current").status == 401
        assert world.as_(user.username).get("/users/current").status == 429
        assert admin.put("/configurations", {"login_throttle_enabled": False}).status == 200
        assert world.as_(user.username).get("/users/current").status == 200
    finally:
        assert admin.put("/configurations", {"login_failures_before_delay": 5, "login_throttle_enabled": True}).status == 200
