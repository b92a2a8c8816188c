"""Scheduled replication: an enabled policy with a `scheduled` trigger has one schedule
(chalicelib/schedules.py), `replication-<policy id>`, on the policy's cron; when it fires, a
run of the policy starts with the trigger `scheduled`.

The schedule follows the policy (`follow`): written when a policy is created or changed,
removed when it is deleted, disabled or triggered otherwise. The policy is the truth: a job
re-reads it when it fires, so a schedule that outlived its policy (the policy's delete
succeeded, the schedule's failed) starts nothing and removes itself.
"""
from __future__ import annotations

from chalicelib.dependencies import DomainDependencies
from chalicelib.meta.replication import ReplicationPolicy
from chalicelib.replication import runs

KIND = "replication"


def schedule_name(policy_id: int) -> str:
    return f"replication-{policy_id}"


def wants_schedule(policy: ReplicationPolicy) -> bool:
    return policy.enabled and policy.trigger == "scheduled" and bool(policy.cron)


def follow(schedules, policy: ReplicationPolicy) -> None:
    """Make the policy's schedule what the policy says."""
    if wants_schedule(policy):
        schedules.put(schedule_name(policy.policy_id), policy.cron, {"kind": KIND, "policy_id": policy.policy_id})
    else:
        schedules.delete(schedule_name(policy.policy_id))


def forget(schedules, policy_id: int) -> None:
    schedules.delete(schedule_name(policy_id))


def run(svc: DomainDependencies, job: dict) -> dict:
    """The schedule fired: start a run of the policy, if it still wants one."""
    policy_id = int(job.get("policy_id") or 0)
    policy = svc.replication_policies.get(policy_id)
    if policy is None or not wants_schedule(policy):
        forget(svc.schedules, policy_id)
        return {"skipped": f"replication policy {policy_id} is gone or no longer scheduled"}
    try:
        execution = runs.start(svc, policy, "scheduled")
    except runs.RunInProgress as exc:  # Harbor's single_active_replication: this run is skipped
        return {"policy_id": policy_id, "skipped": exc.message}
    return {"policy_id": policy_id, "execution_id": execution.execution_id}
