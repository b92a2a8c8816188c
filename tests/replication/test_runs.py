"""A replication run is a Step Functions execution of infra/replication.yaml, executed
by moto's Step Functions, each task the app's replication_task function: push- and
pull-based runs between this Berth and Debian's docker-registry, filters and namespace
rewriting, a failure recorded on its artifact, and a retry of only what failed."""
from __future__ import annotations

import hashlib
import io
import json
import os
import time
from dataclasses import replace

import pytest

from chalicelib.meta.replication import FAILED, SUCCEEDED
from chalicelib.remote.client import RegistryClient
from chalicelib.storage import paths
from tests.replication.test_remote_client import push_image


@pytest.fixture(scope="module")
def machine(world, _moto) -> str:
    from devstack.workflows import create_replication_workflow

    stage = world.svc.settings.ssm_prefix.rsplit("/", 1)[-1]
    arn = create_replication_workflow(lambda service: _moto.client(service, region_name="us-east-1"), stage)
    world.svc.settings = replace(world.svc.settings, replication_state_machine=arn)
    return arn


def registry(world, url: str) -> int:
    reply = world.admin.post("/registries", {"name": world.name("reg"), "type": "docker-registry", "url": url})
    assert reply.status == 201, reply.body
    return int(reply.headers["location"].rsplit("/", 1)[1])


def policy(world, **fields):
    reply = world.admin.post("/replication/policies", {"name": world.name("pol"), "enabled": True, "override": True, **fields})
    assert reply.status == 201, reply.body
    return world.svc.replication_policies.get(int(reply.headers["location"].rsplit("/", 1)[1]))


def start(world, policy_id: int, path: str = "/replication/executions"):
    reply = world.admin.post(path, {"policy_id": policy_id} if path == "/replication/executions" else None)
    assert reply.status == 201, reply.body
    return world.svc.replication_runs.get(int(reply.headers["location"].rsplit("/", 1)[1]))


def outbox_events(world):
    from chalicelib.events.envelope import Event
    from chalicelib.meta import outbox_items
    from chalicelib.meta.table import unmarshal

    items = world.svc.dynamodb.scan(TableName=world.svc.settings.table_name, FilterExpression="begins_with(PK, :e)",
                                    ExpressionAttributeValues={":e": {"S": "EVT#"}})["Items"]
    return [Event.from_json(j) for j in (outbox_items.event_json(unmarshal(i)) for i in items) if j is not None]


def wait(world, execution_id: int, timeout: float = 300):
    """Until the run has ended (the workflow runs in moto's threads)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        execution = world.svc.replication_runs.get(execution_id)
        if execution.status not in ("InProgress",):
            history = world.svc.stepfunctions.describe_execution(executionArn=execution.workflow_arn)
            if history["status"] != "RUNNING":
                return execution
        time.sleep(0.2)
    pytest.fail(f"execution {execution_id} still running after {timeout} s")


def test_a_push_run_copies_what_the_filters_select_into_the_namespace(world, machine, distribution):
    remote = registry(world, distribution.url)
    project = world.project()
    wanted = world.push(f"{project.name}/app", "v1")
    world.push(f"{project.name}/app", "v1-rc", seed="rc")
    world.push(f"{project.name}/other", "v1", seed="other")
    p = policy(world, dest_registry={"id": remote}, dest_namespace="pushed", dest_namespace_replace_count=1,
               filters=[{"type": "name", "value": f"{project.name}/app"},
                        {"type": "tag", "value": "*-rc", "decoration": "excludes"}])
    execution = start(world, p.policy_id)
    assert execution.workflow_arn.endswith(f":{p.name}-{execution.execution_id}")
    done = wait(world, execution.execution_id)
    assert (done.status, done.status_text) == (SUCCEEDED, "")
    tasks = world.svc.replication_runs.tasks(execution.execution_id)
    assert [(t.src_repository, t.dst_repository, t.tags, t.status) for t in tasks] == [
        (f"{project.name}/app", "pushed/app", ("v1",), SUCCEEDED)]
    assert tasks[0].bytes > 0 and any("written" in line for line in tasks[0].log)
    client = RegistryClient(distribution.url)
    assert client.manifest_digest("pushed/app", "v1") == wanted
    assert client.tags("pushed/app") == ["v1"]
    # the Step Functions view shows the run, named after the policy, succeeded
    described = world.svc.stepfunctions.describe_execution(executionArn=done.workflow_arn)
    assert described["status"] == "SUCCEEDED"
    # and Harbor's API shows it with its task and log
    got = world.admin.get(f"/replication/executions/{execution.execution_id}").json()
    assert {k: got[k] for k in ("id", "policy_id", "status", "trigger", "total", "failed", "succeed", "in_progress",
                                 "stopped")} == {"id": execution.execution_id, "policy_id": p.policy_id, "status": "Succeed",
                                                 "trigger": "manual", "total": 1, "failed": 0, "succeed": 1,
                                                 "in_progress": 0, "stopped": 0}
    listed = world.admin.get(f"/replication/executions?policy_id={p.policy_id}").json()
    assert [e["id"] for e in listed] == [execution.execution_id]
    [task] = world.admin.get(f"/replication/executions/{execution.execution_id}/tasks").json()
    assert (task["status"], task["src_resource"], task["dst_resource"], task["resource_type"]) == (
        "Succeed", f"{project.name}/app@{wanted}", "pushed/app:v1", "artifact")
    log = world.admin.get(f"/replication/executions/{execution.execution_id}/tasks/{task['id']}/log")
    assert log.headers["content-type"].startswith("text/plain") and f"manifest {wanted} written" in log.body.decode()
    # nothing failed: nothing to retry
    assert world.admin.post(f"/replication/executions/{execution.execution_id}/retry").status == 400
    # the run's end is a domain event of the project it read (webhooks' REPLICATION)
    [completed] = [e for e in outbox_events(world) if e.type == "berth.replication.completed"
                   and e.data["execution_id"] == execution.execution_id]
    assert {k: completed.data[k] for k in ("project", "policy_id", "status", "total", "succeed", "failed")} == {
        "project": project.name, "policy_id": p.policy_id, "status": "Succeed", "total": 1, "succeed": 1, "failed": 0}


def test_a_pull_run_with_a_failed_artifact_then_a_retry_of_only_that_one(world, machine, distribution):
    client = RegistryClient(distribution.url)
    source = world.name("up")
    good = push_image(client, f"{source}/good", "1.0", b"good layer")
    bad = push_image(client, f"{source}/bad", "1.0", b"bad layer")
    remote = registry(world, distribution.url)
    project = world.project()
    p = policy(world, src_registry={"id": remote}, dest_namespace=project.name,
               filters=[{"type": "name", "value": f"{source}/**"}])
    # one artifact fails for real: its layer is deleted at the source before the run
    bad_layer = json.loads(bad.data)["layers"][0]["digest"]
    assert client.http.request("DELETE", f"{distribution.url}/v2/{source}/bad/blobs/{bad_layer}").status == 202
    execution = start(world, p.policy_id)
    done = wait(world, execution.execution_id)
    assert (done.status, done.status_text) == (FAILED, "1 of 2 tasks failed")
    tasks = {t.src_repository: t for t in world.svc.replication_runs.tasks(execution.execution_id)}
    assert tasks[f"{source}/good"].status == SUCCEEDED
    assert tasks[f"{source}/bad"].status == FAILED and "404" in tasks[f"{source}/bad"].error
    assert world.svc.meta.get_tag(f"{project.name}/good", "1.0").digest == good.digest
    assert world.svc.meta.get_manifest(f"{project.name}/bad", bad.digest) is None  # nothing half-written

    # the layer is back: a retry runs only the failed artifact
    client.upload_blob(f"{source}/bad", bad_layer, io.BytesIO(b"bad layer"), 9)
    failed = world.admin.get(f"/replication/executions/{execution.execution_id}/tasks?status=Failed").json()
    assert [t["src_resource"] for t in failed] == [f"{source}/bad:1.0"] and "404" in failed[0]["error"]
    retry = start(world, p.policy_id, f"/replication/executions/{execution.execution_id}/retry")
    finished = wait(world, retry.execution_id)
    assert finished.status == SUCCEEDED
    retried = world.svc.replication_runs.tasks(retry.execution_id)
    assert [t.src_repository for t in retried] == [f"{source}/bad"]
    assert world.svc.meta.get_tag(f"{project.name}/bad", "1.0").digest == bad.digest


def test_bad_starts(world, machine, distribution):
    remote = registry(world, distribution.url)
    off = policy(world, dest_registry={"id": remote}, enabled=False)
    reply = world.admin.post("/replication/executions", {"policy_id": off.policy_id})
    assert reply.status == 400 and "disabled" in reply.json()["errors"][0]["message"]
    assert world.admin.post("/replication/executions", {"policy_id": 999999}).status == 404
    assert world.admin.get("/replication/executions/999999").status == 404
    assert world.admin.put("/replication/executions/999999").status == 404
    someone = world.as_(world.user().username)
    assert someone.get("/replication/executions").status == 403


def test_a_push_starts_an_event_based_run_once_and_it_copies_the_repository(world, machine, distribution):
    from chalicelib.events.envelope import Event
    from chalicelib.replication import triggers

    remote = registry(world, distribution.url)
    project = world.project()
    p = policy(world, dest_registry={"id": remote}, trigger={"type": "event_based"}, dest_namespace="events",
               filters=[{"type": "name", "value": f"{project.name}/**"}, {"type": "tag", "value": "v*"}])
    world.drain_events()  # what earlier tests left
    before = {e.execution_id for e in world.svc.replication_runs.list()}
    pushed = world.push(f"{project.name}/svc", "v2")
    world.push(f"{project.name}/svc", "dev", seed="not selected")  # its tag is not selected: no run
    world.push(f"other{project.name}/svc", "v2", seed="elsewhere")  # nor is this repository
    world.drain_events()  # the outbox -> forward_events -> the bus -> the replication queue -> replication_events
    started = [e for e in world.svc.replication_runs.list() if e.execution_id not in before]
    assert [(e.policy_id, e.trigger, e.scope) for e in started] == [(p.policy_id, "event_based", f"{project.name}/svc")]
    done = wait(world, started[0].execution_id)
    assert done.status == SUCCEEDED
    assert RegistryClient(distribution.url).manifest_digest("events/svc", "v2") == pushed

    # the same event delivered again starts nothing
    event = Event("evt-1", "berth.artifact.pushed", "/berth/x", f"{project.name}/svc:v2", "2026-01-01T00:00:00.000000Z",
                  {"repository": f"{project.name}/svc", "tag": "v2", "digest": pushed})
    assert triggers.consume(world.svc, [event]) == 1
    assert triggers.consume(world.svc, [event]) == 0
    wait(world, max(e.execution_id for e in world.svc.replication_runs.list()))


def test_stop_a_run_that_is_retrying_an_unreachable_remote(world, machine, distribution):
    remote = registry(world, distribution.url)
    stored = world.svc.registries.get(remote)
    # the registry goes away after it was added: every copy is a transient failure, retried with backoff
    world.svc.registries.update(stored, replace(stored, url="http://127.0.0.1:9"), None)
    project = world.project()
    world.push(f"{project.name}/gone", "v1")
    p = policy(world, dest_registry={"id": remote}, filters=[{"type": "name", "value": f"{project.name}/**"}])
    execution = start(world, p.policy_id)
    assert world.admin.put(f"/replication/executions/{execution.execution_id}").status == 200
    got = world.admin.get(f"/replication/executions/{execution.execution_id}").json()
    assert (got["status"], got["status_text"]) == ("Stopped", "stopped")
    deadline = time.monotonic() + 60
    while world.svc.stepfunctions.describe_execution(executionArn=execution.workflow_arn)["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the workflow kept running after the stop"
        time.sleep(0.2)
    assert world.svc.stepfunctions.describe_execution(executionArn=execution.workflow_arn)["status"] == "ABORTED"
    assert {t.status for t in world.svc.replication_runs.tasks(execution.execution_id)} <= {"Stopped", "Pending"}
    # a stopped run's unfinished artifacts can be retried
    assert world.admin.get(f"/replication/executions/{execution.execution_id}").json()["status"] == "Stopped"


def test_a_scheduled_policy_keeps_a_schedule_that_starts_its_runs(world, machine, distribution):
    """The policy's schedule follows it (created, changed, removed) in EventBridge Scheduler,
    and when it comes due the local stack's Scheduler stand-in fires run_schedule, which starts
    a run with the trigger `scheduled`."""
    import calendar

    import app as app_module
    from devstack.schedules import ScheduleFiring

    scheduler = world.svc.client("scheduler")
    prefix = world.svc.settings.schedule_prefix

    def schedule(policy_id: int):
        try:
            return scheduler.get_schedule(Name=f"{prefix}replication-{policy_id}")
        except scheduler.exceptions.ResourceNotFoundException:
            return None

    remote = registry(world, distribution.url)
    project = world.project()
    pushed = world.push(f"{project.name}/nightly", "v1")
    p = policy(world, dest_registry={"id": remote}, dest_namespace="scheduled",
               trigger={"type": "scheduled", "trigger_settings": {"cron": "0 0 3 * * *"}},
               filters=[{"type": "name", "value": f"{project.name}/nightly"}])
    assert schedule(p.policy_id)["ScheduleExpression"] == "cron(0 3 * * ? *)"
    assert json.loads(schedule(p.policy_id)["Target"]["Input"]) == {"kind": "replication", "policy_id": p.policy_id}

    before = {e.execution_id for e in world.svc.replication_runs.list()}
    at = calendar.timegm((2026, 12, 3, 2, 59, 59))
    firing = ScheduleFiring(scheduler, prefix, app_module.run_schedule, clock=lambda: at)
    assert f"{prefix}replication-{p.policy_id}" in firing.tick(at + 2)
    firing.stop()
    [started] = [e for e in world.svc.replication_runs.list() if e.execution_id not in before]
    assert (started.policy_id, started.trigger) == (p.policy_id, "scheduled")
    assert wait(world, started.execution_id).status == SUCCEEDED
    assert RegistryClient(distribution.url).manifest_digest("scheduled/nightly", "v1") == pushed

    # a new cron replaces the schedule; another trigger removes it; so does disabling
    body = {"name": p.name, "dest_registry": {"id": remote}, "enabled": True,
            "trigger": {"type": "scheduled", "trigger_settings": {"cron": "0 15 4 * * MON"}}}
    assert world.admin.put(f"/replication/policies/{p.policy_id}", body).status == 200
    assert schedule(p.policy_id)["ScheduleExpression"] == "cron(15 4 ? * 2 *)"
    assert world.admin.put(f"/replication/policies/{p.policy_id}", {**body, "enabled": False}).status == 200
    assert schedule(p.policy_id) is None
    assert world.admin.put(f"/replication/policies/{p.policy_id}", body).status == 200
    assert world.admin.put(f"/replication/policies/{p.policy_id}", {**body, "trigger": {"type": "manual"}}).status == 200
    assert schedule(p.policy_id) is None
    # a cron EventBridge cannot keep is a 400, and leaves the schedule as it was
    assert world.admin.put(f"/replication/policies/{p.policy_id}", body).status == 200
    bad = world.admin.put(f"/replication/policies/{p.policy_id}",
                          {**body, "trigger": {"type": "scheduled", "trigger_settings": {"cron": "0 0 0 1 * MON"}}})
    assert bad.status == 400 and "not both" in bad.json()["errors"][0]["message"]
    assert schedule(p.policy_id)["ScheduleExpression"] == "cron(15 4 ? * 2 *)"
    # deleting the policy removes its schedule; a schedule that outlived its policy removes itself
    assert world.admin.delete(f"/replication/policies/{p.policy_id}").status == 200
    assert schedule(p.policy_id) is None
    world.svc.schedules.put(f"replication-{p.policy_id}", "0 0 3 * * *", {"kind": "replication", "policy_id": p.policy_id})
    assert "skipped" in app_module.run_schedule({"kind": "replication", "policy_id": p.policy_id}, None)
    assert schedule(p.policy_id) is None


def test_label_filters_select_by_the_labels_artifacts_carry(world, machine, distribution):
    """Harbor's label filter: `matches` copies the artifacts carrying every label named,
    `excludes` the ones lacking one; the labels are the artifacts' own, put on through the API."""
    remote = registry(world, distribution.url)
    project = world.project()
    released = world.push(f"{project.name}/svc", "1.0", seed="released")
    world.push(f"{project.name}/svc", "1.1-dev", seed="dev")
    prod, signed = (world.admin.post("/labels", {"name": world.name(n), "scope": "g"}) for n in ("prod", "signed"))
    label_ids = [int(reply.headers["location"].rsplit("/", 1)[1]) for reply in (prod, signed)]
    names = [world.admin.get(f"/labels/{i}").json()["name"] for i in label_ids]
    for label_id in label_ids:  # both on the release, one on the dev build
        path = f"/projects/{project.name}/repositories/svc/artifacts/{released}/labels"
        assert world.admin.post(path, {"id": label_id}).status == 200
    assert world.admin.post(f"/projects/{project.name}/repositories/svc/artifacts/1.1-dev/labels",
                            {"id": label_ids[0]}).status == 200
    client = RegistryClient(distribution.url)
    for namespace, decoration in (("labelled", "matches"), ("unlabelled", "excludes")):
        p = policy(world, dest_registry={"id": remote}, dest_namespace=namespace,
                   filters=[{"type": "name", "value": f"{project.name}/svc"},
                            {"type": "label", "value": names, "decoration": decoration}])
        done = wait(world, start(world, p.policy_id).execution_id)
        assert done.status == SUCCEEDED
        copied = [t.tags for t in world.svc.replication_runs.tasks(done.execution_id)]
        assert copied == ([("1.0",)] if decoration == "matches" else [("1.1-dev",)])
    assert client.tags("labelled/svc") == ["1.0"] and client.manifest_digest("labelled/svc", "1.0") == released
    assert client.tags("unlabelled/svc") == ["1.1-dev"]


def test_replicated_deletions_follow_an_artifact_and_a_tag_deleted_here(world, machine, distribution):
    """`replicate_deletion` on an event-based push policy: an artifact deleted here is deleted
    at the destination; a tag deleted here is deleted there alone (OCI 1.1's DELETE of a tag),
    and a registry that cannot (the CNCF registry 2.x) fails that task saying why. A policy
    without it leaves the destination alone."""
    remote = registry(world, distribution.url)
    project = world.project()
    client = RegistryClient(distribution.url)
    mirror = policy(world, dest_registry={"id": remote}, dest_namespace="deletions", trigger={"type": "event_based"},
                    replicate_deletion=True, filters=[{"type": "name", "value": f"{project.name}/**"}])
    policy(world, dest_registry={"id": remote}, dest_namespace="kept", trigger={"type": "event_based"},
           filters=[{"type": "name", "value": f"{project.name}/**"}])
    world.drain_events()
    gone = world.push(f"{project.name}/app", "old", seed="old")
    world.push(f"{project.name}/app", "new", seed="new")
    world.drain_events()
    for run in [e for e in world.svc.replication_runs.list() if e.status == "InProgress"]:
        wait(world, run.execution_id)
    assert client.manifest_digest("deletions/app", "old") == gone == client.manifest_digest("kept/app", "old")

    before = {e.execution_id for e in world.svc.replication_runs.list()}
    assert world.admin.delete(f"/projects/{project.name}/repositories/app/artifacts/{gone}").status == 200
    world.drain_events()
    started = [e for e in world.svc.replication_runs.list() if e.execution_id not in before]
    assert [(e.policy_id, e.trigger) for e in started] == [(mirror.policy_id, "event_based")]  # not `kept`'s
    done = wait(world, started[0].execution_id)
    assert done.status == SUCCEEDED, done.status_text
    [task] = world.svc.replication_runs.tasks(done.execution_id)
    assert (task.operation, task.src_resource, task.dst_resource) == (
        "deletion", f"{project.name}/app@{gone}", f"deletions/app@{gone}")
    assert any("deleted" in line for line in task.log)
    assert client.manifest_digest("deletions/app", gone) is None
    assert client.manifest_digest("kept/app", gone) == gone
    tasks_api = world.admin.get(f"/replication/executions/{done.execution_id}/tasks").json()
    assert tasks_api[0]["operation"] == "deletion"

    # a tag deleted here: the CNCF registry cannot delete a tag alone, and the task says so
    before = {e.execution_id for e in world.svc.replication_runs.list()}
    assert world.admin.delete(f"/projects/{project.name}/repositories/app/artifacts/new/tags/new").status == 200
    world.drain_events()
    [started] = [e for e in world.svc.replication_runs.list() if e.execution_id not in before]
    done = wait(world, started.execution_id)
    [task] = world.svc.replication_runs.tasks(done.execution_id)
    assert (task.operation, task.reference, task.status) == ("deletion", "new", FAILED)
    assert "cannot delete the tag new of deletions/app alone" in task.error
    assert client.manifest_digest("deletions/app", "new") is not None  # nothing else deleted


def push_layer(svc, repository: str, tag: str, layer: bytes) -> str:
    """An image with this one layer, written into the stores as a push leaves it; its digest."""
    from chalicelib.meta.registry import ManifestRecord
    from tests.api.helpers import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, descriptor, digest, encode

    config = encode({"architecture": "amd64", "os": "linux", "layer": digest(layer)})
    for data in (config, layer):
        svc.blobs.put_blob(digest(data), data)
        svc.meta.link_blob(repository, digest(data), len(data), int(svc.clock()))
    body = encode({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                   "layers": [descriptor(OCI_LAYER, layer)]})
    record = ManifestRecord(digest=digest(body), media_type=OCI_MANIFEST, size=len(body), body=body,
                            blobs=[digest(config), digest(layer)], created=int(svc.clock()))
    svc.meta.put_manifest(repository, record, tag, int(svc.clock()))
    return record.digest


@pytest.mark.parametrize("by_chunk", [True, False])
def test_a_destination_that_takes_only_small_chunks_gets_them(world, machine, distribution, by_chunk):
    """A registry behind a proxy that refuses request bodies over 1 MiB (nginx's
    client_max_body_size): the copy's upload is refused (413) and sent again in halved
    chunks until they pass; every body that reached the registry is within the limit.
    Without copy_by_chunk the layer goes first in one PUT, which is refused; it is read
    again from the source and sent in chunks."""
    from tests.fault_proxy import FaultProxy

    project = world.project()
    layer = os.urandom(3 * 1024 * 1024 + 12345)
    pushed = push_layer(world.svc, f"{project.name}/big", "v1", layer)
    namespace = f"smallchunks{int(by_chunk)}"
    with FaultProxy(distribution.url) as proxy:
        proxy.max_body = 1024 * 1024
        remote = registry(world, proxy.url)
        p = policy(world, dest_registry={"id": remote}, dest_namespace=namespace, copy_by_chunk=by_chunk,
                   filters=[{"type": "name", "value": f"{project.name}/big"}])
        done = wait(world, start(world, p.policy_id).execution_id)
        assert (done.status, done.status_text) == (SUCCEEDED, "")
        assert proxy.refused >= 1 and max(proxy.bodies) <= proxy.max_body
        assert proxy.requests("PATCH", f"/v2/{namespace}/big/blobs/uploads/") >= 4
    client = RegistryClient(distribution.url)
    assert client.manifest_digest(f"{namespace}/big", "v1") == pushed
    layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()
    assert client.blob_size(f"{namespace}/big", layer_digest) == len(layer)
    [task] = world.svc.replication_runs.tasks(done.execution_id)
    assert task.bytes >= len(layer)
    if not by_chunk:
        assert any("refused it in one request (413); sending it in chunks" in line for line in task.log)


def test_copy_by_chunk_decides_how_blobs_go_to_the_cncf_registry(world, machine, distribution):
    """Harbor's `copy_by_chunk`, counted at a recording proxy in front of the CNCF registry:
    off (Harbor's default), each blob is one PUT carrying it whole (a layer larger than a
    chunk included) and no PATCH; on, each blob is PATCH chunks of at most the client's
    chunk size (8 MiB) and a closing PUT with no body."""
    from chalicelib.remote.client import DEFAULT_CHUNK
    from tests.fault_proxy import FaultProxy

    project = world.project()
    layer = os.urandom(DEFAULT_CHUNK + 1024 * 1024 + 321)
    pushed = push_layer(world.svc, f"{project.name}/chunks", "v1", layer)
    manifest = json.loads(world.svc.meta.get_manifest(f"{project.name}/chunks", pushed).body)
    config_size = manifest["config"]["size"]
    with FaultProxy(distribution.url) as proxy:
        remote = registry(world, proxy.url)
        for by_chunk in (False, True):
            namespace = f"bychunk{int(by_chunk)}"
            p = policy(world, dest_registry={"id": remote}, dest_namespace=namespace, copy_by_chunk=by_chunk,
                       filters=[{"type": "name", "value": f"{project.name}/chunks"}])
            assert world.admin.get(f"/replication/policies/{p.policy_id}").json()["copy_by_chunk"] is by_chunk
            before = len(proxy.seen)
            done = wait(world, start(world, p.policy_id).execution_id)
            assert (done.status, done.status_text) == (SUCCEEDED, "")
            uploads = [(method, size) for (_, method, path), size in zip(proxy.seen[before:], proxy.bodies[before:])
                       if f"/v2/{namespace}/chunks/blobs/uploads/" in path and method in ("PATCH", "PUT")]
            if by_chunk:
                assert uploads == [("PATCH", config_size), ("PUT", 0),
                                   ("PATCH", DEFAULT_CHUNK), ("PATCH", len(layer) - DEFAULT_CHUNK), ("PUT", 0)]
            else:
                assert uploads == [("PUT", config_size), ("PUT", len(layer))]
            assert RegistryClient(distribution.url).manifest_digest(f"{namespace}/chunks", "v1") == pushed
            [task] = world.svc.replication_runs.tasks(done.execution_id)
            assert any(line.endswith("in chunks)" if by_chunk else "in one request)") for line in task.log)


def test_a_destination_that_fails_then_recovers_is_retried_by_the_state_machine(world, machine, distribution):
    """The destination answers 503 to everything but /v2/ (the check when the registry is
    added passes); the copy fails as transient, the state machine's Retry waits and calls it
    again; the destination recovers meanwhile and the same task succeeds on a later attempt."""
    from tests.fault_proxy import FaultProxy

    project = world.project()
    pushed = world.push(f"{project.name}/flaky", "v1")
    with FaultProxy(distribution.url) as proxy:
        remote = registry(world, proxy.url)
        p = policy(world, dest_registry={"id": remote}, dest_namespace="recovered",
                   filters=[{"type": "name", "value": f"{project.name}/flaky"}])
        proxy.mode = "503"
        execution = start(world, p.policy_id)
        deadline = time.monotonic() + 120
        while not any(mode == "503" and path != "/v2/" for mode, _, path in proxy.seen):
            assert time.monotonic() < deadline, "the copy never reached the destination"
            time.sleep(0.1)
        proxy.mode = "pass"
        done = wait(world, execution.execution_id)
    assert (done.status, done.status_text) == (SUCCEEDED, "")
    [task] = world.svc.replication_runs.tasks(execution.execution_id)
    assert task.run_count >= 2 and any("503" in line for line in task.log)
    assert RegistryClient(distribution.url).manifest_digest("recovered/flaky", "v1") == pushed
    # the retries happened in the artifact's child execution of the Distributed Map
    [run] = world.svc.stepfunctions.list_map_runs(executionArn=done.workflow_arn)["mapRuns"]
    counts = world.svc.stepfunctions.describe_map_run(mapRunArn=run["mapRunArn"])["itemCounts"]
    assert (counts["total"], counts["succeeded"], counts["failed"]) == (1, 1, 0)


def _parent_events(world, arn: str) -> list[dict]:
    events, token = [], None
    while True:
        page = world.svc.stepfunctions.get_execution_history(executionArn=arn, maxResults=1000,
                                                              **({"nextToken": token} if token else {}))
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


def test_a_run_copies_each_artifact_in_a_child_execution_so_its_history_does_not_grow(world, machine, distribution):
    """Step Functions keeps at most 25,000 events in one execution's history (about 7 per
    artifact copied inline: some 3,500 artifacts). The Map is a Distributed Map: each
    artifact is copied in a child execution with a history of its own, and the run's
    execution holds the same events whether it copies 1 artifact or 12."""
    remote = registry(world, distribution.url)
    project = world.project()
    for n in range(12):
        world.push(f"{project.name}/many", f"v{n}", seed=f"many{n}")
    world.push(f"{project.name}/one", "v1", seed="one")
    histories = {}
    for repository, count in (("one", 1), ("many", 12)):
        p = policy(world, dest_registry={"id": remote}, dest_namespace=f"split-{repository}",
                   filters=[{"type": "name", "value": f"{project.name}/{repository}"}])
        done = wait(world, start(world, p.policy_id).execution_id)
        tasks = world.svc.replication_runs.tasks(done.execution_id)
        assert (done.status, [t.status for t in tasks]) == (SUCCEEDED, [SUCCEEDED] * count)
        events = _parent_events(world, done.workflow_arn)
        histories[count] = [e["type"] for e in events]
        # the run's own tasks: plan and finish; the copies ran in the Map Run's child executions
        assert histories[count].count("LambdaFunctionScheduled") == 2
        assert {"MapRunStarted", "MapRunSucceeded"} <= set(histories[count])
        [run] = world.svc.stepfunctions.list_map_runs(executionArn=done.workflow_arn)["mapRuns"]
        counts = world.svc.stepfunctions.describe_map_run(mapRunArn=run["mapRunArn"])["itemCounts"]
        assert (counts["total"], counts["succeeded"]) == (count, count)
        # the Map read the task ids from S3 (its ItemReader): its input names the object, not the ids
        [entered] = [json.loads(e["stateEnteredEventDetails"]["input"]) for e in events
                     if e["type"] == "MapStateEntered"]
        assert entered == {"execution_id": done.execution_id, "count": count,
                           "items": {"bucket": world.svc.settings.bucket_name,
                                     "key": paths.replication_items_key(done.execution_id)}}
        # and Finish deleted the object once the Map had read it
        assert not list(world.svc.blobs.list_objects(paths.replication_items_key(done.execution_id)))
    assert len(histories[12]) == len(histories[1]), histories
    assert sorted(RegistryClient(distribution.url).tags("split-many/many")) == sorted(f"v{n}" for n in range(12))
    # a policy that selects nothing: an empty item list, a Map Run of none, a run that succeeded
    p = policy(world, dest_registry={"id": remote}, filters=[{"type": "name", "value": f"{project.name}/none"}])
    done = wait(world, start(world, p.policy_id).execution_id)
    assert (done.status, world.svc.replication_runs.tasks(done.execution_id)) == (SUCCEEDED, [])
    assert world.svc.stepfunctions.describe_execution(executionArn=done.workflow_arn)["status"] == "SUCCEEDED"


def test_a_policy_that_runs_one_at_a_time_starts_no_run_while_one_is_in_progress(world, machine, distribution):
    """Harbor's `single_active_replication`: while a run of the policy is in progress, a
    manual start answers 409, a scheduled run is skipped; once it has ended, runs start."""
    from chalicelib.replication import scheduled

    remote = registry(world, distribution.url)
    stored = world.svc.registries.get(remote)
    # unreachable after it was added: the first run keeps retrying its copy
    world.svc.registries.update(stored, replace(stored, url="http://127.0.0.1:9"), None)
    project = world.project()
    world.push(f"{project.name}/single", "v1")
    p = policy(world, dest_registry={"id": remote}, single_active_replication=True,
               trigger={"type": "scheduled", "trigger_settings": {"cron": "0 0 3 1 1 *"}},
               filters=[{"type": "name", "value": f"{project.name}/single"}])
    first = start(world, p.policy_id)
    refused = world.admin.post("/replication/executions", {"policy_id": p.policy_id})
    assert refused.status == 409 and "in progress" in refused.json()["errors"][0]["message"]
    skipped = scheduled.run(world.svc, {"policy_id": p.policy_id})
    assert "in progress" in skipped["skipped"] and "execution_id" not in skipped
    assert [e.execution_id for e in world.svc.replication_runs.list() if e.policy_id == p.policy_id] == [first.execution_id]
    # a policy without the flag still overlaps
    other = policy(world, dest_registry={"id": remote}, filters=[{"type": "name", "value": f"{project.name}/single"}])
    overlapping = [start(world, other.policy_id), start(world, other.policy_id)]
    for run in [first, *overlapping]:
        assert world.admin.put(f"/replication/executions/{run.execution_id}").status == 200
    # ended: the next run starts
    second = start(world, p.policy_id)
    assert second.execution_id != first.execution_id
    assert world.admin.put(f"/replication/executions/{second.execution_id}").status == 200
    third = scheduled.run(world.svc, {"policy_id": p.policy_id})["execution_id"]
    assert world.admin.put(f"/replication/executions/{third}").status == 200
    world.admin.delete(f"/replication/policies/{p.policy_id}")  # and its schedule
