"""The outbox: a domain event written as an item of the table, in the same
DynamoDB transaction as the change it describes, so it exists exactly when the
change does. The table's stream carries it to the bus (forwarder.py); DynamoDB's
TTL removes it after OUTBOX_TTL_SECONDS (stream records live 24 hours).

Stores are given an `Outbox` and add `outbox.put(...)` to their transactions;
the actor (actor.py) is added to every event's data here, so no store needs to
know who is calling.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from chalicelib.events.actor import Actor, current
from chalicelib.events.envelope import (
    ARTIFACT_DELETED,
    ARTIFACT_PUSHED,
    PROJECT_CREATED,
    PROJECT_DELETED,
    TAG_CREATED,
    TAG_DELETED,
    Event,
    new_event,
    reference_of,
)
from chalicelib.meta import keys
from chalicelib.meta.table import put_op

OUTBOX_TTL_SECONDS = 2 * 24 * 3600
EVENT_ATTRIBUTE = "event"


class Outbox:
    def __init__(self, source: str, clock: Callable[[], float], ttl_seconds: int = OUTBOX_TTL_SECONDS):
        self.source = source  # the stage: "/berth/<stage>"
        self._clock = clock
        self._ttl = ttl_seconds

    def event(self, type: str, subject: str, data: dict[str, Any], *, actor: Actor | None = None,
              at: float | None = None, id: str | None = None) -> Event:
        actor = actor or current()
        data = {**data, "operator": actor.name, "source_ip": actor.source_ip, "via": actor.via}
        return new_event(type, self.source, subject, data, at=self._clock() if at is None else at, id=id)

    def item(self, event: Event) -> dict[str, Any]:
        return {
            "PK": keys.outbox_pk(event.id),
            "SK": keys.OUTBOX_SK,
            EVENT_ATTRIBUTE: json.dumps(event.to_json(), separators=(",", ":")),
            keys.TTL_ATTRIBUTE: int(event.epoch) + self._ttl,
        }

    def put(self, type: str, subject: str, data: dict[str, Any]) -> dict[str, Any]:
        """The transaction operation that writes a new event by the current actor."""
        return put_op(self.item(self.event(type, subject, data)))

    # what the stores call: they name the change ("artifact.pushed"), this module owns
    # the types, the subjects and the common fields
    def repository_change(self, kind: str, repository: str, reference: str, data: dict[str, Any]) -> dict[str, Any]:
        return put_op(self.item(self.repository_event(kind, repository, reference, data)))

    def repository_event(self, kind: str, repository: str, reference: str, data: dict[str, Any]) -> Event:
        """The event of a change to a repository ("artifact.pushed"), by the current actor."""
        fields = {"repository": repository, "project": repository.split("/", 1)[0], "reference": reference, **data}
        return self.event(_REPOSITORY_CHANGES[kind], reference_of(repository, reference), fields)

    def project_change(self, kind: str, project: str, data: dict[str, Any]) -> dict[str, Any]:
        return put_op(self.item(self.project_event(kind, project, data)))

    def project_event(self, kind: str, project: str, data: dict[str, Any]) -> Event:
        """The event of a project's change ("project.created"), by the current actor."""
        return self.event(_PROJECT_CHANGES[kind], project, data)


class MemoryOutbox(Outbox):
    """The outbox for the in-memory stores: an event's operation (`put`,
    `repository_change`, `project_change`) is a callable that keeps the event in `written`,
    called when the write it joins commits (as the in-memory stores run the operations they
    are handed); the events those stores make themselves they keep in their `emitted`."""

    def __init__(self, source: str, clock: Callable[[], float], written: list[Event] | None = None):
        super().__init__(source, clock)
        self.written: list[Event] = written if written is not None else []

    def _keep(self, event: Event) -> Any:
        return lambda: self.written.append(event)

    def put(self, type: str, subject: str, data: dict[str, Any]) -> Any:
        return self._keep(self.event(type, subject, data))

    def repository_change(self, kind: str, repository: str, reference: str, data: dict[str, Any]) -> Any:
        return self._keep(self.repository_event(kind, repository, reference, data))

    def project_change(self, kind: str, project: str, data: dict[str, Any]) -> Any:
        return self._keep(self.project_event(kind, project, data))


_REPOSITORY_CHANGES = {
    "artifact.pushed": ARTIFACT_PUSHED,
    "artifact.deleted": ARTIFACT_DELETED,
    "tag.created": TAG_CREATED,
    "tag.deleted": TAG_DELETED,
}
_PROJECT_CHANGES = {"project.created": PROJECT_CREATED, "project.deleted": PROJECT_DELETED}


def event_of(item: dict[str, Any]) -> Event | None:
    """The event an outbox item holds (an unmarshalled item), None for any other item."""
    if not str(item.get("PK", "")).startswith(keys.OUTBOX_PREFIX) or EVENT_ATTRIBUTE not in item:
        return None
    return Event.from_json(json.loads(item[EVENT_ATTRIBUTE]))
