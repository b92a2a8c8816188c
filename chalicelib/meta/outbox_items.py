"""How the stores write domain events into the table, and what the table's stream
says changed. The domain (chalicelib/events) makes the events; this module holds
their layout here:

- an event's outbox item (keys.outbox_pk, the event's CloudEvents JSON, a TTL) and
  its put operation, which a store adds to the transaction of the change the event
  describes, so the event exists exactly when the change does;
- `change_in(record)`: what a stream record (Lambda's DynamoDB event shape) says
  happened: an outbox item's event written, or a repository's catalog entry created
  or removed (which no single store call knows beforehand).

DynamoDB's TTL removes an outbox item after OUTBOX_TTL_SECONDS (stream records live
24 hours). The events are the domain's `Event` (chalicelib/events/envelope.py); this
module reads only what `StoredEvent` names and hands JSON back.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

from chalicelib.meta import keys
from chalicelib.meta.table import put_op, unmarshal

OUTBOX_TTL_SECONDS = 2 * 24 * 3600
EVENT_ATTRIBUTE = "event"


class StoredEvent(Protocol):
    """What the stores read of an event (chalicelib/events/envelope.py's Event)."""

    @property
    def id(self) -> str: ...

    @property
    def epoch(self) -> float: ...

    def to_json(self) -> dict[str, Any]: ...


class EventMaker(Protocol):
    """What the stores ask of the domain's Outbox (chalicelib/events/outbox.py): the
    events of the changes they make, by the current actor. They name the change
    ("artifact.pushed"); the outbox owns types, subjects and the common fields."""

    def repository_event(self, kind: str, repository: str, reference: str, data: dict[str, Any]) -> Any: ...

    def project_event(self, kind: str, project: str, data: dict[str, Any]) -> Any: ...


def item(event: StoredEvent, ttl_seconds: int = OUTBOX_TTL_SECONDS) -> dict[str, Any]:
    """The outbox item that holds the event."""
    return {
        "PK": keys.outbox_pk(event.id),
        "SK": keys.OUTBOX_SK,
        EVENT_ATTRIBUTE: json.dumps(event.to_json(), separators=(",", ":")),
        keys.TTL_ATTRIBUTE: int(event.epoch) + ttl_seconds,
    }


def put(event: StoredEvent) -> dict[str, Any]:
    """The transaction operation that writes the event's outbox item."""
    return put_op(item(event))


def event_json(item: dict[str, Any]) -> dict[str, Any] | None:
    """The event (its CloudEvents JSON) an outbox item holds (an unmarshalled item),
    None for any other item."""
    if not str(item.get("PK", "")).startswith(keys.OUTBOX_PREFIX) or EVENT_ATTRIBUTE not in item:
        return None
    return json.loads(item[EVENT_ATTRIBUTE])


# -- what a stream record says changed -------------------------------------------------
@dataclass(frozen=True)
class EventWritten:
    """An outbox item was written: the event it holds (CloudEvents JSON)."""

    event: dict[str, Any]


@dataclass(frozen=True)
class RepositoryCreated:
    """A repository's catalog entry was written, with its first manifest."""

    name: str
    created: int | float  # the entry's creation time, as the store wrote it (epoch seconds)


@dataclass(frozen=True)
class RepositoryRemoved:
    """A repository's catalog entry was deleted."""

    name: str
    at: float | None  # the stream record's time, if it has one
    record_id: str  # the stream record's id


StreamChange = EventWritten | RepositoryCreated | RepositoryRemoved


def change_in(record: dict[str, Any]) -> StreamChange | None:
    """What a stream record (Lambda's DynamoDB event shape) says happened; None for a
    record that carries nothing the bus hears of. KeyError, ValueError or TypeError for
    a record not shaped as the stores write it."""
    change = record.get("dynamodb") or {}
    name = record.get("eventName")
    key = unmarshal(change.get("Keys") or {})
    if key.get("PK") == keys.CATALOG_PK and name in ("INSERT", "REMOVE"):
        repository = str(key["SK"])
        if name == "REMOVE":
            at = change.get("ApproximateCreationDateTime")
            return RepositoryRemoved(repository, float(at) if at else None, str(record["eventID"]))
        created = unmarshal(change.get("NewImage") or {}).get("created")
        if created is None:  # not a catalog entry as the stores write it (moto's first record of an upsert)
            return None
        return RepositoryCreated(repository, created)
    if name in ("INSERT", "MODIFY") and str(key.get("PK", "")).startswith(keys.OUTBOX_PREFIX):
        doc = event_json(unmarshal(change.get("NewImage") or {}))
        return EventWritten(doc) if doc is not None else None
    return None
