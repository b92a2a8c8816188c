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

import logging
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.auth.ldap import KEYS, LdapSettings
from chalicelib.management.access import require_admin
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import BadRequest
from chalicelib.management.schema import boolean, obj
from chalicelib.management.spec import operation
from chalicelib.runtime_config import SECRETS, SETTING, SETTINGS
from chalicelib.web.http import Request, Response

logger = logging.getLogger("berth.management")

# key -> the schema of its value, from the one settings table (chalicelib/runtime_config.py)
SCHEMAS: dict[str, dict[str, Any]] = {setting.key: setting.schema() for setting in SETTINGS}
assert set(KEYS) <= set(SCHEMAS), "every LDAP key has a setting"

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
    return SETTING[key].parse(stored)


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
def get_configurations(svc: ManagementDependencies, req: Request) -> Response:
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
def update_configurations(svc: ManagementDependencies, req: Request, body: dict) -> Response:
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
