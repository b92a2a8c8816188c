"""Replication on the local stack, as a user runs it: Harbor's API over HTTP, moto in
server mode executing the Step Functions state machine (infra/replication.yaml), its
Lambda tasks run by the app in process, copying between this Berth and Debian's
docker-registry in both directions."""
from __future__ import annotations

import os
import time

import pytest
import requests

from chalicelib.remote.client import DEFAULT_CHUNK, Credential, RegistryClient
from tests.e2e.images import build_oci_layout
from tests.fault_proxy import FaultProxy
from tests.replication.test_remote_client import push_image

API = "/v2/api/v2.0"


class Harbor:
    def __init__(self, stack):
        self.base = stack.api + API
        self.session = requests.Session()
        self.session.auth = stack.credentials

    def call(self, method: str, path: str, body=None, ok=(200, 201)) -> requests.Response:
        reply = self.session.request(method, self.base + path, json=body, timeout=60)
        assert reply.status_code in ok, f"{method} {path} -> {reply.status_code} {reply.text[:500]}"
        return reply

    def created(self, path: str, body) -> int:
        return int(self.call("POST", path, body).headers["Location"].rsplit("/", 1)[1])

    def run(self, policy_id: int, timeout: float = 180) -> dict:
        execution_id = self.created("/replication/executions", {"policy_id": policy_id})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            execution = self.call("GET", f"/replication/executions/{execution_id}").json()
            if execution["status"] != "InProgress":
                return execution
            time.sleep(0.3)
        pytest.fail(f"execution {execution_id} still in progress after {timeout} s")


@pytest.fixture(scope="module")
def harbor(stack):
    return Harbor(stack)


def test_push_and_pull_between_berth_and_the_cncf_registry(stack, harbor, distribution):
    user, password = stack.credentials
    berth = RegistryClient(stack.api, Credential(user, password))
    cncf = RegistryClient(distribution.url)
    name = f"e2e{os.getpid()}"
    pushed = push_image(berth, f"library/{name}", "v1", os.urandom(200_000))
    registry = harbor.created("/registries", {"name": f"cncf-{name}", "type": "docker-registry", "url": distribution.url})

    out = harbor.created("/replication/policies", {
        "name": f"out-{name}", "enabled": True, "override": True, "dest_registry": {"id": registry},
        "dest_namespace": "mirror", "filters": [{"type": "name", "value": f"library/{name}"}]})
    execution = harbor.run(out)
    assert (execution["status"], execution["total"], execution["succeed"]) == ("Succeed", 1, 1), execution
    assert cncf.manifest_digest(f"mirror/{name}", "v1") == pushed.digest

    # and back, pull-based, into another project
    harbor.call("POST", "/projects", {"project_name": f"back{name}", "metadata": {"public": "false"}})
    back = harbor.created("/replication/policies", {
        "name": f"back-{name}", "enabled": True, "src_registry": {"id": registry}, "dest_namespace": f"back{name}",
        "filters": [{"type": "name", "value": f"mirror/{name}"}, {"type": "tag", "value": "v*"}]})
    execution = harbor.run(back)
    assert execution["status"] == "Succeed", execution
    assert berth.manifest_digest(f"back{name}/{name}", "v1") == pushed.digest
    [task] = harbor.call("GET", f"/replication/executions/{execution['id']}/tasks").json()
    log = harbor.call("GET", f"/replication/executions/{execution['id']}/tasks/{task['id']}/log").text
    assert f"manifest {pushed.digest} written" in log


def test_a_push_is_replicated_by_an_event_based_rule(stack, harbor, distribution):
    user, password = stack.credentials
    name = f"evt{os.getpid()}"
    registry = harbor.created("/registries", {"name": f"cncf-{name}", "type": "docker-registry", "url": distribution.url})
    harbor.created("/replication/policies", {
        "name": f"on-push-{name}", "enabled": True, "dest_registry": {"id": registry}, "dest_namespace": "onpush",
        "trigger": {"type": "event_based"}, "filters": [{"type": "name", "value": f"library/{name}"}]})
    pushed = push_image(RegistryClient(stack.api, Credential(user, password)), f"library/{name}", "v1", os.urandom(1000))
    # the push's event reaches replication_events through the stack's event path, which starts a run
    cncf = RegistryClient(distribution.url)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and cncf.manifest_digest(f"onpush/{name}", "v1") is None:
        time.sleep(0.5)
    assert cncf.manifest_digest(f"onpush/{name}", "v1") == pushed.digest
    runs = harbor.call("GET", "/replication/executions?trigger=event_based").json()
    assert any(r["status"] in ("Succeed", "InProgress") for r in runs)


def test_a_scheduled_rule_runs_when_its_cron_comes_due(stack, harbor, distribution):
    """Every minute (Harbor's 6-field cron): the policy's EventBridge schedule, fired by the
    local stack's stand-in for the Scheduler, starts a run with the trigger `scheduled`."""
    user, password = stack.credentials
    name = f"cron{os.getpid()}"
    pushed = push_image(RegistryClient(stack.api, Credential(user, password)), f"library/{name}", "v1", os.urandom(1000))
    registry = harbor.created("/registries", {"name": f"cncf-{name}", "type": "docker-registry", "url": distribution.url})
    policy = harbor.created("/replication/policies", {
        "name": f"nightly-{name}", "enabled": True, "dest_registry": {"id": registry}, "dest_namespace": "scheduled",
        "trigger": {"type": "scheduled", "trigger_settings": {"cron": "0 */1 * * * *"}},
        "filters": [{"type": "name", "value": f"library/{name}"}]})
    cncf = RegistryClient(distribution.url)
    deadline = time.monotonic() + 150  # the next minute, then the run
    while time.monotonic() < deadline and cncf.manifest_digest(f"scheduled/{name}", "v1") is None:
        time.sleep(1)
    assert cncf.manifest_digest(f"scheduled/{name}", "v1") == pushed.digest
    runs = harbor.call("GET", f"/replication/executions?policy_id={policy}").json()
    assert runs and {r["trigger"] for r in runs} == {"scheduled"}
    harbor.call("DELETE", f"/replication/policies/{policy}")  # and with it, its schedule


def test_pull_from_a_berth_through_the_harbor_adapter(stack, harbor):
    """The `harbor` type against a running Berth (this stack, as the remote): its /v2/api/v2.0
    lists projects, repositories and artifacts (untagged ones with their digests too), and
    the copy runs through its /v2 with Docker token auth."""
    user, password = stack.credentials
    berth = RegistryClient(stack.api, Credential(user, password))
    name = f"hb{os.getpid()}"
    pushed = push_image(berth, f"library/{name}", "1.0", os.urandom(5000))
    registry = harbor.created("/registries", {
        "name": f"self-{name}", "type": "harbor", "url": stack.api,
        "credential": {"type": "basic", "access_key": user, "access_secret": password}})
    info = harbor.call("GET", f"/registries/{registry}/info").json()
    assert info["type"] == "harbor" and info["supported_copy_by_chunk"] is True
    harbor.call("POST", "/projects", {"project_name": f"copy{name}", "metadata": {"public": "false"}})
    policy = harbor.created("/replication/policies", {
        "name": f"from-self-{name}", "enabled": True, "src_registry": {"id": registry}, "dest_namespace": f"copy{name}",
        "filters": [{"type": "name", "value": f"library/{name}"}]})
    execution = harbor.run(policy)
    assert (execution["status"], execution["total"]) == ("Succeed", 1), execution
    [task] = harbor.call("GET", f"/replication/executions/{execution['id']}/tasks").json()
    assert task["src_resource"] == f"library/{name}@{pushed.digest}"  # listed by digest: Harbor's artifacts API
    assert berth.manifest_digest(f"copy{name}/{name}", "1.0") == pushed.digest


def test_a_layer_over_64_mib_is_replicated_in_bounded_chunks(stack, harbor, distribution, skopeo, tmp_path):
    """skopeo pushes an image with a 70 MiB layer into Berth; a push-based rule with
    `copy_by_chunk` copies it to the CNCF registry, the layer streamed from S3 to the
    registry in chunks of at most the client's chunk size (every request body through the
    proxy in front of the registry), and the registry holds the same bytes (it verified the
    digest). A rule without it sends the layer in one PUT, streamed, and no PATCH."""
    name = f"big{os.getpid()}"
    image = build_oci_layout(tmp_path / "layout", (70 * 1024 * 1024,))
    layer = image.layers[0]
    assert layer.size > 64 * 1024 * 1024
    skopeo.run("copy", "--dest-tls-verify=false", "--preserve-digests", "--format", "oci",
               *skopeo.creds_args(stack, "dest"), image.ref, f"docker://{stack.host}/library/{name}:v1")
    with FaultProxy(distribution.url) as proxy:
        registry = harbor.created("/registries", {"name": f"cncf-{name}", "type": "docker-registry", "url": proxy.url})
        policy = harbor.created("/replication/policies", {
            "name": f"big-{name}", "enabled": True, "dest_registry": {"id": registry}, "dest_namespace": "bigmirror",
            "copy_by_chunk": True, "filters": [{"type": "name", "value": f"library/{name}"}]})
        execution = harbor.run(policy, timeout=600)
        assert (execution["status"], execution["succeed"]) == ("Succeed", 1), execution
        assert max(proxy.bodies) <= DEFAULT_CHUNK
        assert proxy.requests("PATCH", f"/v2/bigmirror/{name}/blobs/uploads/") >= layer.size // DEFAULT_CHUNK
        whole = harbor.created("/replication/policies", {
            "name": f"whole-{name}", "enabled": True, "dest_registry": {"id": registry}, "dest_namespace": "bigwhole",
            "copy_by_chunk": False, "filters": [{"type": "name", "value": f"library/{name}"}]})
        before = len(proxy.seen)
        execution_whole = harbor.run(whole, timeout=600)
        assert (execution_whole["status"], execution_whole["succeed"]) == ("Succeed", 1), execution_whole
        sent = [(method, size) for (_, method, path), size in zip(proxy.seen[before:], proxy.bodies[before:])
                if f"/v2/bigwhole/{name}/blobs/uploads/" in path]
        assert ("PUT", layer.size) in sent and not [m for m, _ in sent if m == "PATCH"], sent
    cncf = RegistryClient(distribution.url)
    for namespace in ("bigmirror", "bigwhole"):
        assert cncf.manifest_digest(f"{namespace}/{name}", "v1") == image.manifest_digest
        assert cncf.blob_size(f"{namespace}/{name}", layer.digest) == layer.size
    [task] = harbor.call("GET", f"/replication/executions/{execution['id']}/tasks").json()
    assert task["bytes"] >= layer.size


def test_between_two_berth_stacks_push_and_pull(stack, limited_stack, harbor):
    """Two local stacks, each the other's `harbor` registry: a push-based rule on the first
    copies an image into the second (through the second's API Gateway limits), and a
    pull-based rule on the second copies another from the first."""
    name = f"two{os.getpid()}"
    user, password = stack.credentials
    other_user, other_password = limited_stack.credentials
    here = RegistryClient(stack.api, Credential(user, password))
    there = RegistryClient(limited_stack.api, Credential(other_user, other_password))
    pushed = push_image(here, f"library/{name}", "v1", os.urandom(9 * 1024 * 1024))
    pulled = push_image(here, f"library/{name}-pull", "v2", os.urandom(300_000))
    other = Harbor(limited_stack)

    to_other = harbor.created("/registries", {
        "name": f"berth-b-{name}", "type": "harbor", "url": limited_stack.api,
        "credential": {"type": "basic", "access_key": other_user, "access_secret": other_password}})
    other.call("POST", "/projects", {"project_name": f"in{name}", "metadata": {"public": "false"}})
    out = harbor.created("/replication/policies", {
        "name": f"to-b-{name}", "enabled": True, "dest_registry": {"id": to_other}, "dest_namespace": f"in{name}",
        "filters": [{"type": "name", "value": f"library/{name}"}]})
    execution = harbor.run(out, timeout=600)
    assert (execution["status"], execution["succeed"]) == ("Succeed", 1), execution
    assert there.manifest_digest(f"in{name}/{name}", "v1") == pushed.digest

    from_first = other.created("/registries", {
        "name": f"berth-a-{name}", "type": "harbor", "url": stack.api,
        "credential": {"type": "basic", "access_key": user, "access_secret": password}})
    back = other.created("/replication/policies", {
        "name": f"from-a-{name}", "enabled": True, "src_registry": {"id": from_first}, "dest_namespace": f"in{name}",
        "filters": [{"type": "name", "value": f"library/{name}-pull"}]})
    execution = other.run(back, timeout=600)
    assert (execution["status"], execution["succeed"]) == ("Succeed", 1), execution
    assert there.manifest_digest(f"in{name}/{name}-pull", "v2") == pulled.digest
