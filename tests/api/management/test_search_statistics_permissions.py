"""GET /search, GET /statistics and GET /users/current/permissions: only what the
caller may see, in Harbor's shapes."""
from __future__ import annotations

from chalicelib import roles as rbac
from chalicelib.management.search import HARBOR_POLICIES
from tests.api.management.conftest import PASSWORD, codes


def _setup(world, tag: str):
    """A public and a private project, each with a repository, and a user who
    is a developer of neither (outsider) and one who is a developer of the private one."""
    public = world.project(f"{tag}pub", public=True)
    private = world.project(f"{tag}priv")
    world.push(f"{public.name}/app", "v1")
    world.push(f"{private.name}/app", "v1")
    world.push(f"{private.name}/team/tool", "v1")
    outsider = world.user()
    member = world.user()
    world.member(private.name, member.username, int(rbac.Role.DEVELOPER))
    return public, private, outsider, member


# -- search -----------------------------------------------------------------------------------
def test_search_answers_harbors_shape(world, admin):
    public, private, _, _ = _setup(world, "srcha")
    reply = admin.get("/search?q=srcha")
    assert reply.status == 200
    body = reply.json()
    assert set(body) == {"project", "repository"}
    assert [p["name"] for p in body["project"]] == [private.name, public.name]
    assert body["project"][0]["repo_count"] == 2
    repositories = {r["repository_name"]: r for r in body["repository"]}
    assert set(repositories) == {f"{public.name}/app", f"{private.name}/app", f"{private.name}/team/tool"}
    assert repositories[f"{public.name}/app"] == {
        "project_id": public.project_id,
        "project_name": public.name,
        "project_public": True,
        "repository_name": f"{public.name}/app",
        "pull_count": 0,
        "artifact_count": 1,
    }
    assert repositories[f"{private.name}/app"]["project_public"] is False


def test_search_shows_only_what_the_caller_may_see(world):
    public, private, outsider, member = _setup(world, "srchb")
    seen = world.as_(outsider.username).get("/search?q=srchb").json()
    assert [p["name"] for p in seen["project"]] == [public.name]
    assert [r["repository_name"] for r in seen["repository"]] == [f"{public.name}/app"]
    seen = world.as_(member.username).get("/search?q=srchb").json()
    assert [p["name"] for p in seen["project"]] == [private.name, public.name]
    assert seen["project"][0]["current_user_role_id"] == int(rbac.Role.DEVELOPER)
    assert len(seen["repository"]) == 3


def test_search_matches_repository_names_too(world, admin):
    _, private, _, _ = _setup(world, "srchc")
    body = admin.get("/search?q=srchcpriv/team").json()
    assert body["project"] == []
    assert [r["repository_name"] for r in body["repository"]] == [f"{private.name}/team/tool"]
    assert admin.get("/search?q=nothing-is-called-this").json() == {"project": [], "repository": []}


def test_search_needs_q_and_credentials(world, admin):
    reply = admin.get("/search")
    assert reply.status == 400 and codes(reply) == ["BAD_REQUEST"]
    assert world.anonymous.get("/search?q=a").status == 401


def test_a_robot_searches_what_its_permissions_name(world):
    public, private, _, _ = _setup(world, "srchd")
    world.robot("searcher", [{"kind": "project", "namespace": private.name, "access": [{"resource": "repository", "action": "pull"}]}], project=private.name)
    robot = world.as_(f"robot${private.name}+searcher", PASSWORD)
    body = robot.get("/search?q=srchd").json()
    assert {p["name"] for p in body["project"]} == {public.name, private.name}


# -- statistics -------------------------------------------------------------------------------
def _expected(world, names: set[str] | None) -> dict:
    projects = [p for p in world.svc.accounts.all_projects() if names is None or p.public or p.name in names]
    counts = dict.fromkeys(("private_project_count", "private_repo_count", "public_project_count", "public_repo_count"), 0)
    for p in projects:
        kind = "public" if p.public else "private"
        counts[f"{kind}_project_count"] += 1
        counts[f"{kind}_repo_count"] += len(world.svc.meta.repositories(p.name + "/"))
    counts["total_project_count"] = counts["public_project_count"] + counts["private_project_count"]
    counts["total_repo_count"] = counts["public_repo_count"] + counts["private_repo_count"]
    counts["total_storage_consumption"] = 0
    return counts


def test_an_administrator_sees_every_project_in_the_statistics(world, admin):
    _setup(world, "stata")
    reply = admin.get("/statistics")
    assert reply.status == 200
    body = reply.json()
    assert body == _expected(world, None)
    assert body["private_project_count"] >= 1 and body["private_repo_count"] >= 2


def test_a_user_counts_public_projects_and_their_own(world):
    _, private, outsider, member = _setup(world, "statb")
    outside = world.as_(outsider.username).get("/statistics").json()
    assert outside == _expected(world, set())
    assert outside["private_project_count"] == 0 and outside["private_repo_count"] == 0
    inside = world.as_(member.username).get("/statistics").json()
    assert inside == _expected(world, {private.name})
    assert inside["private_project_count"] == 1 and inside["private_repo_count"] == 2


def test_statistics_need_credentials(world):
    assert world.anonymous.get("/statistics").status == 401


# -- permissions ------------------------------------------------------------------------------
def _pairs(reply) -> set[tuple[str, str]]:
    assert reply.status == 200
    return {(p["resource"], p["action"]) for p in reply.json()}


def _harbor(actions, base: str | None) -> set[tuple[str, str]]:
    out = set()
    for action in actions:
        for resource, verb in HARBOR_POLICIES[action]:
            if base is None:
                out.add((resource or ".", verb))
            else:
                out.add((f"{base}/{resource}" if resource else base, verb))
    return out


def test_every_rbac_action_has_harbor_policies():
    assert set(HARBOR_POLICIES) == set(rbac.PERMISSIONS)


def test_a_member_gets_the_permissions_of_their_role(world):
    _, private, _, member = _setup(world, "perma")
    caller = world.as_(member.username)
    scope = f"/project/{private.project_id}"
    developer = [a for a, roles in rbac.PERMISSIONS.items() if rbac.Role.DEVELOPER in roles]
    assert _pairs(caller.get(f"/users/current/permissions?scope={scope}&relative=true")) == _harbor(developer, None)
    absolute = _pairs(caller.get(f"/users/current/permissions?scope={scope}"))
    assert absolute == _harbor(developer, scope)
    assert (f"{scope}/repository", "push") in absolute
    assert (f"{scope}/member", "create") not in absolute
    assert (scope, "read") in absolute


def test_an_administrator_may_do_everything(world, admin):
    _, private, _, _ = _setup(world, "permb")
    reply = admin.get(f"/users/current/permissions?scope=/project/{private.project_id}&relative=true")
    assert _pairs(reply) == _harbor(rbac.PERMISSIONS, None)
    assert ("member", "create") in _pairs(reply)


def test_an_outsider_reads_a_public_project_and_nothing_of_a_private_one(world):
    public, private, outsider, _ = _setup(world, "permc")
    caller = world.as_(outsider.username)
    seen = _pairs(caller.get(f"/users/current/permissions?scope=/project/{public.project_id}&relative=true"))
    assert ("repository", "pull") in seen and (".", "read") in seen
    assert ("repository", "push") not in seen
    assert _pairs(caller.get(f"/users/current/permissions?scope=/project/{private.project_id}&relative=true")) == set()


def test_scopes_that_are_not_a_project_grant_nothing(world, admin):
    for scope in ("", "?scope=/system", "?scope=/project/999999", "?scope=/project/abc"):
        assert _pairs(admin.get(f"/users/current/permissions{scope}")) == set()


def test_permissions_refuse_a_bad_flag_and_anonymous_callers(world, admin):
    reply = admin.get("/users/current/permissions?scope=/project/1&relative=maybe")
    assert reply.status == 400 and codes(reply) == ["BAD_REQUEST"]
    assert world.anonymous.get("/users/current/permissions?scope=/project/1").status == 401
