"""Quotas: storage_limit on projects, /quotas, usage counted with each blob once per
project by real pushes through /v2, a push over the limit refused (DENIED) leaving
nothing behind, deletions giving back what no other manifest of the project names."""
from __future__ import annotations

import pytest

from tests.api.helpers import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, assert_error, descriptor, digest, encode
from tests.api.management.conftest import codes
from tests.api.management.test_immutable import Registry

SHARED_LAYER = b"a layer two repositories share " * 100  # 3100 bytes


def image(registry: Registry, seed: str, layer: bytes) -> tuple[bytes, int]:
    """A manifest over a fresh config and `layer`; (its bytes, the bytes new to a project
    that has neither)."""
    config = encode({"seed": seed})
    registry.blob(config)
    registry.blob(layer)
    body = encode({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config), "layers": [descriptor(OCI_LAYER, layer)]})
    return body, len(config) + len(layer) + len(body)


def make_project(world, admin, limit: int | None) -> tuple[str, int]:
    name = world.name("quota")
    body = {"project_name": name, "metadata": {"public": "false"}}
    if limit is not None:
        body["storage_limit"] = limit
    reply = admin.post("/projects", body)
    assert reply.status == 201, reply.body
    return name, world.svc.accounts.get_project(name).project_id


def used(admin, project_id: int) -> int:
    return admin.get(f"/quotas/{project_id}").json()["used"]["storage"]


def test_usage_counts_a_shared_layer_once_per_project(world, admin):
    name, pid = make_project(world, admin, None)
    one, two = Registry(world, f"{name}/one"), Registry(world, f"{name}/two")
    first, first_bytes = image(one, "first", SHARED_LAYER)
    assert one.put("v1", first).status == 201
    assert used(admin, pid) == first_bytes
    # the same manifest again, and under another tag: nothing new
    assert one.put("v1", first).status == 201
    assert one.put("again", first).status == 201
    assert used(admin, pid) == first_bytes
    # another repository of the project, another config, the same layer: counted once
    second, second_bytes = image(two, "second", SHARED_LAYER)
    assert two.put("v1", second).status == 201
    assert used(admin, pid) == first_bytes + second_bytes - len(SHARED_LAYER)
    quota = admin.get(f"/quotas/{pid}").json()
    assert quota["ref"] == {"id": pid, "name": name, "owner_name": "admin"} and quota["hard"] == {"storage": -1}
    summary = admin.get(f"/projects/{name}/summary", headers={"X-Is-Resource-Name": "true"}).json()
    assert summary["quota"]["used"]["storage"] == used(admin, pid)

    # deleting the first artifact gives back its config and manifest; the layer stays counted
    assert admin.delete(f"/projects/{name}/repositories/one/artifacts/{digest(first)}").status == 200
    assert used(admin, pid) == second_bytes
    # and the repository's deletion gives back the rest
    assert admin.delete(f"/projects/{name}/repositories/two").status == 200
    assert used(admin, pid) == 0


def test_a_push_over_the_limit_is_refused_and_leaves_nothing(world, admin):
    name, pid = make_project(world, admin, 5000)
    registry = Registry(world, f"{name}/app")
    small, small_bytes = image(registry, "small", b"x" * 1000)
    assert registry.put("small", small).status == 201
    big, _ = image(registry, "big", b"y" * 4000)
    refused = registry.put("big", big)
    assert_error(refused, 403, "DENIED")
    assert "quota exceeded" in refused.json()["errors"][0]["message"]
    assert registry.tag_digest("big") is None
    assert used(admin, pid) == small_bytes
    assert world.svc.meta.get_manifest(f"{name}/app", digest(big)) is None
    # raised, the same push goes through
    assert admin.put(f"/quotas/{pid}", {"hard": {"storage": 20000}}).status == 200
    assert registry.put("big", big).status == 201
    assert admin.get(f"/quotas/{pid}").json()["hard"] == {"storage": 20000}


def test_a_copy_is_charged_to_its_project(world, admin):
    source_name, _ = make_project(world, admin, None)
    target_name, target_id = make_project(world, admin, 100)
    source = Registry(world, f"{source_name}/app")
    body, nbytes = image(source, "copied", b"z" * 500)
    assert source.put("v1", body).status == 201
    refused = admin.post(f"/projects/{target_name}/repositories/app/artifacts?from={source_name}/app:v1")
    assert refused.status == 403 and codes(refused) == ["FORBIDDEN"]
    assert used(admin, target_id) == 0
    assert admin.put(f"/quotas/{target_id}", {"hard": {"storage": -1}}).status == 200
    assert admin.post(f"/projects/{target_name}/repositories/app/artifacts?from={source_name}/app:v1").status == 201
    assert used(admin, target_id) == nbytes


def test_quotas_list_and_who_may_change_them(world, admin):
    name, pid = make_project(world, admin, 123456)
    listed = admin.get(f"/quotas?reference=project&reference_id={pid}")
    assert listed.status == 200 and [q["id"] for q in listed.json()] == [pid]
    assert listed.json()[0]["hard"] == {"storage": 123456}
    user = world.user()
    assert world.as_(user.username).get("/quotas").status == 403
    assert world.as_(user.username).put(f"/quotas/{pid}", {"hard": {"storage": 1}}).status == 403
    assert admin.get("/quotas/99999999").status == 404
    # a project admin may change the project, not its limit
    world.member(name, user.username, 1)
    reply = world.as_(user.username).put(f"/projects/{name}", {"storage_limit": 1}, headers={"X-Is-Resource-Name": "true"})
    assert reply.status == 403
    assert admin.put(f"/projects/{name}", {"storage_limit": 777}, headers={"X-Is-Resource-Name": "true"}).status == 200
    assert admin.get(f"/quotas/{pid}").json()["hard"] == {"storage": 777}


@pytest.mark.parametrize(
    "body", [{"hard": {"storage": -2}}, {"hard": {"storage": 0}}, {"hard": {"storage": "1"}}, {"hard": {}}, {"hard": {"count": 1}}, {}]
)
def test_bad_quota_updates_are_400(world, admin, body):
    _, pid = make_project(world, admin, None)
    reply = admin.put(f"/quotas/{pid}", body)
    assert reply.status == 400 and codes(reply) == ["BAD_REQUEST"], reply.body


def test_bad_storage_limits_are_400(world, admin):
    for limit in (-5, 0):
        reply = admin.post("/projects", {"project_name": world.name("badq"), "storage_limit": limit})
        assert reply.status == 400, limit
