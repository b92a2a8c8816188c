"""The audit log: changes through the management API and pushes, pulls and
deletes through /v2 are recorded once per lookup partition (project, user,
operation, day) with a retention TTL, and read back without scans."""
from __future__ import annotations

import json
from collections import Counter
from urllib.parse import urlencode

import pytest
from botocore.exceptions import ClientError

from chalicelib.meta import audit as store
from tests.api.helpers import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, descriptor, digest, encode, with_query
from tests.api.management.conftest import ADMIN_PASSWORD, basic, codes

AUDIT_FIELDS = {"id", "username", "resource", "resource_type", "operation", "op_time"}


def logs(harbor, path="/audit-logs", **q) -> list[dict]:
    # registry pushes, pulls and deletes reach the log through the event stream's consumer
    harbor.api.drain_events()
    query = ",".join(f"{k}={v}" for k, v in q.items())
    reply = harbor.get(f"{path}?{urlencode({'q': query, 'page_size': 100})}" if q else f"{path}?page_size=100")
    assert reply.status == 200, reply.body
    return reply.json()


def token(world, user, password, scope) -> str:
    reply = world.api.get(
        "/v2/service/token?" + urlencode({"service": "berth-registry", "scope": scope}),
        headers={"Authorization": basic(user, password)},
    )
    return reply.json()["token"]


def push_pull_delete(world, name: str, tag: str, user="admin", password=ADMIN_PASSWORD) -> str:
    bearer = {"Authorization": "Bearer " + token(world, user, password, f"repository:{name}:pull,push,delete")}
    config, layer = encode({"seed": name + tag}), f"layer {name}".encode() * 10
    for data in (config, layer):
        reply = world.api.post(with_query(f"/v2/{name}/blobs/uploads/", digest=digest(data)), data, headers={**bearer, "Content-Type": "application/octet-stream"})
        assert reply.status == 201
    body = encode({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config), "layers": [descriptor(OCI_LAYER, layer)]})
    assert world.api.put(f"/v2/{name}/manifests/{tag}", body, headers={**bearer, "Content-Type": OCI_MANIFEST}).status == 201
    assert world.api.get(f"/v2/{name}/manifests/{tag}", headers=bearer).status == 200
    assert world.api.request("HEAD", f"/v2/{name}/manifests/{tag}", headers=bearer).status == 200  # not a pull
    assert world.api.delete(f"/v2/{name}/manifests/{digest(body)}", headers=bearer).status == 202
    return digest(body)


def test_management_changes_are_recorded(world, admin):
    name = world.name("aud")
    assert admin.post("/projects", {"project_name": name}).status == 201
    user = world.user()
    admin.post(f"/projects/{name}/members", {"role_id": 2, "member_user": {"username": user.username}})
    admin.put(f"/projects/{name}", {"metadata": {"public": "true"}})
    entries = logs(admin, f"/projects/{name}/logs")
    assert [(e["operation"], e["resource_type"]) for e in entries] == [("update", "project"), ("create", "member"), ("create", "project")]
    assert all(set(e) == AUDIT_FIELDS and e["username"] == "admin" for e in entries)
    assert entries[-1]["resource"] == name
    assert entries[1]["resource"] == f"{name}/{user.username}"
    assert entries[0]["op_time"] >= entries[-1]["op_time"]


def test_failed_requests_are_not_recorded(world, admin):
    name = world.name("nolog")
    admin.post("/projects", {"project_name": name})
    assert admin.post("/projects", {"project_name": name}).status == 409
    assert len(logs(admin, f"/projects/{name}/logs")) == 1


def test_pushes_pulls_and_deletes_through_the_registry_are_recorded(world, admin):
    name = world.name("reg")
    world.project(name)
    manifest = push_pull_delete(world, f"{name}/app", "v1")
    entries = logs(admin, f"/projects/{name}/logs")
    assert [(e["operation"], e["resource"]) for e in entries] == [
        ("delete", f"{name}/app@{manifest}"),
        ("pull", f"{name}/app:v1"),
        ("push", f"{name}/app:v1"),
    ]
    assert {e["resource_type"] for e in entries} == {"artifact"}


def test_queries_by_user_operation_resource_and_time(world, admin):
    name = world.name("q")
    world.project(name)
    pusher = world.user()
    world.member(name, pusher.username, 2)
    harbor = world.as_(pusher.username)
    assert harbor.post(f"/projects/{name}/repositories/x/artifacts?from=library/none:v1").status == 404  # not recorded
    world.push(f"{name}/img", "t1")
    assert harbor.post(f"/projects/{name}/repositories/img/artifacts/t1/tags", {"name": "t2"}).status == 201
    mine = logs(admin, username=pusher.username)
    assert [(e["operation"], e["resource_type"], e["resource"]) for e in mine] == [("create", "tag", f"{name}/img:t2")]
    creates = logs(admin, operation="create")
    assert any(e["resource"] == f"{name}/img:t2" for e in creates) and all(e["operation"] == "create" for e in creates)
    fuzzy = logs(admin, resource=f"~{name}/img")
    assert [e["resource"] for e in fuzzy] == [f"{name}/img:t2"]
    day = store.day_of(world.svc.clock())
    assert logs(admin, op_time=f"[{day} 00:00:00~{day} 23:59:59]", username=pusher.username) == mine
    assert logs(admin, op_time="[2001-01-01 00:00:00~2001-01-02 00:00:00]") == []
    for bad in ("op_time=yesterday", "op_time=[x~y]", "op_time=[2030-01-02~2030-01-01]", "secret=1"):
        reply = admin.get(f"/audit-logs?{urlencode({'q': bad})}")
        assert reply.status == 400, bad


def test_who_may_read(world, admin):
    name = world.name("who")
    world.project(name)
    guest, limited, outsider = world.user(), world.user(), world.user()
    world.member(name, guest.username, 3)
    world.member(name, limited.username, 5)
    assert world.as_(guest.username).get(f"/projects/{name}/logs").status == 200
    assert world.as_(limited.username).get(f"/projects/{name}/logs").status == 403
    assert world.as_(outsider.username).get(f"/projects/{name}/logs").status == 404  # who may learn what: as if it did not exist
    reply = world.as_(guest.username).get("/audit-logs")
    assert reply.status == 403 and codes(reply) == ["FORBIDDEN"]
    assert admin.get("/projects/nosuchproject/logs").status == 404


def test_one_item_per_partition_with_a_retention_ttl(world, admin):
    name = world.name("ttl")
    admin.post("/projects", {"project_name": name})
    entry = logs(admin, f"/projects/{name}/logs")[0]
    log = world.svc.audit
    day = store.day_of(world.svc.clock())
    for pk in (store.project_pk(name), store.user_pk("admin"), store.operation_pk("create"), store.day_pk(day)):
        assert entry["id"] in [e.id for e in log.entries(pk)], pk
    raw = world.svc.dynamodb.query(
        TableName=world.svc.settings.table_name,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": store.project_pk(name)}},
    )["Items"][0]
    assert int(raw["expires_at"]["N"]) - int(float(raw["op_time"]["N"])) == 90 * 24 * 3600


def test_entries_of_one_millisecond_whose_random_bits_meet_are_all_kept(world, monkeypatch):
    """Two entries of the same millisecond that draw the same low bits would share a sort
    key: the second draws again rather than being lost."""
    draws = iter([7, 7, 7, 9])
    monkeypatch.setattr(store, "_random_bits", lambda: next(draws))
    at = world.svc.clock()
    user = world.name("same-ms")
    first = world.svc.audit.record(store.AuditEntry(user, "login", "user", "a", op_time=at, succeeded=False))
    second = world.svc.audit.record(store.AuditEntry(user, "login", "user", "b", op_time=at, succeeded=False))
    assert first.id != second.id and second.id & 0x3FF == 9
    assert sorted(e.resource for e in world.svc.audit.matching(username=user)) == ["a", "b"]


def test_an_audit_failure_does_not_fail_the_change(world, admin, monkeypatch):
    def broken(entry):
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "x"}}, "BatchWriteItem")

    name = world.name("unlogged")
    world.project(name)
    monkeypatch.setattr(world.svc.audit, "record", broken)
    # a change its dispatcher enters (the entry of one an event carries is not written in the request)
    assert admin.put(f"/projects/{name}", {"metadata": {"auto_scan": "true"}}).status == 200
    assert world.svc.accounts.get_project(name).metadata["auto_scan"] == "true"


@pytest.mark.parametrize("page_size", ["1", "2"])
def test_paging(world, admin, page_size):
    name = world.name("pg")
    admin.post("/projects", {"project_name": name})
    admin.put(f"/projects/{name}", {"metadata": {"auto_scan": "true"}})
    admin.put(f"/projects/{name}", {"metadata": {"auto_scan": "false"}})
    admin.api.drain_events()  # the project's creation is entered from its event
    reply = admin.get(f"/projects/{name}/logs?page_size={page_size}&page=2")
    assert reply.headers["x-total-count"] == "3"
    assert len(json.loads(reply.body)) == 1  # page 2 of 3 entries: the 2nd (size 1) or the 3rd (size 2)


def test_a_change_its_event_carries_is_entered_once_as_its_dispatcher_worded_it(world, admin, monkeypatch):
    """Artifacts copied and deleted, tags created and deleted, projects created and deleted
    through this API are entered from their domain events (docs/decisions/audit-entries.md): once, even
    when the event reaches the audit log twice, and never for a change that failed."""
    name = world.name("evt")
    assert admin.post("/projects", {"project_name": name}).status == 201
    digest = world.push(f"{name}/img", "t1")
    tags = f"/projects/{name}/repositories/img/artifacts/{digest}/tags"
    assert admin.post(tags, {"name": "t2"}).status == 201
    assert admin.delete(f"{tags}/t2").status == 200
    world.push(f"{name}/app", "a1")
    second = world.push(f"{name}/app", "a2")
    artifacts = f"/projects/{name}/repositories/app/artifacts"
    assert admin.delete(f"{artifacts}/a1").status == 200  # by tag
    assert admin.delete(f"{artifacts}/{second}").status == 200  # by digest
    amd, arm = world.push(f"{name}/idx", None, seed="e-amd"), world.push(f"{name}/idx", None, seed="e-arm")
    world.push_index(f"{name}/idx", "multi", [amd, arm])
    assert admin.post(f"/projects/{name}/repositories/copy/artifacts?from={name}/idx:multi").status == 201  # 3 events
    assert admin.post(f"/projects/{name}/repositories/one/artifacts?from={name}/idx@{amd}").status == 201
    # failures write no event, so no entry
    assert admin.post(tags, {"name": "t1"}).status == 409
    assert admin.delete(f"{tags}/t2").status == 404
    assert admin.post(tags, {"name": "bad tag"}).status == 400
    assert admin.delete(f"{artifacts}/a1").status == 404
    assert admin.post(f"/projects/{name}/repositories/copy/artifacts?from={name}/idx:nosuchtag").status == 404
    assert admin.delete(f"/projects/{name}").status == 412  # it holds a repository
    assert admin.post("/projects", {"project_name": name}).status == 409
    empty = world.name("evt")
    assert admin.post("/projects", {"project_name": empty}).status == 201
    assert admin.delete(f"/projects/{empty}").status == 200
    # the forwarder dies after putting its batch on the bus: Lambda hands it over again, so the
    # audit consumer gets every event twice
    delivery = admin.api.delivery
    real, crashed = delivery._forward, []

    def crash_once(event, context):
        out = real(event, context)
        if not crashed:
            crashed.append(len(event["Records"]))
            raise RuntimeError("the function died before reporting success")
        return out

    (audit_queue, audit_events), *others = delivery._consumers
    received: list[str] = []

    def audit_consumer(event, context):
        received.extend(json.loads(r["body"])["detail"]["id"] for r in event["Records"])
        return audit_events(event, context)

    monkeypatch.setattr(delivery, "_forward", crash_once)
    monkeypatch.setattr(delivery, "_consumers", [(audit_queue, audit_consumer), *others])
    admin.api.drain_events()  # stops at the crash
    admin.api.drain_events()
    assert crashed and received and all(n == 2 for n in Counter(received).values())
    entries = world.svc.audit.matching(project=name) + world.svc.audit.matching(project=empty)
    entered = sorted((e.username, e.operation, e.resource_type, e.resource, e.project, e.source_ip, e.succeeded)
                     for e in entries)
    here = "127.0.0.1"  # the address of the test's requests (devstack/events.py proxy_event)
    assert entered == sorted([
        ("admin", "create", "project", name, name, here, True),
        ("admin", "create", "tag", f"{name}/img:t2", name, here, True),
        ("admin", "delete", "tag", f"{name}/img:t2", name, here, True),
        ("admin", "delete", "artifact", f"{name}/app:a1", name, here, True),
        ("admin", "delete", "artifact", f"{name}/app@{second}", name, here, True),
        ("admin", "create", "artifact", f"{name}/copy", name, here, True),  # the index, once
        ("admin", "create", "artifact", f"{name}/one", name, here, True),
        ("admin", "create", "project", empty, empty, here, True),
        ("admin", "delete", "project", empty, empty, here, True),
    ])
    assert world.svc.meta.get_manifest(f"{name}/copy", amd) is not None  # its children were copied too
    assert len(logs(admin, f"/projects/{name}/logs")) == 7  # and read back once each
