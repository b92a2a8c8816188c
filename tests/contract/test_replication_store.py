"""The replication stores' contracts (chalicelib/meta/replication.py: ReplicationPolicyStore,
ReplicationRunStore), run against each implementation: DynamoDB on moto, and in memory.
What one answers, the other must."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pytest

from chalicelib.events.envelope import REPLICATION_COMPLETED, Event
from chalicelib.events.outbox import Outbox
from chalicelib.meta import outbox_items
from chalicelib.meta.replication import (
    FAILED,
    MAX_LOG_LINES,
    PENDING,
    RUNNING,
    STOPPED,
    SUCCEEDED,
    DynamoReplicationPolicies,
    DynamoReplicationRuns,
    Filter,
    MemoryReplicationPolicies,
    MemoryReplicationRuns,
    PolicyNameTaken,
    ReplicationPolicy,
    Task,
)
from chalicelib.meta.table import unmarshal
from tests.contract.helpers import T0


@dataclass
class Replication:
    policies: object
    runs: object
    outbox: Outbox
    emitted: Callable[[], list]  # the events the runs' ends wrote


@pytest.fixture(params=["dynamodb", "memory"])
def rep(request, clock) -> Replication:
    clock.now = T0
    outbox = Outbox("/berth/test", clock)
    if request.param == "memory":
        runs = MemoryReplicationRuns(clock)
        return Replication(MemoryReplicationPolicies(clock), runs, outbox, lambda: list(runs.emitted))
    table = request.getfixturevalue("table")

    def emitted() -> list:
        items = table.client.scan(TableName=table.name)["Items"]
        return [Event.from_json(j) for j in (outbox_items.event_json(unmarshal(i)) for i in items) if j is not None]

    return Replication(DynamoReplicationPolicies(table, clock), DynamoReplicationRuns(table, clock), outbox, emitted)


def policy(name: str = "mirror", **fields) -> ReplicationPolicy:
    filters = (Filter("name", "library/**"), Filter("tag", "v*", "excludes"), Filter("label", ("a", "b")))
    values = {"dest_registry_id": 3, "dest_namespace": "mirror", "trigger": "scheduled", "cron": "0 0 * * * *",
              "filters": filters, "creator": "alice", **fields}
    return ReplicationPolicy(name=name, **values)


def task(execution_id: int, task_id: int, **fields) -> Task:
    return Task(execution_id, task_id, f"library/app{task_id}:v1", f"mirror/app{task_id}:v1", f"library/app{task_id}",
                f"mirror/app{task_id}", "v1", tags=("v1",), **fields)


# -- policies ---------------------------------------------------------------------------------
def test_policies_are_numbered_stored_field_for_field_and_listed_by_id(rep, clock):
    store = rep.policies
    first = store.create(policy("b", description="nightly", speed=1024, single_active_replication=True))
    clock.now = T0 + 0.5
    second = store.create(policy("a", src_registry_id=3, dest_registry_id=0, trigger="event_based", cron="",
                                 filters=(), enabled=False, override=False, replicate_deletion=True,
                                 dest_namespace_replace_count=1, copy_by_chunk=True))
    assert second.policy_id > first.policy_id > 0
    assert (first.created, first.updated, second.created) == (T0, T0, T0 + 0.5)
    assert store.get(first.policy_id) == first and store.get(second.policy_id) == second
    assert store.get(first.policy_id).filters[2] == Filter("label", ("a", "b"))
    assert store.get(0) is None and store.get(second.policy_id + 1) is None
    assert store.list() == [first, second]
    assert not second.push_based and second.remote_registry_id == 3


def test_a_policy_name_is_taken_once(rep):
    store = rep.policies
    first = store.create(policy("mirror"))
    with pytest.raises(PolicyNameTaken):
        store.create(policy("mirror"))
    assert store.list() == [first]
    store.delete(first)
    store.delete(first)  # gone already
    assert store.get(first.policy_id) is None and store.list() == []
    assert store.create(policy("mirror")).policy_id > first.policy_id  # the name is free again


def test_update_keeps_id_creator_and_creation_and_moves_the_name(rep, clock):
    store = rep.policies
    current = store.create(policy("old"))
    taken = store.create(policy("taken"))
    clock.now = T0 + 60
    updated = store.update(current, replace(current, name="new", creator="mallory", created=1, policy_id=99, enabled=False))
    assert (updated.policy_id, updated.creator, updated.created, updated.updated) == (current.policy_id, "alice", T0, T0 + 60)
    assert updated.name == "new" and not updated.enabled and store.get(current.policy_id) == updated
    with pytest.raises(PolicyNameTaken):
        store.update(updated, replace(updated, name="taken"))
    assert store.get(current.policy_id) == updated and store.get(taken.policy_id) == taken
    store.create(policy("old"))  # freed by the rename
    with pytest.raises(PolicyNameTaken):
        store.create(policy("new"))
    assert store.update(updated, replace(updated, description="same name")).description == "same name"


def test_update_of_a_deleted_policy_is_a_key_error(rep):
    store = rep.policies
    current = store.create(policy("gone"))
    store.delete(current)
    with pytest.raises(KeyError):
        store.update(current, replace(current, description="x"))
    with pytest.raises(KeyError):
        store.update(current, replace(current, name="renamed"))
    assert store.list() == []
    store.create(policy("renamed"))


# -- runs -------------------------------------------------------------------------------------
def test_runs_are_numbered_read_back_and_listed_newest_first(rep, clock):
    runs = rep.runs
    first = runs.start(1, "manual")
    clock.now = T0 + 1.25
    second = runs.start(2, "event_based", retry_of=first.execution_id, scope="library/app")
    assert second.execution_id > first.execution_id > 0
    assert (first.status, first.started, first.ended, first.retry_of, first.scope) == (RUNNING, T0, 0, 0, "")
    assert (second.started, second.retry_of, second.scope, second.trigger) == (T0 + 1.25, first.execution_id, "library/app", "event_based")
    assert runs.get(first.execution_id) == first and runs.get(second.execution_id) == second
    assert runs.get(0) is None and runs.get(second.execution_id + 1) is None
    assert runs.list() == [second, first] and runs.list(limit=1) == [second]
    saved = replace(first, workflow_arn="arn:aws:states:us-east-1:123456789012:execution:x:y", status_text="planned")
    runs.save(saved)
    assert runs.get(first.execution_id) == saved


def test_a_policy_that_runs_one_at_a_time_has_one_run_that_last_started(rep):
    runs = rep.runs
    assert runs.last_started(7) == 0
    first = runs.start(7, "manual", after=0)
    assert first is not None and runs.last_started(7) == first.execution_id
    assert runs.start(7, "manual", after=0) is None  # another start took it first
    second = runs.start(7, "scheduled", after=first.execution_id)
    assert second is not None and runs.last_started(7) == second.execution_id
    assert runs.start(7, "manual", after=first.execution_id) is None
    assert runs.last_started(8) == 0 and runs.start(8, "manual") is not None and runs.last_started(8) == 0
    assert [e.execution_id for e in runs.list() if e.policy_id == 7] == [second.execution_id, first.execution_id]


def test_a_run_ends_once_with_its_events(rep, clock):
    runs = rep.runs
    run = runs.start(1, "manual")
    clock.now = T0 + 30
    ended = replace(run, status=SUCCEEDED, ended=T0 + 30, counts={SUCCEEDED: 2})
    events = [rep.outbox.event(REPLICATION_COMPLETED, f"replication/{run.execution_id}", {"project": p}) for p in ("a", "b")]
    assert runs.end(ended, events) is True
    assert runs.get(run.execution_id) == ended
    assert sorted((e.id, e.type, e.data["project"]) for e in rep.emitted()) == sorted((e.id, e.type, e.data["project"]) for e in events)
    later = [rep.outbox.event(REPLICATION_COMPLETED, f"replication/{run.execution_id}", {"project": "c"})]
    assert runs.end(replace(ended, status=FAILED), later) is False  # a retried finish writes nothing
    assert runs.get(run.execution_id) == ended and len(rep.emitted()) == 2


def test_a_stopped_run_does_not_end_again(rep):
    runs = rep.runs
    run = runs.start(1, "manual")
    stopped = replace(run, status=STOPPED, ended=T0 + 5)
    runs.save(stopped)
    assert runs.end(replace(run, status=SUCCEEDED, ended=T0 + 6), []) is False
    assert runs.get(run.execution_id) == stopped
    assert runs.end(replace(run, execution_id=run.execution_id + 100, status=SUCCEEDED), []) is False
    assert runs.get(run.execution_id + 100) is None


def test_tasks_by_id_and_counted_while_running(rep):
    runs = rep.runs
    run = runs.start(1, "manual")
    runs.add_tasks([task(run.execution_id, i) for i in (12, 3, 100)])
    assert [t.task_id for t in runs.tasks(run.execution_id)] == [3, 12, 100] and runs.tasks(run.execution_id + 1) == []
    assert runs.task(run.execution_id, 3) == task(run.execution_id, 3) and runs.task(run.execution_id, 4) is None
    assert runs.counts(run) == {PENDING: 3}
    done = replace(task(run.execution_id, 12), status=SUCCEEDED, started=T0, ended=T0 + 2.5, bytes=1 << 33, run_count=1,
                   log=tuple(f"line {i}" for i in range(MAX_LOG_LINES + 3)))
    runs.save_task(done)
    read = runs.task(run.execution_id, 12)
    assert read == replace(done, log=done.log[-MAX_LOG_LINES:]) and read.log[0] == "line 3"
    runs.save_task(replace(task(run.execution_id, 3), status=FAILED, error="unreachable", operation="deletion"))
    assert runs.counts(run) == {PENDING: 1, SUCCEEDED: 1, FAILED: 1}
    assert runs.counts(replace(run, status=SUCCEEDED, counts={SUCCEEDED: 9})) == {SUCCEEDED: 9}  # kept once ended
    assert runs.counts(replace(run, status=STOPPED)) == {}


def test_an_event_is_claimed_once_per_policy(rep):
    runs = rep.runs
    assert runs.claim_event("ev-1", 1) is True
    assert runs.claim_event("ev-1", 1) is False
    assert runs.claim_event("ev-1", 2) is True and runs.claim_event("ev-2", 1) is True
