"""The state machine of infra/replication.yaml (its Amazon States Language) against the task functions it calls (chalicelib/replicator/
tasks.py): every Task state calls the one function with a step it handles and the fields
that step reads; the Map iterates what `plan` answers; the retried error is the class the
tasks raise for a transient failure; every failure path ends in a step that records it."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from chalicelib.replicator import tasks
from chalicelib.storage import paths
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


def _path(document: dict, path: str):
    """A plain JSONPath (`$.a.b`) of the state's input."""
    assert path.startswith("$.")
    for part in path[2:].split("."):
        document = document[part]
    return document


def test_the_map_reads_the_task_ids_plan_wrote_to_s3_with_bounded_concurrency():
    """Plan writes the pending task ids to the bucket and answers where; the Distributed
    Map's ItemReader reads them from there, so no run's items travel in the state's input
    (256 KB: some 35,000 ids)."""
    copy_each = DEFINITION["States"]["CopyEach"]
    assert DEFINITION["States"]["Plan"]["Next"] == "CopyEach"
    assert copy_each["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    assert "ItemsPath" not in copy_each and 1 <= copy_each["MaxConcurrency"] <= 10
    reader = copy_each["ItemReader"]
    assert reader["Resource"] == "arn:aws:states:::s3:getObject" and reader["ReaderConfig"] == {"InputType": "JSON"}
    # plan's answer (the Map's input) names the object it wrote, and the object is the ids
    written = {}
    svc = SimpleNamespace(settings=SimpleNamespace(bucket_name="berth-prod-blobs"),
                          blobs=SimpleNamespace(put_object=lambda key, data: written.update({key: data})))
    answer = tasks._items(svc, 42, [3, 5, 8])
    assert {k.removesuffix(".$"): _path(answer, v) for k, v in reader["Parameters"].items()} == {
        "Bucket": "berth-prod-blobs", "Key": paths.replication_items_key(42)}
    assert json.loads(written[paths.replication_items_key(42)]) == [3, 5, 8]
    assert len(json.dumps(tasks._items(svc, 42, list(range(1, 100_001))))) < 300  # whatever the run's size
    # each item is a task id; each child gets the run's id from the Map's input and its task id
    assert copy_each["ItemSelector"] == {"execution_id.$": "$.execution_id", "task_id.$": "$$.Map.Item.Value"}
    assert _path(answer, copy_each["ItemSelector"]["execution_id.$"]) == 42
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
