"""Runtime configuration (Harbor's adminserver): settings kept in SSM Parameter
Store under `<prefix>/config/<key>`, read through Powertools' parameters utility
with a short cache, so a change reaches every Lambda container within a minute.

Keys follow Harbor's configuration API names (auth_mode, ldap_url, ...).
"""
from __future__ import annotations

from typing import Any

DEFAULTS: dict[str, str] = {
    "auth_mode": "db_auth",  # or "ldap_auth"
    "token_expiration": "30",  # minutes
    "self_registration": "false",
    "project_creation_restriction": "adminonly",
}
AUTH_MODES = ("db_auth", "ldap_auth")


class RuntimeConfig:
    def __init__(self, ssm_client: Any, prefix: str, *, max_age: int = 60):
        self._ssm = ssm_client
        self._path = f"{prefix}/config"
        self._max_age = max_age
        self._provider = None

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

    @property
    def auth_mode(self) -> str:
        mode = self.get("auth_mode")
        return mode if mode in AUTH_MODES else "db_auth"

    @property
    def token_ttl_seconds(self) -> int:
        try:
            minutes = int(self.get("token_expiration"))
        except ValueError:
            minutes = 30
        return max(1, min(minutes, 24 * 60)) * 60
