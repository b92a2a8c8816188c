"""Granted = requested ∩ role, over every Harbor role, the system admin, a
non-member and an anonymous caller, for pull, push and delete on a private and
a public project. Each cell checks both the token's `access` claim and what the
registry then really does with that token."""
from __future__ import annotations

import pytest

from chalicelib import roles as rbac
from chalicelib.roles import Role
from tests.api.auth.conftest import bearer, unverified_claims
from tests.api.helpers import digest

ROLE_USERS = {
    "projectAdmin": Role.PROJECT_ADMIN,  # 1
    "developer": Role.DEVELOPER,  # 2
    "guest": Role.GUEST,  # 3
    "maintainer": Role.MAINTAINER,  # 4
    "limitedGuest": Role.LIMITED_GUEST,  # 5
}
PRINCIPALS = [*ROLE_USERS, "sysadmin", "nonmember", "anonymous"]
PROJECTS = {"priv": False, "pub": True}  # name -> public
ACTIONS = ("pull", "push", "delete")

# Harbor's rules, written out cell by cell (not derived from rbac.PERMISSIONS)
MAY = {
    "projectAdmin": {"pull", "push", "delete"},
    "maintainer": {"pull", "push", "delete"},
    "developer": {"pull", "push"},
    "guest": {"pull"},
    "limitedGuest": {"pull"},
    "sysadmin": {"pull", "push", "delete"},
    "nonmember": set(),
    "anonymous": set(),
}


def allowed(principal: str, project: str, action: str) -> bool:
    return action in MAY[principal] or (PROJECTS[project] and action == "pull")


def login(principal: str) -> str | None:
    return None if principal == "anonymous" else principal


@pytest.fixture(scope="module", autouse=True)
def setup(world):
    for project, public in PROJECTS.items():
        world.project(project, public=public)
    for name, role in ROLE_USERS.items():
        world.user(name)
        for project in PROJECTS:
            world.member(project, name, role.value)
    world.user("sysadmin", sysadmin=True)
    world.user("nonmember")
    seeds = {}
    for project in PROJECTS:
        seeds[project] = world.stored_image(f"{project}/seed")
        for principal in PRINCIPALS:
            world.stored_image(f"{project}/del-{principal.lower()}")
    return seeds


def token_for(world, principal: str, scope: str) -> str:
    return world.token([scope], login(principal))


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("project", list(PROJECTS))
@pytest.mark.parametrize("principal", PRINCIPALS)
def test_token_grants_requested_intersect_role(world, principal, project, action):
    repo = f"{project}/seed"
    claims = unverified_claims(token_for(world, principal, f"repository:{repo}:{action}"))
    expected = [action] if allowed(principal, project, action) else []
    assert claims["access"] == [{"type": "repository", "name": repo, "actions": expected}]
    # asking for everything at once gives the same subset, in the asked order
    claims = unverified_claims(token_for(world, principal, f"repository:{repo}:pull,push,delete"))
    assert claims["access"][0]["actions"] == [a for a in ACTIONS if allowed(principal, project, a)]


@pytest.mark.parametrize("project", list(PROJECTS))
@pytest.mark.parametrize("principal", PRINCIPALS)
def test_pull_outcome(world, api, setup, principal, project):
    token = token_for(world, principal, f"repository:{project}/seed:pull")
    headers = bearer(token)
    manifest = api.get(f"/v2/{project}/seed/manifests/latest", headers=headers)
    tags = api.get(f"/v2/{project}/seed/tags/list", headers=headers)
    if allowed(principal, project, "pull"):
        assert manifest.status == 200 and digest(manifest.body) == setup[project]
        assert tags.status == 200 and tags.json()["tags"] == ["latest"]
        config = manifest.json()["config"]["digest"]
        assert api.get(f"/v2/{project}/seed/blobs/{config}", headers=headers).status in (200, 307)  # 307: presigned S3
    else:
        assert manifest.status == 401 and tags.status == 401
        assert 'error="insufficient_scope"' in manifest.headers["www-authenticate"]
        admin = bearer(world.admin_token(f"repository:{project}/seed:pull"))
        config = api.get(f"/v2/{project}/seed/manifests/latest", headers=admin).json()["config"]["digest"]
        assert api.get(f"/v2/{project}/seed/blobs/{config}", headers=headers).status == 401


@pytest.mark.parametrize("project", list(PROJECTS))
@pytest.mark.parametrize("principal", PRINCIPALS)
def test_push_outcome(world, api, principal, project):
    repo = f"{project}/push-{principal.lower()}"
    token = token_for(world, principal, f"repository:{repo}:pull,push")
    body, blob_replies = world.image(token, repo, seed=f"{principal}-{project}")
    manifest = world.put_manifest(token, repo, "v1", body)
    check = api.head(f"/v2/{repo}/manifests/v1", headers=bearer(world.admin_token(f"repository:{repo}:pull")))
    if allowed(principal, project, "push"):
        assert [r.status for r in blob_replies] == [201, 201]
        assert manifest.status == 201
        assert check.status == 200
    else:
        assert [r.status for r in blob_replies] == [401, 401]
        assert manifest.status == 401
        assert all(f'scope="repository:{repo}:pull,push"' in r.headers["www-authenticate"] for r in blob_replies)
        assert check.status == 404  # nothing was stored


@pytest.mark.parametrize("project", list(PROJECTS))
@pytest.mark.parametrize("principal", PRINCIPALS)
def test_delete_outcome(world, api, principal, project):
    repo = f"{project}/del-{principal.lower()}"
    admin = bearer(world.admin_token(f"repository:{repo}:pull"))
    target = api.head(f"/v2/{repo}/manifests/latest", headers=admin).headers["docker-content-digest"]
    token = token_for(world, principal, f"repository:{repo}:delete")
    reply = api.delete(f"/v2/{repo}/manifests/{target}", headers=bearer(token))
    after = api.head(f"/v2/{repo}/manifests/{target}", headers=admin)
    if allowed(principal, project, "delete"):
        assert reply.status == 202
        assert after.status == 404
    else:
        assert reply.status == 401
        assert after.status == 200


def test_nobody_gets_anything_in_a_project_that_does_not_exist(world, api):
    for principal in ("projectAdmin", "anonymous"):
        claims = unverified_claims(token_for(world, principal, "repository:nosuch/app:pull,push,delete"))
        assert claims["access"][0]["actions"] == []
    # asking only to pull creates nothing, even for a system administrator
    claims = unverified_claims(token_for(world, "sysadmin", "repository:nosuch/app:pull"))
    assert claims["access"][0]["actions"] == []
    assert world.svc.accounts.get_project("nosuch") is None


def test_a_sysadmin_push_creates_a_private_project(world, api):
    claims = unverified_claims(token_for(world, "sysadmin", "repository:fresh/app:pull,push"))
    assert claims["access"][0]["actions"] == ["pull", "push"]
    project = world.svc.accounts.get_project("fresh")
    assert project is not None and project.public is False
    # its creator administers it, as with POST /projects
    members = world.svc.accounts.list_members("fresh")
    assert [(m.entity_name, m.role_id) for m in members] == [("sysadmin", Role.PROJECT_ADMIN.value)]
    # ...which others then cannot see or use
    claims = unverified_claims(token_for(world, "projectAdmin", "repository:fresh/app:pull,push"))
    assert claims["access"][0]["actions"] == []
    # a project name Harbor would refuse is never created
    claims = unverified_claims(token_for(world, "sysadmin", "repository:a__b/app:pull,push"))
    assert claims["access"][0]["actions"] == []
    assert world.svc.accounts.get_project("a__b") is None


def test_mount_needs_pull_on_the_source(world, api, setup):
    """A cross-repository mount from a private repository the caller cannot pull
    must not link the blob (it falls back to a plain upload session)."""
    world.project("mal")
    world.user("mallory")
    world.member("mal", "mallory", Role.DEVELOPER.value)
    admin = bearer(world.admin_token("repository:priv/seed:pull"))
    layer = api.get("/v2/priv/seed/manifests/latest", headers=admin).json()["layers"][0]["digest"]
    token = world.token(["repository:mal/loot:pull,push", "repository:priv/seed:pull"], "mallory")
    assert unverified_claims(token)["access"][1]["actions"] == []
    reply = api.post(f"/v2/mal/loot/blobs/uploads/?mount={layer}&from=priv/seed", headers=bearer(token))
    assert reply.status == 202, reply.status
    assert api.head(f"/v2/mal/loot/blobs/{layer}", headers=bearer(token)).status == 404
    # the project admin of both may mount
    world.member("mal", "projectAdmin", Role.PROJECT_ADMIN.value)
    token = world.token(["repository:mal/ok:pull,push", "repository:priv/seed:pull"], "projectAdmin")
    reply = api.post(f"/v2/mal/ok/blobs/uploads/?mount={layer}&from=priv/seed", headers=bearer(token))
    assert reply.status == 201


# -- the role table itself -------------------------------------------------------------------
def test_harbor_role_ids():
    assert {r.harbor_name: r.value for r in Role} == {
        "projectAdmin": 1,
        "developer": 2,
        "guest": 3,
        "maintainer": 4,
        "limitedGuest": 5,
    }


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.harbor_name)
def test_registry_actions_per_role(role):
    assert {a for a in ACTIONS if rbac.allows(role, a)} == MAY[role.harbor_name]


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.harbor_name)
def test_member_management_is_for_project_admins(role):
    """member.write: project admins only (the system admin is no role: the
    management API checks Principal.admin before the table)."""
    assert rbac.allows(role, "member.write") == (role is Role.PROJECT_ADMIN)
    assert rbac.allows(role, "member.read") == (role is not Role.LIMITED_GUEST)


def test_no_role_allows_nothing():
    assert not any(rbac.allows(None, a) for a in [*ACTIONS, "member.read", "member.write", "log.read"])
    assert not rbac.allows(Role.PROJECT_ADMIN, "no.such.permission")


def test_best_role_wins():
    assert rbac.best([Role.GUEST, Role.DEVELOPER, Role.LIMITED_GUEST]) is Role.DEVELOPER
    assert rbac.best([Role.DEVELOPER, Role.MAINTAINER]) is Role.MAINTAINER
    assert rbac.best([Role.MAINTAINER, Role.PROJECT_ADMIN]) is Role.PROJECT_ADMIN
    assert rbac.best([]) is None
