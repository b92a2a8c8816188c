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

How many entries a day holds is counted in the transaction that writes them
(keys.count_pk: `LOGS#D#<day>`, `LOGS#D#<day>#failed` for failed logins,
`LOGS#P#<project>#<day>`), with the same expiry; X-Total-Count is the sum over
the days asked for, one BatchGetItem (docs/decisions/lists-read-one-page.md).

`AuditLog` is the contract the domain and the API are written against (which partition
answers a question is this module's business); `DynamoAuditLog` keeps it in DynamoDB,
`MemoryAuditLog` in memory (for fast tests of the code that uses it);
tests/contract/test_audit_store.py runs the same suite over both.
"""
from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any, Protocol

from botocore.exceptions import ClientError

from chalicelib.meta import keys
from chalicelib.meta.table import Table, is_condition_failure, put_op, unmarshal, update_op

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


def days_of(since: float, until: float) -> list[str]:
    """The days (UTC) that [since, until] touches, newest first."""
    first = dt.datetime.fromtimestamp(since, tz=dt.UTC).date()
    last = dt.datetime.fromtimestamp(until, tz=dt.UTC).date()
    return [(last - dt.timedelta(days=i)).strftime("%Y-%m-%d") for i in range((last - first).days + 1)]


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


def day_list(day: str, *, failed: bool = False) -> str:
    """The counter of a day's entries (successful ones, or failed logins)."""
    return f"LOGS#D#{day}#failed" if failed else f"LOGS#D#{day}"


def project_day_list(project: str, day: str) -> str:
    return f"LOGS#P#{project}#{day}"


_ID_ATTEMPTS = 4  # ids drawn before giving up on a millisecond crowded with entries


def _random_bits() -> int:
    return int.from_bytes(os.urandom(2), "big") & 0x3FF


_ENTRIES_PER_TRANSACTION = 15  # 4 items each, and the counters: at most 100 items


class EntriesInOrder(Protocol):
    """Entries in key order, paged by chalicelib/management/paging.py (its KeyedList): keys
    only, or (key, entry) pairs, after a key."""

    def keys(self, after: str | None, limit: int) -> list[str]: ...

    def rows(self, after: str | None, limit: int) -> list[tuple[str, AuditEntry]]: ...


class AuditLog(Protocol):
    def record(self, entry: AuditEntry) -> AuditEntry:
        """Write an entry, stamped now (unless it has its op_time) with a new id."""
        ...

    def record_many(self, entries: list[AuditEntry]) -> None:
        """Entries that carry their own op_time and id, delivered at least once: each is
        written and counted once however often it comes."""
        ...

    def retention_seconds(self) -> int: ...

    def matching(
        self, *, project: str | None = None, username: str | None = None, operation: str | None = None,
        since: float | None = None, until: float | None = None,
    ) -> list[AuditEntry]:
        """Every entry (failed logins included) with these fields, in [since, until] (the
        retention period by default), newest first."""
        ...

    def newest_first(self, *, project: str | None, since: float, until: float, with_failed: bool) -> EntriesInOrder:
        """The log (a project's, or everything) in [since, until], newest first, as a
        paging.KeyedList whose keys are the entries' sort keys; `with_failed`: failed
        logins too."""
        ...

    def total(self, *, project: str | None, since: float, until: float, with_failed: bool) -> int:
        """How many entries newest_first's list holds, counted by whole days: the days that
        [since, until] touches, all of each."""
        ...


class DynamoAuditLog:
    def __init__(self, table: Table, clock: Callable[[], float], retention_days: Callable[[], int] = lambda: DEFAULT_RETENTION_DAYS):
        self._t = table
        self._clock = clock
        self._retention_days = retention_days

    def record(self, entry: AuditEntry) -> AuditEntry:
        now = entry.op_time or self._clock()
        for attempt in range(_ID_ATTEMPTS):
            # milliseconds and 10 random bits: ordered by time, exact in a JSON number
            stamped = AuditEntry(**{**entry.__dict__, "op_time": now, "id": entry_id(now, _random_bits())})
            # one transaction: an entry is in every index and counted, or none of it, in one
            # round trip (botocore's retries reuse its idempotency token: counted once)
            try:
                self._t.transact(self._writes([stamped]))
                return stamped
            except ClientError as exc:
                # two entries of one millisecond drew the same bits: the day's item is
                # written only if new, so nothing was written; draw again
                if not is_condition_failure(exc) or attempt == _ID_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def record_many(self, entries: list[AuditEntry]) -> None:
        """Entries that carry their own op_time and id (the audit log's event consumer,
        chalicelib/events/audit.py), delivered at least once: those already written (a redelivered batch) are left out after one
        BatchGetItem, the rest written and counted in transactions of 15 entries, each
        entry on condition that it is new, so a redelivery counts nothing twice."""
        written = {
            (i["PK"], i["SK"])
            for i in self._t.batch_get((day_pk(day_of(e.op_time)), e.sort_key()) for e in entries)
        }
        new = list({e.sort_key(): e for e in entries if (day_pk(day_of(e.op_time)), e.sort_key()) not in written}.values())
        for start in range(0, len(new), _ENTRIES_PER_TRANSACTION):
            chunk = new[start : start + _ENTRIES_PER_TRANSACTION]
            try:
                self._t.transact(self._writes(chunk))
            except ClientError as exc:
                if not is_condition_failure(exc):
                    raise
                for entry in chunk:  # another delivery wrote some meanwhile: one at a time
                    try:
                        self._t.transact(self._writes([entry]))
                    except ClientError as again:
                        if not is_condition_failure(again):
                            raise

    def _writes(self, entries: list[AuditEntry]) -> list[dict[str, Any]]:
        """The entries' items (the day's one on condition that it is new) and one ADD per
        counter they raise."""
        ops: list[dict[str, Any]] = []
        counts: dict[str, tuple[int, int]] = {}  # counter -> (entries, latest expiry)
        for entry in entries:
            items = self.items(entry)
            ops += [put_op(item, "attribute_not_exists(PK)" if item["PK"].startswith("LOG#D#") else None) for item in items]
            day, expires = day_of(entry.op_time), items[0][keys.TTL_ATTRIBUTE]
            lists = [day_list(day, failed=not entry.succeeded)]
            if entry.project:
                lists.append(project_day_list(entry.project, day))
            for name in lists:
                n, latest = counts.get(name, (0, 0))
                counts[name] = (n + 1, max(latest, expires))
        for name, (n, expires) in counts.items():
            ops.append(
                update_op(
                    keys.count_pk(name),
                    keys.COUNT_SK,
                    f"ADD {keys.COUNT_ATTRIBUTE} :d SET {keys.TTL_ATTRIBUTE} = :e",
                    {":d": n, ":e": expires},
                )
            )
        return ops

    def total(self, *, project: str | None, since: float, until: float, with_failed: bool) -> int:
        """The days' counters: one BatchGetItem per 100 (a project's log holds no failed logins)."""
        days = days_of(since, until)
        if project is not None:
            lists = [project_day_list(project, d) for d in days]
        else:
            lists = [day_list(d) for d in days] + ([day_list(d, failed=True) for d in days] if with_failed else [])
        return sum(self._t.counts(lists).values()) if lists else 0

    def newest_first(self, *, project: str | None, since: float, until: float, with_failed: bool) -> NewestFirst:
        """A project's partition, or the days' partitions (newest first): a page Queries
        from its cursor on."""
        partitions = [project_pk(project)] if project is not None else [day_pk(d) for d in days_of(since, until)]
        return NewestFirst(self, partitions, since, until, not with_failed)

    def matching(
        self, *, project: str | None = None, username: str | None = None, operation: str | None = None,
        since: float | None = None, until: float | None = None,
    ) -> list[AuditEntry]:
        """The narrowest partition the fields name (project, user, operation, else the
        days), read whole, the other fields filtered here."""
        if since is None or until is None:
            now = self._clock()
            since = now - self.retention_seconds() if since is None else since
            until = now if until is None else until
        if project is not None:
            partitions = [project_pk(project)]
        elif username is not None:
            partitions = [user_pk(username)]
        elif operation is not None:
            partitions = [operation_pk(operation)]
        else:
            partitions = [day_pk(d) for d in days_of(since, until)]
        found = (e for pk in partitions for e in self.entries(pk, since=since, until=until))
        return [e for e in found if _matches(e, project, username, operation)]

    def items(self, entry: AuditEntry) -> list[dict[str, Any]]:
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

    def entries(
        self,
        partition: str,
        *,
        since: float | None = None,
        until: float | None = None,
        after: str | None = None,
        limit: int | None = None,
        successful_only: bool = False,
        keys_only: bool = False,
    ) -> Iterator[AuditEntry]:
        """A partition's entries, newest first, within [since, until] when given; `after`:
        older than that sort key; `limit`: Query pages of that size (the caller stops)."""
        low = _iso(since) if since is not None else "0"
        high = (_iso(until) if until is not None else "9") + "#~"
        start: dict | None = {"PK": {"S": partition}, "SK": {"S": after}} if after is not None and low <= after <= high else None
        if after is not None and after < low:
            return
        while True:
            kwargs: dict[str, Any] = {
                "TableName": self._t.name,
                "KeyConditionExpression": "PK = :pk AND SK BETWEEN :lo AND :hi",
                "ExpressionAttributeValues": {":pk": {"S": partition}, ":lo": {"S": low}, ":hi": {"S": high}},
                "ExpressionAttributeNames": {f"#f{i}": f for i, f in enumerate(_FIELDS)},
                "ProjectionExpression": ", ".join(f"#f{i}" for i in range(len(_FIELDS))),
                "ScanIndexForward": False,
            }
            if keys_only:
                kwargs["ProjectionExpression"] = "SK, #failed"
                kwargs["ExpressionAttributeNames"] = {"#failed": "failed"}
            if successful_only:  # the classic log: failed logins are read past, not shown
                kwargs["FilterExpression"] = "attribute_not_exists(#failed)"
                kwargs["ExpressionAttributeNames"] = {**kwargs["ExpressionAttributeNames"], "#failed": "failed"}
            if limit:
                kwargs["Limit"] = limit
            if start:
                kwargs["ExclusiveStartKey"] = start
            out = self._t.client.query(**kwargs)
            for raw in out.get("Items", []):
                item = unmarshal(raw)
                if keys_only:
                    yield AuditEntry("", "", "", "", op_time=_epoch(item["SK"]), id=int(item["SK"].rsplit("#", 1)[1]))
                    continue
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

    def retention_seconds(self) -> int:
        return max(1, self._retention_days()) * 24 * 3600


def _matches(entry: AuditEntry, project: str | None, username: str | None, operation: str | None) -> bool:
    return ((project is None or entry.project == project) and (username is None or entry.username == username)
            and (operation is None or entry.operation == operation))


class MemoryAuditLog:
    """AuditLog in memory: the same answers as DynamoAuditLog, for fast tests. (Its entries
    do not expire: the table's TTL is DynamoDB's.)"""

    def __init__(self, clock: Callable[[], float], retention_days: Callable[[], int] = lambda: DEFAULT_RETENTION_DAYS):
        self._clock = clock
        self._retention_days = retention_days
        self._entries: dict[str, AuditEntry] = {}  # by sort key

    def record(self, entry: AuditEntry) -> AuditEntry:
        now = entry.op_time or self._clock()
        while True:
            stamped = replace(entry, op_time=now, id=entry_id(now, _random_bits()))
            if stamped.sort_key() not in self._entries:
                self._entries[stamped.sort_key()] = stamped
                return stamped

    def record_many(self, entries: list[AuditEntry]) -> None:
        for entry in entries:
            self._entries.setdefault(entry.sort_key(), entry)

    def retention_seconds(self) -> int:
        return max(1, self._retention_days()) * 24 * 3600

    def _newest(self, since: float, until: float) -> list[AuditEntry]:
        low, high = _iso(since), _iso(until) + "#~"
        return [self._entries[k] for k in sorted(self._entries, reverse=True) if low <= k <= high]

    def matching(
        self, *, project: str | None = None, username: str | None = None, operation: str | None = None,
        since: float | None = None, until: float | None = None,
    ) -> list[AuditEntry]:
        now = self._clock()
        since = now - self.retention_seconds() if since is None else since
        until = now if until is None else until
        return [e for e in self._newest(since, until) if _matches(e, project, username, operation)]

    def newest_first(self, *, project: str | None, since: float, until: float, with_failed: bool) -> _Listed:
        shown = [e for e in self._newest(since, until)
                 if (project is None or e.project == project) and (with_failed or e.succeeded)]
        return _Listed(shown)

    def total(self, *, project: str | None, since: float, until: float, with_failed: bool) -> int:
        days = set(days_of(since, until))
        if project is not None:  # a project's counters count all its entries
            return sum(1 for e in self._entries.values() if day_of(e.op_time) in days and e.project == project)
        return sum(1 for e in self._entries.values() if day_of(e.op_time) in days and (e.succeeded or with_failed))


class _Listed:
    """paging.KeyedList over entries in memory, newest first."""

    def __init__(self, entries: list[AuditEntry]):
        self._entries = entries

    def _after(self, after: str | None, limit: int) -> list[AuditEntry]:
        return [e for e in self._entries if after is None or e.sort_key() < after][:limit]

    def keys(self, after: str | None, limit: int) -> list[str]:
        return [e.sort_key() for e in self._after(after, limit)]

    def rows(self, after: str | None, limit: int) -> list[tuple[str, AuditEntry]]:
        return [(e.sort_key(), e) for e in self._after(after, limit)]


def _epoch(sort_key: str) -> float:
    return dt.datetime.strptime(sort_key.split("#", 1)[0], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=dt.UTC).timestamp()


class NewestFirst:
    """paging.KeyedList over audit partitions (one, or a day partition per day), newest
    first. A page reads its entries: Queries with Limit, from the cursor's entry on."""

    def __init__(self, log: DynamoAuditLog, partitions: list[str], since: float, until: float, successful_only: bool):
        self._log = log
        self._partitions = partitions  # newest first
        self._since, self._until = since, until
        self._successful_only = successful_only

    def keys(self, after: str | None, limit: int) -> list[str]:
        return [e.sort_key() for e in self._read(after, limit, keys_only=True)]

    def rows(self, after: str | None, limit: int) -> list[tuple[str, AuditEntry]]:
        return [(e.sort_key(), e) for e in self._read(after, limit, keys_only=False)]

    def _read(self, after: str | None, limit: int, *, keys_only: bool) -> list[AuditEntry]:
        out: list[AuditEntry] = []
        partitions = self._partitions
        if after is not None and all(p.startswith("LOG#D#") for p in partitions):
            partitions = [p for p in partitions if p[len("LOG#D#") :] <= after[:10]]  # its day and older
        for pk in partitions:
            for entry in self._log.entries(
                pk,
                since=self._since,
                until=self._until,
                after=after if after is not None and (len(partitions) == 1 or pk == day_pk(after[:10])) else None,
                limit=limit - len(out),
                successful_only=self._successful_only,
                keys_only=keys_only,
            ):
                out.append(entry)
                if len(out) == limit:
                    return out
        return out
