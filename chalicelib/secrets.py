"""Secrets kept in SSM Parameter Store as SecureStrings, read on first use.

All of them are fetched in one GetParameters call, once per container.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from botocore.exceptions import ClientError

from chalicelib.config import ConfigurationError

UPLOAD_TOKEN_KEY = "upload-token-key"
TOKEN_SIGNING_KEY = "token-signing-key"
ALL_SECRETS = (UPLOAD_TOKEN_KEY, TOKEN_SIGNING_KEY)


class Secrets(Protocol):
    def get(self, name: str) -> str:
        """The secret `name`; ConfigurationError naming its parameter when there is none.
        A value read is kept: a rotation is seen after `forget`."""
        ...

    def forget(self) -> None: ...


class SsmSecrets:
    def __init__(self, ssm_client: Any, prefix: str, names: Iterable[str] = ALL_SECRETS):
        self._ssm = ssm_client
        self._prefix = prefix
        self._names = tuple(names)
        self._cache: dict[str, str] | None = None

    def get(self, name: str) -> str:
        cache = self._cache
        if cache is None or name not in cache:
            cache = self._load(set(self._names) | {name})
        if name not in cache:
            raise ConfigurationError(
                f"SSM parameter {self._prefix}/{name} is missing; run the bootstrap step (see README)"
            )
        return cache[name]

    def forget(self) -> None:
        """Drop the values read, so the next `get` reads SSM again (after a rotation)."""
        self._cache = None

    def _load(self, names: set[str]) -> dict[str, str]:
        paths = {f"{self._prefix}/{n}": n for n in sorted(names)}
        try:
            out = self._ssm.get_parameters(Names=list(paths), WithDecryption=True)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            raise ConfigurationError(f"cannot read SSM parameters under {self._prefix}: {code}") from None
        cache = dict(self._cache or {})
        for parameter in out.get("Parameters", []):
            cache[paths[parameter["Name"]]] = parameter["Value"]
        self._cache = cache
        return cache


class MemorySecrets:
    """Secrets in memory, answering as SsmSecrets does (tests/contract/test_secrets.py):
    `parameters` is what SSM holds under the prefix, by name; a miss reads `names` and
    the one asked for, as SsmSecrets' one GetParameters does."""

    def __init__(self, prefix: str, parameters: Mapping[str, str] | None = None, names: Iterable[str] = ALL_SECRETS):
        self._prefix = prefix
        self._names = tuple(names)
        self.parameters = dict(parameters or {})
        self._cache: dict[str, str] = {}

    def get(self, name: str) -> str:
        if name not in self._cache:
            read = set(self._names) | {name}
            self._cache = {**self._cache, **{n: v for n, v in self.parameters.items() if n in read}}
        if name not in self._cache:
            raise ConfigurationError(
                f"SSM parameter {self._prefix}/{name} is missing; run the bootstrap step (see README)"
            )
        return self._cache[name]

    def forget(self) -> None:
        self._cache = {}


class SsmSecretParameters:
    """Secrets written at run time, one SecureString each under `<prefix>/<folder>/`
    (a remote registry's access secret): put, read once when needed, delete."""

    def __init__(self, ssm_client: Any, prefix: str, folder: str):
        self._ssm = ssm_client
        self._base = f"{prefix}/{folder}"

    def name(self, key: str) -> str:
        return f"{self._base}/{key}"

    def put(self, key: str, value: str) -> None:
        self._ssm.put_parameter(Name=self.name(key), Value=value, Type="SecureString", Overwrite=True)

    def get(self, key: str) -> str:
        """The secret, "" when there is none (GetParameters, as the other secrets are read)."""
        out = self._ssm.get_parameters(Names=[self.name(key)], WithDecryption=True)
        return next((p["Value"] for p in out.get("Parameters", [])), "")

    def delete(self, key: str) -> None:
        try:
            self._ssm.delete_parameter(Name=self.name(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ParameterNotFound":
                raise
