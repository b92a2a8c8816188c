"""Proxy cache projects in the management API (Harbor's `registry_id` on ProjectReq): only
system administrators create them, only with a registry that exists, the project shows it,
and it cannot be changed afterwards."""
from __future__ import annotations

from tests.api.management.conftest import set_config
from tests.replication.test_registries_api import create as create_registry


def test_a_proxy_cache_project_names_its_registry(world, distribution):
    registry_id = create_registry(world, url=distribution.url)
    name = world.name("hub")
    assert world.admin.post("/projects", {"project_name": name, "registry_id": registry_id}).status == 201
    shown = world.admin.get(f"/projects/{name}").json()
    assert shown["registry_id"] == registry_id
    listed = [p for p in world.admin.get(f"/projects?name={name}").json() if p["name"] == name]
    assert listed and listed[0]["registry_id"] == registry_id

    # the same registry_id may be sent back; another may not
    assert world.admin.put(f"/projects/{name}", {"registry_id": registry_id}).status == 200
    changed = world.admin.put(f"/projects/{name}", {"registry_id": registry_id + 1000})
    assert changed.status == 400 and "cannot be changed" in changed.json()["errors"][0]["message"]

    # a normal project shows no registry_id
    plain = world.name("plain")
    assert world.admin.post("/projects", {"project_name": plain}).status == 201
    assert "registry_id" not in world.admin.get(f"/projects/{plain}").json()


def test_only_administrators_create_one_and_only_with_a_known_registry(world, distribution):
    registry_id = create_registry(world, url=distribution.url)
    missing = world.admin.post("/projects", {"project_name": world.name("hub"), "registry_id": registry_id + 1000})
    assert missing.status == 400 and "not found" in missing.json()["errors"][0]["message"]
    user = world.user()
    set_config(world, "project_creation_restriction", "everyone")
    try:
        refused = world.as_(user.username).post("/projects", {"project_name": world.name("hub"), "registry_id": registry_id})
        assert refused.status == 403
        assert world.as_(user.username).post("/projects", {"project_name": world.name("mine")}).status == 201
    finally:
        set_config(world, "project_creation_restriction", "adminonly")
