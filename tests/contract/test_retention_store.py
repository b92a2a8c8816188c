"""The tag retention store's contract (chalicelib/meta/retention.py, RetentionStore), run
against each implementation: DynamoDB on moto, and in memory. What one answers, the other must."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from chalicelib.errors import Conflict
from chalicelib.meta import keys
from chalicelib.meta.retention import (
    ERROR,
    MAX_LOG_LINES,
    RUNNING,
    STOPPED,
    SUCCESS,
    DynamoRetention,
    MemoryRetention,
    Task,
)
from tests.contract.helpers import T0, conflicting_transact

POLICY = {"algorithm": "or", "rules": [{"action": "retain", "template": "latestPushedK", "params": {"latestPushedK": 3}}],
          "trigger": {"kind": "Schedule", "settings": {"cron": ""}}, "scope": {"level": "project", "ref": 1}}


@dataclass
class Retention:
    store: object
    make_project: Callable[[str], None]
    commit: Callable[[list], None]  # runs operations as the project's deletion does


@pytest.fixture(params=["dynamodb", "memory"])
def r(request, clock) -> Retention:
    clock.now = T0
    if request.param == "memory":
        projects: set[str] = set()

        def run(ops: list) -> None:
            for op in ops:
                op()

        return Retention(MemoryRetention(clock, projects.__contains__), projects.add, run)
    table = request.getfixturevalue("table")

    def make_project(name: str) -> None:
        table.put({"PK": keys.project_pk(name), "SK": keys.PROJECT_SK, "name": name, "metadata": {"public": "false"}})

    transact = conflicting_transact(table)

    return Retention(DynamoRetention(table, clock), make_project, transact)


def test_a_policy_is_created_with_an_id_read_and_updated(r):
    r.make_project("team")
    store = r.store
    stored = store.create("team", POLICY)
    assert stored.policy_id > 0 and stored.project == "team" and stored.version
    assert stored.policy == {**POLICY, "id": stored.policy_id}
    assert store.get(stored.policy_id) == stored
    assert store.get(stored.policy_id + 1) is None and store.get(0) is None and store.get(-1) is None
    changed = {**POLICY, "algorithm": "and"}
    updated = store.update(stored, changed)
    assert updated.policy == {**changed, "id": stored.policy_id} and updated.version != stored.version
    assert store.get(stored.policy_id) == updated


def test_a_project_holds_one_policy_and_a_missing_project_none(r):
    r.make_project("team")
    store = r.store
    first = store.create("team", POLICY)
    with pytest.raises(Conflict):
        store.create("team", POLICY)
    with pytest.raises(Conflict):
        store.create("gone", POLICY)  # no such project
    store.delete(first)
    assert store.get(first.policy_id) is None
    again = store.create("team", POLICY)  # the project no longer names the first
    assert again.policy_id > first.policy_id and store.get(again.policy_id) == again


def test_an_update_from_a_stale_read_is_a_conflict(r):
    r.make_project("team")
    store = r.store
    stored = store.create("team", POLICY)
    store.update(stored, {**POLICY, "algorithm": "and"})
    with pytest.raises(Conflict):
        store.update(stored, POLICY)
    assert store.get(stored.policy_id).policy["algorithm"] == "and"
    current = store.get(stored.policy_id)
    store.delete(current)
    with pytest.raises(Conflict):
        store.update(current, POLICY)  # deleted meanwhile
    assert store.get(stored.policy_id) is None


def test_a_read_policy_is_a_copy(r):
    r.make_project("team")
    stored = r.store.create("team", {**POLICY, "rules": [dict(POLICY["rules"][0])]})
    read = r.store.get(stored.policy_id)
    read.policy["rules"].clear()
    assert r.store.get(stored.policy_id).policy["rules"] == POLICY["rules"]


def test_delete_of_a_policy_whose_project_went_and_the_removal(r):
    r.make_project("team")
    r.make_project("other")
    store = r.store
    stored = store.create("team", POLICY)
    kept = store.create("other", POLICY)
    r.commit([store.removal(stored.policy_id)])  # with its project's deletion
    assert store.get(stored.policy_id) is None and store.get(kept.policy_id) == kept
    store.delete(kept)
    store.delete(kept)  # gone already: nothing to do
    assert store.get(kept.policy_id) is None


def test_runs_are_numbered_listed_newest_first_and_read_back(r, clock):
    store = r.store
    first = store.start(7, "MANUAL", True)
    clock.now = T0 + 10
    second = store.start(7, "SCHEDULE", False)
    other = store.start(8, "MANUAL", False)
    assert second.execution_id > first.execution_id > 0 and other.execution_id > second.execution_id
    assert (first.status, first.started, first.dry_run, first.trigger) == (RUNNING, T0, True, "MANUAL")
    assert second.started == T0 + 10 and second.ended == 0 and second.status_text == ""
    assert store.executions(7) == [second, first] and store.executions(7, limit=1) == [second]
    assert store.executions(8) == [other] and store.executions(9) == []
    assert store.execution(7, first.execution_id) == first
    assert store.execution(8, first.execution_id) is None and store.execution(7, 0) is None


def test_a_run_ends_once_and_a_stopped_run_takes_no_beat(r, clock):
    store = r.store
    run = store.start(7, "MANUAL", False)
    clock.now = T0 + 5
    assert store.beat(7, run.execution_id, T0 + 5) is True
    assert store.execution(7, run.execution_id).updated == T0 + 5
    stopped = replace(store.execution(7, run.execution_id), status=STOPPED, ended=T0 + 6)
    assert store.finish(stopped) is True
    assert store.finish(replace(stopped, status=SUCCESS, ended=T0 + 7)) is False  # the stop came first
    assert store.execution(7, run.execution_id) == stopped
    assert store.beat(7, run.execution_id, T0 + 8) is False
    assert store.beat(7, run.execution_id + 100, T0 + 8) is False  # no such run
    assert store.finish(replace(stopped, execution_id=run.execution_id + 100, status=ERROR)) is False
    assert store.execution(7, run.execution_id + 100) is None


def test_save_writes_a_run_as_it_is(r):
    store = r.store
    run = store.start(7, "MANUAL", False)
    ended = replace(run, status=ERROR, ended=T0 + 1.25, status_text="the policy was deleted")
    store.save(ended)
    assert store.execution(7, run.execution_id) == ended
    assert store.finish(replace(ended, status=SUCCESS)) is False


def test_tasks_by_id_with_the_last_lines_of_their_log(r):
    store = r.store
    tasks = [Task(5, i, f"app{i}", started=T0, total=3, retained=1, deleted=("sha256:" + "a" * 64,)) for i in (12, 3, 100)]
    for task in tasks:
        store.save_task(task)
    assert [t.task_id for t in store.tasks(5)] == [3, 12, 100] and store.tasks(6) == []
    assert store.task(5, 3) == tasks[1] and store.task(5, 4) is None and store.task(6, 3) is None
    long = replace(tasks[0], status=SUCCESS, ended=T0 + 2, status_revision=1, log=tuple(f"line {i}" for i in range(MAX_LOG_LINES + 5)))
    store.save_task(long)
    read = store.task(5, 12)
    assert read == long and read.log == long.log[-MAX_LOG_LINES:] and read.log[0] == "line 5"
    assert read.deleted == ("sha256:" + "a" * 64,)
