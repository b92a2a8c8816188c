"""Domain events: the CloudEvents 1.0 envelope (checked by the CloudEvents SDK), the
outbox item, the stream records the forwarder reads, the audit consumer's entries."""
from __future__ import annotations

import hashlib
import json

import pytest
from cloudevents.core.formats.json import JSONFormat

from chalicelib.events import audit, envelope, forwarder
from chalicelib.events.actor import SYSTEM, Actor, acting_as, current
from chalicelib.events.envelope import Event, NotAnEvent
from chalicelib.events.outbox import Outbox
from chalicelib.meta import outbox_items
from chalicelib.meta.table import marshal

NOW = 1_780_000_000.123456


def outbox() -> Outbox:
    return Outbox("/berth/test", lambda: NOW)


ALICE = Actor("alice", "10.0.0.1", "registry")


def pushed(actor: Actor = ALICE) -> Event:
    data = {"repository": "lib/app", "project": "lib", "reference": "v1", "digest": "sha256:" + "a" * 64, "tag": "v1"}
    return outbox().event(envelope.ARTIFACT_PUSHED, "lib/app:v1", data, actor=actor)


def test_the_envelope_is_a_cloudevent_by_the_sdk():
    event = pushed()
    parsed = JSONFormat().read(None, json.dumps(event.to_json()).encode())
    assert parsed.get_specversion() == "1.0"
    assert parsed.get_id() == event.id
    assert parsed.get_source() == "/berth/test"
    assert parsed.get_type() == "berth.artifact.pushed"
    assert parsed.get_subject() == "lib/app:v1"
    assert parsed.get_time().timestamp() == pytest.approx(NOW, abs=1e-6)
    assert parsed.get_datacontenttype() == "application/json"
    assert parsed.get_data()["operator"] == "alice"


def test_the_envelope_round_trips_and_refuses_what_is_not_an_event():
    event = pushed()
    assert Event.from_json(json.loads(json.dumps(event.to_json()))) == event
    assert event.epoch == pytest.approx(NOW, abs=1e-6)
    good = event.to_json()
    for bad in (
        [],
        {**good, "specversion": "0.3"},
        {**good, "id": ""},
        {k: v for k, v in good.items() if k != "source"},
        {**good, "type": "com.example.other"},
        {**good, "data": "text"},
        {**good, "time": "yesterday"},
    ):
        with pytest.raises(NotAnEvent):
            Event.from_json(bad).epoch  # noqa: B018 (time is checked when read)


def test_ids_are_unique_uuids():
    ids = {envelope.new_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(len(i) == 36 and i[14] == "4" for i in ids)


def test_the_actor_is_the_requests_and_system_outside_one():
    assert current() == SYSTEM
    with acting_as(Actor("bob", "192.0.2.7", "management")):
        event = outbox().event(envelope.PROJECT_CREATED, "p", {"project": "p"})
    assert current() == SYSTEM
    assert {k: event.data[k] for k in ("operator", "source_ip", "via")} == {
        "operator": "bob", "source_ip": "192.0.2.7", "via": "management",
    }


def test_an_outbox_item_holds_its_event_and_expires():
    event = pushed()
    item = outbox_items.item(event)
    assert item["PK"] == f"EVT#{event.id}" and item["SK"] == "EVT"
    assert item["expires_at"] == int(NOW) + 2 * 24 * 3600
    assert Event.from_json(outbox_items.event_json(item)) == event
    assert outbox_items.event_json({"PK": "R#lib/app", "SK": "T#v1"}) is None
    assert outbox_items.put(event) == {"Put": {"Item": marshal(item)}}


def _record(name: str, keys: dict, image: dict | None = None, event_id: str = "e1") -> dict:
    change = {"Keys": marshal(keys), "ApproximateCreationDateTime": NOW}
    if image is not None:
        change["NewImage"] = marshal(image)
    return {"eventID": event_id, "eventName": name, "dynamodb": change}


def test_the_forwarder_reads_outbox_inserts_and_catalog_changes_only():
    event = pushed()
    item = outbox_items.item(event)
    records = [
        _record("INSERT", {"PK": item["PK"], "SK": "EVT"}, item),
        _record("REMOVE", {"PK": item["PK"], "SK": "EVT"}),  # its TTL expiry
        _record("INSERT", {"PK": "R#lib/app", "SK": "T#v1"}, {"PK": "R#lib/app", "SK": "T#v1"}),
        _record("INSERT", {"PK": "CATALOG", "SK": "lib/app"}, {"PK": "CATALOG", "SK": "lib/app"}, "e0"),  # no created
        _record("INSERT", {"PK": "CATALOG", "SK": "lib/app"}, {"PK": "CATALOG", "SK": "lib/app", "created": 7}, "e2"),
        _record("REMOVE", {"PK": "CATALOG", "SK": "lib/app"}, None, "e3"),
        _record("INSERT", {"PK": "EVT#broken", "SK": "EVT"}, {"PK": "EVT#broken", "SK": "EVT", "event": "{"}),
    ]
    events = forwarder.events_in(records, "/berth/test")
    assert [(e.type, e.subject) for e in events] == [
        ("berth.artifact.pushed", "lib/app:v1"),
        ("berth.repository.created", "lib/app"),
        ("berth.repository.deleted", "lib/app"),
    ]
    assert events[0].id == event.id and events[2].id == "e3"
    assert events[1].data == {"repository": "lib/app", "project": "lib"} and events[1].epoch == 7
    # the same creation seen twice is the same event: its id follows the repository and its
    # creation time (sha256 of the name, NUL, the time; in UUID form)
    assert forwarder.events_in([records[4]], "/berth/test")[0].id == events[1].id
    seed = hashlib.sha256(b"lib/app\x007").hexdigest()
    assert events[1].id == f"{seed[:8]}-{seed[8:12]}-{seed[12:16]}-{seed[16:20]}-{seed[20:32]}"


class FlakyEvents:
    """PutEvents that rejects some entries, as EventBridge may (FailedEntryCount)."""

    def __init__(self, rejections: list[int]):
        self.rejections = rejections  # per call: how many entries (from the first) fail
        self.calls: list[list[dict]] = []

    def put_events(self, Entries):
        self.calls.append(Entries)
        failing = self.rejections.pop(0) if self.rejections else 0
        results = [{"ErrorCode": "InternalFailure"} if i < failing else {"EventId": str(i)} for i in range(len(Entries))]
        return {"FailedEntryCount": min(failing, len(Entries)), "Entries": results}


def test_the_bus_sends_tens_and_resends_what_failed():
    client = FlakyEvents([0, 2, 0])
    bus = forwarder.EventBridgeBus(client, "bus", sleep=lambda s: None)
    events = [pushed() for _ in range(13)]
    bus.publish(events)
    assert [len(c) for c in client.calls] == [10, 3, 2]
    sent = client.calls[0][0]
    assert sent["Source"] == "berth" and sent["DetailType"] == "berth.artifact.pushed" and sent["EventBusName"] == "bus"
    assert json.loads(sent["Detail"]) == events[0].to_json()


def test_the_bus_raises_when_entries_keep_failing():
    bus = forwarder.EventBridgeBus(FlakyEvents([1, 1, 1]), "bus", sleep=lambda s: None)
    with pytest.raises(forwarder.PublishFailed):
        bus.publish([pushed()])


def test_audit_entries_come_from_registry_events_and_repeat_exactly():
    event = pushed()
    entry = audit.entry_for(event)
    assert (entry.username, entry.operation, entry.resource_type, entry.resource, entry.project, entry.source_ip) == (
        "alice", "push", "artifact", "lib/app:v1", "lib", "10.0.0.1",
    )
    assert audit.entry_for(Event.from_json(event.to_json())) == entry  # a second delivery, the same entry
    child = pushed(Actor("alice", "10.0.0.1", "management"))
    assert audit.entry_for(child) is None  # an index's child, copied with it: the copy is entered once
    created = outbox().event(envelope.PROJECT_CREATED, "p", {"project": "p"}, actor=Actor("a", via="system"))
    assert audit.entry_for(created) is None  # the bootstrap's


def test_the_management_apis_changes_an_event_carries_are_entered_as_its_dispatcher_words_them():
    """The entries chalicelib/management/audit.py record_change wrote for these routes."""
    bob = Actor("bob", "192.0.2.7", "management")
    tag = {"repository": "lib/app", "project": "lib", "reference": "v2", "tag": "v2"}

    def fields(kind: str, subject: str, data: dict, actor: Actor = bob):
        entry = audit.entry_for(outbox().event(kind, subject, data, actor=actor))
        return None if entry is None else (entry.username, entry.operation, entry.resource_type, entry.resource,
                                           entry.project, entry.source_ip, entry.succeeded)

    assert fields(envelope.TAG_CREATED, "lib/app:v2", tag) == ("bob", "create", "tag", "lib/app:v2", "lib", "192.0.2.7", True)
    assert fields(envelope.TAG_DELETED, "lib/app:v2", tag) == ("bob", "delete", "tag", "lib/app:v2", "lib", "192.0.2.7", True)
    project = {"project": "lib", "project_id": 3, "public": False}
    assert fields(envelope.PROJECT_CREATED, "lib", project) == ("bob", "create", "project", "lib", "lib", "192.0.2.7", True)
    assert fields(envelope.PROJECT_DELETED, "lib", project) == ("bob", "delete", "project", "lib", "lib", "192.0.2.7", True)
    on_push = Actor("admin", "198.51.100.1", "token")
    assert fields(envelope.PROJECT_CREATED, "lib", project, on_push) == ("admin", "create", "project", "lib", "lib", "198.51.100.1", True)
    assert fields(envelope.PROJECT_DELETED, "lib", project, Actor("system")) is None
    digest = "sha256:" + "a" * 64
    copied = {**tag, "digest": digest, "copy_of": "other/app:v2"}
    assert fields(envelope.ARTIFACT_PUSHED, "lib/app:v2", copied) == ("bob", "create", "artifact", "lib/app", "lib", "192.0.2.7", True)
    assert fields(envelope.ARTIFACT_PUSHED, "lib/app:v2", {**copied, "copy_of": None}) is None
    deleted = {**tag, "reference": digest, "digest": digest, "tags": ["v2"]}
    by_tag, by_digest = {**deleted, "named": "v2"}, {**deleted, "named": digest}
    assert fields(envelope.ARTIFACT_DELETED, f"lib/app@{digest}", by_tag) == (
        "bob", "delete", "artifact", "lib/app:v2", "lib", "192.0.2.7", True)
    assert fields(envelope.ARTIFACT_DELETED, f"lib/app@{digest}", by_digest)[3] == f"lib/app@{digest}"
    assert fields(envelope.ARTIFACT_DELETED, f"lib/app@{digest}", deleted, Actor("system")) is None  # retention, GC


def test_audit_reads_eventbridge_events_from_the_queue():
    event = pushed()
    body = {"version": "0", "detail-type": event.type, "source": "berth", "detail": event.to_json()}
    batch = {"Records": [{"messageId": "1", "body": json.dumps(body)}, {"messageId": "2", "body": "not json"}]}
    assert audit.events_from_queue(batch) == [event]

    class Log:
        def __init__(self):
            self.entries = []

        def record_many(self, entries):
            self.entries += entries

    log = Log()
    assert audit.consume(log, [event, event]) == 1  # a batch holding an event twice
    assert audit.consume(log, [event]) == 1  # and a second delivery
    assert log.entries[0] == log.entries[1]


def test_every_type_is_documented():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "events.md").read_text()
    assert all(f"`{t}`" in doc for t in envelope.TYPES), [t for t in envelope.TYPES if f"`{t}`" not in doc]


def test_the_audit_rule_matches_what_the_consumer_enters():
    from pathlib import Path

    from devstack.resources import load_template

    template = load_template(Path(__file__).resolve().parents[2] / "infra" / "berth.yaml")
    pattern = template["Resources"]["AuditEventsRule"]["Properties"]["EventPattern"]
    assert pattern["source"] == [forwarder.BUS_SOURCE]
    assert set(pattern["detail-type"]) == set(audit.TYPES)
