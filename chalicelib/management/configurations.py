"""/configurations: the runtime configuration (chalicelib/runtime_config.py), read
and changed by system administrators, in Harbor's shape.

GET answers every key the code reads as {"value": <typed>, "editable": true};
secrets (ldap_search_password) are never answered. PUT takes a flat object of
keys to change, checks all of them (types by the body schema, LDAP settings by
building LdapSettings on the result) before writing any, then writes each
changed key as the SSM parameter <prefix>/config/<key> (a secret as a
SecureString); an empty string clears a key (its default applies again).
This container's cache is dropped at once; the others see the change within
the cache's minute.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.auth.ldap import KEYS, SCOPE_ALIASES, LdapSettings
from chalicelib.auth.sessions import DEFAULT_TIMEOUT_MINUTES, MAX_TIMEOUT_MINUTES
from chalicelib.auth.throttle import LIMITS as THROTTLE_LIMITS
from chalicelib.auth.throttle import SETTINGS as THROTTLE_SETTINGS
from chalicelib.management.access import require_admin
from chalicelib.management.errors import BadRequest
from chalicelib.management.robots import DEFAULT_DURATION_DAYS, MAX_DURATION_DAYS
from chalicelib.management.schema import boolean, integer, obj, string
from chalicelib.management.spec import operation
from chalicelib.meta.audit import DEFAULT_RETENTION_DAYS
from chalicelib.runtime_config import AUTH_MODES, DEFAULTS
from chalicelib.web.http import Request, Response

logger = logging.getLogger("berth.management")

MAX_TEXT = 1024  # characters; at most 4 KiB of UTF-8, SSM's limit for a standard parameter
SECRETS = frozenset({"ldap_search_password"})
_TRUE = {"true", "1", "t", "yes", "on"}
_FALSE = {"false", "0", "f", "no", "off"}
_SCOPE_NUMBERS = {"base": 0, "onelevel": 1, "subtree": 2}


def _text(**extra: Any) -> dict[str, Any]:
    return string(maxLength=MAX_TEXT, **extra)


# key -> the schema of its value (Harbor's types; ldap_start_tls and
# ldap_group_member_attribute are Berth's own)
SCHEMAS: dict[str, dict[str, Any]] = {
    "auth_mode": string(enum=list(AUTH_MODES)),
    "self_registration": boolean(),
    "project_creation_restriction": string(enum=["adminonly", "everyone"]),
    "token_expiration": integer(minimum=1, maximum=24 * 60, description="minutes"),
    "robot_token_duration": integer(minimum=1, maximum=MAX_DURATION_DAYS, description="days"),
    "audit_log_retention_days": integer(minimum=1, maximum=3650),
    "session_timeout": integer(minimum=1, maximum=MAX_TIMEOUT_MINUTES, description="web-console session, minutes"),
    # Berth's own: login throttling (chalicelib/auth/throttle.py, docs/security.md)
    "login_throttle_enabled": boolean(description="slow down repeated failed logins"),
    "login_failures_before_delay": integer(
        minimum=THROTTLE_LIMITS["login_failures_before_delay"][0],
        maximum=THROTTLE_LIMITS["login_failures_before_delay"][1],
        description="failed logins of one account from one source before each further one waits (doubling)",
    ),
    "login_source_failures_before_delay": integer(
        minimum=THROTTLE_LIMITS["login_source_failures_before_delay"][0],
        maximum=THROTTLE_LIMITS["login_source_failures_before_delay"][1],
        description="failed logins from one source address, any accounts, before delays",
    ),
    "login_account_failures_before_delay": integer(
        minimum=THROTTLE_LIMITS["login_account_failures_before_delay"][0],
        maximum=THROTTLE_LIMITS["login_account_failures_before_delay"][1],
        description="failed logins of one account, any sources, before delays (known-good sources exempt)",
    ),
    "login_max_delay_seconds": integer(
        minimum=THROTTLE_LIMITS["login_max_delay_seconds"][0],
        maximum=THROTTLE_LIMITS["login_max_delay_seconds"][1],
        description="the longest wait after failed logins",
    ),
    "login_failure_window_minutes": integer(
        minimum=THROTTLE_LIMITS["login_failure_window_minutes"][0],
        maximum=THROTTLE_LIMITS["login_failure_window_minutes"][1],
        description="failures are forgotten this long after the last one",
    ),
    "failed_login_audit_per_minute": integer(
        minimum=THROTTLE_LIMITS["failed_login_audit_per_minute"][0],
        maximum=THROTTLE_LIMITS["failed_login_audit_per_minute"][1],
        description="failed-login audit entries written per minute, all sources together",
    ),
    "ldap_url": _text(),
    "ldap_search_dn": _text(),
    "ldap_search_password": _text(description="write-only: never answered"),
    "ldap_base_dn": _text(),
    "ldap_uid": _text(),
    "ldap_filter": _text(),
    "ldap_scope": integer(enum=[0, 1, 2], description="0 base, 1 onelevel, 2 subtree"),
    "ldap_timeout": integer(minimum=1, maximum=300, description="seconds"),
    "ldap_verify_cert": boolean(),
    "ldap_start_tls": boolean(),
    "ldap_group_base_dn": _text(),
    "ldap_group_search_filter": _text(),
    "ldap_group_membership_attribute": _text(),
    "ldap_group_member_attribute": _text(),
}
assert set(KEYS) <= set(SCHEMAS), "every LDAP key has a schema"


def _ldap_defaults() -> dict[str, Any]:
    fields = {f.name: f.default for f in dataclasses.fields(LdapSettings) if f.default is not dataclasses.MISSING}
    out: dict[str, Any] = {key: fields.get(name, "") for key, name in KEYS.items()}
    out["ldap_scope"] = _SCOPE_NUMBERS[out["ldap_scope"]]
    return out


# what the code uses when a key is not set
_DEFAULTS: dict[str, Any] = {
    "auth_mode": DEFAULTS["auth_mode"],
    "self_registration": DEFAULTS["self_registration"] == "true",
    "project_creation_restriction": DEFAULTS["project_creation_restriction"],
    "token_expiration": int(DEFAULTS["token_expiration"]),
    "robot_token_duration": DEFAULT_DURATION_DAYS,
    "audit_log_retention_days": DEFAULT_RETENTION_DAYS,
    "session_timeout": DEFAULT_TIMEOUT_MINUTES,
    **THROTTLE_SETTINGS,
    **_ldap_defaults(),
}

CONFIGURATIONS = {
    "type": "object",
    "properties": {
        key: {
            "type": "object",
            "properties": {"value": {"type": schema["type"]}, "editable": boolean()},
            "required": ["value", "editable"],
        }
        for key, schema in SCHEMAS.items()
        if key not in SECRETS
    },
}
UPDATE = obj(SCHEMAS, description="The keys to change; an empty string clears a key (its default applies)")


def typed(key: str, stored: str | None) -> Any:
    """A stored (string) value as its key's JSON type; the default if unset or unreadable."""
    default = _DEFAULTS[key]
    if stored is None or not stored.strip():
        return default
    kind = SCHEMAS[key]["type"]
    text = stored.strip().lower()
    if key == "ldap_scope":
        alias = SCOPE_ALIASES.get(text)
        return _SCOPE_NUMBERS[alias] if alias else default
    if kind == "boolean":
        return True if text in _TRUE else False if text in _FALSE else default
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            return default
    return stored


def stored_form(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@operation(
    "getConfigurations",
    "The runtime configuration (system administrators); secrets are never answered",
    "configure",
    response=CONFIGURATIONS,
    errors=(403,),
)
def get_configurations(svc, req: Request) -> Response:
    require_admin(req)
    values = svc.runtime_config.values()
    body = {key: {"value": typed(key, values.get(key)), "editable": True} for key in SCHEMAS if key not in SECRETS}
    return Response.json(200, body)


@operation(
    "updateConfigurations",
    "Change runtime settings (system administrators): every key is checked before any is written",
    "configure",
    body=UPDATE,
    errors=(403,),
)
def update_configurations(svc, req: Request, body: dict) -> Response:
    require_admin(req)
    config = svc.runtime_config
    config.forget()  # check against what is stored now, not a minute-old copy
    current = config.values()
    changes = {key: stored_form(value) for key, value in body.items()}
    for key, value in changes.items():
        if "{{" in value:  # SSM refuses values that look like parameter references
            raise BadRequest(f"{key}: must not contain '{{{{'")
    merged = {**current, **changes}
    if changes.get("auth_mode") == "ldap_auth" or any(key.startswith("ldap_") for key in changes):
        try:
            LdapSettings.from_mapping(merged)
        except ValueError as e:
            raise BadRequest(f"LDAP settings: {e}") from None
    prefix = f"{svc.settings.ssm_prefix}/config"
    written = []
    try:
        for key, value in changes.items():
            if value == current.get(key, ""):
                continue  # unchanged (or clearing what is not set): no call, SSM's write rate is low
            name = f"{prefix}/{key}"
            if value:
                kind = "SecureString" if key in SECRETS else "String"
                svc.ssm.put_parameter(Name=name, Value=value, Type=kind, Overwrite=True)
            else:
                try:
                    svc.ssm.delete_parameter(Name=name)
                except ClientError as e:
                    if e.response.get("Error", {}).get("Code") != "ParameterNotFound":
                        raise
            written.append(key)
    finally:
        config.forget()
        if written:
            logger.info("configuration changed", extra={"keys": written})
    return Response.empty(200)
