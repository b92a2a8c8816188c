"""The envelope of every domain event: CloudEvents 1.0 in its JSON format
(https://github.com/cloudevents/spec, `spec.md` and `formats/json-format.md`).

An event is plain data: `id` (unique per source; consumers de-duplicate on it),
`source` (the stage, "/berth/<stage>"), `type` (one of TYPES), `subject` (the
resource, "library/app:1"), `time` (RFC 3339, UTC), `data` (a JSON object, one
shape per type; docs/events.md lists the fields).
"""
from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Any

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

ARTIFACT_PUSHED = "berth.artifact.pushed"
ARTIFACT_PULLED = "berth.artifact.pulled"
ARTIFACT_DELETED = "berth.artifact.deleted"
TAG_CREATED = "berth.tag.created"
TAG_DELETED = "berth.tag.deleted"
REPOSITORY_CREATED = "berth.repository.created"
REPOSITORY_DELETED = "berth.repository.deleted"
PROJECT_CREATED = "berth.project.created"
PROJECT_DELETED = "berth.project.deleted"
QUOTA_WARNING = "berth.quota.warning"
QUOTA_EXCEEDED = "berth.quota.exceeded"
REPLICATION_COMPLETED = "berth.replication.completed"
GC_COMPLETED = "berth.gc.completed"
PROXY_STALE_SERVED = "berth.proxy.stale_served"
TYPES = frozenset(
    {
        ARTIFACT_PUSHED, ARTIFACT_PULLED, ARTIFACT_DELETED, TAG_CREATED, TAG_DELETED, REPOSITORY_CREATED,
        REPOSITORY_DELETED, PROJECT_CREATED, PROJECT_DELETED, QUOTA_WARNING, QUOTA_EXCEEDED, REPLICATION_COMPLETED, GC_COMPLETED,
        PROXY_STALE_SERVED,
    }
)
_REQUIRED = ("specversion", "id", "source", "type")


class NotAnEvent(ValueError):
    """The JSON is not a CloudEvent of a type Berth knows; the message says why."""


@dataclass(frozen=True)
class Event:
    id: str
    type: str
    source: str
    subject: str
    time: str  # RFC 3339, UTC, microseconds
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """The structured-mode JSON (formats/json-format.md)."""
        return {
            "specversion": SPEC_VERSION,
            "id": self.id,
            "source": self.source,
            "type": self.type,
            "subject": self.subject,
            "time": self.time,
            "datacontenttype": CONTENT_TYPE,
            "data": self.data,
        }

    @classmethod
    def from_json(cls, doc: Any) -> Event:
        if not isinstance(doc, dict):
            raise NotAnEvent("an event is a JSON object")
        missing = [k for k in _REQUIRED if not isinstance(doc.get(k), str) or not doc[k]]
        if missing:
            raise NotAnEvent(f"missing or empty: {', '.join(missing)}")
        if doc["specversion"] != SPEC_VERSION:
            raise NotAnEvent(f"specversion {doc['specversion']!r} is not {SPEC_VERSION}")
        if doc["type"] not in TYPES:
            raise NotAnEvent(f"unknown type {doc['type'][:100]!r}")
        data = doc.get("data")
        if not isinstance(data, dict):
            raise NotAnEvent("data must be a JSON object")
        return cls(doc["id"], doc["type"], doc["source"], str(doc.get("subject", "")), str(doc.get("time", "")), data)

    @property
    def epoch(self) -> float:
        """`time` as epoch seconds."""
        return parse_time(self.time)


def new_event(type: str, source: str, subject: str, data: dict[str, Any], *, at: float, id: str | None = None) -> Event:
    if type not in TYPES:
        raise ValueError(f"unknown event type {type}")
    return Event(id or new_id(), type, source, subject, format_time(at), data)


def new_id() -> str:
    # random, 128 bits, in UUID form (uuid4 layout); os.urandom: no uuid import on the cold path
    raw = bytearray(os.urandom(16))
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    h = raw.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def format_time(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(text: str) -> float:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise NotAnEvent(f"time {text[:40]!r} is not RFC 3339") from None
    return (moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)).timestamp()


def reference_of(repository: str, reference: str) -> str:
    """How Harbor names an artifact: repo:tag, or repo@digest."""
    return f"{repository}@{reference}" if ":" in reference else f"{repository}:{reference}"
