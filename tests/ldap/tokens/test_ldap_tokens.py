"""The token service in LDAP mode (auth_mode=ldap_auth in the SSM runtime
configuration) against a real slapd (the `slapd` fixture, tests/ldap_server.py):
directory logins, LDAP groups as project members, `admin` from the database."""
from __future__ import annotations

import pytest

from chalicelib.roles import Role
from tests.api.auth.conftest import SERVICE, World, bearer, make_world, unverified_claims, without_login_throttling
from tests.ldap_server import DEVS, DNS, GROUPS, OPS, PASSWORDS, READER_DN, READER_PASSWORD, SUFFIX

ALICE = PASSWORDS["alice"]


def configure(svc, server) -> None:
    prefix = f"{svc.settings.ssm_prefix}/config"
    for key, value in {
        "auth_mode": "ldap_auth",
        "ldap_url": server.url,
        "ldap_base_dn": SUFFIX,
        "ldap_search_dn": READER_DN,
        "ldap_uid": "uid",
        "ldap_group_base_dn": GROUPS,
        "ldap_timeout": "3",
    }.items():
        svc.ssm.put_parameter(Name=f"{prefix}/{key}", Value=value, Type="String")
    svc.ssm.put_parameter(Name=f"{prefix}/ldap_search_password", Value=READER_PASSWORD, Type="SecureString")


@pytest.fixture(scope="module")
def world(_moto, slapd) -> World:
    return make_world(_moto, before_bootstrap=lambda svc: configure(svc, slapd))


@pytest.fixture(scope="module", autouse=True)
def setup(world):
    without_login_throttling(world.svc)  # many wrong logins from one address on purpose
    world.project("team")
    world.project("ops")
    world.member("team", DEVS.lower(), Role.DEVELOPER.value, entity_type="g")
    world.member("ops", OPS.lower(), Role.GUEST.value, entity_type="g")
    world.admin_push("team/seed")


def test_runtime_config_says_ldap(world):
    assert world.svc.runtime_config.auth_mode == "ldap_auth"


def test_first_login_creates_the_user_item(world):
    assert world.svc.accounts.get_user("carol") is None
    reply = world.token_reply(["repository:team/seed:pull"], "carol", PASSWORDS["carol"])
    assert reply.status == 200, reply.body
    user = world.svc.accounts.get_user("carol")
    assert user is not None
    assert user.source == "ldap"
    assert user.ldap_dn == DNS["carol"]
    assert user.password_hash is None  # the directory keeps the password
    assert not user.sysadmin
    # carol is in no group that is a member of team: nothing granted
    assert unverified_claims(reply.json()["token"])["access"][0]["actions"] == []


def test_ldap_user_gets_a_token_and_the_group_role(world, api):
    reply = world.token_reply(["repository:team/app:pull,push,delete"], "alice", ALICE)
    assert reply.status == 200, reply.body
    claims = unverified_claims(reply.json()["token"])
    assert claims["sub"] == "alice" and claims["kind"] == "user"
    assert claims["access"][0]["actions"] == ["pull", "push"]  # devs are developers in team
    user = world.svc.accounts.get_user("alice")
    assert user.source == "ldap" and user.groups == [DEVS.lower()]


def test_group_membership_lets_alice_push(world, api):
    token = world.token(["repository:team/alice:pull,push"], "alice", ALICE)
    body, replies = world.image(token, "team/alice", seed="alice")
    assert [r.status for r in replies] == [201, 201]
    assert world.put_manifest(token, "team/alice", "v1", body).status == 201
    assert api.get("/v2/team/alice/manifests/v1", headers=bearer(token)).status == 200


def test_another_group_gets_its_own_role_only(world, api):
    token = world.token(["repository:team/seed:pull", "repository:ops/app:pull,push"], "bob", PASSWORDS["bob"])
    assert [a["actions"] for a in unverified_claims(token)["access"]] == [[], ["pull"]]
    assert api.get("/v2/team/seed/manifests/latest", headers=bearer(token)).status == 401
    # and alice is no member of ops
    token = world.token(["repository:ops/app:pull"], "alice", ALICE)
    assert unverified_claims(token)["access"][0]["actions"] == []


def test_user_membership_after_first_login(world, api):
    """The user item made at first login can be a project member like any user."""
    world.project("solo")
    world.member("solo", "alice", Role.PROJECT_ADMIN.value)
    token = world.token(["repository:solo/app:pull,push,delete"], "alice", ALICE)
    assert unverified_claims(token)["access"][0]["actions"] == ["pull", "push", "delete"]


def test_login_name_case_does_not_make_another_user(world):
    reply = world.token_reply(["repository:team/seed:pull"], "ALICE", ALICE)
    assert reply.status == 200, reply.body
    claims = unverified_claims(reply.json()["token"])
    assert claims["sub"] == "alice"
    assert claims["access"][0]["actions"] == ["pull"]
    assert world.svc.accounts.get_user("ALICE") is None


def test_wrong_ldap_password_is_401(world):
    wrong = world.token_reply(["repository:team/seed:pull"], "alice", "not-alices-password")
    unknown = world.token_reply(["repository:team/seed:pull"], "nosuchuser", ALICE)
    assert wrong.status == unknown.status == 401
    assert wrong.body == unknown.body
    post = world.post_token({"grant_type": "password", "username": "alice", "password": "wrong", "service": SERVICE})
    assert post.status == 401 and post.json()["error"] == "invalid_grant"


def test_admin_still_logs_in_from_the_database(world, api):
    claims = unverified_claims(world.admin_token("repository:team/seed:pull,push,delete"))
    assert claims["sub"] == "admin"
    assert claims["access"][0]["actions"] == ["pull", "push", "delete"]
    assert world.token_reply([], "admin", "wrong").status == 401
    assert world.svc.accounts.get_user("admin").source == "db"


@pytest.mark.parametrize("username", ["*", "alice)(uid=*", "*)(uid=*", "alice*", "al*ce", "(uid=alice)", "alice)(|(uid=*)", "\\2a", "uid=alice"])
def test_filter_metacharacters_in_the_username_are_401(world, username):
    for password in (ALICE, PASSWORDS["bob"]):
        reply = world.token_reply(["repository:team/seed:pull"], username, password)
        assert reply.status == 401, (username, reply.body)
    assert world.svc.accounts.get_user(username) is None


def test_a_literal_star_in_a_uid_matches_only_itself(world):
    assert world.token_reply([], "star*", PASSWORDS["star*"]).status == 200
    assert world.token_reply([], "star*", ALICE).status == 401


def test_password_grant_and_refresh_keep_the_group_role(world, api):
    reply = world.post_token(
        {"grant_type": "password", "username": "alice", "password": ALICE, "service": SERVICE, "access_type": "offline",
         "scope": "repository:team/seed:pull"}
    )
    assert reply.status == 200, reply.body
    refresh = reply.json()["refresh_token"]
    again = world.post_token({"grant_type": "refresh_token", "refresh_token": refresh, "scope": "repository:team/x:pull,push"})
    assert again.status == 200, again.body
    assert unverified_claims(again.json()["access_token"])["access"][0]["actions"] == ["pull", "push"]


def test_catalog_shows_what_the_group_may_see(world):
    token = world.token(["registry:catalog:*"], "alice", ALICE)
    reply = world.api.get("/v2/_catalog", headers=bearer(token))
    assert reply.status == 200
    assert set(reply.json()["repositories"]) >= {"team/seed"}
    assert all(name.startswith(("team/", "library/", "solo/")) for name in reply.json()["repositories"])
