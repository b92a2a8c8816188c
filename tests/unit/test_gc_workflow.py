"""The state machine of infra/gc.yaml (its Amazon States Language) against the steps it calls
(chalicelib/gc.py `step`): every Task state calls the one function with a step `step` handles
and the state it reads; the loops go on until a call answers done; Lambda's transient errors
are retried; every error is recorded by `fail` and then fails the execution; and the
execution's name says the run, its trigger and a dry run."""
from __future__ import annotations

import json
from pathlib import Path

from chalicelib import gc
from chalicelib.meta.gc import Run
from devstack.workflows import GC_TEMPLATE, definition

FUNCTION = "arn:aws:lambda:us-east-1:123456789012:function:berth-prod-gc_task"
DEFINITION = json.loads(definition(FUNCTION, GC_TEMPLATE))
STATES = DEFINITION["States"]
LOOP = {"run_id", "after", "shard", "done"}
FIELDS = {"begin": {"run_id"}, "untagged": LOOP, "sweep": LOOP, "uploads": LOOP, "finish": LOOP, "fail": {"run_id", "error"}}


def test_every_task_calls_a_step_gc_handles_with_what_it_reads():
    seen = set()
    for name, state in STATES.items():
        if state["Type"] != "Task":
            continue
        assert state["Resource"] == FUNCTION, name
        parameters = state["Parameters"]
        assert {k.removesuffix(".$") for k in parameters if k != "step"} == FIELDS[parameters["step"]], name
        seen.add(parameters["step"])
    assert seen == set(FIELDS)
    source = Path(gc.__file__).read_text()
    for step in FIELDS:
        assert f'name == "{step}"' in source, step


def test_the_loops_go_on_until_a_call_answers_done():
    assert DEFINITION["StartAt"] == "Begin" and STATES["Begin"]["Next"] == "DeleteUntagged?"
    for task, choice, after in (("Untagged", "DeleteUntagged?", "StartSweep"), ("Sweep", "SweepDone?", "Uploads")):
        assert STATES[task]["Next"] == choice
        assert STATES[choice]["Choices"] == [{"Variable": "$.done", "BooleanEquals": False, "Next": task}]
        assert STATES[choice]["Default"] == after
    assert STATES["StartSweep"]["Parameters"] == {"run_id.$": "$.run_id", "after": "", "shard": 0, "done": False}
    assert STATES["Uploads"]["Next"] == "Finish" and STATES["Finish"]["Next"] == "Done"


def test_transient_errors_are_retried_and_every_error_is_recorded_then_fails_the_execution():
    for name, state in STATES.items():
        if state["Type"] != "Task" or name == "Failed":
            continue
        assert {"Lambda.ServiceException", "Lambda.TooManyRequestsException"} <= set(state["Retry"][0]["ErrorEquals"]), name
        assert state["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Failed"}], name
    assert STATES["Failed"]["Next"] == "RunFailed" and STATES["RunFailed"]["Type"] == "Fail"


def test_the_execution_is_named_after_the_run():
    assert gc.workflow_name(Run(7, gc.MANUAL, {"dry_run": False})) == "gc-7-manual"
    assert gc.workflow_name(Run(12, gc.SCHEDULE, {"dry_run": True})) == "gc-12-schedule-dry-run"
