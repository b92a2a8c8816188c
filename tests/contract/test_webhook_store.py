"""The webhooks' store contract (chalicelib/meta/webhooks.py, WebhookStore), run against
each implementation: DynamoDB on moto, and in memory. What one answers, the other must."""
from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.meta.webhooks import DynamoWebhooks, Execution, MemoryWebhooks, Policy, Target
from tests.contract.helpers import T0


@pytest.fixture(params=["dynamodb", "memory"])
def store(request, clock):
    clock.now = T0
    if request.param == "memory":
        return MemoryWebhooks(clock)
    return DynamoWebhooks(request.getfixturevalue("table"), clock)


def policy(name: str = "notify", project: str = "team", **fields) -> Policy:
    targets = (Target("http", "https://hooks.example/in", auth_header="Bearer s3cret", signing_secret="k"),)
    return Policy(project=project, name=name, targets=targets, event_types=("PUSH_ARTIFACT",), creator="alice", **fields)


def execution(execution_id: int, policy_id: int, project: str = "team", started: float = T0) -> Execution:
    return Execution(project, policy_id, execution_id, f"event-{execution_id}", "PUSH_ARTIFACT", started,
                     {"1": {"status": "Pending", "address": "https://hooks.example/in", "type": "http", "run_count": 0}})


def test_create_numbers_them_with_their_times_and_secrets(store, clock):
    first = store.create(policy("a"))
    clock.now = T0 + 5
    second = store.create(policy("b", enabled=False, description="off"))
    assert second.policy_id > first.policy_id > 0
    assert (first.created, first.updated, second.created) == (T0, T0, T0 + 5)
    assert store.get("team", first.policy_id) == first
    assert store.get("team", first.policy_id).targets[0].auth_header == "Bearer s3cret"  # the delivery reads it
    assert store.get("other", first.policy_id) is None
    assert store.list("team") == [first, second] and store.list("other") == []


def test_update_replaces_and_a_gone_policy_is_a_key_error(store, clock):
    created = store.create(policy())
    clock.now = T0 + 60
    updated = store.update(replace(created, name="renamed", event_types=("DELETE_ARTIFACT", "PULL_ARTIFACT")))
    assert (updated.policy_id, updated.created, updated.updated, updated.creator) == (created.policy_id, T0, T0 + 60, "alice")
    assert store.get("team", created.policy_id) == updated
    assert store.delete("team", created.policy_id) is True
    assert store.delete("team", created.policy_id) is False
    with pytest.raises(KeyError):
        store.update(updated)
    assert store.get("team", created.policy_id) is None


def test_delete_project_takes_only_that_projects_policies(store):
    store.create(policy("a"))
    store.create(policy("b"))
    kept = store.create(policy("c", project="other"))
    assert store.delete_project("team") == 2
    assert store.list("team") == [] and store.list("other") == [kept]
    assert store.delete_project("team") == 0


def test_an_execution_is_started_once_and_its_tasks_recorded(store):
    hook = store.create(policy())
    assert store.start_execution(execution(7, hook.policy_id)) is True
    assert store.start_execution(execution(7, hook.policy_id)) is False  # the same event again
    store.record_task("team", hook.policy_id, 7, 1, {"status": "Running", "run_count": 1, "start_time": T0 + 0.5, "end_time": None})
    store.record_task("team", hook.policy_id, 7, 1, {"status": "Success", "status_code": 200, "end_time": T0 + 2.25})
    found = store.execution("team", hook.policy_id, 7)
    assert found.tasks["1"] == {"status": "Success", "address": "https://hooks.example/in", "type": "http", "run_count": 1,
                                "start_time": T0 + 0.5, "status_code": 200, "end_time": T0 + 2.25}
    assert (found.status, found.ended, found.event_id, found.started) == ("Success", T0 + 2.25, "event-7", T0)
    assert store.execution("team", hook.policy_id, 8) is None


def test_recording_a_task_of_a_missing_execution_is_a_key_error(store):
    hook = store.create(policy())
    with pytest.raises(KeyError):
        store.record_task("team", hook.policy_id, 99, 1, {"status": "Error"})
    assert store.executions("team", hook.policy_id) == []


def test_executions_are_newest_first_limited_and_per_policy(store):
    hook, other = store.create(policy("a")), store.create(policy("b"))
    for execution_id in (3, 12, 1):
        store.start_execution(execution(execution_id, hook.policy_id, started=T0 + execution_id))
    store.start_execution(execution(5, other.policy_id))
    assert [e.execution_id for e in store.executions("team", hook.policy_id)] == [12, 3, 1]
    assert [e.execution_id for e in store.executions("team", hook.policy_id, limit=2)] == [12, 3]
    assert [e.execution_id for e in store.executions("team", other.policy_id)] == [5]
    assert store.executions("other", hook.policy_id) == []


def test_a_read_execution_is_a_copy(store):
    hook = store.create(policy())
    store.start_execution(execution(1, hook.policy_id))
    read = store.execution("team", hook.policy_id, 1)
    read.tasks["1"]["status"] = "Error"
    assert store.execution("team", hook.policy_id, 1).tasks["1"]["status"] == "Pending"
