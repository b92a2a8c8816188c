"""The one table of runtime settings (chalicelib/runtime_config.py): typed values with
defaults and bounds, the same defaults the code that reads them falls back on."""
from __future__ import annotations

import dataclasses

import pytest

from chalicelib.auth.ldap import KEYS, LdapSettings
from chalicelib.auth.sessions import DEFAULT_TIMEOUT_MINUTES, MAX_TIMEOUT_MINUTES
from chalicelib.meta.audit import DEFAULT_RETENTION_DAYS
from chalicelib.runtime_config import SETTING, SETTINGS


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.key)
def test_a_default_is_a_valid_value_of_its_own_setting(setting):
    stored = ("true" if setting.default else "false") if setting.type == "boolean" else str(setting.default)
    assert setting.parse(stored) == setting.default
    assert setting.parse(None) == setting.default
    assert setting.parse("  ") == setting.default


def test_values_are_typed_and_checked():
    assert SETTING["token_expiration"].parse("45") == 45
    assert SETTING["token_expiration"].parse("0") == 1  # below the minimum: the minimum
    assert SETTING["token_expiration"].parse("ten") == 30
    assert SETTING["self_registration"].parse("TRUE") is True
    assert SETTING["self_registration"].parse("maybe") is False
    assert SETTING["auth_mode"].parse("ldap_auth") == "ldap_auth"
    assert SETTING["auth_mode"].parse("oidc_auth") == "db_auth"
    assert SETTING["ldap_scope"].parse("onelevel") == 1


def test_the_schema_carries_type_bounds_and_choices():
    assert SETTING["session_timeout"].schema() == {
        "type": "integer", "minimum": 1, "maximum": 7 * 24 * 60, "description": "web-console session, minutes"
    }
    assert SETTING["auth_mode"].schema()["enum"] == ["db_auth", "ldap_auth"]
    assert [s.key for s in SETTINGS if s.secret] == ["ldap_search_password"]
    # a secret says so, so that forms (the console's) show it as one
    assert [s.key for s in SETTINGS if s.schema().get("writeOnly")] == ["ldap_search_password"]


def test_the_readers_fall_back_on_the_tables_defaults():
    assert SETTING["session_timeout"].default == DEFAULT_TIMEOUT_MINUTES
    assert SETTING["session_timeout"].maximum == MAX_TIMEOUT_MINUTES
    assert SETTING["audit_log_retention_days"].default == DEFAULT_RETENTION_DAYS
    ldap = {f.name: f.default for f in dataclasses.fields(LdapSettings) if f.default is not dataclasses.MISSING}
    scopes = {"base": 0, "onelevel": 1, "subtree": 2}
    for key, field in KEYS.items():
        expected = scopes[ldap[field]] if key == "ldap_scope" else ldap.get(field, "")
        assert SETTING[key].default == expected, key
