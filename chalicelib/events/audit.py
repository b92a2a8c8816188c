"""The audit log's consumer: registry pushes, pulls and deletes become audit
entries (chalicelib/meta/audit.py), written by the `audit_events` function
(app.py) from the queue its bus rule fills (infra/berth.yaml, AuditEventsRule).

Idempotent: an entry's id and time come from its event's, so an event delivered
twice writes the same items again. Only changes made through /v2 are entered
here; the management API enters its own changes (chalicelib/management/audit.py),
as Harbor words them.
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
    TAG_DELETED,
    Event,
    NotAnEvent,
    reference_of,
)
from chalicelib.meta.audit import AuditEntry, entry_id

logger = logging.getLogger("berth.events")

# event type -> Harbor's audit operation; a DELETE of /v2/<name>/manifests/<tag> removes
# the tag, which Harbor's log shows as the deletion of the artifact <name>:<tag>
OPERATIONS = {ARTIFACT_PUSHED: "push", ARTIFACT_PULLED: "pull", ARTIFACT_DELETED: "delete", TAG_DELETED: "delete"}


def entry_for(event: Event) -> AuditEntry | None:
    operation = OPERATIONS.get(event.type)
    if operation is None or event.data.get("via") != "registry":
        return None
    data = event.data
    at = event.epoch
    low_bits = int.from_bytes(hashlib.sha256(event.id.encode()).digest()[:2], "big")
    return AuditEntry(
        username=str(data.get("operator") or "anonymous"),
        operation=operation,
        resource_type="artifact",
        resource=reference_of(str(data["repository"]), str(data["reference"])),
        project=str(data["project"]),
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
