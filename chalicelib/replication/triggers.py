"""Event-based replication: a push or a tag in this Berth starts, within seconds, a run of
each enabled event-based policy that selects it, scoped to that repository; with the
policy's `replicate_deletion`, an artifact or a tag deleted here starts a run that deletes
it at the destination (Harbor's "delete remote resources when locally deleted").

Fed by the domain events' queue (docs/events.md; the app's replication_events). Delivery is
at least once, so a run is started once per (event, policy): a conditional write claims
the pair first (`claim_event`), and a redelivered event finds it claimed. A run copies what
the destination lacks in the whole repository, so an event that was missed (the consumer
down, a run that failed) is caught up by the next run, not replayed.
"""
from __future__ import annotations

import logging

from chalicelib.dependencies import DomainDependencies
from chalicelib.events.envelope import ARTIFACT_DELETED, ARTIFACT_PUSHED, TAG_CREATED, TAG_DELETED, Event
from chalicelib.meta.replication import ReplicationPolicy, Task
from chalicelib.replication import rules, runs

logger = logging.getLogger("berth.replication")
DELETIONS = (ARTIFACT_DELETED, TAG_DELETED)
TYPES = (ARTIFACT_PUSHED, TAG_CREATED, *DELETIONS)


def selected(policy: ReplicationPolicy, event: Event) -> bool:
    data = event.data or {}
    repository, tag = data.get("repository") or "", data.get("tag")
    if not (policy.enabled and policy.trigger == "event_based" and policy.push_based and repository):
        return False
    if event.type in DELETIONS and not policy.replicate_deletion:
        return False
    if not rules.name_selected(policy, repository):
        return False
    tags = [tag] if tag else [t for t in data.get("tags") or [] if isinstance(t, str)]  # a deleted artifact's tags
    return bool(rules.tags_selected(policy, tags)) if tags else not any(f.type == "tag" for f in policy.filters)


def deletion(policy: ReplicationPolicy, event: Event) -> Task | None:
    """The task that deletes at the destination what the event deleted here: the artifact
    (by digest) or the tag; None if the policy's namespace cannot place the repository."""
    data = event.data or {}
    repository = data["repository"]
    try:
        target = rules.destination(repository, policy.dest_namespace, policy.dest_namespace_replace_count)
    except ValueError:
        return None
    if event.type == TAG_DELETED:
        reference, tags, where = data["tag"], (data["tag"],), ":"
    else:
        reference, tags, where = data["digest"], tuple(data.get("tags") or ()), "@"
    return Task(0, 0, f"{repository}{where}{reference}", f"{target}{where}{reference}", repository, target,
                reference, tags, "artifact", "deletion")


def consume(svc: DomainDependencies, events: list[Event]) -> int:
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
            tasks: tuple[Task, ...] = ()
            if event.type in DELETIONS:
                task = deletion(policy, event)
                if task is None:
                    continue
                tasks = (task,)
            if svc.replication_runs.claim_event(event.id, policy.policy_id):
                try:
                    runs.start(svc, policy, "event_based", scope=event.data["repository"], tasks=tasks)
                except runs.RunInProgress as exc:  # single_active_replication: skipped, as Harbor does
                    logger.info("event-based replication skipped", extra={"event": event.id, "reason": exc.message})
                    continue
                started += 1
    return started
