"""Replication policies in DynamoDB (key layout: keys.py): one partition, listed with
one Query (a deployment has tens, not thousands), each name claimed by an item written
in the same transaction. The rules a policy must follow are chalicelib/replication/rules.py's.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from chalicelib.meta import keys
from chalicelib.meta.table import Table, delete_op, put_op

LOCAL = 0  # the registry id of this Berth in a policy (Harbor's: no registry)


class PolicyNameTaken(Exception):
    """another policy has this name"""


@dataclass(frozen=True)
class Filter:
    type: str  # "name" | "tag" | "resource"
    value: str
    decoration: str = ""  # tag filters: "matches" (default) | "excludes"


@dataclass(frozen=True)
class ReplicationPolicy:
    name: str
    src_registry_id: int = LOCAL
    dest_registry_id: int = LOCAL
    description: str = ""
    dest_namespace: str = ""
    dest_namespace_replace_count: int = -1  # Harbor's: -1 legacy (namespace replaces all but the last part)
    trigger: str = "manual"  # "manual" | "scheduled" | "event_based"
    cron: str = ""  # Harbor's 6-field cron, for "scheduled"
    filters: tuple[Filter, ...] = field(default_factory=tuple)
    replicate_deletion: bool = False
    override: bool = True
    enabled: bool = True
    speed: int = 0  # KiB/s per task; 0 or -1: no limit
    copy_by_chunk: bool = False
    single_active_replication: bool = False
    creator: str = ""
    created: float = 0
    updated: float = 0
    policy_id: int = 0

    @property
    def push_based(self) -> bool:
        return self.src_registry_id == LOCAL

    @property
    def remote_registry_id(self) -> int:
        return self.dest_registry_id if self.push_based else self.src_registry_id


class DynamoReplicationPolicies:
    def __init__(self, table: Table, clock):
        self._t = table
        self._clock = clock

    def create(self, policy: ReplicationPolicy) -> ReplicationPolicy:
        now = self._clock()
        created = replace(policy, policy_id=self._next_id(), created=now, updated=now)
        try:
            self._t.transact([put_op(_item(created), condition="attribute_not_exists(PK)"),
                              put_op(_name_item(created), condition="attribute_not_exists(PK)")])
        except ClientError as exc:
            if _cancelled(exc):
                raise PolicyNameTaken(policy.name) from None
            raise
        return created

    def get(self, policy_id: int) -> ReplicationPolicy | None:
        if policy_id <= 0:
            return None
        item = self._t.get(keys.REPLICATION_POLICIES_PK, keys.replication_policy_sk(policy_id), consistent=True)
        return _policy(item) if item else None

    def list(self) -> list[ReplicationPolicy]:
        return [_policy(i) for i in self._t.query_all(keys.REPLICATION_POLICIES_PK, low="0", high="9~")]

    def update(self, current: ReplicationPolicy, updated: ReplicationPolicy) -> ReplicationPolicy:
        """KeyError if the policy is gone, PolicyNameTaken for a name in use."""
        stored = replace(updated, policy_id=current.policy_id, created=current.created, creator=current.creator,
                         updated=self._clock())
        operations = [put_op(_item(stored), condition="attribute_exists(PK)")]
        if stored.name != current.name:
            operations += [put_op(_name_item(stored), condition="attribute_not_exists(PK)"),
                           delete_op(keys.replication_policy_name_pk(current.name), keys.REPLICATION_POLICY_NAME_SK)]
        try:
            self._t.transact(operations)
        except ClientError as exc:
            if _cancelled(exc):
                reasons = exc.response.get("CancellationReasons") or []
                if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                    raise KeyError(current.policy_id) from None
                raise PolicyNameTaken(updated.name) from None
            raise
        return stored

    def delete(self, policy: ReplicationPolicy) -> None:
        self._t.transact([delete_op(keys.REPLICATION_POLICIES_PK, keys.replication_policy_sk(policy.policy_id)),
                          delete_op(keys.replication_policy_name_pk(policy.name), keys.REPLICATION_POLICY_NAME_SK)])

    def _next_id(self) -> int:
        out = self._t.client.update_item(
            TableName=self._t.name,
            Key=keys.key(keys.COUNTER_PK, "replication_policy"),
            UpdateExpression="ADD last_id :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(out["Attributes"]["last_id"]["N"])


def _cancelled(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "TransactionCanceledException"


_PLAIN = ("name", "src_registry_id", "dest_registry_id", "description", "dest_namespace", "dest_namespace_replace_count",
          "trigger", "cron", "replicate_deletion", "override", "enabled", "speed", "copy_by_chunk",
          "single_active_replication", "creator", "policy_id")


def _item(policy: ReplicationPolicy) -> dict[str, Any]:
    item: dict[str, Any] = {"PK": keys.REPLICATION_POLICIES_PK, "SK": keys.replication_policy_sk(policy.policy_id)}
    item.update({f: getattr(policy, f) for f in _PLAIN})
    item["filters"] = [{"type": f.type, "value": f.value, "decoration": f.decoration} for f in policy.filters]
    item["created"] = Decimal(str(round(policy.created, 6)))
    item["updated"] = Decimal(str(round(policy.updated, 6)))
    return item


def _name_item(policy: ReplicationPolicy) -> dict[str, Any]:
    return {"PK": keys.replication_policy_name_pk(policy.name), "SK": keys.REPLICATION_POLICY_NAME_SK,
            "policy_id": policy.policy_id}


def _policy(item: dict[str, Any]) -> ReplicationPolicy:
    values: dict[str, Any] = {f: item[f] for f in _PLAIN if f in item}
    for number in ("src_registry_id", "dest_registry_id", "dest_namespace_replace_count", "speed", "policy_id"):
        if number in values:
            values[number] = int(values[number])
    values["filters"] = tuple(Filter(f["type"], f["value"], f.get("decoration", "")) for f in item.get("filters") or [])
    return ReplicationPolicy(**values, created=float(item.get("created", 0)), updated=float(item.get("updated", 0)))
