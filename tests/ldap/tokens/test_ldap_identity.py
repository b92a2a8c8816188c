"""LDAP identities never merge with local ones (against the real slapd of
tests/ldap_server.py, through the handler): a directory login resolves only to an
LDAP account; a name that is a local account's, compared as the directory does
(without case), is refused with a failed-login audit entry; only the local system
administrator `admin` logs in from the database in LDAP mode, as in Harbor."""
from __future__ import annotations

import pytest

from chalicelib.roles import Role
from tests.api.auth.conftest import PASSWORD, World, make_world, unverified_claims
from tests.ldap.tokens.test_ldap_tokens import configure
from tests.ldap_server import DEVS, PASSWORDS

SCOPE = "repository:team/app:pull,push"


@pytest.fixture(scope="module")
def world(_moto, slapd) -> World:
    made = make_world(_moto)
    # local accounts made in database mode, before the switch to LDAP: "bob" is also
    # the directory's bob; "Carol" differs from the directory's carol only in case
    made.user("bob")
    made.user("Carol")
    made.project("team")
    made.member("team", DEVS.lower(), Role.DEVELOPER.value, entity_type="g")
    configure(made.svc, slapd)
    made.svc.runtime_config.forget()
    return made


def failed_logins(world: World, username: str) -> list:
    return [e for e in world.svc.audit.matching(username=username) if e.operation == "login" and not e.succeeded]


def test_a_directory_login_with_a_local_accounts_name_is_refused_and_audited(world):
    before = world.svc.accounts.get_user("bob")
    reply = world.token_reply([SCOPE], "bob", PASSWORDS["bob"], offline_token="true")
    assert reply.status == 401
    after = world.svc.accounts.get_user("bob")
    assert after == before  # the local account is untouched: no groups, no DN, still "db"
    assert after.source == "db" and after.groups == [] and after.ldap_dn is None
    entries = failed_logins(world, "bob")
    assert entries and "local account" in entries[0].resource


def test_another_case_of_a_local_name_is_refused_too(world):
    for typed in ("BOB", "Bob", "carol", "CAROL"):
        reply = world.token_reply([SCOPE], typed, PASSWORDS[typed.lower()])
        assert reply.status == 401, (typed, reply.body)
    assert world.svc.accounts.get_user("Carol").source == "db"
    assert world.svc.accounts.get_user("carol") is None
    assert failed_logins(world, "carol") or failed_logins(world, "CAROL")


def test_a_local_account_cannot_log_in_with_its_database_password_in_ldap_mode(world):
    assert world.token_reply([SCOPE], "bob", PASSWORD).status == 401
    assert world.token_reply([SCOPE], "Carol", PASSWORD).status == 401


def test_the_local_admin_still_logs_in_and_another_case_of_it_goes_to_the_directory(world):
    from tests.api.auth.conftest import ADMIN_PASSWORD

    assert world.token_reply([SCOPE], "admin", ADMIN_PASSWORD).status == 200
    for typed in ("ADMIN", "Admin"):
        assert world.token_reply([SCOPE], typed, ADMIN_PASSWORD).status == 401
    admin = world.svc.accounts.get_user("admin")
    assert admin.source == "db" and admin.sysadmin and admin.groups == []


def test_a_directory_user_without_a_local_namesake_gets_an_ldap_account(world):
    reply = world.token_reply([SCOPE], "ALICE", PASSWORDS["alice"])
    assert reply.status == 200, reply.body
    claims = unverified_claims(reply.json()["token"])
    assert claims["sub"] == "alice" and claims["access"][0]["actions"] == ["pull", "push"]
    alice = world.svc.accounts.get_user("alice")
    assert alice.source == "ldap" and alice.epoch
    # and a local account can no longer take her name, in any case
    from chalicelib.errors import Conflict

    with pytest.raises(Conflict):
        world.user("Alice")
