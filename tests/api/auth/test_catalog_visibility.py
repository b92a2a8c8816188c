"""`_catalog` with token auth lists only the repositories of projects the caller
may pull from: public ones for everybody, private ones for their members,
everything for a system admin."""
from __future__ import annotations

import pytest

from tests.api.auth.conftest import ADMIN_PASSWORD, PASSWORD, bearer

CATALOG = "registry:catalog:*"
REPOS = {
    "library": ["library/a", "library/z"],  # public, from bootstrap
    "open": ["open/b"],  # public
    "mine": ["mine/c", "mine/deep/d"],  # private, carl is a guest
    "theirs": ["theirs/e", "theirs/f"],  # private, no members
    "team": ["team/g"],  # private, robot$team+bot's project
}
PUBLIC = sorted(REPOS["library"] + REPOS["open"])


@pytest.fixture(scope="module", autouse=True)
def setup(world):
    world.project("open", public=True)
    for name in ("mine", "theirs", "team"):
        world.project(name)
    world.user("carl")
    world.member("mine", "carl", 5)  # limited guest: may pull, so may see
    world.user("nina")
    world.robot("bot", [{"kind": "project", "namespace": "team", "access": [{"resource": "repository", "action": "pull"}]}], project="team")
    world.robot("all", [{"kind": "project", "namespace": "*", "access": [{"resource": "repository", "action": "pull"}]}])
    for names in REPOS.values():
        for name in names:
            world.stored_image(name)


def catalog(world, user=None, password=PASSWORD, query: str = "") -> list[str]:
    token = world.token([CATALOG], user, password)
    reply = world.api.get(f"/v2/_catalog{query}", headers=bearer(token))
    assert reply.status == 200, reply.body
    return reply.json()["repositories"]


def all_pages(world, user=None, password=PASSWORD, n: int = 1) -> list[str]:
    token = world.token([CATALOG], user, password)
    url, seen = f"/v2/_catalog?n={n}", []
    for _ in range(50):
        reply = world.api.get(url, headers=bearer(token))
        assert reply.status == 200
        page = reply.json()["repositories"]
        assert len(page) <= n
        seen += page
        link = reply.headers.get("link")
        if not link:
            return seen
        url = link.split(";")[0].strip("<>")
    pytest.fail("pagination does not end")


def test_catalog_without_token_is_challenged(api):
    reply = api.get("/v2/_catalog")
    assert reply.status == 401
    assert 'scope="registry:catalog:*"' in reply.headers["www-authenticate"]


def test_anonymous_sees_public_projects_only(world):
    assert catalog(world) == PUBLIC


def test_non_member_sees_public_projects_only(world):
    assert catalog(world, "nina") == PUBLIC


def test_member_sees_their_private_project_too(world):
    assert catalog(world, "carl") == sorted(PUBLIC + REPOS["mine"])


def test_admin_sees_everything(world):
    assert catalog(world, "admin", ADMIN_PASSWORD) == sorted(n for names in REPOS.values() for n in names)


def test_project_robot_sees_its_project_and_public_ones(world):
    assert catalog(world, "robot$team+bot") == sorted(PUBLIC + REPOS["team"])


def test_system_robot_with_star_sees_everything(world):
    assert catalog(world, "robot$all") == sorted(n for names in REPOS.values() for n in names)


@pytest.mark.parametrize("n", [1, 2, 3])
def test_pagination_shows_the_same_and_never_more(world, n):
    assert all_pages(world, n=n) == PUBLIC
    assert all_pages(world, "carl", n=n) == sorted(PUBLIC + REPOS["mine"])


def test_a_last_parameter_does_not_reveal_hidden_names(world):
    assert catalog(world, query="?last=mine/c") == [r for r in PUBLIC if r > "mine/c"]
    assert catalog(world, query="?n=1&last=library/z") == ["open/b"]


def test_a_project_made_public_or_private_shows_or_hides_at_once(world):
    world.svc.accounts.update_project("theirs", public=True)
    try:
        assert catalog(world, "nina") == sorted(PUBLIC + REPOS["theirs"])
    finally:
        world.svc.accounts.update_project("theirs", public=False)
    assert catalog(world, "nina") == PUBLIC
