"""A proxy cache project's content is the project's like pushed content: it counts towards
the project's quota (charged when the cache writes a manifest, with the sizes it declares),
it ages out through tag retention, and the registry it stands in for cannot be deleted
while it does. Debian's docker-registry is the upstream; pulls go through /v2 in process."""
from __future__ import annotations

import json
import time
from urllib.parse import urlencode

from chalicelib.remote.client import RegistryClient
from tests.api.helpers import basic
from tests.api.management.conftest import ADMIN_PASSWORD
from tests.replication.test_registries_api import create as create_registry
from tests.replication.test_remote_client import push_image

ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"


class Puller:
    def __init__(self, world, repository: str):
        self.api, self.name = world.api, repository
        reply = world.api.get(
            "/v2/service/token?" + urlencode({"service": "berth-registry", "scope": f"repository:{repository}:pull"}),
            headers={"Authorization": basic("admin", ADMIN_PASSWORD)},
        )
        self.auth = {"Authorization": "Bearer " + reply.json()["token"]}

    def manifest(self, reference: str):
        return self.api.get(f"/v2/{self.name}/manifests/{reference}", headers={**self.auth, "Accept": ACCEPT})

    def blob(self, digest: str):
        return self.api.get(f"/v2/{self.name}/blobs/{digest}", headers=self.auth)


def proxy_project(world, distribution) -> tuple[str, int, int]:
    registry_id = create_registry(world, url=distribution.url)
    name = world.name("hub")
    assert world.admin.post("/projects", {"project_name": name, "registry_id": registry_id}).status == 201
    return name, world.svc.accounts.get_project(name).project_id, registry_id


def used(world, project_id: int) -> int:
    return world.admin.get(f"/quotas/{project_id}").json()["used"]["storage"]


def test_cached_content_counts_towards_the_quota_and_ages_out_through_retention(world, distribution):
    upstream = RegistryClient(distribution.url)
    repo = world.name("lib")
    one = push_image(upstream, repo, "v1", b"first layer " * 300)
    two = push_image(upstream, repo, "v2", b"second layer " * 300)
    name, pid, registry_id = proxy_project(world, distribution)
    puller = Puller(world, f"{name}/{repo}")

    assert puller.manifest("v1").status == 200

    declared = json.loads(one.data)
    charged = len(one.data) + declared["config"]["size"] + declared["layers"][0]["size"]
    assert used(world, pid) == charged  # the manifest, its config and its layer, before any blob is pulled
    for blob in (declared["config"]["digest"], declared["layers"][0]["digest"]):
        assert puller.blob(blob).status == 307
    assert used(world, pid) == charged  # fetching the blobs charges nothing more
    assert puller.manifest("v2").status == 200
    second = json.loads(two.data)
    # the config is the same image config upstream: counted once in the project
    assert used(world, pid) == charged + len(two.data) + second["layers"][0]["size"]

    # a retention rule keeps only v2: the cached v1 goes, and its bytes with it
    policy = {"algorithm": "or", "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
              "scope": {"level": "project", "ref": pid},
              "rules": [{"action": "retain", "template": "always", "params": {},
                         "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v2"}],
                         "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}}]}
    reply = world.admin.post("/retentions", policy)
    assert reply.status == 201, reply.body
    policy_id = reply.headers["location"].rsplit("/", 1)[1]
    # the run happens after the request, in the app's run_schedule (moto's Lambda runs an
    # asynchronous invocation in a thread here: devstack/workflows.py)
    from devstack.workflows import create_function

    prefix = world.svc.settings.function_prefix
    create_function(world.svc.client, prefix[len("berth-"):-1], "run_schedule")
    started = world.admin.post(f"/retentions/{policy_id}/executions", {"dry_run": False})
    assert started.status == 201
    execution = started.headers["location"].rsplit("/", 1)[1]
    deadline = time.monotonic() + 60
    while world.svc.retention.execution(int(policy_id), int(execution)).status == "Running":
        assert time.monotonic() < deadline, "the retention run did not finish"
        time.sleep(0.2)
    assert world.svc.retention.execution(int(policy_id), int(execution)).status == "Success"
    cached = {m.digest for m in world.svc.meta.list_manifests(f"{name}/{repo}", with_body=False)}
    assert cached == {two.digest}
    assert used(world, pid) == len(two.data) + second["config"]["size"] + second["layers"][0]["size"]

    # the registry stands behind a proxy project: Harbor's 412
    refused = world.admin.delete(f"/registries/{registry_id}")
    assert refused.status == 412 and "referenced by proxy cache project" in refused.json()["errors"][0]["message"]


def test_a_full_quota_serves_the_upstream_manifest_without_caching_it(world, distribution):
    upstream = RegistryClient(distribution.url)
    repo = world.name("lib")
    image = push_image(upstream, repo, "big", b"a layer larger than the limit " * 100)
    name, pid, _ = proxy_project(world, distribution)
    assert world.admin.put(f"/quotas/{pid}", {"hard": {"storage": 1000}}).status == 200
    reply = Puller(world, f"{name}/{repo}").manifest("big")
    assert reply.status == 200 and reply.headers["docker-content-digest"] == image.digest
    assert world.svc.meta.list_manifests(f"{name}/{repo}", with_body=False) == []
    assert used(world, pid) == 0
