"""moto's TransactWriteItems, all-or-nothing at the cost of the items it touches.

moto 5.2 makes a transaction all-or-nothing by deep-copying every table the
transaction names before it writes, and putting the copies back if an operation
fails. A table's copy includes all its items and every stream record it has ever
produced, so each transaction costs time in proportion to everything the table
has ever held: the local stack (one long-lived table) and the test suites (which
write thousands of transactions) slow down as they go.

`install()` replaces that method with one that keeps DynamoDB's semantics (the
same cancellation reasons, in the same order; nothing written when any condition
fails; no stream record of a cancelled transaction) in two phases:

1. check: every operation's shape, that no item is named twice, and every
   condition against the items as they are, writing nothing. Conditions speak
   only of their own item, and no item appears twice, so what is checked is
   what the writes would see.
2. write: the items the transaction touches are copied first (only those); if a
   write still fails (an update expression that does not apply to the item),
   those items are put back and the stream records it produced removed.

Installed by the local stack's moto server (devstack/motoserver.py) and by the
test suites' in-process moto (tests/conftest.py); never part of the deployed app.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from moto.dynamodb.comparisons import get_filter_expression
from moto.dynamodb.exceptions import (
    MockValidationException,
    MultipleTransactionsException,
    TooManyTransactionsException,
    TransactionCanceledException,
    TransactWriteSingleOpException,
)
from moto.dynamodb.models import DynamoDBBackend
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import Table

MAX_OPERATIONS = 100
_OPERATIONS = ("ConditionCheck", "Put", "Delete", "Update")
Reason = tuple[str, str, Any] | tuple[None, None, None]


class _ConditionFailed(Exception):
    def __init__(self, item: Any) -> None:
        self.item = item


@dataclass
class _Operation:
    kind: str
    spec: dict[str, Any]
    table: Table
    key: dict[str, Any]

    def condition_holds(self, current: Item | None) -> bool:
        expression = self.spec.get("ConditionExpression")
        if expression is None:
            return True
        condition = get_filter_expression(
            expression, self.spec.get("ExpressionAttributeNames"), self.spec.get("ExpressionAttributeValues")
        )
        return condition.expr(current)


@dataclass
class _Saved:
    table: Table
    hash_key: DynamoType
    range_key: DynamoType | None
    item: Item | None  # a copy of the item before the write; None: there was none


def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
    if len(transact_items) > MAX_OPERATIONS:
        raise TooManyTransactionsException()
    operations = _checked(self, transact_items)
    saved = [_save(self, op) for op in operations if op.kind != "ConditionCheck"]
    streams = {id(s.table): (s.table, _stream_length(s.table)) for s in saved}
    for n, op in enumerate(operations):
        try:
            _write(self, op)
        except Exception as exc:
            _restore(saved, streams.values())
            if isinstance(exc, (MultipleTransactionsException, MockValidationException)):
                raise
            reasons: list[Reason] = [(None, None, None)] * len(operations)
            reasons[n] = (type(exc).__name__, str(exc), None)
            raise TransactionCanceledException(reasons) from exc


def _checked(backend: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> list[_Operation]:
    """The operations, once each is known to be well formed, names an item no other one
    names, and finds its condition true; otherwise the cancellation, having written nothing."""
    operations: list[_Operation] = []
    reasons: list[Reason] = []
    named: set[tuple[str, str]] = set()
    for entry in transact_items:
        if len(entry) > 1:
            raise TransactWriteSingleOpException
        kind, spec = next(iter(entry.items()))
        try:
            if kind not in _OPERATIONS:
                raise ValueError("Unsupported transaction operation")
            op = _operation(backend, kind, spec)
            item_name = (str(spec["TableName"]), str(dict(sorted(op.key.items()))))
            if item_name in named:
                raise MultipleTransactionsException()
            named.add(item_name)
            current = backend.get_item(spec["TableName"], op.key)
            if not op.condition_holds(current):
                wants_old = spec.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD"
                raise _ConditionFailed(current.to_json()["Attributes"] if wants_old and current else None)
            operations.append(op)
            reasons.append((None, None, None))
        except (MultipleTransactionsException, MockValidationException):
            raise
        except _ConditionFailed as failed:
            reasons.append(("ConditionalCheckFailed", "The conditional request failed", failed.item))
        except Exception as exc:  # noqa: BLE001 (as moto: any other fault is that operation's reason)
            reasons.append((type(exc).__name__, str(exc), None))
    if any(code is not None for code, _, _ in reasons):
        raise TransactionCanceledException(reasons)
    return operations


def _operation(backend: DynamoDBBackend, kind: str, spec: dict[str, Any]) -> _Operation:
    table = backend.get_table(spec["TableName"])
    if kind == "Put":
        attrs = spec["Item"]
        key = {table.hash_key_attr: attrs[table.hash_key_attr]}
        if table.range_key_attr is not None:
            key[table.range_key_attr] = attrs[table.range_key_attr]
    else:
        key = spec["Key"]
    return _Operation(kind, spec, table, key)


def _save(backend: DynamoDBBackend, op: _Operation) -> _Saved:
    hash_key, range_key = backend.get_keys_value(op.table, op.key)
    current = op.table.get_item(hash_key, range_key)
    return _Saved(op.table, hash_key, range_key, copy.deepcopy(current) if current is not None else None)


def _write(backend: DynamoDBBackend, op: _Operation) -> None:
    spec, name = op.spec, op.spec["TableName"]
    expressions = {
        "condition_expression": spec.get("ConditionExpression"),
        "expression_attribute_names": spec.get("ExpressionAttributeNames"),
        "expression_attribute_values": spec.get("ExpressionAttributeValues"),
    }
    if op.kind == "Put":
        backend.put_item(name, spec["Item"], **expressions)
    elif op.kind == "Delete":
        backend.delete_item(name, op.key, **expressions)
    elif op.kind == "Update":
        backend.update_item(name, op.key, update_expression=spec["UpdateExpression"], **expressions)


def _stream_length(table: Table) -> int | None:
    return len(table.stream_shard.items) if table.stream_shard is not None else None


def _restore(saved: list[_Saved], streams) -> None:
    for s in reversed(saved):
        items = s.table.items[s.hash_key] if s.range_key is not None else s.table.items
        slot = s.range_key if s.range_key is not None else s.hash_key
        if s.item is None:
            items.pop(slot, None)
        else:
            items[slot] = s.item
    for table, length in streams:
        if length is not None and table.stream_shard is not None:
            del table.stream_shard.items[length:]


MOTOS_OWN = DynamoDBBackend.__dict__["transact_write_items"]  # kept for the tests that compare the two


def install() -> None:
    """Idempotent: moto's backends answer TransactWriteItems with the function above."""
    DynamoDBBackend.transact_write_items = transact_write_items
