"""A user's `_catalog` reads no more of the table with a hundred and twenty more private
projects than without (tests/api/auth/test_catalog_visibility.py has the rest of the
catalog's visibility, and its set-up, used here): a scale check, in `make e2e` so that
`make check` stays quick (creating and deleting the projects was most of its time)."""
from __future__ import annotations

from tests.api.auth.conftest import PASSWORD, bearer, checked_replies, wired, world
from tests.api.auth.test_catalog_visibility import CATALOG, setup

__all__ = ["checked_replies", "setup", "wired", "world"]  # fixtures


def test_a_users_catalog_reads_the_same_whatever_the_number_of_projects(world):
    from chalicelib.meta.accounts import Project

    calls: list[str] = []
    counted: list[int] = []
    world.svc.dynamodb.meta.events.register("before-call.dynamodb.*", lambda model, **_: calls.append(model.name))

    def count_items(parsed, **_):
        counted.append(len(parsed.get("Items", [])) + (1 if parsed.get("Item") else 0))

    world.svc.dynamodb.meta.events.register("after-call.dynamodb.*", count_items)

    def items_read() -> int:
        counted.clear()
        assert world.api.get("/v2/_catalog", headers=bearer(token)).status == 200
        return sum(counted)
    token = world.token([CATALOG], "carl", PASSWORD)

    def reads() -> list[str]:
        calls.clear()
        assert world.api.get("/v2/_catalog", headers=bearer(token)).status == 200
        return sorted(calls)

    before = reads()
    for i in range(120):  # more than one BatchGetItem's worth of private projects
        world.svc.accounts.create_project(Project(f"extra{i:03d}"))
    after = reads()
    items = items_read()
    for i in range(120):
        world.svc.accounts.delete_project(f"extra{i:03d}")
    assert after == before
    assert before.count("BatchGetItem") == 0
    assert items < 30  # the user, the public listing, the memberships, the visible catalog
