"""The remote registries of replication (Harbor's "registry endpoints") in DynamoDB,
their access secrets in SSM as SecureStrings (key layout: keys.py).

A registry item holds what may be shown (name, type, URL, credential type, access
key); its access secret lives only in SSM under `<prefix>/registries/<id>` and is read
when a client of that registry is made (`secret`), never by the API's renderers.
Names are unique: the registry and the claim on its name are written in one transaction.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

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

