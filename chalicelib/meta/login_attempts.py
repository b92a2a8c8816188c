"""Failed-login counters in DynamoDB (the buckets of chalicelib/auth/throttle.py).

    PK                               SK      item
    LOGIN#A#<source>#<account>       LOGIN   failures of one account from one source; good_until
    LOGIN#S#<source>                 LOGIN   failures from one source
    LOGIN#U#<account>                LOGIN   failures of one account
    LOGIN#AUDIT#<yyyy-mm-ddThh:mm>   LOGIN   failed-login audit entries written in that minute

<account> is the login name case-folded (chalicelib/meta/account_names.py folded()), so
"Alice" and "alice" share their buckets. Every item carries expires_at (the
table's TTL), so counters of an attack that stopped go away on their own.

The three buckets are read in the BatchGetItem that already reads the account
(chalicelib/meta/accounts.py access_context), so a login costs no extra round
trip; only failures (and a first success from a source) write.

`LoginAttemptStore` is the contract; `DynamoLoginAttempts` keeps the counters in
DynamoDB, `MemoryLoginAttempts` in memory (for fast tests of the code that uses it);
tests/contract/test_login_attempt_store.py runs one suite over both.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.meta import keys
from chalicelib.meta.table import ItemsRead, Table, update_op

SK = "LOGIN"
LOGIN_PREFIX = "LOGIN#"  # every partition of this store (the key-layout test reads it)
ATTRIBUTES = ("login_failures", "login_last_failure", "login_good_until")
MAX_ACCOUNT = 256
KNOWN_GOOD_SECONDS = 30 * 24 * 3600  # a source stays known-good this long after a success


@dataclass(frozen=True)
class Bucket:
    """Failed logins counted under one key."""

    failures: int = 0
    last_failure: float = 0.0
    good_until: float = 0.0  # account+source only: a success from here, until then

    def current(self, now: float, window: int) -> int:
        """The failures that still count (none once the window has passed since the last)."""
        return self.failures if now - self.last_failure < window else 0


@dataclass(frozen=True)
class Buckets:
    account_source: Bucket
    source: Bucket
    account: Bucket


def bucket_keys(account: str, source: str) -> list[tuple[str, str]]:
    """(account+source, source, account) keys, in the order of `Buckets`."""
    account = account[:MAX_ACCOUNT]
    return [(f"{LOGIN_PREFIX}A#{source}#{account}", SK), (f"{LOGIN_PREFIX}S#{source}", SK), (f"{LOGIN_PREFIX}U#{account}", SK)]


def buckets_from(items: dict[tuple[str, str], dict[str, Any]], wanted: Iterable[tuple[str, str]]) -> Buckets:
    def bucket(k: tuple[str, str]) -> Bucket:
        item = items.get(k) or {}
        return Bucket(
            failures=int(item.get("login_failures", 0) or 0),
            last_failure=float(item.get("login_last_failure", 0) or 0),
            good_until=float(item.get("login_good_until", 0) or 0),
        )

    return Buckets(*(bucket(k) for k in wanted))


# A read of a login's buckets, joined to the account store's read of the account (AccountStore
# access_context(also=...), robot_with): DynamoDB's is a table.ItemsRead, the in-memory one a
# callable MemoryAccounts calls. Only the store that built it looks into it or its answer.
Read = Any


class LoginAttemptStore(Protocol):
    """What the login gate (chalicelib/auth/login_gate.py) needs of the failed-login counters.

    A login's three buckets (account+source, source, account: `bucket_keys`) are read with
    its account, in the account store's one call: `read` builds that read, the account store
    of the same backend answers it, `buckets` reads the answer. Failures are counted per
    bucket; a bucket's failures stop counting `window` seconds after its last one
    (`Bucket.current`). Every item the store writes carries an expiry (DynamoDB's TTL may
    remove it from then on), never earlier than what it holds still counts: a bucket's
    failures live `keep` (≥ window) seconds past the last, a known-good source until its
    `good_until`, a minute's audit count two minutes. Implementations: DynamoLoginAttempts,
    MemoryLoginAttempts; both pass tests/contract/test_login_attempt_store.py."""

    def read(self, account: str, source: str) -> Read:
        """The read of the buckets of `account` (the login name case-folded; cut to
        MAX_ACCOUNT characters) from `source` (chalicelib/auth/throttle.py source_of), for
        the account store to answer with the account."""
        ...

    def buckets(self, read: Read, answer: Any) -> Buckets:
        """The buckets in the account store's answer to `read` (None or a missing item: no
        failures). What the answer held when it was read, not what was written since."""
        ...

    def record_failure(self, read: Read, before: Buckets, *, window: int, keep: int) -> Buckets:
        """Count one failure in each of the three buckets, in one write, and return the
        buckets after it as this login sees them (`before`'s failures that still count, plus
        one). A bucket whose failures still counted in `before` gains one on what is stored
        now (so two logins' failures read at once are both counted); one whose window had
        passed starts again at one. A known-good source stays known-good, and its item lives
        at least as long as that."""
        ...

    def remember_success(self, read: Read, before: Buckets) -> None:
        """A success from this source: the account+source bucket's failures are forgiven and
        the source is known-good for the account for KNOWN_GOOD_SECONDS (its item expires
        then). Nothing is written while it has no failures and more than half of that time
        left. The source and account buckets are untouched."""
        ...

    def take_audit_slot(self, per_minute: int) -> bool:
        """Whether one more failed-login audit entry may be written in this UTC minute: each
        call takes one of the minute's `per_minute` slots (none when `per_minute` ≤ 0); the
        next minute starts afresh."""
        ...


class DynamoLoginAttempts:
    """The login's buckets are read with its account, in the accounts store's BatchGetItem:
    `read` builds that read, `buckets` reads its answer; the other methods take the read
    back (opaque to the login gate)."""

    def __init__(self, table: Table, clock: Callable[[], float]):
        self._t = table
        self._clock = clock

    def read(self, account: str, source: str) -> ItemsRead:
        """The read of a login's buckets (`account`: the name case-folded)."""
        return ItemsRead(tuple(bucket_keys(account, source)), ATTRIBUTES)

    def buckets(self, read: ItemsRead, answer: dict[tuple[str, str], dict[str, Any]] | None) -> Buckets:
        return buckets_from(answer or {}, read.keys)

    def record_failure(self, read: ItemsRead, before: Buckets, *, window: int, keep: int) -> Buckets:
        """Count one failure in each bucket (one transaction); the buckets after it.
        `window`: seconds after which old failures no longer count; `keep`: how long
        the items stay (the table's TTL) after this failure."""
        now = self._clock()
        expires = int(now + keep)
        after = []
        ops = []
        for (pk, sk), bucket in zip(read.keys, (before.account_source, before.source, before.account)):
            live = bucket.current(now, window)
            item_expires = max(expires, int(bucket.good_until))
            values = {":one": 1, ":now": int(now), ":e": item_expires}
            names = {"#e": keys.TTL_ATTRIBUTE}
            if live:
                expression = "ADD login_failures :one SET login_last_failure = :now, #e = :e"
            else:  # the window passed: count afresh
                expression = "SET login_failures = :one, login_last_failure = :now, #e = :e"
            ops.append(update_op(pk, sk, expression, values, names))
            after.append(Bucket(failures=live + 1, last_failure=now, good_until=bucket.good_until))
        self._t.transact(ops)
        return Buckets(*after)

    def remember_success(self, read: ItemsRead, before: Buckets) -> None:
        """A success from this source: its account+source failures are forgiven and
        the source is known-good for the account (one write, skipped while both hold)."""
        now = self._clock()
        bucket = before.account_source
        if bucket.failures == 0 and bucket.good_until > now + KNOWN_GOOD_SECONDS / 2:
            return
        pk, sk = read.keys[0]
        good = int(now + KNOWN_GOOD_SECONDS)
        self._t.client.update_item(
            TableName=self._t.name,
            Key=keys.key(pk, sk),
            UpdateExpression="SET login_good_until = :g, #e = :g REMOVE login_failures, login_last_failure",
            ExpressionAttributeNames={"#e": keys.TTL_ATTRIBUTE},
            ExpressionAttributeValues={":g": {"N": str(good)}},
        )

    def take_audit_slot(self, per_minute: int) -> bool:
        """Whether one more failed-login audit entry may be written this minute."""
        if per_minute <= 0:
            return False
        now = self._clock()
        minute = dt.datetime.fromtimestamp(now, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M")
        out = self._t.client.update_item(
            TableName=self._t.name,
            Key=keys.key(f"{LOGIN_PREFIX}AUDIT#{minute}", SK),
            UpdateExpression="ADD written :one SET #e = :e",
            ExpressionAttributeNames={"#e": keys.TTL_ATTRIBUTE},
            ExpressionAttributeValues={":one": {"N": "1"}, ":e": {"N": str(int(now) + 120)}},
            ReturnValues="UPDATED_NEW",
        )
        return int(out["Attributes"]["written"]["N"]) <= per_minute


class _MemoryRead:
    """MemoryLoginAttempts' read: the keys, answered (when MemoryAccounts calls it) with a
    copy of their items as they are then, as a BatchGetItem answers."""

    def __init__(self, items: dict[tuple[str, str], dict[str, Any]], keys: tuple[tuple[str, str], ...]):
        self._items = items
        self.keys = keys

    def __call__(self) -> dict[tuple[str, str], dict[str, Any]]:
        return {k: dict(self._items[k]) for k in self.keys if k in self._items}


class MemoryLoginAttempts:
    """LoginAttemptStore in memory: the same answers as DynamoLoginAttempts. `items` holds
    the items as DynamoDB would (by (PK, SK), with their `expires_at`); nothing removes an
    expired one by itself, as DynamoDB's TTL may not yet have (tests may read and sweep it)."""

    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self.items: dict[tuple[str, str], dict[str, Any]] = {}

    def read(self, account: str, source: str) -> _MemoryRead:
        return _MemoryRead(self.items, tuple(bucket_keys(account, source)))

    def buckets(self, read: _MemoryRead, answer: dict[tuple[str, str], dict[str, Any]] | None) -> Buckets:
        return buckets_from(answer or {}, read.keys)

    def record_failure(self, read: _MemoryRead, before: Buckets, *, window: int, keep: int) -> Buckets:
        now = self._clock()
        expires = int(now + keep)
        after = []
        for key, bucket in zip(read.keys, (before.account_source, before.source, before.account)):
            live = bucket.current(now, window)
            item = self.items.setdefault(key, {})
            item["login_failures"] = (int(item.get("login_failures", 0)) if live else 0) + 1
            item["login_last_failure"] = int(now)
            item[keys.TTL_ATTRIBUTE] = max(expires, int(bucket.good_until))
            after.append(Bucket(failures=live + 1, last_failure=now, good_until=bucket.good_until))
        return Buckets(*after)

    def remember_success(self, read: _MemoryRead, before: Buckets) -> None:
        now = self._clock()
        bucket = before.account_source
        if bucket.failures == 0 and bucket.good_until > now + KNOWN_GOOD_SECONDS / 2:
            return
        item = self.items.setdefault(read.keys[0], {})
        item.pop("login_failures", None)
        item.pop("login_last_failure", None)
        item["login_good_until"] = item[keys.TTL_ATTRIBUTE] = int(now + KNOWN_GOOD_SECONDS)

    def take_audit_slot(self, per_minute: int) -> bool:
        if per_minute <= 0:
            return False
        now = self._clock()
        minute = dt.datetime.fromtimestamp(now, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M")
        item = self.items.setdefault((f"{LOGIN_PREFIX}AUDIT#{minute}", SK), {})
        item["written"] = int(item.get("written", 0)) + 1
        item[keys.TTL_ATTRIBUTE] = int(now) + 120
        return int(item["written"]) <= per_minute


if TYPE_CHECKING:

    def _implementations(dynamo: DynamoLoginAttempts, memory: MemoryLoginAttempts) -> tuple[LoginAttemptStore, LoginAttemptStore]:
        """mypy's check that both keep the contract."""
        return dynamo, memory
