"""The state machine of infra/replication.yaml (its Amazon States Language) against the task functions it calls (chalicelib/replicator/
tasks.py): every Task state calls the one function with a step it handles and the fields
that step reads; the Map iterates what `plan` answers; the retried error is the class the
tasks raise for a transient failure; every failure path ends in a step that records it."""
from __future__ import annotations

import json
from pathlib import Path

from chalicelib.replicator import tasks
from devstack.workflows import definition

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:berth-prod-replication_task"
DEFINITION = json.loads(definition(FUNCTION))
FIELDS = {"plan": {"execution_id"}, "copy": {"execution_id", "task_id"}, "record_failure": {"execution_id", "task_id", "error"},
          "plan_failed": {"execution_id", "error"}, "finish": {"execution_id"}}


def states(definition=DEFINITION):
    for name, state in definition["States"].items():
        yield name, state
        if state["Type"] == "Map":
            yield from states(state["ItemProcessor"])


def test_every_task_calls_a_step_the_function_handles_with_what_it_reads():
    seen = set()
    for name, state in states():
        if state["Type"] != "Task":
            continue
        assert state["Resource"] == FUNCTION, name  # the stage's function, substituted
        parameters = state["Parameters"]
        step = parameters["step"]
        assert step in FIELDS, name
        assert {k.removesuffix(".$") for k in parameters if k != "step"} == FIELDS[step], name
        seen.add(step)
    assert seen == set(FIELDS)
    # and `handle` knows each one (an unknown step is a ValueError)
    source = Path(tasks.__file__).read_text()
    for step in FIELDS:
        assert f'step == "{step}"' in source


def test_the_map_iterates_the_task_ids_plan_answers_with_bounded_concurrency():
    copy_each = DEFINITION["States"]["CopyEach"]
    assert DEFINITION["States"]["Plan"]["Next"] == "CopyEach"
    assert copy_each["ItemsPath"] == "$.tasks" and 1 <= copy_each["MaxConcurrency"] <= 10
    assert copy_each["ItemSelector"] == {"execution_id.$": "$.execution_id", "task_id.$": "$$.Map.Item.Value"}
    assert copy_each["ResultPath"] is None  # the results stay out of the payload (256 KB)
    assert copy_each["Next"] == "Finish" and DEFINITION["States"]["Finish"]["End"]


def test_transient_errors_are_retried_with_backoff_and_every_failure_is_recorded():
    for name in ("Plan",):
        state = DEFINITION["States"][name]
        assert tasks.TransientReplicationError.__name__ in state["Retry"][0]["ErrorEquals"]
        assert state["Catch"][0]["Next"] == "PlanFailed"
    copy = DEFINITION["States"]["CopyEach"]["ItemProcessor"]["States"]["Copy"]
    retry = copy["Retry"][0]
    assert tasks.TransientReplicationError.__name__ in retry["ErrorEquals"]
    assert retry["BackoffRate"] > 1 and retry["MaxAttempts"] >= 2
    assert copy["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "RecordFailure"}]
    # a failure that is not transient is not retried
    assert tasks.ReplicationTaskFailed.__name__ not in retry["ErrorEquals"]
