"""The labels' store contract (chalicelib/meta/labels.py, LabelStore), run against each
implementation: DynamoDB on moto, and in memory. What one answers, the other must."""
from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from chalicelib.errors import Conflict
from chalicelib.meta import keys
from chalicelib.meta.labels import DynamoLabels, Label, MemoryLabels, NameTaken
from tests.contract.helpers import T0

DIGEST = "sha256:" + "a" * 64
OTHER = "sha256:" + "b" * 64


@dataclass
class Labels:
    store: object
    put_artifact: object  # (repository, digest): the registry holds that manifest from now on
    artifacts: set = field(default_factory=set)


@pytest.fixture(params=["dynamodb", "memory"])
def labels(request, clock) -> Labels:
    clock.now = T0
    if request.param == "memory":
        artifacts: set[tuple[str, str]] = set()
        return Labels(MemoryLabels(clock, lambda repository, digest: (repository, digest) in artifacts), artifacts.add)
    table = request.getfixturevalue("table")

    def put_artifact(pair: tuple[str, str]) -> None:
        repository, digest = pair
        table.put({"PK": keys.repo_pk(repository), "SK": keys.manifest_sk(digest), "digest": digest})

    return Labels(DynamoLabels(table, clock), put_artifact)


def label(name: str, scope: str = "g", project_id: int = 0, **fields) -> Label:
    return Label(name=name, scope=scope, project_id=project_id, **fields)


def test_create_numbers_them_and_get_list_and_get_many_answer_them(labels, clock):
    store = labels.store
    first = store.create(label("zeta", color="#fff"))
    clock.now = T0 + 5
    second = store.create(label("alpha", description="the first letter"))
    assert second.label_id > first.label_id > 0
    assert (first.created, first.updated, second.created) == (T0, T0, T0 + 5)
    assert store.get(first.label_id) == first and store.get(second.label_id + 100) is None
    assert store.list("g") == [second, first]  # by name
    assert store.get_many([first.label_id, second.label_id + 100]) == {first.label_id: first}
    assert store.get_many([]) == {}


def test_names_are_unique_within_a_scope_only(labels):
    store = labels.store
    store.create(label("prod"))
    with pytest.raises(NameTaken):
        store.create(label("prod"))
    in_project = store.create(label("prod", "p", 7))
    in_other_project = store.create(label("prod", "p", 8))
    with pytest.raises(NameTaken):
        store.create(label("prod", "p", 7))
    assert [x.name for x in store.list("g")] == ["prod"]
    assert store.list("p", 7) == [in_project] and store.list("p", 8) == [in_other_project]
    assert store.list("p", 9) == []


def test_update_renames_frees_the_old_name_and_refuses_a_taken_one(labels, clock):
    store = labels.store
    old = store.create(label("old"))
    taken = store.create(label("taken"))
    clock.now = T0 + 60
    renamed = store.update(old, "new", "described", "#000")
    assert (renamed.label_id, renamed.created, renamed.updated) == (old.label_id, T0, T0 + 60)
    assert (renamed.name, renamed.description, renamed.color) == ("new", "described", "#000")
    assert store.get(old.label_id) == renamed
    assert [x.name for x in store.list("g")] == ["new", "taken"]
    store.create(label("old"))  # free again
    with pytest.raises(NameTaken):
        store.update(renamed, "taken", "", "")
    assert store.get(taken.label_id) == taken and store.get(old.label_id) == renamed


def test_update_of_a_stale_or_deleted_label_is_a_conflict(labels, clock):
    store = labels.store
    created = store.create(label("l"))
    clock.now = T0 + 1
    store.update(created, "l", "changed", "")
    with pytest.raises(Conflict):
        store.update(created, "l", "stale", "")  # read before the change
    current = store.get(created.label_id)
    assert store.delete(current) is True
    with pytest.raises(Conflict):
        store.update(current, "l", "gone", "")
    assert store.get(created.label_id) is None and store.list("g") == []


def test_delete_frees_the_name_and_is_false_the_second_time(labels):
    store = labels.store
    created = store.create(label("l"))
    assert store.delete(created) is True
    assert store.delete(created) is False
    assert store.get(created.label_id) is None
    store.create(label("l"))


def test_labels_on_artifacts(labels):
    store = labels.store
    labels.put_artifact(("team/app", DIGEST))
    labels.put_artifact(("team/app", OTHER))
    z = store.create(label("z"))
    a = store.create(label("a"))
    store.add_to_artifact("team/app", DIGEST, z)
    store.add_to_artifact("team/app", DIGEST, a)
    store.add_to_artifact("team/app", OTHER, z)
    with pytest.raises(Conflict):
        store.add_to_artifact("team/app", DIGEST, a)  # already on it
    assert store.artifact_label_ids("team/app") == {DIGEST: sorted([z.label_id, a.label_id]), OTHER: [z.label_id]}
    assert store.artifact_labels("team/app") == {DIGEST: [a, z], OTHER: [z]}  # by name
    assert store.artifact_label_ids("team/other") == {}
    assert store.remove_from_artifact("team/app", OTHER, z.label_id) is True
    assert store.remove_from_artifact("team/app", OTHER, z.label_id) is False
    assert store.artifact_label_ids("team/app") == {DIGEST: sorted([z.label_id, a.label_id])}


def test_a_missing_artifact_or_label_cannot_be_labelled(labels):
    store = labels.store
    labels.put_artifact(("team/app", DIGEST))
    gone = store.create(label("gone"))
    store.delete(gone)
    with pytest.raises(KeyError):
        store.add_to_artifact("team/app", DIGEST, gone)
    live = store.create(label("live"))
    with pytest.raises(KeyError):
        store.add_to_artifact("team/app", OTHER, live)  # no such artifact
    assert store.artifact_label_ids("team/app") == {}


def test_a_deleted_label_drops_out_of_an_artifacts_labels(labels):
    store = labels.store
    labels.put_artifact(("team/app", DIGEST))
    kept, dropped = store.create(label("kept")), store.create(label("dropped"))
    store.add_to_artifact("team/app", DIGEST, kept)
    store.add_to_artifact("team/app", DIGEST, dropped)
    store.delete(dropped)
    assert store.artifact_labels("team/app") == {DIGEST: [kept]}


def test_ids_order_as_numbers_not_text(labels):
    store = labels.store
    labels.put_artifact(("team/app", DIGEST))
    made = [store.create(label(f"l{i:02}")) for i in range(12)]  # ids cross a power of ten
    for each in reversed(made):
        store.add_to_artifact("team/app", DIGEST, each)
    assert store.artifact_label_ids("team/app") == {DIGEST: sorted(x.label_id for x in made)}
