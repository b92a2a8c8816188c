"""A thin layer over the low-level DynamoDB client: marshalling and paging.

The low-level client (not the boto3 resource) keeps cold start small.
"""
from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from chalicelib.meta import keys

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def marshal(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in item.items() if v is not None}


def unmarshal(item: dict[str, Any]) -> dict[str, Any]:
    out = {k: _deserializer.deserialize(v) for k, v in item.items()}
    for k, v in out.items():
        if hasattr(v, "value") and isinstance(v.value, bytes):
            out[k] = v.value  # Binary -> bytes
        elif type(v).__name__ == "Decimal":
            out[k] = int(v) if v == v.to_integral_value() else float(v)
    return out


def is_condition_failure(exc: ClientError) -> bool:
    code = exc.response.get("Error", {}).get("Code")
    if code == "ConditionalCheckFailedException":
        return True
    if code == "TransactionCanceledException":
        reasons = exc.response.get("CancellationReasons") or []
        return any(r.get("Code") == "ConditionalCheckFailed" for r in reasons)
    return False


class Table:
    def __init__(self, client: Any, name: str):
        self.client = client
        self.name = name

    def get(self, pk: str, sk: str, *, consistent: bool = False, projection: str | None = None) -> dict | None:
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "Key": {"PK": {"S": pk}, "SK": {"S": sk}},
            "ConsistentRead": consistent,
        }
        if projection:
            kwargs["ProjectionExpression"] = projection
        out = self.client.get_item(**kwargs)
        item = out.get("Item")
        return unmarshal(item) if item else None

    def put(self, item: dict[str, Any], *, condition: str | None = None, values: dict | None = None, names: dict | None = None) -> None:
        kwargs: dict[str, Any] = {"TableName": self.name, "Item": marshal(item)}
        if condition:
            kwargs["ConditionExpression"] = condition
        if values:
            kwargs["ExpressionAttributeValues"] = marshal(values)
        if names:
            kwargs["ExpressionAttributeNames"] = names
        self.client.put_item(**kwargs)

    def next_id(self, kind: str) -> int:
        """The next of a kind's integer ids (Harbor's ids: projects, users, labels, ...): one
        atomic ADD on its counter item, never handed out twice, gaps allowed."""
        out = self.client.update_item(
            TableName=self.name,
            Key=keys.key(keys.COUNTER_PK, kind),
            UpdateExpression="ADD last_id :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
            ReturnValues="UPDATED_NEW",
        )
        return int(out["Attributes"]["last_id"]["N"])

    def delete(self, pk: str, sk: str, *, return_old: bool = False) -> dict | None:
        out = self.client.delete_item(
            TableName=self.name,
            Key={"PK": {"S": pk}, "SK": {"S": sk}},
            ReturnValues="ALL_OLD" if return_old else "NONE",
        )
        old = out.get("Attributes")
        return unmarshal(old) if old else None

    def query_page(
        self,
        pk: str,
        *,
        low: str,
        high: str,
        limit: int,
        projection: str | None = None,
        names: dict | None = None,
    ) -> list[dict[str, Any]]:
        """Items of partition `pk` with low <= SK <= high, in order, at most `limit`."""
        items: list[dict[str, Any]] = []
        for item in self.query_all(pk, low=low, high=high, projection=projection, names=names, page_size=limit):
            items.append(item)
            if len(items) >= limit:
                break
        return items

    def query_all(
        self,
        pk: str,
        *,
        low: str,
        high: str,
        projection: str | None = None,
        names: dict | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Items of partition `pk` with low <= SK <= high, in order, fetched lazily."""
        start: dict | None = None
        while True:
            kwargs: dict[str, Any] = {
                "TableName": self.name,
                "KeyConditionExpression": "PK = :pk AND SK BETWEEN :lo AND :hi",
                "ExpressionAttributeValues": {":pk": {"S": pk}, ":lo": {"S": low}, ":hi": {"S": high}},
            }
            if page_size:
                kwargs["Limit"] = page_size
            if projection:
                kwargs["ProjectionExpression"] = projection
            if names:
                kwargs["ExpressionAttributeNames"] = names
            if start:
                kwargs["ExclusiveStartKey"] = start
            out = self.client.query(**kwargs)
            yield from (unmarshal(i) for i in out.get("Items", []))
            start = out.get("LastEvaluatedKey")
            if not start:
                return

    def batch_get(
        self, keys: Iterable[tuple[str, str]], *, projection: str | None = "PK, SK", names: dict | None = None
    ) -> list[dict[str, Any]]:
        """The items at these keys that exist; projection None: whole items."""
        pending = [{"PK": {"S": pk}, "SK": {"S": sk}} for pk, sk in dict.fromkeys(keys)]
        found: list[dict[str, Any]] = []
        delay = 0.05
        while pending:
            batch, pending = pending[:100], pending[100:]
            request: dict[str, Any] = {self.name: {"Keys": batch}}
            if projection is not None:
                request[self.name]["ProjectionExpression"] = projection
            if names:
                request[self.name]["ExpressionAttributeNames"] = names
            while request:
                out = self.client.batch_get_item(RequestItems=request)
                found.extend(unmarshal(i) for i in out.get("Responses", {}).get(self.name, []))
                request = out.get("UnprocessedKeys") or {}
                if request:
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)
        return found

    def batch_put(self, items: list[dict[str, Any]]) -> None:
        """PutItem in BatchWriteItem calls of 25, retrying what DynamoDB left unprocessed."""
        delay = 0.05
        for start in range(0, len(items), 25):
            request: dict[str, Any] = {self.name: [{"PutRequest": {"Item": marshal(i)}} for i in items[start : start + 25]]}
            while request:
                out = self.client.batch_write_item(RequestItems=request)
                request = out.get("UnprocessedItems") or {}
                if request:
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)

    def counts(self, lists: Iterable[str]) -> dict[str, int]:
        """The sizes of these lists (keys.count_pk), in one BatchGetItem; 0 for a list
        that never had an entry."""
        lists = list(dict.fromkeys(lists))
        found = self.batch_get(((keys.count_pk(n), keys.COUNT_SK) for n in lists), projection=f"PK, {keys.COUNT_ATTRIBUTE}")
        by_pk = {i["PK"]: max(0, int(i.get(keys.COUNT_ATTRIBUTE, 0))) for i in found}
        return {n: by_pk.get(keys.count_pk(n), 0) for n in lists}

    def transact(self, operations: list[dict[str, Any]]) -> None:
        """Operations in the low-level form, with TableName filled in here."""
        for op in operations:
            next(iter(op.values()))["TableName"] = self.name
        self.client.transact_write_items(TransactItems=operations)


@dataclass(frozen=True)
class ItemsRead:
    """Items of one store read in another store's BatchGetItem (a login's throttling
    counters with its account: meta/login_attempts.py, meta/accounts.py): their keys and
    the attributes they need beside PK and SK."""

    keys: tuple[tuple[str, str], ...]
    attributes: tuple[str, ...] = ()


class KeyRange:
    """One partition's items with SK in [low, high), in key order: a list a page of which
    is one Query, whatever its length (chalicelib/management/paging.py pages it)."""

    def __init__(self, table: Table, pk: str, prefix: str = "", *, projection: str | None = None, names: dict | None = None):
        self._t = table
        self.pk = pk
        self.low = prefix or "\x00"
        self.high = _prefix_end(prefix) if prefix else "\U0010ffff"
        self.projection = projection
        self.names = names

    def _bounds(self, after: str | None) -> str:
        return max(self.low, after + "\x00") if after is not None else self.low

    def keys(self, after: str | None, limit: int) -> list[str]:
        """Up to `limit` sort keys after `after`, reading keys only."""
        low = self._bounds(after)
        if low >= self.high or limit < 1:
            return []
        items = self._t.query_page(self.pk, low=low, high=self.high, limit=limit, projection="SK")
        return [i["SK"] for i in items if i["SK"] != self.high]

    def items(self, after: str | None, limit: int) -> list[dict[str, Any]]:
        """Up to `limit` items after `after` (each with its SK)."""
        low = self._bounds(after)
        if low >= self.high or limit < 1:
            return []
        projection = f"SK, {self.projection}" if self.projection else None
        items = self._t.query_page(self.pk, low=low, high=self.high, limit=limit, projection=projection, names=self.names)
        # a Query's range holds its upper bound: a key equal to it is past the prefix ("a/" ends at "a0")
        return [i for i in items if i["SK"] != self.high]


def _prefix_end(prefix: str) -> str:
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def put_op(item: dict[str, Any], condition: str | None = None, values: dict | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"Item": marshal(item)}
    if condition:
        body["ConditionExpression"] = condition
    if values:
        body["ExpressionAttributeValues"] = marshal(values)
    return {"Put": body}


def delete_op(pk: str, sk: str) -> dict[str, Any]:
    return {"Delete": {"Key": {"PK": {"S": pk}, "SK": {"S": sk}}}}


def update_op(pk: str, sk: str, expression: str, values: dict[str, Any], names: dict | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "Key": {"PK": {"S": pk}, "SK": {"S": sk}},
        "UpdateExpression": expression,
        "ExpressionAttributeValues": marshal(values),
    }
    if names:
        body["ExpressionAttributeNames"] = names
    return {"Update": body}


def count_op(list_name: str, delta: int) -> dict[str, Any]:
    """Add `delta` to a list's size, in the transaction that adds or removes its entry
    (whose own condition makes a retried add or remove count once)."""
    return update_op(keys.count_pk(list_name), keys.COUNT_SK, f"ADD {keys.COUNT_ATTRIBUTE} :d", {":d": delta})


def is_count_op(op: dict[str, Any]) -> bool:
    if "Update" not in op:
        return False
    key = op["Update"].get("Key") or {}
    return key.get("SK", {}).get("S") == keys.COUNT_SK and key.get("PK", {}).get("S", "").startswith("N#")


def merge_count_ops(ops: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One ADD per counter (a transaction may touch an item once), deltas summed; none
    for a counter the same transaction deletes."""
    deltas: dict[str, int] = {}
    deleted = {op["Delete"]["Key"]["PK"]["S"] for op in ops if "Delete" in op and op["Delete"]["Key"]["SK"]["S"] == keys.COUNT_SK}
    rest = []
    for op in ops:
        if is_count_op(op) and op["Update"]["Key"]["PK"]["S"] in deleted:
            continue
        if is_count_op(op):
            body = op["Update"]
            name = body["Key"]["PK"]["S"][len("N#") :]
            deltas[name] = deltas.get(name, 0) + int(body["ExpressionAttributeValues"][":d"]["N"])
        else:
            rest.append(op)
    return rest + [count_op(name, d) for name, d in deltas.items() if d]
