"""From the bus to delivery jobs: the `webhook_events` function (app.py) gets the
events its rule matches (infra/berth.yaml, WebhookEventsRule) and, for each
enabled policy of the event's project that names its type, logs an execution
and queues one job per target (delivery.py). Nothing here calls a receiver, so
a batch of events costs a few reads and writes, whatever the receivers do.

At least once: an execution's id follows from the event and the policy, so the
same event delivered again finds its execution and queues only the jobs still
`Pending` (a crash between the log write and the queueing left them there).
A deleted project's policies are deleted with it.
"""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from chalicelib.events.envelope import PROJECT_DELETED, Event
from chalicelib.meta.webhooks import Execution
from chalicelib.webhooks.delivery import Job, JobQueue
from chalicelib.webhooks.payloads import ProjectInfo
from chalicelib.webhooks.targets import HARBOR_TYPES, safe_address

if TYPE_CHECKING:
    from chalicelib.meta.accounts import AccountStore

logger = logging.getLogger("berth.webhooks")


def execution_id(event: Event, policy_id: int) -> int:
    """Milliseconds of the event's time, then 10 bits of a hash of (event, policy): ids
    grow with time (the log lists newest first), stay below 2**53 (JSON-safe) until
    2039, and name the same execution whenever the same event comes again."""
    low = int.from_bytes(hashlib.sha256(f"{event.id}\0{policy_id}".encode()).digest()[:2], "big") & 0x3FF
    return (int(event.epoch * 1000) << 10) | low


def consume(events: Iterable[Event], webhooks: Any, accounts: AccountStore, queue: JobQueue, clock) -> int:
    """Queue the delivery jobs of these events; how many."""
    jobs: list[Job] = []
    # a batch's events are mostly of a few projects: their policies and the project read once
    policies = _PerBatch(webhooks.list)
    projects = _PerBatch(accounts.get_project)
    for event in {e.id: e for e in events}.values():
        if event.type == PROJECT_DELETED:
            webhooks.delete_project(str(event.data.get("project", "")))
            continue
        jobs.extend(jobs_for(event, webhooks, accounts, clock, policies=policies, projects=projects))
    if jobs:
        queue.send(jobs)
    return len(jobs)


class _PerBatch:
    """A store read remembered for one batch, by its argument."""

    def __init__(self, read):
        self._read = read
        self._seen: dict[str, Any] = {}

    def __call__(self, key: str) -> Any:
        if key not in self._seen:
            self._seen[key] = self._read(key)
        return self._seen[key]


def jobs_for(event: Event, webhooks: Any, accounts: AccountStore, clock, *, policies=None, projects=None) -> list[Job]:
    harbor_type = HARBOR_TYPES.get(event.type)
    project_name = str(event.data.get("project") or "")
    if harbor_type is None or not project_name:
        return []
    listed = (policies or webhooks.list)(project_name)
    policies = [p for p in listed if p.enabled and harbor_type in p.event_types]
    if not policies:
        return []
    project = (projects or accounts.get_project)(project_name)
    if project is None:  # deleted since
        return []
    info = ProjectInfo(project.name, int(project.project_id), bool(project.public))
    jobs: list[Any] = []
    now = clock()
    for policy in policies:
        run = Execution(
            project=project.name,
            policy_id=policy.policy_id,
            execution_id=execution_id(event, policy.policy_id),
            event_id=event.id,
            event_type=harbor_type,
            started=now,
            tasks={
                str(n): {"status": "Pending", "run_count": 0, "address": safe_address(t.address),
                         "notify_type": t.type, "payload_format": t.payload_format, "creation_time": now}
                for n, t in enumerate(policy.targets, 1)
            },
        )
        if webhooks.start_execution(run):
            pending = list(run.tasks)
        else:  # this event again: only what never got queued
            logged = webhooks.execution(project.name, policy.policy_id, run.execution_id)
            pending = [k for k, t in (logged.tasks if logged else {}).items() if t.get("status") == "Pending"]
        jobs.extend(Job(info, policy.policy_id, run.execution_id, int(n), event) for n in pending)
    return jobs
