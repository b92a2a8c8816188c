"""The outbox's events: what a domain event is and who made it. A store writes
each change's event in the change's own transaction (the table's outbox item,
chalicelib/meta/outbox_items.py), so it exists exactly when the change does; the
table's stream carries it to the bus (forwarder.py).

Stores are given an `Outbox` and ask it for their changes' events
(`repository_event`, `project_event`); the actor (actor.py) is added to every
event's data here, so no store needs to know who is calling.
"""
from __future__ import annotations

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


class Outbox:
    def __init__(self, source: str, clock: Callable[[], float]):
        self.source = source  # the stage: "/berth/<stage>"
        self._clock = clock

    def event(self, type: str, subject: str, data: dict[str, Any], *, actor: Actor | None = None,
              at: float | None = None, id: str | None = None) -> Event:
        actor = actor or current()
        data = {**data, "operator": actor.name, "source_ip": actor.source_ip, "via": actor.via}
        return new_event(type, self.source, subject, data, at=self._clock() if at is None else at, id=id)

    # what the stores call: they name the change ("artifact.pushed"), this module owns
    # the types, the subjects and the common fields
    def repository_event(self, kind: str, repository: str, reference: str, data: dict[str, Any]) -> Event:
        """The event of a change to a repository ("artifact.pushed"), by the current actor."""
        fields = {"repository": repository, "project": repository.split("/", 1)[0], "reference": reference, **data}
        return self.event(_REPOSITORY_CHANGES[kind], reference_of(repository, reference), fields)

    def project_event(self, kind: str, project: str, data: dict[str, Any]) -> Event:
        """The event of a project's change ("project.created"), by the current actor."""
        return self.event(_PROJECT_CHANGES[kind], project, data)


_REPOSITORY_CHANGES = {
    "artifact.pushed": ARTIFACT_PUSHED,
    "artifact.deleted": ARTIFACT_DELETED,
    "tag.created": TAG_CREATED,
    "tag.deleted": TAG_DELETED,
}
_PROJECT_CHANGES = {"project.created": PROJECT_CREATED, "project.deleted": PROJECT_DELETED}
