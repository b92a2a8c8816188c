"""A tag retention run (chalicelib/retention/runs.py run) on the in-memory graph
(tests/memory_graph.py): it deletes what no rule retains through artifacts.py, so an API
delete's rules hold (immutable tags stay, the quota gets the bytes back, one event per
deletion), an index's untagged children go with it, and a dry run deletes nothing.
tests/api/management/test_retention.py pins the same through HTTP on moto."""
from __future__ import annotations

import pytest

from chalicelib import projects
from chalicelib.events.envelope import ARTIFACT_DELETED
from chalicelib.meta.accounts import User
from chalicelib.meta.retention import SUCCESS
from chalicelib.retention import policy as rules
from chalicelib.retention import runs
from tests.memory_graph import MemoryGraph
from tests.unit.memory_images import immutable, push_image, push_index

APP = "library/app"


@pytest.fixture
def svc() -> MemoryGraph:
    svc = MemoryGraph()
    svc.accounts.create_user(User("alice"))
    projects.create(svc, "library", "alice")
    return svc


def keep_latest(svc: MemoryGraph, k: int, *, repositories: str = "**"):
    """The project's policy: keep the k most recently pushed artifacts, tagged or not."""
    rule = {"template": rules.LATEST_PUSHED, "params": {rules.LATEST_PUSHED: k},
            "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**", "extras": '{"untagged":true}'}],
            "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": repositories}]}}
    project_id = svc.accounts.get_project("library").project_id
    body = rules.check({"rules": [rule], "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
                        "scope": {"level": "project", "ref": project_id}}, project_id)
    return svc.retention.create("library", body)


def run(svc: MemoryGraph, stored, *, dry_run: bool = False):
    svc.events.clear()
    execution = runs.run(svc, stored, svc.retention.start(stored.policy_id, runs.MANUAL, dry_run))
    assert execution.status == SUCCESS
    return execution


def pushed_in_turn(svc: MemoryGraph, tags: list[str]) -> list:
    out = []
    for tag in tags:
        svc.now += 60
        out.append(push_image(svc, APP, tag, seed=tag))
    return out


def test_a_run_deletes_what_no_rule_retains_with_one_event_each_and_gives_the_quota_back(svc):
    old, older_kept, new = pushed_in_turn(svc, ["1", "2", "3"])
    stored = keep_latest(svc, 2)
    execution = run(svc, stored)
    assert [m.digest for m in svc.meta.list_manifests(APP)] == sorted([older_kept.digest, new.digest])
    assert [(e.type, e.data["digest"]) for e in svc.events] == [(ARTIFACT_DELETED, old.digest)]
    [task] = svc.retention.tasks(execution.execution_id)
    assert (task.repository, task.total, task.retained, list(task.deleted)) == ("app", 3, 2, [old.digest])
    remaining = [older_kept, new]
    assert svc.quotas.get("library").used == sum(m.size + sum(svc.meta.link_size(APP, d) for d in m.blobs) for m in remaining)


def test_an_immutable_tag_is_kept(svc):
    old, _, _ = pushed_in_turn(svc, ["1", "2", "3"])
    svc.immutable_rules.save("library", svc.immutable_rules.get("library"), [immutable("1")], 1)
    run(svc, keep_latest(svc, 1))
    assert {m.digest for m in svc.meta.list_manifests(APP)} == {old.digest, svc.meta.get_tag(APP, "3").digest}
    assert len(svc.events) == 1


def test_an_index_goes_with_its_untagged_children(svc):
    svc.now += 60
    children = [push_image(svc, APP, None, seed=arch) for arch in ("amd64", "arm64")]
    index = push_index(svc, APP, "multi", children)
    svc.now += 60
    kept = push_image(svc, APP, "2", seed="new")
    run(svc, keep_latest(svc, 1))
    assert [m.digest for m in svc.meta.list_manifests(APP)] == [kept.digest]
    deleted = [e.data["digest"] for e in svc.events]
    assert sorted(deleted) == sorted([index.digest, *(c.digest for c in children)])
    assert deleted[0] == index.digest  # the index before what it lists


def test_a_dry_run_plans_the_same_and_deletes_nothing(svc):
    old, _, _ = pushed_in_turn(svc, ["1", "2", "3"])
    used = svc.quotas.get("library").used
    execution = run(svc, keep_latest(svc, 2), dry_run=True)
    [task] = svc.retention.tasks(execution.execution_id)
    assert list(task.deleted) == [old.digest]
    assert len(svc.meta.list_manifests(APP)) == 3
    assert svc.quotas.get("library").used == used
    assert svc.events == []


def test_a_repository_no_rule_selects_is_left_alone(svc):
    pushed_in_turn(svc, ["1", "2"])
    execution = run(svc, keep_latest(svc, 1, repositories="tools/**"))
    assert svc.retention.tasks(execution.execution_id) == []
    assert len(svc.meta.list_manifests(APP)) == 2
    assert svc.events == []
