"""The tag immutability rules' store contract (chalicelib/meta/immutable_rules.py,
ImmutableRuleStore), run against each implementation: DynamoDB on moto, and in memory."""
from __future__ import annotations

import pytest

from chalicelib.errors import Conflict
from chalicelib.meta.immutable_rules import DynamoImmutableRules, MemoryImmutableRules, RuleSet


@pytest.fixture(params=["dynamodb", "memory"])
def store(request):
    if request.param == "memory":
        return MemoryImmutableRules()
    return DynamoImmutableRules(request.getfixturevalue("table"))


@pytest.fixture
def commit(store, request):
    """Runs operations as the project's deletion does: in one transaction, or by calling them."""
    if isinstance(store, MemoryImmutableRules):
        return lambda ops: [op() for op in ops]
    return request.getfixturevalue("table").transact


def rule(rule_id: int, tags: str = "v*") -> dict:
    return {"id": rule_id, "disabled": False, "action": "immutable", "template": "immutable_template",
            "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": tags}],
            "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}}


def test_a_project_without_rules_has_an_empty_set(store):
    assert store.get("team") == RuleSet()
    assert store.get("team").version is None


def test_saved_rules_are_read_back_with_their_last_id_and_a_version(store):
    store.save("team", store.get("team"), [rule(1), rule(2, "release-*")], 2)
    saved = store.get("team")
    assert saved.rules == [rule(1), rule(2, "release-*")] and saved.last_id == 2 and saved.version is not None
    assert store.get("other") == RuleSet()
    store.save("team", saved, [rule(2, "release-*")], 2)  # one taken away: the id counter stays
    again = store.get("team")
    assert again.rules == [rule(2, "release-*")] and again.last_id == 2 and again.version != saved.version


def test_a_save_from_a_stale_read_is_a_conflict_and_changes_nothing(store):
    empty = store.get("team")
    store.save("team", empty, [rule(1)], 1)
    with pytest.raises(Conflict):
        store.save("team", empty, [rule(9)], 9)  # read before the first save: "no rules yet"
    first = store.get("team")
    store.save("team", first, [rule(1), rule(2)], 2)
    with pytest.raises(Conflict):
        store.save("team", first, [], 2)
    assert store.get("team").rules == [rule(1), rule(2)]


def test_a_read_set_is_a_copy(store):
    store.save("team", store.get("team"), [rule(1)], 1)
    read = store.get("team")
    read.rules[0]["disabled"] = True
    assert store.get("team").rules[0]["disabled"] is False


def test_the_removal_deletes_the_projects_rules(store, commit):
    store.save("team", store.get("team"), [rule(1)], 1)
    store.save("other", store.get("other"), [rule(2)], 2)
    commit([store.removal("team")])
    assert store.get("team") == RuleSet() and store.get("other").rules == [rule(2)]
    store.save("team", store.get("team"), [rule(3)], 3)  # a project made again under the name starts afresh
    assert store.get("team").rules == [rule(3)]
