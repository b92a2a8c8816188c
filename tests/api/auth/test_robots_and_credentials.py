"""Robot accounts (Harbor's `robot$<project>+<name>` and system `robot$<name>`)
at the token service and the registry, and bad credentials of every kind, which
all get the same 401 (nothing says which part was wrong)."""
from __future__ import annotations

import json

import pytest

from tests.api.auth.conftest import (
    ADMIN_PASSWORD,
    PASSWORD,
    SERVICE,
    bearer,
    password_hash,
    unverified_claims,
    without_login_throttling,
)


def perms(namespace: str, *actions: str, resource: str = "repository") -> dict:
    return {"kind": "project", "namespace": namespace, "access": [{"resource": resource, "action": a} for a in actions]}


@pytest.fixture(scope="module", autouse=True)
def setup(world):
    without_login_throttling(world.svc)  # BAD below: more failures from one address than it allows
    now = int(world.svc.clock())
    world.project("rp")
    world.project("other")
    world.user("olive")
    world.robot("ci", [perms("rp", "pull", "push")], project="rp")
    world.robot("reader", json.dumps([perms("rp", "pull")]), project="rp")  # stored JSON as Harbor sends it
    world.robot("cleaner", [perms("rp", "pull"), perms("rp", "delete", resource="artifact")], project="rp")
    # a project robot whose stored permissions reach beyond its project
    world.robot("sneaky", [perms("rp", "pull"), perms("other", "pull", "push"), perms("*", "pull", "push")], project="rp")
    world.robot("off", [perms("rp", "pull", "push")], project="rp", disabled=True)
    world.robot("old", [perms("rp", "pull", "push")], project="rp", expiry=now - 60)
    world.robot("later", [perms("rp", "pull", "push")], project="rp", expiry=now + 3600)
    world.robot("toggle", [perms("rp", "pull", "push")], project="rp")
    world.robot("sys", [perms("*", "pull", "push")])
    world.stored_image("rp/seed")
    world.stored_image("other/seed")


def push(world, api, robot: str, repo: str) -> int:
    token = world.token([f"repository:{repo}:pull,push"], robot)
    body, replies = world.image(token, repo, seed=f"{robot} {repo}")
    reply = world.put_manifest(token, repo, "v1", body)
    statuses = {r.status for r in replies} | {reply.status}
    assert len(statuses) == 1, statuses
    return statuses.pop()


def actions(world, robot: str, scope: str) -> list[str]:
    return unverified_claims(world.token([scope], robot))["access"][0]["actions"]


# -- robots ------------------------------------------------------------------------------------
def test_project_robot_pushes_in_its_project(world, api):
    claims = unverified_claims(world.token(["repository:rp/app:pull,push"], "robot$rp+ci"))
    assert claims["sub"] == "robot$rp+ci" and claims["kind"] == "robot"
    assert claims["access"] == [{"type": "repository", "name": "rp/app", "actions": ["pull", "push"]}]
    assert push(world, api, "robot$rp+ci", "rp/app") == 201


def test_project_robot_cannot_touch_other_projects(world, api):
    assert actions(world, "robot$rp+ci", "repository:other/app:pull,push,delete") == []
    assert push(world, api, "robot$rp+ci", "other/app") == 401
    token = world.token(["repository:other/seed:pull"], "robot$rp+ci")
    assert api.get("/v2/other/seed/manifests/latest", headers=bearer(token)).status == 401


def test_project_robot_gets_only_its_permissions(world, api):
    assert actions(world, "robot$rp+reader", "repository:rp/seed:pull,push,delete") == ["pull"]
    assert push(world, api, "robot$rp+reader", "rp/reader") == 401
    token = world.token(["repository:rp/seed:pull"], "robot$rp+reader")
    assert api.get("/v2/rp/seed/manifests/latest", headers=bearer(token)).status == 200
    # Harbor's artifact:delete permission is the registry's delete
    assert actions(world, "robot$rp+cleaner", "repository:rp/seed:pull,push,delete") == ["pull", "delete"]


def test_project_robot_is_confined_to_its_project_whatever_its_permissions_say(world, api):
    """Harbor never lets a project robot hold permissions in another project; a
    stored list that does (a bug elsewhere, a hand-edited item) grants nothing there."""
    assert actions(world, "robot$rp+sneaky", "repository:rp/seed:pull,push") == ["pull"]
    assert actions(world, "robot$rp+sneaky", "repository:other/seed:pull,push") == []
    assert actions(world, "robot$rp+sneaky", "repository:library/x:push") == []
    assert push(world, api, "robot$rp+sneaky", "other/app") == 401


def test_system_robot_with_namespace_star(world, api):
    claims = unverified_claims(world.token(["repository:rp/sys:pull,push,delete", "repository:other/sys:pull,push"], "robot$sys"))
    assert [a["actions"] for a in claims["access"]] == [["pull", "push"], ["pull", "push"]]
    assert push(world, api, "robot$sys", "rp/sys") == 201
    assert push(world, api, "robot$sys", "other/sys") == 201
    # a project that does not exist is not covered by "*"
    assert actions(world, "robot$sys", "repository:nosuch/app:pull") == []


def test_robot_with_future_expiry_works(world, api):
    assert push(world, api, "robot$rp+later", "rp/later") == 201


@pytest.mark.parametrize("robot", ["robot$rp+off", "robot$rp+old"])
def test_disabled_or_expired_robot_is_refused(world, robot):
    reply = world.token_reply(["repository:rp/app:pull"], robot)
    assert reply.status == 401
    reply = world.post_token({"grant_type": "password", "username": robot, "password": PASSWORD, "service": SERVICE})
    assert reply.status == 401


def test_robot_with_wrong_secret_is_refused(world):
    assert world.token_reply(["repository:rp/app:pull"], "robot$rp+ci", "wrong-secret").status == 401


def test_robot_password_grant_and_refresh_until_disabled(world, api):
    reply = world.post_token(
        {"grant_type": "password", "username": "robot$rp+toggle", "password": PASSWORD, "service": SERVICE,
         "access_type": "offline", "scope": "repository:rp/toggle:pull,push"}
    )
    assert reply.status == 200, reply.body
    refresh = reply.json()["refresh_token"]
    again = world.post_token({"grant_type": "refresh_token", "refresh_token": refresh, "scope": "repository:rp/toggle:push"})
    assert again.status == 200
    assert unverified_claims(again.json()["access_token"])["access"][0]["actions"] == ["push"]
    world.svc.accounts.update_robot("robot$rp+toggle", disabled=True)
    assert world.post_token({"grant_type": "refresh_token", "refresh_token": refresh}).status == 401
    assert world.token_reply([], "robot$rp+toggle").status == 401


def test_a_new_robot_secret_ends_its_refresh_tokens(world, api):
    reply = world.post_token(
        {"grant_type": "password", "username": "robot$rp+ci", "password": PASSWORD, "service": SERVICE,
         "access_type": "offline", "scope": "repository:rp/app:pull"}
    )
    refresh = reply.json()["refresh_token"]
    rotated = world.post_token({"grant_type": "refresh_token", "refresh_token": refresh})
    assert rotated.status == 200, rotated.body
    world.svc.accounts.update_robot("robot$rp+ci", secret_hash=password_hash("A-New-Secret-1"))
    try:
        for token in (refresh, rotated.json()["refresh_token"]):
            assert world.post_token({"grant_type": "refresh_token", "refresh_token": token}).status == 401
        assert world.token_reply([], "robot$rp+ci", "A-New-Secret-1").status == 200
    finally:
        world.svc.accounts.update_robot("robot$rp+ci", secret_hash=password_hash(PASSWORD))


# -- bad credentials: one answer for all -----------------------------------------------------
BAD = [
    ("olive", "wrong-password"),  # wrong password
    ("nobody", PASSWORD),  # unknown user
    ("admin", "wrong-password"),
    ("robot$rp+off", PASSWORD),  # disabled robot
    ("robot$rp+old", PASSWORD),  # expired robot
    ("robot$rp+ci", "wrong-secret"),  # wrong secret
    ("robot$rp+nobody", PASSWORD),  # unknown robot
    ("robot$", PASSWORD),
    ("olive", ""),  # empty password
    ("", PASSWORD),  # empty username
    ("ol\x00ive", PASSWORD),
    ("x" * 300, PASSWORD),
    ("olive", "p" * 5000),
]


def test_bad_credentials_at_get_are_indistinguishable(world):
    replies = [world.token_reply(["repository:rp/seed:pull"], user, password) for user, password in BAD]
    assert {r.status for r in replies} == {401}
    assert len({r.body for r in replies}) == 1, {r.body for r in replies}
    assert len({r.headers.get("www-authenticate") for r in replies}) == 1
    assert replies[0].error_codes == ["UNAUTHORIZED"]
    # the good ones work
    assert world.token_reply([], "olive").status == 200
    assert world.token_reply([], "admin", ADMIN_PASSWORD).status == 200


def test_bad_credentials_at_post_are_indistinguishable(world):
    replies = [
        world.post_token({"grant_type": "password", "username": user, "password": password, "service": SERVICE})
        for user, password in BAD
        if "\x00" not in user
    ]
    assert {r.status for r in replies} == {401}
    assert len({r.body for r in replies}) == 1, {r.body for r in replies}
    assert replies[0].json()["error"] == "invalid_grant"
