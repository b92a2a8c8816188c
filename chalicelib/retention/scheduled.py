"""Scheduled tag retention: a policy whose trigger has a cron has one schedule
(chalicelib/schedules.py), `retention-<policy id>`; when it fires, the policy runs (not a
dry run) with the trigger `SCHEDULE`, its first step in the function the schedule
invoked. The same function takes a run's later steps (runs.resume), as jobs of the same
kind that name the execution.

The schedule follows the policy (`follow`): written when a policy is created or changed,
removed when its cron is emptied or the policy deleted (with its project too). The policy
is the truth: a job re-reads it when it fires, so a schedule that outlived its policy, or
whose project no longer names it, runs nothing and removes itself.
"""
from __future__ import annotations

from chalicelib.dependencies import DomainDependencies
from chalicelib.meta.retention import StoredPolicy
from chalicelib.retention import runs

KIND = "retention"


def schedule_name(policy_id: int) -> str:
    return f"retention-{policy_id}"


def cron_of(policy: dict) -> str:
    return str(((policy.get("trigger") or {}).get("settings") or {}).get("cron") or "")


def follow(schedules, policy_id: int, policy: dict) -> None:
    """Make the policy's schedule what the policy says."""
    cron = cron_of(policy)
    if cron:
        schedules.put(schedule_name(policy_id), cron, {"kind": KIND, "policy_id": policy_id})
    else:
        schedules.delete(schedule_name(policy_id))


def forget(schedules, policy_id: int) -> None:
    schedules.delete(schedule_name(policy_id))


def _current(svc: DomainDependencies, policy_id: int) -> StoredPolicy | None:
    stored = svc.retention.get(policy_id)
    if stored is None or not cron_of(stored.policy):
        return None
    project = svc.accounts.get_project(stored.project)
    if project is None or project.metadata.get("retention_id") != str(policy_id):
        return None
    return stored


def run(svc: DomainDependencies, job: dict) -> dict:
    """The schedule fired: run the policy, if it still wants it (its first step in this
    invocation); or a run's next step (a job naming its execution: runs.hand_on)."""
    policy_id = int(job.get("policy_id") or 0)
    if job.get("execution_id"):
        execution = runs.resume(svc, policy_id, int(job["execution_id"]))
        return {"policy_id": policy_id, "execution_id": int(job["execution_id"]),
                "status": execution.status if execution is not None else "gone"}
    stored = _current(svc, policy_id)
    if stored is None:
        forget(svc.schedules, policy_id)
        return {"skipped": f"retention policy {policy_id} is gone or no longer scheduled"}
    runs.end_stale(svc, policy_id)
    execution = svc.retention.start(policy_id, runs.SCHEDULE, False)
    execution = runs.resume(svc, policy_id, execution.execution_id) or execution
    return {"policy_id": policy_id, "execution_id": execution.execution_id, "status": execution.status}
