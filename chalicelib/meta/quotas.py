"""Projects' storage quotas in DynamoDB (key layout: keys.py).

`QUOTA#<project>` holds the limit (`hard`, -1: none) and the usage (`used`, bytes). Usage
counts each blob once per project, however many repositories and manifests name it: one
`PBLOB#<project>` / `<digest>` item per blob the project's manifests name, with `refs`
(how many manifests) and `nbytes`. A manifest's write changes these in its own
transaction (chalicelib/quotas.py computes what changes, from what the write read;
the operations built here are conditional on those reads), so usage is always the sum
of the project's `PBLOB` items and a push over the limit writes nothing.

`QuotaStore` is the contract the domain and the API are written against; `DynamoQuotas`
keeps it in DynamoDB, `MemoryQuotas` in memory (for fast tests of the code that uses it);
tests/contract/test_quota_store.py runs the same suite over both. A change's operations
(`ops`) are opaque to the domain: it hands them to the manifest write they join
(meta/registry.py `extra`), which only a store of the same backend runs. Likewise what a push
reads of the quota (`read`) joins the registry store's one read of the push
(read_for_push(also=...)), and only this store reads the answer (`usage`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any, Protocol

from botocore.exceptions import ClientError

from chalicelib.errors import Conflict
from chalicelib.meta import keys
from chalicelib.meta.gc import BlobState, MemoryLedger
from chalicelib.meta.table import ItemsRead, Table, delete_op, is_condition_failure, put_op, update_op

UNLIMITED = -1
# a PBLOB item's flag: the blob's record counts this project (meta/gc_ledger.py PROJECTS)
IN_BLOB_COUNT = "in_blob_count"
# what a push reads of the quota's item and of the project's blob items, besides their keys
_READ_ATTRIBUTES = ("hard", "used", "created", "updated", "refs", "nbytes", IN_BLOB_COUNT)


@dataclass(frozen=True)
class Quota:
    project: str
    hard: int = UNLIMITED
    used: int = 0
    created: int = 0
    updated: int = 0

    @classmethod
    def from_item(cls, project: str, item: dict[str, Any] | None) -> Quota:
        if not item:
            return cls(project)
        return cls(
            project,
            int(item.get("hard", UNLIMITED)),
            int(item.get("used", 0)),
            int(item.get("created", 0)),
            int(item.get("updated", 0)),
        )


@dataclass(frozen=True)
class Counted:
    """A blob the project counts: how many of its manifests name it, its bytes, and whether
    the blob's record counts the project (garbage collection's ledger, meta/gc_ledger.py)."""

    refs: int
    nbytes: int
    in_blob_count: bool = False


@dataclass(frozen=True)
class Usage:
    """What a manifest's write reads of its project's quota: the limit and usage, and those
    of the digests it names that the project counts."""

    quota: Quota
    counted: dict[str, Counted]


# one operation of a transaction, as the store's backend writes it: the domain only hands it on
Op = Any
# A read of a project's usage, joined to the registry store's read of a push
# (RegistryMeta.read_for_push(also=...)): DynamoDB's is a table.ItemsRead, the in-memory one a
# callable the in-memory registry store calls. Only this store looks into it or its answer.
Read = Any


def quota_key(project: str) -> tuple[str, str]:
    return keys.quota_pk(project), keys.QUOTA_SK


def blob_key(project: str, digest: str) -> tuple[str, str]:
    return keys.project_blobs_pk(project), digest


@dataclass(frozen=True)
class Change:
    """What a manifest's write does to its project's usage: blobs new to the project
    (digest -> bytes), blobs it names too (digest -> refs read), blobs it stops naming
    (digest -> (refs read, how many references go, bytes)), and the usage read."""

    project: str
    added: dict[str, int]
    shared: dict[str, int]
    released: dict[str, tuple[int, int, int]]
    quota: Quota
    now: int
    # which digests are blobs (they have a BLOB# record; the others are manifests' own
    # digests), and which PBLOB items read are counted in their blob's record already
    blobs: frozenset[str] = frozenset()
    in_blob_count: frozenset[str] = frozenset()

    @property
    def delta(self) -> int:
        gone = sum(nbytes for refs, count, nbytes in self.released.values() if count >= refs)
        return sum(self.added.values()) - gone


def change_ops(change: Change) -> list[dict[str, Any]]:
    """The operations of `change`, each conditional on what was read. A blob the project
    starts naming adds 1 to its record's count of projects, on condition that no garbage
    collection committed to deleting it; one it stops naming takes 1 off and becomes a
    candidate for the next run (meta/gc_ledger.py)."""
    from chalicelib.meta import gc_ledger

    pk = keys.project_blobs_pk(change.project)
    ops: list[dict[str, Any]] = []
    for digest, nbytes in change.added.items():
        item = {"PK": pk, "SK": digest, "refs": 1, "nbytes": nbytes}
        if digest in change.blobs:
            item[IN_BLOB_COUNT] = 1
            ops.append(gc_ledger.named_op(digest, 1, change.now))
        ops.append(put_op(item, "attribute_not_exists(PK)"))
    # A blob counted already adds nothing to the usage whatever its count is, as long as it
    # is still counted: its write requires only that (and, where the write flags it as in
    # its record's count, that no other write did). Pushes of images that share layers
    # into one project all name those layers' items; requiring the count they read would
    # make every one but the first lose the race.
    for digest in change.shared:
        if digest in change.blobs and digest not in change.in_blob_count:
            # counted as a manifest's own digest so far (or before the ledger): count it now
            ops.append(gc_ledger.named_op(digest, 1, change.now))
            update = update_op(pk, digest, f"ADD refs :one SET {IN_BLOB_COUNT} = :one", {":one": 1})
            ops.append(_when(update, f"attribute_exists(PK) AND attribute_not_exists({IN_BLOB_COUNT})"))
        else:
            ops.append(_when(update_op(pk, digest, "ADD refs :one", {":one": 1}), "attribute_exists(PK)"))
    for digest, (refs, count, _) in change.released.items():
        if count >= refs:
            # the last references go, with the bytes: only if no write added one since
            ops.append(_if_refs(delete_op(pk, digest), refs))
            if digest in change.in_blob_count:
                ops.append(gc_ledger.named_op(digest, -1, change.now))
                ops.append(gc_ledger.candidate_op(digest, change.project, change.now))
        else:
            # references stay, and the bytes counted: whatever the count is, if it stays above 0
            ops.append(_when(update_op(pk, digest, "ADD refs :minus", {":minus": -count}), "refs > :count", {":count": count}))
    delta = change.delta
    if delta or change.added:
        pk_q, sk_q = quota_key(change.project)
        op = update_op(
            pk_q, sk_q, "ADD used :d SET updated = :now, created = if_not_exists(created, :now)", {":d": delta, ":now": change.now}
        )
        if delta > 0 and change.quota.hard >= 0:
            # over the limit, or the limit changed since it was read: the whole write fails
            body = op["Update"]
            body["ConditionExpression"] = "(attribute_not_exists(used) OR used <= :max) AND hard = :hard"
            body["ExpressionAttributeValues"][":max"] = {"N": str(change.quota.hard - delta)}
            body["ExpressionAttributeValues"][":hard"] = {"N": str(change.quota.hard)}
        ops.append(op)
    return ops


def _if_refs(op: dict[str, Any], refs: int) -> dict[str, Any]:
    return _when(op, "refs = :refs", {":refs": refs})


def _when(op: dict[str, Any], condition: str, values: dict[str, int] | None = None) -> dict[str, Any]:
    body = next(iter(op.values()))
    body["ConditionExpression"] = condition
    for name, value in (values or {}).items():
        body.setdefault("ExpressionAttributeValues", {})[name] = {"N": str(value)}
    return op


class QuotaStore(Protocol):
    def get(self, project: str) -> Quota:
        """The project's limit and usage (unlimited and 0 when it has no quota yet)."""
        ...

    def many(self, projects: Iterable[str]) -> dict[str, Quota]:
        """{project: its quota} of these projects."""
        ...

    def set_hard(self, project: str, hard: int) -> Quota:
        """Set the limit (bytes, UNLIMITED: none); the usage stays."""
        ...

    def blob_refs(self, project: str, digests: Iterable[str]) -> dict[str, Counted]:
        """The blobs among `digests` that the project counts."""
        ...

    def read(self, project: str, digests: Iterable[str]) -> Read:
        """The read of the project's quota and of its counts of `digests` (a manifest's blobs
        and its own digest), for the registry store of the same backend to answer in a
        push's one read (RegistryMeta.read_for_push(also=...))."""
        ...

    def usage(self, read: Read, answer: Any) -> Usage:
        """The usage in the registry store's answer to `read` (PushReads.also), as `get` and
        `blob_refs` would have answered then."""
        ...

    def recount(self, project: str) -> tuple[int, int] | None:
        """Set the usage to the sum of the blobs the project counts: (before, after), or
        None if the project has no quota (or a concurrent write won: a later run tries again)."""
        ...

    def apply(self, change: Change) -> None:
        """`change` on its own (a deletion's release, after the manifests went); a part whose
        reads are stale is left out (a recount corrects the usage)."""
        ...

    def ops(self, change: Change) -> list[Op]:
        """`change`'s operations, each conditional on what was read, to join a manifest
        write's transaction (which then fails as a whole, a Conflict, when one is stale)."""
        ...

    def removal(self, project: str) -> Op:
        """The operation deleting the project's quota, to join the project's deletion."""
        ...


class DynamoQuotas:
    def __init__(self, table: Table, clock):
        self._t = table
        self._clock = clock

    def get(self, project: str) -> Quota:
        return Quota.from_item(project, self._t.get(*quota_key(project), consistent=True))

    def many(self, projects: Iterable[str]) -> dict[str, Quota]:
        """Quotas of these projects (one BatchGetItem per 100)."""
        names = list(projects)
        found = self._t.batch_get((quota_key(p) for p in names), projection=None)
        by_pk = {i["PK"]: i for i in found}
        return {p: Quota.from_item(p, by_pk.get(keys.quota_pk(p))) for p in names}

    def set_hard(self, project: str, hard: int) -> Quota:
        now = int(self._clock())
        out = self._t.client.update_item(
            TableName=self._t.name,
            Key=keys.key(*quota_key(project)),
            UpdateExpression="SET hard = :h, updated = :now, created = if_not_exists(created, :now), used = if_not_exists(used, :zero)",
            ExpressionAttributeValues={":h": {"N": str(hard)}, ":now": {"N": str(now)}, ":zero": {"N": "0"}},
            ReturnValues="ALL_NEW",
        )
        from chalicelib.meta.table import unmarshal

        return Quota.from_item(project, unmarshal(out["Attributes"]))

    def blob_refs(self, project: str, digests: Iterable[str]) -> dict[str, Counted]:
        """The blobs among `digests` that the project counts (one BatchGetItem)."""
        found = self._t.batch_get((blob_key(project, d) for d in set(digests)), projection=f"SK, refs, nbytes, {IN_BLOB_COUNT}")
        return {i["SK"]: _counted(i) for i in found}

    def read(self, project: str, digests: Iterable[str]) -> ItemsRead:
        """The quota's item, then the project's items of `digests`."""
        return ItemsRead((quota_key(project), *(blob_key(project, d) for d in dict.fromkeys(digests))), _READ_ATTRIBUTES)

    def usage(self, read: ItemsRead, answer: dict[tuple[str, str], dict[str, Any]] | None) -> Usage:
        """The items in the answer ({key: item} of the items found)."""
        answer = answer or {}
        (pk, _), blobs = read.keys[0], read.keys[1:]
        project = pk[len(keys.quota_pk("")) :]
        return Usage(Quota.from_item(project, answer.get(read.keys[0])), {k[1]: _counted(answer[k]) for k in blobs if k in answer})

    def recount(self, project: str) -> tuple[int, int] | None:
        """Set the project's usage to the sum of the blobs it counts (garbage collection's
        correction: a deletion that died between its items and its quota over-counts).
        Only if no write charged or released in between (the quota item is unchanged, and
        every write that changes the sum changes it too). (before, after), or None if a
        concurrent write won (the next run tries again)."""
        before = self._t.get(*quota_key(project), consistent=True)
        if before is None:
            return None
        pk = keys.project_blobs_pk(project)
        total = sum(int(i.get("nbytes", 0)) for i in self._t.query_all(pk, low="\x00", high="\U0010ffff", projection="nbytes"))
        used, updated = int(before.get("used", 0)), int(before.get("updated", 0))
        if total == used:
            return used, total
        try:
            self._t.client.update_item(
                TableName=self._t.name,
                Key=keys.key(*quota_key(project)),
                UpdateExpression="SET used = :total",
                ConditionExpression="used = :used AND updated = :updated",
                ExpressionAttributeValues={":total": {"N": str(total)}, ":used": {"N": str(used)}, ":updated": {"N": str(updated)}},
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return None
            raise
        return used, total

    def apply(self, change: Change) -> None:
        """`change` on its own (a deletion's release, after the manifests went)."""
        ops = change_ops(change)
        for start in range(0, len(ops), 100):
            try:
                self._t.transact(ops[start : start + 100])
            except ClientError as exc:
                if not is_condition_failure(exc):
                    raise

    def ops(self, change: Change) -> list[Op]:
        return change_ops(change)

    def removal(self, project: str) -> Op:
        return delete_op(*quota_key(project))


def _counted(item: dict[str, Any]) -> Counted:
    return Counted(int(item["refs"]), int(item.get("nbytes", 0)), bool(item.get(IN_BLOB_COUNT)))


class MemoryQuotas:
    """QuotaStore in memory: the same answers as DynamoQuotas, for fast tests.
    `blob_live(digest)`: whether the blob's record is there and no garbage collection
    committed to deleting it (the DynamoDB store's operations check the record; by default
    the ledger's); `ledger`: garbage collection's (meta/gc.py MemoryLedger, a MemoryGC's),
    whose blob records count the projects naming them and whose candidates get a blob no
    project names any more, as DynamoDB's operations write them (meta/gc_ledger.py); an
    operation (`ops`) is a callable that checks every condition, then writes all or
    nothing (Conflict), as the transaction it joins does."""

    def __init__(self, clock: Callable[[], float], blob_live: Callable[[str], bool] | None = None, *,
                 ledger: MemoryLedger | None = None):
        self._clock = clock
        self._ledger = ledger
        if blob_live is None:
            blob_live = (lambda digest: True) if ledger is None else ledger.live
        self._blob_live = blob_live
        self._quotas: dict[str, Quota] = {}
        self._blobs: dict[str, dict[str, Counted]] = {}  # project -> digest -> what it counts

    def get(self, project: str) -> Quota:
        return self._quotas.get(project, Quota(project))

    def many(self, projects: Iterable[str]) -> dict[str, Quota]:
        return {p: self.get(p) for p in projects}

    def set_hard(self, project: str, hard: int) -> Quota:
        now = int(self._clock())
        current = self._quotas.get(project)
        quota = replace(current, hard=hard, updated=now) if current else Quota(project, hard, 0, now, now)
        self._quotas[project] = quota
        return quota

    def blob_refs(self, project: str, digests: Iterable[str]) -> dict[str, Counted]:
        counted = self._blobs.get(project, {})
        return {d: counted[d] for d in set(digests) if d in counted}

    def read(self, project: str, digests: Iterable[str]) -> Read:
        digests = list(digests)
        return lambda: Usage(self.get(project), self.blob_refs(project, digests))

    def usage(self, read: Read, answer: Any) -> Usage:
        return answer

    def recount(self, project: str) -> tuple[int, int] | None:
        current = self._quotas.get(project)
        if current is None:
            return None
        total = sum(c.nbytes for c in self._blobs.get(project, {}).values())
        self._quotas[project] = replace(current, used=total)
        return current.used, total

    def apply(self, change: Change) -> None:
        try:
            self._write(change)
        except Conflict:
            pass

    def ops(self, change: Change) -> list[Op]:
        return [lambda: self._write(change)]

    def removal(self, project: str) -> Op:
        return lambda: self._quotas.pop(project, None)

    def _named(self, digest: str, delta: int, now: int, nbytes: int = 0) -> None:
        """As gc_ledger.named_op: one project more (and the time) or fewer on the blob's
        record. A blob live without a record yet is one the write this joins links: in
        DynamoDB the link's update of the record counts the project (gc_ledger.starts_naming),
        so here the record starts with it and the link finds it."""
        if self._ledger is None:
            return
        blob = self._ledger.blobs.get(digest)
        if blob is None:
            if delta > 0:
                self._ledger.blobs[digest] = BlobState(digest, nbytes, None, delta, now, False, None)
            return
        projects = (blob.projects or 0) + delta
        self._ledger.blobs[digest] = replace(blob, projects=projects, last_ref=now) if delta > 0 else replace(blob, projects=projects)

    def _write(self, change: Change) -> None:
        """All of `change` if every read it was computed from still holds, else Conflict."""
        counted = self._blobs.get(change.project, {})
        stale = Conflict("a concurrent change to this project's usage won; retry")
        for digest in change.added:
            if digest in counted or (digest in change.blobs and not self._blob_live(digest)):
                raise stale
        for digest in change.shared:
            flag = digest in change.blobs and digest not in change.in_blob_count
            if digest not in counted or (flag and (counted[digest].in_blob_count or not self._blob_live(digest))):
                raise stale
        for digest, (refs, count, _) in change.released.items():
            now = counted.get(digest)
            if now is None or (now.refs != refs if count >= refs else now.refs <= count):
                raise stale
            # named_op(-1)'s condition: the record is there
            if count >= refs and digest in change.in_blob_count and self._ledger is not None and digest not in self._ledger.blobs:
                raise stale
        delta = change.delta
        current = self._quotas.get(change.project)
        over = current is None or current.hard != change.quota.hard or current.used > change.quota.hard - delta
        if delta > 0 and change.quota.hard >= 0 and over:
            raise stale
        counted = self._blobs.setdefault(change.project, counted)
        for digest, nbytes in change.added.items():
            counted[digest] = Counted(1, nbytes, digest in change.blobs)
            if digest in change.blobs:
                self._named(digest, 1, change.now, nbytes)
        for digest in change.shared:
            was = counted[digest]
            newly = digest in change.blobs and digest not in change.in_blob_count
            if newly:
                self._named(digest, 1, change.now, was.nbytes)
            counted[digest] = replace(was, refs=was.refs + 1, in_blob_count=was.in_blob_count or newly)
        for digest, (refs, count, _) in change.released.items():
            if count >= refs:
                del counted[digest]
                if digest in change.in_blob_count:
                    self._named(digest, -1, change.now)
                    if self._ledger is not None:
                        self._ledger.note_candidate(digest, change.project, change.now)
            else:
                counted[digest] = replace(counted[digest], refs=counted[digest].refs - count)
        if delta or change.added:
            base = current or Quota(change.project, created=change.now)
            self._quotas[change.project] = replace(base, used=base.used + delta, updated=change.now)

