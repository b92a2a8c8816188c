"""The audit log in DynamoDB: who did what to which resource, when and from where.

Each entry is written once per way it is looked up, so every question is a
Query on one partition in time order, never a Scan:

    PK                     SK                     item
    LOG#P#<project>        <iso time>#<id>        an entry about a project's resources
    LOG#U#<username>       <iso time>#<id>        an entry by a user or robot
    LOG#O#<operation>      <iso time>#<id>        an entry of an operation (push, pull, delete, ...)
    LOG#D#<yyyy-mm-dd>     <iso time>#<id>        every entry of a day (UTC)

Every item carries the whole entry and `expires_at` (the table's TTL attribute),
so DynamoDB removes entries after the retention period.
"""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from chalicelib.meta import keys
from chalicelib.meta.table import Table, put_op, unmarshal

DEFAULT_RETENTION_DAYS = 90
_FIELDS = (
    "log_id", "op_time", "username", "operation", "resource_type", "resource", "project_name", "source_ip", "failed",
)


@dataclass(frozen=True)
class AuditEntry:
    username: str
    operation: str  # Harbor's: create, delete, update, push, pull, login
    resource_type: str  # project, repository, artifact, tag, member, robot, user, configuration
    resource: str
    project: str | None = None
    source_ip: str = ""
    op_time: float = 0.0  # epoch seconds; set by record()
    id: int = 0  # set by record()
    succeeded: bool = True  # False only for a failed login

    def sort_key(self) -> str:
        return f"{_iso(self.op_time)}#{self.id:016d}"


def _iso(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def day_of(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, tz=dt.UTC).strftime("%Y-%m-%d")


def entry_id(op_time: float, low_bits: int) -> int:
    """Milliseconds then 10 bits that tell apart entries of the same millisecond."""
    return (int(op_time * 1000) << 10) | (low_bits & 0x3FF)


def project_pk(project: str) -> str:
    return f"LOG#P#{project}"


def user_pk(username: str) -> str:
    return f"LOG#U#{username}"


def operation_pk(operation: str) -> str:
    return f"LOG#O#{operation}"


def day_pk(day: str) -> str:
    return f"LOG#D#{day}"


class DynamoAuditLog:
    def __init__(self, table: Table, clock: Callable[[], float], retention_days: Callable[[], int] = lambda: DEFAULT_RETENTION_DAYS):
        self._t = table
        self._clock = clock
        self._retention_days = retention_days

    def record(self, entry: AuditEntry) -> AuditEntry:
        now = entry.op_time or self._clock()
        # milliseconds and 10 random bits: unique enough, ordered by time, exact in a JSON number
        entry = AuditEntry(**{**entry.__dict__, "op_time": now, "id": entry_id(now, os.urandom(2)[0] << 2)})
        # one transaction: an entry is in every index or in none, in one round trip
        # (BatchWriteItem would cost half the write units but could leave it half written)
        self._t.transact([put_op(item) for item in self._items(entry)])
        return entry

    def record_many(self, entries: list[AuditEntry]) -> None:
        """Entries that carry their own op_time and id (chalicelib/pulls.py), in
        BatchWriteItem calls of 25 items: half the write units of a transaction. A
        failure part-way is mended by writing the same entries again (same keys)."""
        items = [item for entry in entries for item in self._items(entry)]
        self._t.batch_put(items)

    def _items(self, entry: AuditEntry) -> list[dict[str, Any]]:
        expires = int(entry.op_time) + max(1, self._retention_days()) * 24 * 3600
        body = {
            "log_id": entry.id,
            "op_time": Decimal(f"{entry.op_time:.6f}"),
            "username": entry.username,
            "operation": entry.operation,
            "resource_type": entry.resource_type,
            "resource": entry.resource,
            "project_name": entry.project,
            "source_ip": entry.source_ip,
            "failed": True if not entry.succeeded else None,  # absent when it succeeded
            keys.TTL_ATTRIBUTE: expires,
        }
        partitions = [user_pk(entry.username), operation_pk(entry.operation), day_pk(day_of(entry.op_time))]
        if entry.project:
            partitions.append(project_pk(entry.project))
        return [{"PK": pk, "SK": entry.sort_key(), **body} for pk in partitions]

    def entries(self, partition: str, *, since: float | None = None, until: float | None = None) -> Iterator[AuditEntry]:
        """A partition's entries, newest first, within [since, until] when given."""
        low = _iso(since) if since is not None else "0"
        high = (_iso(until) if until is not None else "9") + "#~"
        start: dict | None = None
        while True:
            kwargs: dict[str, Any] = {
                "TableName": self._t.name,
                "KeyConditionExpression": "PK = :pk AND SK BETWEEN :lo AND :hi",
                "ExpressionAttributeValues": {":pk": {"S": partition}, ":lo": {"S": low}, ":hi": {"S": high}},
                "ExpressionAttributeNames": {f"#f{i}": f for i, f in enumerate(_FIELDS)},
                "ProjectionExpression": ", ".join(f"#f{i}" for i in range(len(_FIELDS))),
                "ScanIndexForward": False,
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            out = self._t.client.query(**kwargs)
            for raw in out.get("Items", []):
                item = unmarshal(raw)
                yield AuditEntry(
                    username=item.get("username", ""),
                    operation=item.get("operation", ""),
                    resource_type=item.get("resource_type", ""),
                    resource=item.get("resource", ""),
                    project=item.get("project_name"),
                    source_ip=item.get("source_ip", ""),
                    op_time=float(item.get("op_time", 0)),
                    id=int(item.get("log_id", 0)),
                    succeeded=not item.get("failed", False),
                )
            start = out.get("LastEvaluatedKey")
            if not start:
                return

    def days(self, since: float, until: float) -> list[str]:
        """The day partitions that cover [since, until], newest first."""
        first = dt.datetime.fromtimestamp(since, tz=dt.UTC).date()
        last = dt.datetime.fromtimestamp(until, tz=dt.UTC).date()
        count = (last - first).days
        return [(last - dt.timedelta(days=i)).strftime("%Y-%m-%d") for i in range(count + 1)]

    def retention_seconds(self) -> int:
        return max(1, self._retention_days()) * 24 * 3600
