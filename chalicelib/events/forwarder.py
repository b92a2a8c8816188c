"""From the table's stream to the event bus: the `forward_events` function
(app.py) gets batches of stream records (Lambda's DynamoDB event, or the local
stack's poller: devstack/event_stream.py) and puts their events on EventBridge.

What a record says changed is the stores' to read (chalicelib/meta/outbox_items.py,
`change_in`); two kinds of change make events:
- an outbox item written: the event, as written with its change (outbox.py);
- a repository's catalog entry created or removed: a repository appears with its
  first manifest and disappears when deleted, which no single store call knows
  beforehand, so the stream itself says so (repository.created / .deleted; the
  created event's id follows the repository and its creation time, the deleted
  one's is the stream record's id).

Delivery is at least once: a batch that cannot be put on the bus raises, and
Lambda hands the whole batch over again, events already put included. Consumers
de-duplicate on the event id.
"""
from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from chalicelib.events.envelope import REPOSITORY_CREATED, REPOSITORY_DELETED, Event, NotAnEvent, new_event
from chalicelib.meta.outbox_items import EventWritten, RepositoryCreated, RepositoryRemoved, change_in

logger = logging.getLogger("berth.events")

BUS_SOURCE = "berth"  # EventBridge's `source` of every entry; rules match on it
_BATCH = 10  # PutEvents takes at most 10 entries
_ATTEMPTS = 3


class PublishFailed(Exception):
    """Some events could not be put on the bus; the batch is to be delivered again."""


class EventBridgeBus:
    def __init__(self, client: Any, bus_name: str, *, sleep: Callable[[float], None] = time.sleep):
        self._client = client
        self.name = bus_name
        self._sleep = sleep

    def publish(self, events: list[Event]) -> None:
        """Put the events on the bus, in PutEvents calls of 10, re-sending the entries
        EventBridge reports as failed; PublishFailed if some still fail."""
        for start in range(0, len(events), _BATCH):
            entries = [self._entry(e) for e in events[start : start + _BATCH]]
            for attempt in range(_ATTEMPTS):
                out = self._client.put_events(Entries=entries)
                if not out.get("FailedEntryCount"):
                    break
                entries = [entry for entry, result in zip(entries, out["Entries"]) if result.get("ErrorCode")]
                if attempt < _ATTEMPTS - 1:
                    self._sleep(0.1 * 2**attempt)
            else:
                raise PublishFailed(f"{len(entries)} events were not accepted by bus {self.name}")

    def _entry(self, event: Event) -> dict[str, Any]:
        return {
            "EventBusName": self.name,
            "Source": BUS_SOURCE,
            "DetailType": event.type,
            "Detail": json.dumps(event.to_json(), separators=(",", ":")),
            "Resources": [],
        }


def events_in(records: Iterable[dict[str, Any]], source: str) -> list[Event]:
    """The events that stream records (Lambda's shape) carry, in stream order."""
    events = []
    for record in records:
        try:
            event = _event_in(record, source)
        except (NotAnEvent, ValueError, KeyError, TypeError):  # never retried forever: logged and left
            logger.exception("unreadable outbox record", extra={"event_id": str(record.get("eventID", ""))[:100]})
            continue
        if event is not None:
            events.append(event)
    return events


def forward(records: Iterable[dict[str, Any]], bus: EventBridgeBus, source: str) -> int:
    """Put the records' events on the bus; how many."""
    events = events_in(records, source)
    if events:
        bus.publish(events)
    return len(events)


def _event_in(record: dict[str, Any], source: str) -> Event | None:
    change = change_in(record)
    if isinstance(change, EventWritten):
        return Event.from_json(change.event)
    if change is None:
        return None
    data = {"repository": change.name, "project": change.name.split("/", 1)[0]}
    if isinstance(change, RepositoryRemoved):
        at = change.at if change.at is not None else time.time()
        return new_event(REPOSITORY_DELETED, source, change.name, data, at=at, id=change.record_id)
    assert isinstance(change, RepositoryCreated)
    # the id follows the repository's creation, not the record: whoever reads the
    # stream twice, or sees the insert twice, names the same event
    seed = hashlib.sha256(f"{change.name}\0{change.created}".encode()).hexdigest()
    return new_event(REPOSITORY_CREATED, source, change.name, data, at=float(change.created), id=_uuid_form(seed))


def _uuid_form(hex_digest: str) -> str:
    h = hex_digest
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
