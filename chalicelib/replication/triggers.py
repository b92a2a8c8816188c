"""Event-based replication: a push or a tag in this Berth starts, within seconds, a run of
each enabled event-based policy that selects it, scoped to that repository.

Fed by the domain events' queue (docs/events.md; the app's replication_events). Delivery is
at least once, so a run is started once per (event, policy): a conditional write claims
the pair first (`claim_event`), and a redelivered event finds it claimed. A run copies what
the destination lacks in the whole repository, so an event that was missed (the consumer
down, a run that failed) is caught up by the next run, not replayed.
"""
from __future__ import annotations

import logging

from chalicelib.events.envelope import ARTIFACT_PUSHED, TAG_CREATED, Event
from chalicelib.meta.replication import ReplicationPolicy
from chalicelib.replication import rules, runs

logger = logging.getLogger("berth.replication")
TYPES = (ARTIFACT_PUSHED, TAG_CREATED)


def selected(policy: ReplicationPolicy, event: Event) -> bool:
    data = event.data or {}
    repository, tag = data.get("repository") or "", data.get("tag")
    if not (policy.enabled and policy.trigger == "event_based" and policy.push_based and repository):
        return False
    if not rules.name_selected(policy, repository):
        return False
    return bool(rules.tags_selected(policy, [tag])) if tag else not any(f.type == "tag" for f in policy.filters)


def consume(svc, events: list[Event]) -> int:
    """Start the runs these events call for; how many were started."""
    events = [e for e in events if e.type in TYPES]
    if not events:
        return 0
    policies = [p for p in svc.replication_policies.list() if p.trigger == "event_based" and p.enabled]
    started = 0
    for event in events:
        for policy in policies:
            if not selected(policy, event):
                continue
            if svc.replication_runs.claim_event(event.id, policy.policy_id):
                runs.start(svc, policy, "event_based", scope=event.data["repository"])
                started += 1
    return started
