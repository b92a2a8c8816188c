"""Odd scope strings at the token service: a clear 4xx, or a token that grants
nothing for what it does not understand. Never a 5xx, never more access."""
from __future__ import annotations

import pytest

from tests.api.auth.conftest import ADMIN_PASSWORD, PASSWORD, SERVICE, unverified_claims


@pytest.fixture(scope="module", autouse=True)
def setup(world):
    world.project("sc")
    world.user("gina")
    world.member("sc", "gina", 3)  # guest: pull only


CALLERS = [("anonymous", None, ""), ("guest", "gina", PASSWORD), ("admin", "admin", ADMIN_PASSWORD)]
REFUSED = [
    "repository:UPPER:pull",
    "repository:library/UPPER:pull",
    "repository::pull",
    "repository:a:",
    "repository:library/a:",
    "repository:library/a",
    "repository",
    ":library/a:pull",
    "repository:library/a:PULL",
    "repository:" + "a" * 600 + ":pull",
    "repository:library/" + "a" * 600 + ":pull",
    "repository:library/a:" + "pull," * 120,
    "Repository:library/a:pull",
    "repository:library/a:pull;push",
    "repository:../etc:pull",
    "repository:library/a/../b:pull",
    "repository:library//a:pull",
    "repository:/library/a:pull",
    "repository:library/a:b:pull",
    "repository:library\x00/a:pull",
    "repository:library/a:pull\u0130",
]


@pytest.mark.parametrize("who, user, password", CALLERS, ids=[c[0] for c in CALLERS])
@pytest.mark.parametrize("scope", REFUSED, ids=range(len(REFUSED)))
def test_malformed_scope_is_a_clear_4xx(world, who, user, password, scope):
    reply = world.token_reply([scope], user, password)
    assert reply.status == 400, (reply.status, reply.body[:300])
    assert reply.error_codes == ["UNSUPPORTED"]
    post = world.post_token(
        {"grant_type": "password", "username": user or "x", "password": password or "x", "scope": scope, "service": SERVICE}
    )
    assert post.status == 400 and post.json()["error"] == "invalid_scope"


def test_fifty_scopes_are_refused(world):
    scopes = [f"repository:sc/r{i}:pull" for i in range(50)]
    reply = world.token_reply(scopes, "admin", ADMIN_PASSWORD)
    assert reply.status == 400
    # also as one space-separated parameter
    assert world.token_reply([" ".join(scopes)], "admin", ADMIN_PASSWORD).status == 400


def test_twenty_scopes_are_fine(world):
    scopes = [f"repository:sc/r{i}:pull" for i in range(20)]
    token = world.token(scopes, "gina")
    assert [a["actions"] for a in unverified_claims(token)["access"]] == [["pull"]] * 20


def test_unknown_actions_are_dropped(world):
    claims = unverified_claims(world.token(["repository:sc/a:pull,hack"], "gina"))
    assert claims["access"] == [{"type": "repository", "name": "sc/a", "actions": ["pull"]}]
    claims = unverified_claims(world.token(["repository:sc/a:pull,hack,push,admin,*"], "admin", ADMIN_PASSWORD))
    assert claims["access"][0]["actions"] == ["pull", "push", "*"]
    claims = unverified_claims(world.token(["repository:library/a:pull,hack,*"]))
    assert claims["access"][0]["actions"] == ["pull"]  # anonymous: no "*" on a public project


def test_empty_actions_in_a_list_are_ignored(world):
    claims = unverified_claims(world.token(["repository:library/a:pull,,push,"]))
    assert claims["access"] == [{"type": "repository", "name": "library/a", "actions": ["pull"]}]


def test_star_is_not_granted_to_a_guest(world):
    claims = unverified_claims(world.token(["repository:sc/a:*"], "gina"))
    assert claims["access"][0]["actions"] == []


@pytest.mark.parametrize("scope", ["foo:bar:pull", "registry:catalog:pull", "registry:other:*", "project:sc:pull", "repository:nosuch/a:pull"])
def test_unknown_types_or_resources_grant_nothing(world, scope):
    for user, password in (("gina", PASSWORD), ("admin", ADMIN_PASSWORD)):
        reply = world.token_reply([scope], user, password)
        assert reply.status == 200, reply.status
        assert [a["actions"] for a in unverified_claims(reply.json()["token"])["access"]] == [[]]


def test_plugin_repository_type_is_a_repository(world):
    claims = unverified_claims(world.token(["repository(plugin):sc/a:pull,push"], "gina"))
    assert claims["access"] == [{"type": "repository", "name": "sc/a", "actions": ["pull"]}]


def test_catalog_scope(world):
    for user, password in ((None, ""), ("gina", PASSWORD)):
        claims = unverified_claims(world.token(["registry:catalog:*"], user, password))
        assert claims["access"] == [{"type": "registry", "name": "catalog", "actions": ["*"]}]


def test_blank_and_repeated_scope_parameters(world):
    claims = unverified_claims(world.token(["", " ", "repository:sc/a:pull  repository:sc/a:pull"], "gina"))
    assert claims["access"] == [{"type": "repository", "name": "sc/a", "actions": ["pull"]}]
