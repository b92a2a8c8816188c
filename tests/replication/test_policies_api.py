"""/replication/policies: Harbor's shapes and defaults, every rule a clear 400, loops
between two policies refused, and a registry in use kept (412)."""
from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def remote(world, distribution) -> int:
    reply = world.admin.post("/registries", {"name": world.name("cncf"), "type": "docker-registry", "url": distribution.url})
    assert reply.status == 201, reply.body
    return int(reply.headers["location"].rsplit("/", 1)[1])


def create(world, **fields):
    return world.admin.post("/replication/policies", {"name": world.name("pol"), **fields})


def test_a_push_policy_round_trips_in_harbors_shape(world, remote):
    name = world.name("pol")
    reply = world.admin.post("/replication/policies", {
        "name": name, "description": "out", "dest_registry": {"id": remote}, "dest_namespace": "mirror",
        "dest_namespace_replace_count": 1, "trigger": {"type": "scheduled", "trigger_settings": {"cron": "0 0 3 * * *"}},
        "filters": [{"type": "name", "value": "library/**"}, {"type": "tag", "value": "v*", "decoration": "matches"},
                    {"type": "resource", "value": "image"}, {"type": "label", "value": ["prod", "signed", "prod"]}],
        "replicate_deletion": True, "override": True, "enabled": True, "speed": 1024,
    })
    assert reply.status == 201, reply.body
    assert reply.headers["location"].startswith("/api/v2.0/replication/policies/")
    policy_id = int(reply.headers["location"].rsplit("/", 1)[1])
    got = world.admin.get(f"/replication/policies/{policy_id}").json()
    assert {k: got[k] for k in ("id", "name", "description", "dest_namespace", "dest_namespace_replace_count", "trigger",
                                 "filters", "replicate_deletion", "deletion", "override", "enabled", "speed",
                                 "copy_by_chunk", "single_active_replication")} == {
        "id": policy_id, "name": name, "description": "out", "dest_namespace": "mirror", "dest_namespace_replace_count": 1,
        "trigger": {"type": "scheduled", "trigger_settings": {"cron": "0 0 3 * * *"}},
        "filters": [{"type": "name", "value": "library/**", "decoration": ""},
                    {"type": "tag", "value": "v*", "decoration": "matches"},
                    {"type": "resource", "value": "image", "decoration": ""},
                    {"type": "label", "value": ["prod", "signed"], "decoration": ""}],
        "replicate_deletion": True, "deletion": True, "override": True, "enabled": True, "speed": 1024,
        "copy_by_chunk": False, "single_active_replication": False,
    }
    assert got["src_registry"]["id"] == 0 and got["src_registry"]["name"] == "Local"
    assert got["dest_registry"]["id"] == remote and got["dest_registry"]["type"] == "docker-registry"
    assert name in [p["name"] for p in world.admin.get("/replication/policies?page_size=100").json()]
    assert world.admin.get(f"/replication/policies?q=name%3D{name}").json()[0]["id"] == policy_id
    assert [p["id"] for p in world.admin.get(f"/replication/policies?name={name}").json()] == [policy_id]

    # PUT replaces it; Harbor's defaults for what is left out (false, manual)
    assert world.admin.put(f"/replication/policies/{policy_id}", {"name": name, "src_registry": {"id": remote}}).status == 200
    got = world.admin.get(f"/replication/policies/{policy_id}").json()
    assert (got["src_registry"]["id"], got["dest_registry"]["id"], got["trigger"]["type"], got["enabled"],
            got["filters"], got["dest_namespace_replace_count"]) == (remote, 0, "manual", False, [], -1)

    # the registry is in use: kept
    kept = world.admin.delete(f"/registries/{remote}")
    assert kept.status == 412 and name in kept.json()["errors"][0]["message"]
    assert world.admin.delete(f"/replication/policies/{policy_id}").status == 200
    assert world.admin.get(f"/replication/policies/{policy_id}").status == 404


@pytest.mark.parametrize(("fields", "says"), [
    ({}, "either src_registry or dest_registry"),
    ({"dest_registry": {"id": 999999}}, "registry 999999 not found"),
    ({"trigger": {"type": "scheduled", "trigger_settings": {"cron": "* * * * *"}}}, "6 fields"),
    ({"trigger": {"type": "scheduled", "trigger_settings": {"cron": "0 0 99 * * *"}}}, "invalid cron"),
    ({"trigger": {"type": "scheduled"}}, "cannot be empty"),
    ({"trigger": {"type": "whenever"}}, "trigger.type must be one of"),
    ({"filters": [{"type": "name", "value": ["a"]}]}, "isn't string"),
    ({"filters": [{"type": "label", "value": "a"}]}, "must be string slice"),
    ({"filters": [{"type": "label", "value": ["a", 1]}]}, "must be string slice"),
    ({"filters": [{"type": "label", "value": ["a"], "decoration": "sometimes"}]}, "decoration"),
    ({"filters": [{"type": "resource", "value": "chart"}]}, "invalid resource filter"),
    ({"dest_namespace": "UPPER"}, "invalid destination namespace"),
    ({"dest_namespace_replace_count": -5}, "must be at least -1"),
])
def test_bad_policies_are_400s_that_say_why(world, remote, fields, says):
    body = {"dest_registry": {"id": remote}, **fields} if "dest_registry" not in fields and fields != {} else fields
    reply = create(world, **body)
    assert reply.status == 400, reply.body
    assert says in reply.json()["errors"][0]["message"]


def test_a_pull_policy_cannot_be_event_based(world, remote):
    reply = create(world, src_registry={"id": remote}, trigger={"type": "event_based"})
    assert reply.status == 400 and "event_based" in reply.json()["errors"][0]["message"]


def test_a_loop_between_two_policies_is_refused(world, remote):
    out = create(world, dest_registry={"id": remote}, dest_namespace="loopmirror",
                 filters=[{"type": "name", "value": "looplib/**"}])
    assert out.status == 201
    back = create(world, src_registry={"id": remote}, dest_namespace="looplib",
                  filters=[{"type": "name", "value": "loopmirror/**"}])
    assert back.status == 400
    assert "loop" in back.json()["errors"][0]["message"]
    elsewhere = create(world, src_registry={"id": remote}, dest_namespace="loopcopies",
                       filters=[{"type": "name", "value": "loopmirror/**"}])
    assert elsewhere.status == 201
    # nor may an update make one
    elsewhere_id = int(elsewhere.headers["location"].rsplit("/", 1)[1])
    body = world.admin.get(f"/replication/policies/{elsewhere_id}").json()
    body["dest_namespace"] = "looplib"
    assert world.admin.put(f"/replication/policies/{elsewhere_id}", body).status == 400


def test_names_are_unique_and_only_admins_may(world, remote):
    name = world.name("pol")
    assert create(world, name=name, dest_registry={"id": remote}).status == 201
    assert world.admin.post("/replication/policies", {"name": name, "dest_registry": {"id": remote}}).status == 409
    someone = world.as_(world.user().username)
    assert someone.get("/replication/policies").status == 403
    assert someone.post("/replication/policies", {"name": "x", "dest_registry": {"id": remote}}).status == 403
    assert world.anonymous.get("/replication/policies").status == 401
