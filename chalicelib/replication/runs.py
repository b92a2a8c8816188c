"""Starting and stopping a replication run: a record of it (Harbor's execution) and the
Step Functions execution that does it (infra/replication.yaml), named after the
policy, so each run is also readable in the AWS console's Step Functions view."""
from __future__ import annotations

import json
import re
from dataclasses import replace

from chalicelib.config import ConfigurationError
from chalicelib.dependencies import DomainDependencies
from chalicelib.errors import Conflict
from chalicelib.meta.replication import FAILED, PENDING, RUNNING, STOPPED, Execution, ReplicationPolicy, Task, count


class RunInProgress(Conflict):
    """the policy runs one at a time and a run of it is in progress"""


def start(svc: DomainDependencies, policy: ReplicationPolicy, trigger: str, *, retry_of: int = 0, scope: str = "",
          tasks: tuple[Task, ...] = ()) -> Execution:
    """`tasks`: what the run is to do, known before it starts (a replicated deletion); its
    plan then finds them written instead of listing the source. A policy with Harbor's
    `single_active_replication` starts no run while one of it is in progress:
    RunInProgress (the scheduled and event-based triggers skip the run; what it would have
    copied, the next run copies)."""
    machine = svc.settings.replication_state_machine
    if not machine:
        raise ConfigurationError("environment variable BERTH_REPLICATION_STATE_MACHINE is not set")
    after = None
    if policy.single_active_replication:
        after = svc.replication_runs.last_started(policy.policy_id)
        last = svc.replication_runs.get(after) if after else None
        if last is not None and last.status == RUNNING:
            raise RunInProgress(f"the policy {policy.policy_id} runs one at a time and its execution "
                                f"{last.execution_id} is in progress")
    execution = svc.replication_runs.start(policy.policy_id, trigger, retry_of=retry_of, scope=scope, after=after)
    if execution is None:
        raise RunInProgress(f"the policy {policy.policy_id} runs one at a time and another run of it just started")
    if tasks:
        svc.replication_runs.add_tasks([replace(t, execution_id=execution.execution_id, task_id=n)
                                        for n, t in enumerate(tasks, 1)])
    try:
        out = svc.stepfunctions.start_execution(
            stateMachineArn=machine, name=workflow_name(policy, execution.execution_id),
            input=json.dumps({"execution_id": execution.execution_id}),
        )
    except Exception as exc:
        svc.replication_runs.save(replace(execution, status=FAILED, ended=svc.clock(),
                                          status_text=f"the workflow did not start: {type(exc).__name__}"))
        raise
    execution = replace(execution, workflow_arn=out["executionArn"])
    svc.replication_runs.save(execution)
    return execution


def stop(svc: DomainDependencies, execution: Execution) -> Execution:
    """Stop the workflow; the run and its unfinished tasks read Stopped."""
    if execution.status != RUNNING:
        return execution
    if execution.workflow_arn:
        svc.stepfunctions.stop_execution(executionArn=execution.workflow_arn, cause="stopped through the API")
    now = svc.clock()
    tasks = []
    for task in svc.replication_runs.tasks(execution.execution_id):
        if task.status in (PENDING, RUNNING):
            task = replace(task, status=STOPPED, ended=now)
            svc.replication_runs.save_task(task)
        tasks.append(task)
    stopped = replace(execution, status=STOPPED, ended=now, status_text="stopped", counts=count(tasks))
    svc.replication_runs.save(stopped)
    return stopped


def workflow_name(policy: ReplicationPolicy, execution_id: int) -> str:
    """Step Functions' names: 1-80 of [A-Za-z0-9-_]; unique per run."""
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", policy.name).strip("-")[:60] or "policy"
    return f"{base}-{execution_id}"
