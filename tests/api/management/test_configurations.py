"""/configurations: the runtime configuration in SSM, read and changed by system
administrators in Harbor's shape; a change applies at once in this container
(token lifetimes here; LDAP login against slapd in tests/ldap/management)."""
from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.api.management.conftest import codes
from tests.ldap_server import READER_DN

SERVICE = "berth-registry"
EXPECTED_KEYS = {
    "auth_mode", "self_registration", "project_creation_restriction", "token_expiration", "robot_token_duration",
    "audit_log_retention_days", "session_timeout", "ldap_url", "ldap_search_dn", "ldap_base_dn", "ldap_uid", "ldap_filter",
    "ldap_scope", "ldap_timeout", "ldap_verify_cert", "ldap_start_tls", "ldap_group_base_dn",
    "ldap_group_search_filter", "ldap_group_membership_attribute", "ldap_group_member_attribute",
    # login throttling (docs/security.md)
    "login_throttle_enabled", "login_failures_before_delay", "login_source_failures_before_delay",
    "login_account_failures_before_delay", "login_max_delay_seconds", "login_failure_window_minutes",
    "failed_login_audit_per_minute", "proxy_cache_check_interval", "proxy_cache_inline_copy_bytes", "quota_warning_percent",
}


def stored(world) -> dict[str, dict]:
    """Every parameter under <prefix>/config, straight from SSM: {key: {"Type", "Value"}}."""
    path = f"{world.svc.settings.ssm_prefix}/config"
    pages = world.svc.ssm.get_paginator("get_parameters_by_path").paginate(Path=path, WithDecryption=True)
    return {p["Name"].rsplit("/", 1)[1]: {"Type": p["Type"], "Value": p["Value"]} for page in pages for p in page["Parameters"]}


def token_reply(world, user: str, password: str):
    from tests.api.management.conftest import basic

    query = urlencode({"service": SERVICE, "scope": "repository:library/app:pull"})
    return world.api.get(f"/v2/service/token?{query}", headers={"Authorization": basic(user, password)})


@pytest.fixture
def restored(world, admin):
    """Puts back what a test changed: db_auth, no LDAP settings, the default lifetimes."""
    yield
    reply = admin.put("/configurations", {"auth_mode": "db_auth", "token_expiration": 30})
    assert reply.status == 200, reply.body
    for key in stored(world):
        world.svc.ssm.delete_parameter(Name=f"{world.svc.settings.ssm_prefix}/config/{key}")
    world.svc.runtime_config.forget()


def test_admin_reads_every_key_typed_and_editable(admin):
    reply = admin.get("/configurations")
    assert reply.status == 200
    body = reply.json()
    assert set(body) == EXPECTED_KEYS
    assert all(set(item) == {"value", "editable"} and item["editable"] is True for item in body.values())
    values = {key: item["value"] for key, item in body.items()}
    assert values["auth_mode"] == "db_auth"
    assert values["self_registration"] is False
    assert values["project_creation_restriction"] == "adminonly"
    assert values["token_expiration"] == 30
    assert values["robot_token_duration"] == 30
    assert values["audit_log_retention_days"] == 90
    assert values["session_timeout"] == 60
    assert values["ldap_url"] == ""
    assert values["ldap_uid"] == "uid"
    assert values["ldap_scope"] == 2
    assert values["ldap_timeout"] == 5
    assert values["ldap_verify_cert"] is True and values["ldap_start_tls"] is False


def test_non_admins_are_refused_and_anonymous_callers_must_log_in(world):
    world.user("config-reader")
    reader = world.as_("config-reader")
    assert codes(reader.get("/configurations")) == ["FORBIDDEN"]
    assert codes(reader.put("/configurations", {"token_expiration": 1})) == ["FORBIDDEN"]
    assert world.anonymous.get("/configurations").status == 401
    assert world.anonymous.put("/configurations", {"token_expiration": 1}).status == 401
    assert "token_expiration" not in stored(world)


@pytest.mark.parametrize(
    "body, says",
    [
        ({"token_expiration": 60, "no_such_key": "x"}, "unknown field no_such_key"),
        ({"token_expiration": "60"}, "token_expiration must be an integer"),
        ({"token_expiration": 0}, "token_expiration must be at least 1"),
        ({"self_registration": "yes", "token_expiration": 60}, "self_registration must be a boolean"),
        ({"auth_mode": "oidc_auth"}, "auth_mode must be one of"),
        ({"ldap_scope": "subtree"}, "ldap_scope must be an integer"),
        ({"auth_mode": "ldap_auth", "ldap_url": "http://ldap.example.com", "token_expiration": 60}, "ldap_url"),
        ({"auth_mode": "ldap_auth", "token_expiration": 60}, "ldap_url: required"),
        ({"ldap_base_dn": "dc=example,dc=org"}, "ldap_url: required"),
        ({"ldap_url": "ldap://ldap.example.com", "ldap_filter": "(uid=x"}, "ldap_filter"),
        ({"ldap_url": "ldap://ldap.example.com", "ldap_search_dn": READER_DN}, "ldap_search_password: required"),
        ({"ldap_url": "ldap://ldap.example.com", "ldap_search_password": "{{ssm:/other}}"}, "ldap_search_password"),
    ],
)
def test_bad_settings_are_400_and_nothing_is_written(world, admin, body, says):
    before = stored(world)
    reply = admin.put("/configurations", body)
    assert reply.status == 400, reply.body
    assert codes(reply) == ["BAD_REQUEST"]
    assert says in reply.json()["errors"][0]["message"]
    assert stored(world) == before
    assert admin.get("/configurations").json()["token_expiration"]["value"] == 30


def test_token_expiration_applies_to_the_next_token(world, admin, restored):
    assert token_reply(world, "admin", "Admin-Passw0rd").json()["expires_in"] == 30 * 60
    assert admin.put("/configurations", {"token_expiration": 7}).status == 200
    assert stored(world)["token_expiration"] == {"Type": "String", "Value": "7"}
    assert token_reply(world, "admin", "Admin-Passw0rd").json()["expires_in"] == 7 * 60
    assert admin.get("/configurations").json()["token_expiration"] == {"value": 7, "editable": True}


def test_an_empty_update_changes_nothing(world, admin):
    before = stored(world)
    assert admin.put("/configurations", {}).status == 200
    assert stored(world) == before


def test_forget_drops_the_cached_values(world):
    config = world.svc.runtime_config
    assert config.get("robot_token_duration") == ""
    name = f"{world.svc.settings.ssm_prefix}/config/robot_token_duration"
    world.svc.ssm.put_parameter(Name=name, Value="9", Type="String")
    try:
        assert config.get("robot_token_duration") == ""  # cached for up to a minute
        config.forget()
        assert config.get("robot_token_duration") == "9"
    finally:
        world.svc.ssm.delete_parameter(Name=name)
        config.forget()
