"""/registries, /registries/ping, /registries/{id}/info, /replication/adapters and
adapterinfos: Harbor's shapes, checked against real docker-registry processes (open and
behind htpasswd), secrets in SSM and never answered, system administrators only."""
from __future__ import annotations

import pytest

from tests.conftest import DISTRIBUTION_USER

USER, SECRET = DISTRIBUTION_USER


def create(world, **fields) -> int:
    body = {"name": world.name("reg"), "type": "docker-registry", **fields}
    reply = world.admin.post("/registries", body)
    assert reply.status == 201, reply.body
    return int(reply.headers["location"].rsplit("/", 1)[1])


def test_a_registry_with_a_credential_is_stored_and_its_secret_never_answered(world, distribution_auth):
    name = world.name("reg")
    reply = world.admin.post("/registries", {
        "name": name, "type": "docker-registry", "url": distribution_auth.url + "/", "description": "the CNCF one",
        "credential": {"type": "basic", "access_key": USER, "access_secret": SECRET}, "insecure": False,
    })
    assert reply.status == 201, reply.body
    assert reply.headers["location"].startswith("/api/v2.0/registries/")
    registry_id = int(reply.headers["location"].rsplit("/", 1)[1])

    got = world.admin.get(f"/registries/{registry_id}").json()
    assert got == {
        "id": registry_id, "url": distribution_auth.url, "name": name, "type": "docker-registry", "insecure": False,
        "description": "the CNCF one", "status": "healthy",
        "credential": {"type": "basic", "access_key": USER, "access_secret": "*****"},
        "creation_time": got["creation_time"], "update_time": got["update_time"],
    }
    assert SECRET.encode() not in world.admin.get("/registries").body
    # the secret is an SSM SecureString of its own
    parameter = world.svc.ssm.get_parameter(Name=f"{world.svc.settings.ssm_prefix}/registries/{registry_id}",
                                            WithDecryption=True)["Parameter"]
    assert (parameter["Type"], parameter["Value"]) == ("SecureString", SECRET)
    listed = world.admin.get("/registries", headers={}).json()
    assert name in [r["name"] for r in listed]
    assert world.admin.get(f"/registries?q=name%3D{name}").json()[0]["id"] == registry_id
    assert [r["id"] for r in world.admin.get(f"/registries?name={name}").json()] == [registry_id]  # deprecated, still Harbor's

    assert world.admin.delete(f"/registries/{registry_id}").status == 200
    assert world.admin.get(f"/registries/{registry_id}").status == 404
    with pytest.raises(world.svc.ssm.exceptions.ParameterNotFound):
        world.svc.ssm.get_parameter(Name=f"{world.svc.settings.ssm_prefix}/registries/{registry_id}")
    # the name is free again
    assert world.admin.post("/registries", {"name": name, "type": "docker-registry", "url": distribution_auth.url,
                                            "credential": {"access_key": USER, "access_secret": SECRET}}).status == 201


def test_an_unhealthy_registry_is_refused_with_the_reason(world, distribution_auth):
    wrong = world.admin.post("/registries", {"name": world.name("reg"), "type": "docker-registry", "url": distribution_auth.url,
                                             "credential": {"access_key": USER, "access_secret": "wrong"}})
    assert wrong.status == 400
    assert "unhealthy" in wrong.json()["errors"][0]["message"] and "credentials" in wrong.json()["errors"][0]["message"]
    gone = world.admin.post("/registries", {"name": world.name("reg"), "type": "docker-registry", "url": "http://127.0.0.1:9"})
    assert gone.status == 400 and "no answer" in gone.json()["errors"][0]["message"]
    not_harbor = world.admin.post("/registries", {"name": world.name("reg"), "type": "harbor", "url": distribution_auth.url})
    assert not_harbor.status == 400


@pytest.mark.parametrize(("body", "says"), [
    ({"type": "docker-registry", "url": "http://x"}, "name is required"),
    ({"name": "a", "type": "quay", "url": "http://x"}, "type must be one of"),
    ({"name": "a", "type": "docker-registry", "url": "ftp://x"}, "invalid HTTP scheme"),
    ({"name": "a", "type": "docker-registry", "url": "http://user:pw@x"}, "no user"),
    ({"name": "a", "type": "docker-registry", "url": "http://x:99999"}, "invalid URL"),
    ({"name": "a", "type": "docker-registry", "url": "http://x", "ca_certificate": "not pem"}, "PEM"),
    ({"name": " ", "type": "docker-registry", "url": "http://x"}, "name cannot be empty"),
    ({"name": "a", "type": "docker-registry", "url": "http://x", "credential": {"access_key": 1}}, "access_key"),
])
def test_bad_registries_are_400s_that_say_why(world, body, says):
    reply = world.admin.post("/registries", body)
    assert reply.status == 400
    assert says in reply.json()["errors"][0]["message"]


def test_names_are_unique(world, distribution):
    name = world.name("reg")
    assert world.admin.post("/registries", {"name": name, "type": "docker-registry", "url": distribution.url}).status == 201
    again = world.admin.post("/registries", {"name": name, "type": "docker-registry", "url": distribution.url})
    assert again.status == 409
    other = create(world, url=distribution.url)
    assert world.admin.put(f"/registries/{other}", {"name": name}).status == 409


def test_an_update_keeps_what_it_does_not_name_and_a_new_url_drops_the_secret(world, distribution, distribution_auth):
    registry_id = create(world, url=distribution_auth.url, credential={"access_key": USER, "access_secret": SECRET})
    assert world.admin.put(f"/registries/{registry_id}", {"description": "changed", "name": None}).status == 200
    got = world.admin.get(f"/registries/{registry_id}").json()
    assert got["description"] == "changed" and got["credential"]["access_secret"] == "*****"
    # moving to another address without a new secret: the stored one is not sent there
    assert world.admin.put(f"/registries/{registry_id}", {"url": distribution.url}).status == 200
    got = world.admin.get(f"/registries/{registry_id}").json()
    assert got["url"] == distribution.url and got["credential"]["access_secret"] == ""
    # and back, with the secret: checked against the registry before it is stored
    wrong = world.admin.put(f"/registries/{registry_id}", {"url": distribution_auth.url, "access_secret": "nope"})
    assert wrong.status == 400
    assert world.admin.get(f"/registries/{registry_id}").json()["url"] == distribution.url
    assert world.admin.put(f"/registries/{registry_id}", {"url": distribution_auth.url, "access_secret": SECRET}).status == 200
    assert world.admin.get(f"/registries/{registry_id}").json()["credential"]["access_secret"] == "*****"
    assert world.admin.put("/registries/999999", {"description": "x"}).status == 404


def test_ping_a_stored_registry_or_one_given(world, distribution_auth):
    registry_id = create(world, url=distribution_auth.url, credential={"access_key": USER, "access_secret": SECRET})
    assert world.admin.post("/registries/ping", {"id": registry_id}).status == 200
    # the stored secret with another key fails, and the registry reads unhealthy
    assert world.admin.post("/registries/ping", {"id": registry_id, "access_key": "someone"}).status == 400
    assert world.admin.get(f"/registries/{registry_id}").json()["status"] == "unhealthy"
    assert world.admin.post("/registries/ping", {"id": registry_id}).status == 200
    assert world.admin.get(f"/registries/{registry_id}").json()["status"] == "healthy"
    # a stored registry's address stands: a url given with its id is not where its secret goes
    assert world.admin.post("/registries/ping", {"id": registry_id, "url": "http://127.0.0.1:9"}).status == 200

    given = {"type": "docker-registry", "url": distribution_auth.url, "access_key": USER}
    assert world.admin.post("/registries/ping", {**given, "access_secret": SECRET}).status == 200
    assert world.admin.post("/registries/ping", {**given, "access_secret": "wrong"}).status == 400
    assert world.admin.post("/registries/ping", {"type": "docker-registry"}).json()["errors"][0]["message"] == \
        "type or url cannot be empty"
    assert world.admin.post("/registries/ping", {"id": 999999}).status == 404


def test_info_adapters_and_adapterinfos(world, distribution):
    registry_id = create(world, url=distribution.url)
    assert world.admin.get(f"/registries/{registry_id}/info").json() == {
        "type": "docker-registry", "description": "",
        "supported_resource_filters": [{"type": "name", "style": "input", "values": []},
                                       {"type": "tag", "style": "input", "values": []}],
        "supported_triggers": ["manual", "scheduled"],
    }
    assert world.admin.get("/replication/adapters").json() == ["docker-registry", "harbor"]
    assert world.admin.get("/replication/adapterinfos").json() == {"docker-registry": {}, "harbor": {}}


def test_only_system_administrators(world, distribution):
    registry_id = create(world, url=distribution.url)
    user = world.user()
    someone = world.as_(user.username)
    for method, path, body in [
        ("GET", "/registries", None), ("POST", "/registries", {"name": "x", "type": "docker-registry", "url": distribution.url}),
        ("GET", f"/registries/{registry_id}", None), ("PUT", f"/registries/{registry_id}", {"description": "x"}),
        ("DELETE", f"/registries/{registry_id}", None), ("POST", "/registries/ping", {"id": registry_id}),
        ("GET", f"/registries/{registry_id}/info", None), ("GET", "/replication/adapters", None),
        ("GET", "/replication/adapterinfos", None),
    ]:
        assert someone.request(method, path, body).status == 403, (method, path)
        assert world.anonymous.request(method, path, body).status == 401, (method, path)
    assert world.admin.get(f"/registries/{registry_id}").status == 200
