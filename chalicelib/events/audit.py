"""The audit log's consumer: the changes a domain event carries become audit entries
(chalicelib/meta/audit.py), written by the `audit_events` function (app.py) from the
queue its bus rule fills (infra/berth.yaml, AuditEventsRule).

Which changes (docs/decisions/audit-entries.md): registry pushes, pulls and deletes
(`via` registry), and the management API's changes whose event its own transaction
writes: an artifact copied or deleted, a tag created or deleted, a project created (also
on push, `via` token) or deleted. Each is entered as Harbor words it, as the management API's
dispatcher words the changes it still enters itself (chalicelib/management/audit.py
record_change): the same username, operation, resource type, resource, project and address.

Idempotent: an entry's id and time come from its event's, so an event delivered twice
writes the same items again.
"""
from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from typing import Any

from chalicelib.events.envelope import (
    ARTIFACT_DELETED,
    ARTIFACT_PULLED,
    ARTIFACT_PUSHED,
    PROJECT_CREATED,
    PROJECT_DELETED,
    TAG_CREATED,
    TAG_DELETED,
    Event,
    NotAnEvent,
    reference_of,
)
from chalicelib.meta.audit import AuditEntry, entry_id

logger = logging.getLogger("berth.events")

# (how the change came, event type) -> (Harbor's operation, resource type). A DELETE of
# /v2/<name>/manifests/<tag> removes the tag, which Harbor's log shows as the deletion of the
# artifact <name>:<tag>; the management API's tag routes are Harbor's tag operations, its
# copy the creation of an artifact in the target repository (the event of the artifact asked
# for, `copy_of`; an index's children are copied without). What an event of another `via`
# carries (a retention run's or garbage collection's deletions: `system`) is not entered
# from it: docs/decisions/audit-entries.md.
ENTERED = {
    ("registry", ARTIFACT_PUSHED): ("push", "artifact"),
    ("registry", ARTIFACT_PULLED): ("pull", "artifact"),
    ("registry", ARTIFACT_DELETED): ("delete", "artifact"),
    ("registry", TAG_DELETED): ("delete", "artifact"),
    ("management", ARTIFACT_PUSHED): ("create", "artifact"),
    ("management", ARTIFACT_DELETED): ("delete", "artifact"),
    ("management", TAG_CREATED): ("create", "tag"),
    ("management", TAG_DELETED): ("delete", "tag"),
    ("management", PROJECT_CREATED): ("create", "project"),
    ("token", PROJECT_CREATED): ("create", "project"),  # a system administrator's push into a new project
    ("management", PROJECT_DELETED): ("delete", "project"),
}
TYPES = frozenset(kind for _, kind in ENTERED)  # what the audit rule of the bus matches
_PROJECT_EVENTS = (PROJECT_CREATED, PROJECT_DELETED)


def entry_for(event: Event) -> AuditEntry | None:
    via = str(event.data.get("via"))
    entered = ENTERED.get((via, event.type))
    if entered is None:
        return None
    operation, resource_type = entered
    data = event.data
    project = str(data["project"])
    copy = via == "management" and event.type == ARTIFACT_PUSHED
    if copy and not data.get("copy_of"):
        return None  # a child of a copied index: the copy is entered once, from the index's event
    if event.type in _PROJECT_EVENTS:
        resource = project
    elif copy:  # as the dispatcher worded a copy: the repository copied into
        resource = str(data["repository"])
    else:  # an artifact deleted through the management API: as its caller named it (a tag or the digest)
        resource = reference_of(str(data["repository"]), str(data.get("named") or data["reference"]))
    at = event.epoch
    low_bits = int.from_bytes(hashlib.sha256(event.id.encode()).digest()[:2], "big")
    return AuditEntry(
        username=str(data.get("operator") or "anonymous"),
        operation=operation,
        resource_type=resource_type,
        resource=resource,
        project=project,
        source_ip=str(data.get("source_ip") or ""),
        op_time=at,
        id=entry_id(at, low_bits),
    )


def consume(audit_log: Any, events: Iterable[Event]) -> int:
    """Write the audit entries of these events (BatchWriteItem); how many (each event once)."""
    entries = []
    # at least once: a batch may hold one event twice (BatchWriteItem refuses a key twice)
    for event in {e.id: e for e in events}.values():
        try:
            entry = entry_for(event)
        except (KeyError, TypeError, ValueError):
            logger.exception("event without the audit fields", extra={"event_id": event.id, "type": event.type})
            continue
        if entry is not None:
            entries.append(entry)
    if entries:
        audit_log.record_many(entries)
    return len(entries)


def events_from_queue(sqs_event: dict[str, Any]) -> list[Event]:
    """The CloudEvents in an SQS batch whose messages are EventBridge events (the
    bus rule's target is the queue: each body is the rule's event, `detail` is ours)."""
    events = []
    for record in sqs_event.get("Records") or []:
        try:
            events.append(Event.from_json(json.loads(record["body"])["detail"]))
        except (KeyError, TypeError, ValueError, NotAnEvent):  # a message never readable: dropped, not retried
            logger.exception("unreadable event message", extra={"message_id": str(record.get("messageId", ""))[:100]})
    return events
