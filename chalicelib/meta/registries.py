"""The remote registries of replication (Harbor's "registry endpoints") in DynamoDB,
their access secrets in SSM as SecureStrings (key layout: keys.py).

A registry item holds what may be shown (name, type, URL, credential type, access
key); its access secret lives only in SSM under `<prefix>/registries/<id>` and is read
when a client of that registry is made (`secret`), never by the API's renderers.
Names are unique: the registry and the claim on its name are written in one transaction.

`RegistryStore` is the contract the domain and the API are written against; `DynamoRegistries`
keeps it in DynamoDB and SSM, `MemoryRegistries` in memory (for fast tests of the code that
uses it); tests/contract/test_registry_store.py runs the same suite over both.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Protocol

from botocore.exceptions import ClientError

from chalicelib.meta import keys
from chalicelib.meta.table import Table, delete_op, put_op


class NameTaken(Exception):
    """another registry has this name"""


@dataclass(frozen=True)
class Registry:
    name: str
    type: str  # Harbor's adapter type: "docker-registry", "harbor"
    url: str
    insecure: bool = False
    description: str = ""
    credential_type: str = ""  # "basic" when a credential is set
    access_key: str = ""
    has_secret: bool = False  # an access secret is stored in SSM
    ca_certificate: str = ""
    status: str = "unknown"  # Harbor's: "healthy" | "unhealthy" | "unknown", from the last check
    created: float = 0
    updated: float = 0
    registry_id: int = 0


class RegistryStore(Protocol):
    def create(self, registry: Registry, secret: str = "") -> Registry:
        """Store a new registry with the next id (and its secret); NameTaken if the name is in use."""
        ...

    def get(self, registry_id: int) -> Registry | None: ...

    def list(self) -> list[Registry]:
        """Every registry, by id."""
        ...

    def update(self, current: Registry, updated: Registry, secret: str | None) -> Registry:
        """Replace `current` with `updated` (id and creation kept); `secret`: a new access
        secret, "" to remove it, None to keep it. KeyError if gone, NameTaken on a taken name."""
        ...

    def set_status(self, registry_id: int, status: str) -> None:
        """The last health check's result; nothing when the registry is gone."""
        ...

    def delete(self, registry: Registry) -> None: ...

    def secret(self, registry: Registry) -> str:
        """The access secret, "" when none is set."""
        ...


class DynamoRegistries:
    def __init__(self, table: Table, clock, secrets):
        self._t = table
        self._clock = clock
        self._secrets = secrets  # chalicelib.secrets.SsmSecretParameters (folder "registries")

    def create(self, registry: Registry, secret: str = "") -> Registry:
        """Store a new registry (and its secret); NameTaken if the name is in use."""
        now = self._clock()
        created = replace(registry, registry_id=self._next_id(), created=now, updated=now, has_secret=bool(secret))
        if secret:
            self._secrets.put(str(created.registry_id), secret)
        try:
            self._t.transact([
                put_op(_item(created), condition="attribute_not_exists(PK)"),
                put_op(_name_item(created), condition="attribute_not_exists(PK)"),
            ])
        except ClientError as exc:
            if secret:
                self._secrets.delete(str(created.registry_id))
            if _cancelled(exc):
                raise NameTaken(registry.name) from None
            raise
        return created

    def get(self, registry_id: int) -> Registry | None:
        if registry_id <= 0:
            return None
        item = self._t.get(keys.REGISTRIES_PK, keys.registry_sk(registry_id), consistent=True)
        return _registry(item) if item else None

    def list(self) -> list[Registry]:
        """Every registry, by id (one Query: a deployment has a handful)."""
        return [_registry(i) for i in self._t.query_all(keys.REGISTRIES_PK, low="0", high="9~")]

    def update(self, current: Registry, updated: Registry, secret: str | None) -> Registry:
        """Replace `current` with `updated`; `secret`: a new access secret, "" to remove
        it, None to keep it. KeyError if the registry is gone, NameTaken on a taken name."""
        has_secret = current.has_secret if secret is None else bool(secret)
        stored = replace(updated, registry_id=current.registry_id, created=current.created,
                         updated=self._clock(), has_secret=has_secret)
        operations = [put_op(_item(stored), condition="attribute_exists(PK)")]
        if stored.name != current.name:
            operations += [put_op(_name_item(stored), condition="attribute_not_exists(PK)"),
                           delete_op(keys.registry_name_pk(current.name), keys.REGISTRY_NAME_SK)]
        if secret:
            self._secrets.put(str(current.registry_id), secret)
        try:
            self._t.transact(operations)
        except ClientError as exc:
            if _cancelled(exc):
                reasons = exc.response.get("CancellationReasons") or []
                if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                    raise KeyError(current.registry_id) from None
                raise NameTaken(updated.name) from None
            raise
        if secret == "" and current.has_secret:
            self._secrets.delete(str(current.registry_id))
        return stored

    def set_status(self, registry_id: int, status: str) -> None:
        """The result of the last health check (a ping, an info)."""
        try:
            self._t.client.update_item(
                TableName=self._t.name,
                Key=keys.key(keys.REGISTRIES_PK, keys.registry_sk(registry_id)),
                UpdateExpression="SET #s = :s",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":s": {"S": status}},
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def delete(self, registry: Registry) -> None:
        self._t.transact([delete_op(keys.REGISTRIES_PK, keys.registry_sk(registry.registry_id)),
                          delete_op(keys.registry_name_pk(registry.name), keys.REGISTRY_NAME_SK)])
        if registry.has_secret:
            self._secrets.delete(str(registry.registry_id))

    def secret(self, registry: Registry) -> str:
        """The access secret (from SSM), "" when none is set."""
        return self._secrets.get(str(registry.registry_id)) if registry.has_secret else ""

    def _next_id(self) -> int:
        return self._t.next_id("registry")


class MemoryRegistries:
    """RegistryStore in memory: the same answers as DynamoRegistries, for fast tests."""

    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self._registries: dict[int, Registry] = {}
        self._secrets: dict[int, str] = {}
        self._last_id = 0

    def create(self, registry: Registry, secret: str = "") -> Registry:
        self._last_id += 1  # an id is used up even when the name is refused, as the counter does
        if any(r.name == registry.name for r in self._registries.values()):
            raise NameTaken(registry.name)
        now = self._clock()
        created = replace(registry, registry_id=self._last_id, created=now, updated=now, has_secret=bool(secret))
        self._registries[created.registry_id] = created
        if secret:
            self._secrets[created.registry_id] = secret
        return created

    def get(self, registry_id: int) -> Registry | None:
        return self._registries.get(registry_id)

    def list(self) -> list[Registry]:
        return [self._registries[k] for k in sorted(self._registries)]

    def update(self, current: Registry, updated: Registry, secret: str | None) -> Registry:
        if current.registry_id not in self._registries:
            raise KeyError(current.registry_id)
        if any(r.name == updated.name and r.registry_id != current.registry_id for r in self._registries.values()):
            raise NameTaken(updated.name)
        has_secret = current.has_secret if secret is None else bool(secret)
        stored = replace(updated, registry_id=current.registry_id, created=current.created,
                         updated=self._clock(), has_secret=has_secret)
        self._registries[current.registry_id] = stored
        if secret:
            self._secrets[current.registry_id] = secret
        elif secret == "":
            self._secrets.pop(current.registry_id, None)
        return stored

    def set_status(self, registry_id: int, status: str) -> None:
        if registry_id in self._registries:
            self._registries[registry_id] = replace(self._registries[registry_id], status=status)

    def delete(self, registry: Registry) -> None:
        self._registries.pop(registry.registry_id, None)
        self._secrets.pop(registry.registry_id, None)

    def secret(self, registry: Registry) -> str:
        return self._secrets.get(registry.registry_id, "") if registry.has_secret else ""


def _cancelled(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "TransactionCanceledException"


_FIELDS = ("name", "type", "url", "insecure", "description", "credential_type", "access_key", "has_secret",
           "ca_certificate", "status")


def _item(registry: Registry) -> dict[str, Any]:
    item: dict[str, Any] = {"PK": keys.REGISTRIES_PK, "SK": keys.registry_sk(registry.registry_id),
                            "registry_id": registry.registry_id}
    item.update({f: getattr(registry, f) for f in _FIELDS})
    item["created"] = Decimal(str(round(registry.created, 6)))
    item["updated"] = Decimal(str(round(registry.updated, 6)))
    return item


def _name_item(registry: Registry) -> dict[str, Any]:
    return {"PK": keys.registry_name_pk(registry.name), "SK": keys.REGISTRY_NAME_SK, "registry_id": registry.registry_id}


def _registry(item: dict[str, Any]) -> Registry:
    values = {f: item[f] for f in _FIELDS if f in item}
    return Registry(**values, registry_id=int(item["registry_id"]), created=float(item.get("created", 0)),
                    updated=float(item.get("updated", 0)))

