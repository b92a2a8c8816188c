"""Domain events delivered for real: the app in-process against a moto *server* (which
keeps the table's stream; the in-process mock does not serve it), the local stack's
event delivery (devstack/event_stream.py) carrying the stream to the app's
forward_events, EventBridge's rules (infra/berth.yaml) carrying the events into the
audit queue, the app's audit_events entering them. A rule of the test's own copies
every event on the bus into a queue the test reads: what arrived on the bus.

No event is lost when a change succeeded, none is emitted when it failed, and a
fault between the write and the delivery (the forwarder crashing after PutEvents,
PutEvents refused, a consumer failing) ends with each change's event delivered again
and entered once.
"""
from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass

import pytest
from botocore.exceptions import ClientError

from chalicelib.events.actor import Actor, acting_as
from chalicelib.meta import audit as audit_store
from devstack.event_stream import EventDelivery, QueuePoller, StreamPoller
from devstack.motoserver import MotoServer
from devstack.resources import REGION, client, event_sources, provision
from tests.api.conftest import ApiClient
from tests.api.helpers import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, descriptor, digest, encode, with_query
from tests.conftest import make_services


@dataclass
class Stack:
    svc: object
    api: ApiClient
    delivery: EventDelivery
    observer: QueuePoller
    app: object

    def drain(self) -> int:
        with self.app.serving(self.svc):
            return self.delivery.drain()

    def observed(self) -> list[dict]:
        """The CloudEvents that reached the bus since the last look."""
        events = []
        while True:
            messages = self.observer.receive()
            if not messages:
                return events
            events += [json.loads(m["body"])["detail"] for m in messages]
            self.observer.done(messages)

    def audit(self, project: str) -> list[audit_store.AuditEntry]:
        return self.svc.audit.matching(project=project, since=0, until=4_000_000_000)  # whatever their time

    def outbox_items(self) -> int:
        out = self.svc.dynamodb.scan(
            TableName=self.svc.settings.table_name,
            FilterExpression="begins_with(PK, :p)",
            ExpressionAttributeValues={":p": {"S": "EVT#"}},
            Select="COUNT",
        )
        return out["Count"]


@pytest.fixture(scope="module")
def stack():
    import app as app_module
    from chalicelib.config import Settings

    with MotoServer("127.0.0.1", 0) as server, pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "AWS_ENDPOINT_URL": server.url, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION,
        }.items():
            mp.setenv(name, value)
        mp.delenv("AWS_PROFILE", raising=False)
        env = provision(server.url, "evt")
        sources = event_sources(server.url, "evt")
        settings = Settings.from_env({**os.environ, **env, "BERTH_AUTH": "none", "BERTH_UPLOAD_URL": ""})
        svc = make_services(settings)
        # the test's own rule: every event on the bus, into a queue it reads
        events, sqs = client("events", server.url), client("sqs", server.url)
        queue_url = sqs.create_queue(QueueName="observer")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        bus = env["BERTH_EVENT_BUS"]
        events.put_rule(Name="observe", EventBusName=bus, EventPattern=json.dumps({"source": ["berth"]}))
        events.put_targets(Rule="observe", EventBusName=bus, Targets=[{"Id": "observer", "Arn": queue_arn}])
        delivery = EventDelivery(
            StreamPoller(client("dynamodbstreams", server.url), sources["stream_arn"]),
            app_module.forward_events,
            [(QueuePoller(sqs, sources["audit_queue_url"]), app_module.audit_events)],
        )
        with app_module.serving(svc):
            yield Stack(svc, ApiClient(app_module.app), delivery, QueuePoller(sqs, queue_url), app_module)


@pytest.fixture
def world(stack) -> Stack:
    """The stack with everything before this test delivered and looked at."""
    stack.drain()
    stack.observed()
    return stack


def push(stack: Stack, name: str, tag: str, content: str | None = None) -> str:
    """An image pushed as `name:tag`; the same `content` makes the same manifest."""
    seed = name + (content or tag)
    config, layer = encode({"seed": seed}), f"layer {seed}".encode() * 10
    for data in (config, layer):
        reply = stack.api.post(with_query(f"/v2/{name}/blobs/uploads/", digest=digest(data)), data,
                               headers={"Content-Type": "application/octet-stream"})
        assert reply.status == 201, reply.body
    body = encode({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                   "layers": [descriptor(OCI_LAYER, layer)]})
    reply = stack.api.put(f"/v2/{name}/manifests/{tag}", body, headers={"Content-Type": OCI_MANIFEST})
    assert reply.status == 201, reply.body
    return digest(body)


def of_type(events: list[dict], kind: str) -> list[dict]:
    return [e for e in events if e["type"] == f"berth.{kind}"]


def test_a_push_arrives_on_the_bus_once_and_in_the_audit_log(world):
    manifest = push(world, "evp/app", "v1")
    assert world.drain() > 0
    events = world.observed()
    assert Counter(e["type"] for e in events) == {"berth.repository.created": 1, "berth.artifact.pushed": 1}
    [pushed] = of_type(events, "artifact.pushed")
    assert pushed["specversion"] == "1.0" and pushed["source"] == "/berth/evt" and pushed["subject"] == "evp/app:v1"
    assert {k: pushed["data"][k] for k in ("repository", "project", "digest", "tag", "reference", "via")} == {
        "repository": "evp/app", "project": "evp", "digest": manifest, "tag": "v1", "reference": "v1", "via": "registry",
    }
    assert [(e.operation, e.resource, e.resource_type) for e in world.audit("evp")] == [("push", "evp/app:v1", "artifact")]
    # the item carries its expiry (DynamoDB's TTL removes it after two days)
    assert world.outbox_items() >= 1


def test_tags_deletes_and_pulls_arrive_and_are_entered(world):
    manifest = push(world, "evd/app", "v1")
    assert world.api.get("/v2/evd/app/manifests/v1").status == 200
    assert world.api.delete("/v2/evd/app/manifests/v1").status == 202  # the tag
    assert push(world, "evd/app", "v2", content="v1") == manifest
    assert world.api.delete(f"/v2/evd/app/manifests/{manifest}").status == 202  # the artifact and its tag v2
    world.drain()
    events = world.observed()
    assert Counter(e["type"].removeprefix("berth.") for e in events) == {
        "repository.created": 1, "artifact.pushed": 2, "artifact.pulled": 1, "tag.deleted": 1, "artifact.deleted": 1,
    }
    [deleted] = of_type(events, "artifact.deleted")
    assert deleted["data"]["tags"] == ["v2"] and deleted["data"]["digest"] == manifest
    entries = sorted((e.operation, e.resource) for e in world.audit("evd"))
    assert entries == sorted([
        ("push", "evd/app:v1"), ("pull", "evd/app:v1"), ("delete", "evd/app:v1"),
        ("push", "evd/app:v2"), ("delete", f"evd/app@{manifest}"),
    ])


def test_a_failed_change_emits_nothing(world):
    push(world, "evf/app", "v1")
    world.drain()
    world.observed()
    before = world.outbox_items()
    missing = encode({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, b"nothing"),
                      "layers": []})
    assert world.api.put("/v2/evf/app/manifests/v2", missing, headers={"Content-Type": OCI_MANIFEST}).status == 404
    assert world.api.delete("/v2/evf/app/manifests/nosuchtag").status == 404
    assert world.api.delete(f"/v2/evf/app/manifests/{digest(b'no such manifest')}").status == 404
    record = world.svc.meta.get_manifest("evf/app", world.svc.meta.get_tag("evf/app", "v1").digest)
    from chalicelib.errors import Conflict

    with pytest.raises(Conflict):  # the tag exists: the transaction, event included, is refused
        world.svc.meta.create_tag("evf/app", "v1", record, 0)
    assert world.outbox_items() == before
    world.drain()
    assert world.observed() == []
    assert [e.operation for e in world.audit("evf")] == ["push"]


def test_a_forwarder_crashing_after_putting_its_batch_gets_it_again_and_consumers_enter_it_once(world, monkeypatch):
    real = world.delivery._forward
    crashes = []

    def crash_once(event, context):
        out = real(event, context)  # the events are on the bus ...
        if not crashes:
            crashes.append(len(event["Records"]))
            raise RuntimeError("the function died before reporting success")  # ... but Lambda retries the batch
        return out

    monkeypatch.setattr(world.delivery, "_forward", crash_once)
    manifest = push(world, "evc/app", "v1")
    world.drain()
    world.drain()
    assert crashes
    pushed = of_type(world.observed(), "artifact.pushed")
    assert len(pushed) == 2 and len({e["id"] for e in pushed}) == 1  # at least once: one event, twice
    assert pushed[0]["data"]["digest"] == manifest
    assert [(e.operation, e.resource) for e in world.audit("evc")] == [("push", "evc/app:v1")]


def test_put_events_refused_at_first_delivers_the_event_later(world, monkeypatch):
    bus_client = world.svc.event_bus._client
    real = bus_client.put_events
    refusals = []

    def refuse_once(**kwargs):
        if not refusals:
            refusals.append(kwargs)
            raise ClientError({"Error": {"Code": "InternalException", "Message": "try again"}}, "PutEvents")
        return real(**kwargs)

    monkeypatch.setattr(bus_client, "put_events", refuse_once)
    push(world, "evr/app", "v1")
    world.drain()  # the forwarder fails: nothing on the bus, the stream position is kept
    assert refusals and world.observed() == [] and world.audit("evr") == []
    world.drain()
    assert len(of_type(world.observed(), "artifact.pushed")) == 1
    assert [e.operation for e in world.audit("evr")] == ["push"]


def test_a_consumer_failing_at_first_gets_its_batch_again(world, monkeypatch):
    queue, consume = world.delivery._consumers[0]
    failures = []

    def fail_once(event, context):
        if not failures:
            failures.append(event)
            raise RuntimeError("DynamoDB was unavailable")
        return consume(event, context)

    monkeypatch.setattr(world.delivery, "_consumers", [(queue, fail_once)])
    push(world, "evq/app", "v1")
    world.drain()
    assert failures
    assert [e.operation for e in world.audit("evq")] == ["push"]


def test_pulls_recorded_twice_are_entered_once(world):
    from chalicelib import pulls

    push(world, "evl/app", "v1")
    pull = pulls.Pull("alice", "evl/app", "v1", "sha256:" + "b" * 64, "192.0.2.1", 1_780_000_000.5, "req-1")
    assert pulls.record(world.svc, [pull]) == 1
    world.drain()
    assert pulls.record(world.svc, [pull]) == 1  # the subscription delivered the batch again
    world.drain()
    pulled = of_type(world.observed(), "artifact.pulled")
    assert len({e["id"] for e in pulled}) == 1
    entries = [(e.username, e.operation, e.resource, e.source_ip) for e in world.audit("evl") if e.operation == "pull"]
    assert entries == [("alice", "pull", "evl/app:v1", "192.0.2.1")]


def test_projects_created_and_deleted_name_their_actor(world):
    from chalicelib.meta.accounts import Project

    with acting_as(Actor("carol", "198.51.100.4", "management")):
        world.svc.accounts.create_project(Project(name="evproj", public=False, owner="carol"))
        world.svc.accounts.delete_project("evproj")
    world.drain()
    events = world.observed()
    assert [(e["type"], e["subject"], e["data"]["operator"], e["data"]["via"]) for e in events] == [
        ("berth.project.created", "evproj", "carol", "management"),
        ("berth.project.deleted", "evproj", "carol", "management"),
    ]
    # the management API's project changes are entered from these events, by their actor
    entries = [(e.username, e.operation, e.resource_type, e.resource, e.source_ip) for e in world.audit("evproj")]
    assert sorted(entries) == [
        ("carol", "create", "project", "evproj", "198.51.100.4"),
        ("carol", "delete", "project", "evproj", "198.51.100.4"),
    ]


def test_a_management_tag_change_is_entered_once_through_redeliveries_and_never_when_it_failed(world, monkeypatch):
    """A tag created and one deleted through the management API (their events carry
    `via` management): the audit consumer failing once and the forwarder crashing after
    its PutEvents both deliver the events again; each change is entered once. A tag
    creation refused (the tag exists) writes no event and so no entry."""
    from chalicelib import artifacts
    from chalicelib.errors import Conflict

    manifest = push(world, "evt/app", "v1")
    record = world.svc.meta.get_manifest("evt/app", manifest)
    bob = Actor("bob", "192.0.2.9", "management")
    with acting_as(bob):
        world.svc.meta.create_tag("evt/app", "v2", record, 0)
        with pytest.raises(Conflict):
            world.svc.meta.create_tag("evt/app", "v1", record, 0)
        assert artifacts.delete_tag(world.svc, "evt/app", "v2")
        assert not artifacts.delete_tag(world.svc, "evt/app", "gone")
    real_forward = world.delivery._forward
    queue, consume = world.delivery._consumers[0]
    crashes, failures = [], []

    def crash_once(event, context):
        out = real_forward(event, context)
        if not crashes:
            crashes.append(event)
            raise RuntimeError("the function died before reporting success")
        return out

    def fail_once(event, context):
        if not failures:
            failures.append(event)
            raise RuntimeError("DynamoDB was unavailable")
        return consume(event, context)

    monkeypatch.setattr(world.delivery, "_forward", crash_once)
    monkeypatch.setattr(world.delivery, "_consumers", [(queue, fail_once)])
    world.drain()
    world.drain()
    assert crashes and failures
    tagged = [e for e in world.observed() if e["type"] in ("berth.tag.created", "berth.tag.deleted")]
    assert len(tagged) == 4 and len({e["id"] for e in tagged}) == 2  # each on the bus twice
    entries = sorted((e.username, e.operation, e.resource_type, e.resource, e.source_ip) for e in world.audit("evt"))
    assert entries == [
        ("anonymous", "push", "artifact", "evt/app:v1", "127.0.0.1"),
        ("bob", "create", "tag", "evt/app:v2", "192.0.2.9"),
        ("bob", "delete", "tag", "evt/app:v2", "192.0.2.9"),
    ]
