"""Runtime configuration (Harbor's adminserver): settings kept in SSM Parameter
Store under `<prefix>/config/<key>`, read through Powertools' parameters utility
with a short cache, so a change reaches every Lambda container within a minute.

Keys follow Harbor's configuration API names (auth_mode, ldap_url, ...).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

_TRUE = frozenset({"true", "1", "t", "yes", "on"})
_FALSE = frozenset({"false", "0", "f", "no", "off"})
# LDAP's scope may be stored by name or number; answered as Harbor's number
_SCOPES = {"base": 0, "onelevel": 1, "one": 1, "level": 1, "subtree": 2, "sub": 2}
MAX_TEXT = 1024  # characters; at most 4 KiB of UTF-8, SSM's limit for a standard parameter


@dataclass(frozen=True)
class Setting:
    """One runtime setting: its key (Harbor's name where Harbor has one), its JSON type,
    the value that applies while it is not set, its bounds, and whether it is a secret
    (stored as a SecureString, never answered)."""

    key: str
    type: str  # "string" | "boolean" | "integer"
    default: Any
    description: str = ""
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[Any, ...] = ()
    secret: bool = False

    def schema(self) -> dict[str, Any]:
        """The JSON Schema of its value (the configuration API's body and OpenAPI document)."""
        out: dict[str, Any] = {"type": self.type}
        if self.type == "string":
            out["maxLength"] = MAX_TEXT
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.choices:
            out["enum"] = list(self.choices)
        if self.secret:
            out["writeOnly"] = True  # set, never answered (the console shows a password field)
        if self.description:
            out["description"] = self.description
        return out

    def parse(self, stored: str | None) -> Any:
        """A stored (string) value as its type: the default if unset or unreadable, the nearest bound if out of bounds."""
        if stored is None or not str(stored).strip():
            return self.default
        text = str(stored).strip()
        if self.type == "boolean":
            lower = text.lower()
            return True if lower in _TRUE else False if lower in _FALSE else self.default
        if self.type == "integer":
            if self.key == "ldap_scope" and text.lower() in _SCOPES:
                return _SCOPES[text.lower()]
            try:
                value = int(text)
            except ValueError:
                return self.default
            # out of bounds: the nearest bound (a stored value is checked on write; SSM may be edited by hand)
            if self.minimum is not None:
                value = max(self.minimum, value)
            if self.maximum is not None:
                value = min(self.maximum, value)
        else:
            value = str(stored)  # type: ignore[assignment]  # a string setting
        if self.choices and value not in self.choices:
            return self.default
        return value


def _int(key: str, default: int, low: int, high: int, description: str = "") -> Setting:
    return Setting(key, "integer", default, description, minimum=low, maximum=high)


def _text(key: str, default: str = "", description: str = "", *, secret: bool = False) -> Setting:
    return Setting(key, "string", default, description, secret=secret)


# The one table of runtime settings: the configuration API renders it (and checks every
# change against it), the services read their values through RuntimeConfig.typed, and the
# console takes types and bounds from the OpenAPI document built from it.
SETTINGS: tuple[Setting, ...] = (
    Setting("auth_mode", "string", "db_auth", "db_auth or ldap_auth", choices=("db_auth", "ldap_auth")),
    Setting("self_registration", "boolean", False, "anyone may create a database account"),
    Setting("project_creation_restriction", "string", "adminonly", "who may create projects", choices=("adminonly", "everyone")),
    _int("token_expiration", 30, 1, 24 * 60, "registry tokens' lifetime, minutes"),
    _int("robot_token_duration", 30, 1, 100 * 366, "a new robot account's lifetime, days"),
    _int("audit_log_retention_days", 90, 1, 3650, "how long audit entries are kept, days"),
    _int("session_timeout", 60, 1, 7 * 24 * 60, "web-console session, minutes"),
    # Berth's own: how often a proxy cache asks its upstream (one HEAD) whether a tag moved (docs/proxy-cache.md)
    _int("proxy_cache_check_interval", 300, 0, 7 * 24 * 3600, "seconds a proxy cache serves a cached tag before asking the upstream again"),
    # Berth's own: a blob above this size is copied by a background function, not within the
    # pull's request (API Gateway ends a request at 29 s; docs/decisions/proxy-cache-big-layers.md)
    _int("proxy_cache_inline_copy_bytes", 256 * 1024 * 1024, 0, 4 * 1024 * 1024 * 1024,
         "a proxy cache copies blobs up to this size within the pull's request; bigger ones in the background"),
    # Harbor's QUOTA_WARNING bar (85% in Harbor's console): a push that takes a project's usage
    # to this share of its limit sends berth.quota.warning (docs/lifecycle.md)
    _int("quota_warning_percent", 85, 1, 100, "percent of a project's storage limit at which a push sends a quota warning"),
    # Berth's own: login throttling (chalicelib/auth/throttle.py, docs/security.md)
    Setting("login_throttle_enabled", "boolean", True, "slow down repeated failed logins"),
    _int("login_failures_before_delay", 5, 1, 1000, "failed logins of one account from one source before each further one waits (doubling)"),
    _int("login_source_failures_before_delay", 20, 1, 100000, "failed logins from one source address, any accounts, before delays"),
    _int("login_account_failures_before_delay", 50, 1, 100000, "failed logins of one account, any sources, before delays (known-good sources exempt)"),
    _int("login_max_delay_seconds", 300, 1, 3600, "the longest wait after failed logins"),
    _int("login_failure_window_minutes", 15, 1, 24 * 60, "failures are forgotten this long after the last one"),
    _int("failed_login_audit_per_minute", 60, 0, 10000, "failed-login audit entries written per minute, all sources together"),
    # LDAP (chalicelib/auth/ldap.py checks them as a whole; ldap_start_tls and
    # ldap_group_member_attribute are Berth's own)
    _text("ldap_url"),
    _text("ldap_search_dn", description="the account that searches; empty: anonymous"),
    _text("ldap_search_password", description="write-only: never answered", secret=True),
    _text("ldap_base_dn"),
    _text("ldap_uid", "uid"),
    _text("ldap_filter"),
    Setting("ldap_scope", "integer", 2, "0 base, 1 onelevel, 2 subtree", choices=(0, 1, 2)),
    _int("ldap_timeout", 5, 1, 300, "seconds"),
    Setting("ldap_verify_cert", "boolean", True),
    Setting("ldap_start_tls", "boolean", False),
    _text("ldap_group_base_dn", description="empty: groups are not searched"),
    _text("ldap_group_search_filter", "(objectClass=groupOfNames)"),
    _text("ldap_group_membership_attribute", "memberOf", "on the user: its groups' DNs; empty: not read"),
    _text("ldap_group_member_attribute", "member", "on the group: its members' DNs"),
)
SETTING: dict[str, Setting] = {s.key: s for s in SETTINGS}
SECRETS = frozenset(s.key for s in SETTINGS if s.secret)
AUTH_MODES = SETTING["auth_mode"].choices
# what an unset key reads as through values() (stored strings)
DEFAULTS: dict[str, str] = {
    s.key: ("true" if s.default else "false") if s.type == "boolean" else str(s.default)
    for s in SETTINGS
    if s.key in ("auth_mode", "token_expiration", "self_registration", "project_creation_restriction")
}


class RuntimeConfig:
    def __init__(self, ssm_client: Any, prefix: str, *, max_age: int = 60):
        self._ssm = ssm_client
        self._path = f"{prefix}/config"
        self._max_age = max_age
        self._provider: Any = None  # powertools' SSMProvider, built on first use

    def values(self) -> dict[str, str]:
        if self._provider is None:
            from aws_lambda_powertools.utilities.parameters import SSMProvider

            self._provider = SSMProvider(boto3_client=self._ssm)
        stored = self._provider.get_multiple(self._path, max_age=self._max_age, decrypt=True, recursive=False)
        return {**DEFAULTS, **{k: str(v) for k, v in stored.items()}}

    def forget(self) -> None:
        """Drop the cached values, so the next read goes to SSM: called after this
        container writes a setting (other containers see it within max_age)."""
        if self._provider is not None:
            self._provider.clear_cache()

    def get(self, key: str) -> str:
        return self.values().get(key, "")

    def typed(self, key: str) -> Any:
        """A setting's value as its type (SETTINGS), its default while unset or unreadable."""
        return SETTING[key].parse(self.values().get(key))

    @property
    def auth_mode(self) -> str:
        return self.typed("auth_mode")

    @property
    def token_ttl_seconds(self) -> int:
        return self.typed("token_expiration") * 60


class MemoryRuntimeConfig(RuntimeConfig):
    """The runtime settings in memory, for fast tests of the code that reads them: `stored`
    holds what SSM would (key -> text); a change is seen at once (no cache to forget)."""

    def __init__(self, stored: dict[str, str] | None = None):
        self.stored = dict(stored or {})

    def values(self) -> dict[str, str]:
        return {**DEFAULTS, **self.stored}

    def forget(self) -> None:
        pass
