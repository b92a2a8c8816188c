"""health, ping, systeminfo: answered before anyone logs in."""
from __future__ import annotations

from tests.api.management.conftest import ADMIN_PASSWORD, BASE, basic, clear_config, codes, set_config


def test_health_reports_each_component_without_credentials(world):
    reply = world.anonymous.get("/health")
    assert reply.status == 200
    body = reply.json()
    assert body["status"] == "healthy"
    assert {c["name"] for c in body["components"]} == {"core", "database", "storage"}
    assert all(c["status"] == "healthy" for c in body["components"])


def test_health_names_an_unhealthy_component(world, monkeypatch):
    from botocore.exceptions import ClientError

    def broken(**kwargs):
        raise ClientError({"Error": {"Code": "NoSuchBucket", "Message": "gone"}}, "HeadBucket")

    monkeypatch.setattr(world.svc.s3, "head_bucket", broken)
    body = world.anonymous.get("/health").json()
    assert body["status"] == "unhealthy"
    storage = next(c for c in body["components"] if c["name"] == "storage")
    assert storage == {"name": "storage", "status": "unhealthy", "error": "ClientError"}


def test_health_names_an_unreadable_database(world, monkeypatch):
    from botocore.exceptions import ClientError

    def refused(**kwargs):
        raise ClientError({"Error": {"Code": "AccessDeniedException", "Message": "no"}}, "GetItem")

    monkeypatch.setattr(world.svc.dynamodb, "get_item", refused)
    body = world.anonymous.get("/health").json()
    assert body["status"] == "unhealthy"
    database = next(c for c in body["components"] if c["name"] == "database")
    assert database == {"name": "database", "status": "unhealthy", "error": "StoreUnavailable"}


def test_ping_is_pong(world):
    reply = world.anonymous.get("/ping")
    assert reply.status == 200
    assert reply.body == b"Pong"
    assert reply.headers["content-type"].startswith("text/plain")


def test_systeminfo_for_anonymous_callers_is_short(world):
    body = world.anonymous.get("/systeminfo").json()
    assert body == {
        "auth_mode": "db_auth",
        "primary_auth_mode": False,
        "self_registration": False,
        "harbor_version": body["harbor_version"],
    }
    assert body["harbor_version"].startswith("berth-")


def test_systeminfo_for_a_user_names_the_registry(world):
    world.user("sysinfo-reader")
    body = world.as_("sysinfo-reader").get("/systeminfo", headers={"Host": "registry.example.com"}).json()
    assert body["registry_url"] == "registry.example.com"
    assert body["external_url"] == "https://registry.example.com"
    assert body["project_creation_restriction"] == "adminonly"
    assert body["registry_storage_provider_name"] == "s3"


def test_systeminfo_follows_the_runtime_configuration(world):
    set_config(world, "self_registration", "true")
    try:
        assert world.anonymous.get("/systeminfo").json()["self_registration"] is True
    finally:
        clear_config(world, "self_registration")


def test_wrong_credentials_are_401_even_where_anonymous_callers_are_welcome(world):
    reply = world.as_("admin", "wrong").get("/systeminfo")
    assert reply.status == 401
    assert codes(reply) == ["UNAUTHORIZED"]


def test_request_id_is_echoed(world):
    reply = world.anonymous.get("/ping", headers={"X-Request-Id": "abc-123"})
    assert reply.headers["x-request-id"] == "abc-123"
    assert world.anonymous.get("/ping").headers["x-request-id"]


def test_unknown_paths_are_harbor_404s(world):
    for path in ("/nothing", "/projects/x/nothing/here", ""):
        reply = world.admin.get(path)
        assert reply.status == 404, path
        assert codes(reply) == ["NOT_FOUND"]


def test_a_known_path_with_another_method_is_405_with_allow(world):
    reply = world.admin.request("PATCH", "/users")
    assert reply.status == 405
    assert codes(reply) == ["METHOD_NOT_ALLOWED"]
    assert reply.headers["allow"] == "GET, POST"


def test_every_route_but_the_public_ones_needs_credentials(world):
    for path in ("/users", "/projects", "/robots", "/users/current", "/projects/library/repositories"):
        reply = world.anonymous.get(path)
        assert reply.status == 401, path
        assert codes(reply) == ["UNAUTHORIZED"]


def test_malformed_and_foreign_credentials_are_401(world):
    for header in ("Bearer abc", "Basic !!!", "Basic " + "QQ==", basic("admin", ADMIN_PASSWORD + "x"), "Basic"):
        reply = world.api.get(BASE + "/users/current", headers={"Authorization": header})
        assert reply.status == 401, header
        assert codes(reply) == ["UNAUTHORIZED"]
