"""Garbage collection's items in DynamoDB (key layout: keys.py): the candidates, the
blob deletions' conditional writes, the runs and their logs, the lease that lets one run
at a time, and the schedule. Why a deletion here never loses a blob a concurrent push
names: docs/decisions/garbage-collection.md.

`GCStore` is the contract the domain and the API are written against; `DynamoGC` keeps it
in DynamoDB, `MemoryGC` in memory (for fast tests of the code that uses it), over a
`MemoryLedger` (what the push, upload and deletion paths keep for it: in DynamoDB, the
items meta/gc_ledger.py describes); tests/contract/test_gc_store.py runs the same suite
over both.
"""
from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Protocol

from botocore.exceptions import ClientError

from chalicelib.meta import gc_ledger, keys
from chalicelib.meta.table import Table, is_condition_failure, marshal, unmarshal

PENDING, RUNNING, SUCCESS, ERROR, STOPPED = "Pending", "Running", "Success", "Error", "Stopped"
FINISHED = (SUCCESS, ERROR, STOPPED)
OBJECT_KEY = "s3key"  # as meta/registry.py names it


@dataclass(frozen=True)
class Candidate:
    digest: str
    nonce: str  # changes with every write: a run drops the candidate only as it read it
    since: int
    projects: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Changed:
    """A repository where a manifest may have become untagged since the last run
    (meta/gc_ledger.py changed_op)."""

    repository: str
    nonce: str  # changes with every write: a run drops the mark only as it read it


@dataclass(frozen=True)
class BlobState:
    """A blob's record as garbage collection reads it."""

    digest: str
    nbytes: int
    key: str | None  # the object holding its bytes (None: the digest's own key)
    projects: int | None  # None: a record older than the ledger
    last_ref: int
    tracked: bool
    gone: str | None  # the run that committed to deleting it
    repos: frozenset[str] = frozenset()

    @classmethod
    def of(cls, digest: str, item: dict[str, Any]) -> BlobState:
        projects = item.get(gc_ledger.PROJECTS)
        return cls(
            digest,
            int(item.get("nbytes", 0)),
            item.get(OBJECT_KEY),
            None if projects is None else int(projects),
            int(item.get(gc_ledger.LAST_REF, item.get("created", 0))),
            bool(item.get(gc_ledger.TRACKED)),
            item.get(gc_ledger.GONE),
            frozenset(item.get(gc_ledger.LINKED_IN) or ()),
        )


@dataclass(frozen=True)
class Run:
    run_id: int
    trigger: str  # Harbor's: "Manual" | "Schedule"
    parameters: dict[str, Any]  # delete_untagged, dry_run, workers
    status: str = PENDING
    created: float = 0
    updated: float = 0
    ended: float = 0
    cutoff: int = 0  # blobs last named before this may go
    workflow_arn: str = ""
    counts: dict[str, int] = field(default_factory=dict)
    projects: frozenset[str] = frozenset()  # whose usage the run corrects at its end

    @property
    def dry_run(self) -> bool:
        return bool(self.parameters.get("dry_run"))


@dataclass(frozen=True)
class Schedule:
    type: str  # Hourly, Daily, Weekly, Custom (None: no schedule)
    cron: str
    parameters: dict[str, Any]
    created: float
    updated: float


# the candidates' shards, in the order a run walks them (a Step Functions state names one)
SHARDS = keys.GC_SHARDS


class GCStore(Protocol):
    # -- candidates
    def candidates(self, shard: str, after: str | None, limit: int) -> list[Candidate]:
        """A page of one shard's candidates (SHARDS) in digest order, after `after`."""
        ...

    def drop_candidate(self, candidate: Candidate) -> None:
        """Forget a candidate, unless it was written again since it was read."""
        ...

    def candidate_count(self) -> int:
        """How many candidates wait (the bench and tests)."""
        ...

    # -- repositories changed since the last run (the untagged step)
    def changed(self, shard: str, after: str | None, limit: int) -> list[Changed]:
        """A page of one shard's change marks (SHARDS) in repository order, after `after`."""
        ...

    def drop_changed(self, mark: Changed) -> bool:
        """Forget a change mark, unless the repository changed again since it was read;
        whether it went."""
        ...

    def every_repository_visited(self) -> bool:
        """Whether a run's untagged step has visited every repository once."""
        ...

    def set_every_repository_visited(self) -> None: ...

    # -- a blob's deletion
    def blob(self, digest: str) -> BlobState | None: ...

    def mark_gone(self, digest: str, cutoff: int, run_id: int) -> BlobState | None:
        """Commit to deleting the blob, only if it is collectable now (tracked, no project
        names it, nothing named it since `cutoff`, not gone); None if it is not."""
        ...

    def unlink_everywhere(self, blob: BlobState) -> None:
        """Delete the blob's links in every repository that linked it (a gone link is no error)."""
        ...

    def forget_blob(self, blob: BlobState, upload_claim: str | None) -> bool:
        """Delete the upload claim, then the record (only while gone); whether the record is gone now."""
        ...

    # -- runs and their logs
    def create_run(self, trigger: str, parameters: dict[str, Any]) -> Run:
        """A new run, Pending, created and updated now."""
        ...

    def save(self, run: Run) -> Run:
        """Write the run, updated now; the run as written."""
        ...

    def get(self, run_id: int) -> Run | None: ...

    def runs(self) -> list[Run]:
        """Every run, newest first."""
        ...

    def add_counts(self, run_id: int, counts: dict[str, int], projects: Iterable[str] = ()) -> None:
        """Add to a run's counts and the projects whose usage it corrects (workers add at once)."""
        ...

    def log(self, run_id: int, lines: Iterable[str]) -> None:
        """Add lines to a run's log, stamped now."""
        ...

    def log_lines(self, run_id: int) -> list[str]:
        """A run's log in the order written."""
        ...

    # -- one run at a time
    def acquire(self, run_id: int, ttl: int) -> int | None:
        """Take (or renew) the lease for `run_id` for `ttl` seconds; None if another run holds it."""
        ...

    def holder(self) -> int | None:
        """The run holding an unexpired lease (None: nobody)."""
        ...

    def release(self, run_id: int) -> None:
        """Give up the lease if `run_id` holds it."""
        ...

    # -- how far the uploads' clean-up has judged
    def uploads_judged_until(self, url_lifetime: int) -> float | None:
        """Every upload session started before the answer has been judged (None: none yet)."""
        ...

    def set_uploads_judged_until(self, until: float) -> None:
        """Only forward (two clean-ups at once: the later cutoff wins)."""
        ...

    # -- the schedule
    def schedule(self) -> Schedule | None: ...

    def set_schedule(self, type_: str, cron: str, parameters: dict[str, Any]) -> Schedule:
        """Set the schedule (its creation time stays)."""
        ...

    def delete_schedule(self) -> None: ...


@dataclass
class MemoryLedger:
    """What the push, upload and deletion paths keep for garbage collection, in memory: the
    blob records, the repositories' links, the upload claims and the candidates (in
    DynamoDB, items those paths write in their own transactions: meta/gc_ledger.py)."""

    blobs: dict[str, BlobState] = field(default_factory=dict)
    links: set[tuple[str, str]] = field(default_factory=set)  # (repository, digest)
    upload_claims: set[str] = field(default_factory=set)
    candidates: dict[str, Candidate] = field(default_factory=dict)
    changed: dict[str, Changed] = field(default_factory=dict)  # repository -> its change mark

    def live(self, digest: str) -> bool:
        """The blob's record is there and no garbage collection committed to deleting it."""
        blob = self.blobs.get(digest)
        return blob is not None and blob.gone is None

    def note_candidate(self, digest: str, project: str, now: int) -> None:
        """As gc_ledger.candidate_op: the first time kept, a new nonce, one more project."""
        current = self.candidates.get(digest)
        since = current.since if current else now
        projects = (current.projects if current else frozenset()) | {project}
        self.candidates[digest] = Candidate(digest, str(uuid.uuid4()), since, projects)

    def note_changed(self, repository: str) -> None:
        """As gc_ledger.changed_op: a manifest of the repository may have become untagged."""
        self.changed[repository] = Changed(repository, str(uuid.uuid4()))


class MemoryGC:
    """GCStore in memory: the same answers as DynamoGC, for fast tests."""

    def __init__(self, clock: Callable[[], float], ledger: MemoryLedger | None = None):
        self._clock = clock
        self.ledger = ledger if ledger is not None else MemoryLedger()
        self._runs: dict[int, Run] = {}
        self._logs: dict[int, list[tuple[float, int, str]]] = {}
        self._lease: tuple[int, int] | None = None  # (run id, expires)
        self._uploads_until: int | None = None
        self._visited_every_repository = False
        self._schedule: Schedule | None = None
        self._last_run = 0

    def candidates(self, shard: str, after: str | None, limit: int) -> list[Candidate]:
        found = sorted(d for d in self.ledger.candidates if keys.gc_candidates_pk(d) == keys.gc_candidates_pk(shard)
                       and (after is None or d > after))
        return [self.ledger.candidates[d] for d in found[:limit]]

    def drop_candidate(self, candidate: Candidate) -> None:
        current = self.ledger.candidates.get(candidate.digest)
        if current is not None and current.nonce == candidate.nonce:
            del self.ledger.candidates[candidate.digest]

    def candidate_count(self) -> int:
        return len(self.ledger.candidates)

    def changed(self, shard: str, after: str | None, limit: int) -> list[Changed]:
        found = sorted(r for r in self.ledger.changed if keys.gc_changed_shard(r) == shard and (after is None or r > after))
        return [self.ledger.changed[r] for r in found[:limit]]

    def drop_changed(self, mark: Changed) -> bool:
        current = self.ledger.changed.get(mark.repository)
        if current is None or current.nonce != mark.nonce:
            return False
        del self.ledger.changed[mark.repository]
        return True

    def every_repository_visited(self) -> bool:
        return self._visited_every_repository

    def set_every_repository_visited(self) -> None:
        self._visited_every_repository = True

    def blob(self, digest: str) -> BlobState | None:
        return self.ledger.blobs.get(digest)

    def mark_gone(self, digest: str, cutoff: int, run_id: int) -> BlobState | None:
        blob = self.ledger.blobs.get(digest)
        if blob is None or not blob.tracked or blob.projects != 0 or blob.last_ref >= cutoff or blob.gone is not None:
            return None
        gone = replace(blob, gone=str(run_id))
        self.ledger.blobs[digest] = gone
        return gone

    def unlink_everywhere(self, blob: BlobState) -> None:
        for repository in blob.repos:
            self.ledger.links.discard((repository, blob.digest))

    def forget_blob(self, blob: BlobState, upload_claim: str | None) -> bool:
        if upload_claim:
            self.ledger.upload_claims.discard(upload_claim)
        current = self.ledger.blobs.get(blob.digest)
        if current is not None and current.gone is not None:
            del self.ledger.blobs[blob.digest]
            return True
        return current is None

    def create_run(self, trigger: str, parameters: dict[str, Any]) -> Run:
        self._last_run += 1
        now = self._clock()
        return self.save(Run(self._last_run, trigger, dict(parameters), PENDING, now, now))

    def save(self, run: Run) -> Run:
        run = replace(run, updated=self._clock())
        self._runs[run.run_id] = _as_stored(run)
        return self._runs[run.run_id]

    def get(self, run_id: int) -> Run | None:
        run = self._runs.get(run_id)
        return _as_stored(run) if run else None

    def runs(self) -> list[Run]:
        return [_as_stored(self._runs[i]) for i in sorted(self._runs, reverse=True)]

    def add_counts(self, run_id: int, counts: dict[str, int], projects: Iterable[str] = ()) -> None:
        counts = {k: v for k, v in counts.items() if v}
        projects = set(projects)
        if not counts and not projects:
            return
        run = self._runs[run_id]
        added = dict(run.counts)
        for name, value in counts.items():
            added[name] = added.get(name, 0) + value
        self._runs[run_id] = replace(run, counts=added, projects=run.projects | projects)

    def log(self, run_id: int, lines: Iterable[str]) -> None:
        now = self._clock()
        self._logs.setdefault(run_id, []).extend((now, i, line) for i, line in enumerate(lines))

    def log_lines(self, run_id: int) -> list[str]:
        return [line for _, _, line in sorted(self._logs.get(run_id, []), key=lambda e: (e[0], e[1]))]

    def acquire(self, run_id: int, ttl: int) -> int | None:
        now = int(self._clock())
        if self._lease is not None and self._lease[1] >= now and self._lease[0] != run_id:
            return None
        self._lease = (run_id, now + ttl)
        return run_id

    def holder(self) -> int | None:
        if self._lease is None or self._lease[1] < int(self._clock()):
            return None
        return self._lease[0]

    def release(self, run_id: int) -> None:
        if self._lease is not None and self._lease[0] == run_id:
            self._lease = None

    def uploads_judged_until(self, url_lifetime: int) -> float | None:
        return None if self._uploads_until is None else float(self._uploads_until)

    def set_uploads_judged_until(self, until: float) -> None:
        if self._uploads_until is None or self._uploads_until < int(until):
            self._uploads_until = int(until)

    def schedule(self) -> Schedule | None:
        return copy.deepcopy(self._schedule)

    def set_schedule(self, type_: str, cron: str, parameters: dict[str, Any]) -> Schedule:
        now = float(_num(self._clock()))
        created = self._schedule.created if self._schedule else now
        self._schedule = Schedule(type_, cron, copy.deepcopy(parameters), created, now)
        return copy.deepcopy(self._schedule)

    def delete_schedule(self) -> None:
        self._schedule = None


def _as_stored(run: Run) -> Run:
    """A copy of the run as the DynamoDB store reads it back (times to the microsecond)."""
    return replace(run, parameters=copy.deepcopy(run.parameters), counts=dict(run.counts),
                   created=float(_num(run.created)), updated=float(_num(run.updated)), ended=float(_num(run.ended)))


class DynamoGC:
    def __init__(self, table: Table, clock):
        self._t = table
        self._clock = clock

    # -- candidates ------------------------------------------------------------------------
    def candidates(self, shard: str, after: str | None, limit: int) -> list[Candidate]:
        """A page of one shard's candidates in digest order (one Query)."""
        low = after + "\x00" if after else "\x00"
        items = self._t.query_page(keys.gc_candidates_pk(shard), low=low, high="\U0010ffff", limit=limit)
        return [
            Candidate(i["SK"], str(i.get("nonce", "")), int(i.get("since", 0)), frozenset(i.get("from_projects") or ()))
            for i in items
        ]

    def drop_candidate(self, candidate: Candidate) -> None:
        """Forget a candidate, unless it was written again since it was read."""
        self._delete_as_read(keys.gc_candidates_pk(candidate.digest), candidate.digest, candidate.nonce)

    def _delete_as_read(self, pk: str, sk: str, nonce: str) -> bool:
        """Delete an item only if its `nonce` is still the one read (written again since: it
        stays); whether it was deleted."""
        condition = "nonce = :n" if nonce else "attribute_not_exists(nonce)"
        values = {":n": {"S": nonce}} if nonce else None
        kwargs: dict[str, Any] = {
            "TableName": self._t.name,
            "Key": keys.key(pk, sk),
            "ConditionExpression": condition,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        try:
            self._t.client.delete_item(**kwargs)
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
            return False
        return True

    # -- repositories changed since the last run (the untagged step) --------------------------
    def changed(self, shard: str, after: str | None, limit: int) -> list[Changed]:
        """A page of one shard's change marks in repository order (one Query)."""
        low = after + "\x00" if after else "\x00"
        items = self._t.query_page(keys.gc_changed_pk(shard), low=low, high="\U0010ffff", limit=limit)
        return [Changed(i["SK"], str(i.get("nonce", ""))) for i in items]

    def drop_changed(self, mark: Changed) -> bool:
        """Forget a change mark, unless the repository changed again since it was read."""
        return self._delete_as_read(keys.gc_changed_pk(keys.gc_changed_shard(mark.repository)), mark.repository, mark.nonce)

    def every_repository_visited(self) -> bool:
        """Whether a run's untagged step has visited every repository once: until then, the
        change marks do not cover what changed before they were written (the first run
        after an upgrade, on a table that already held repositories)."""
        return self._t.get(keys.GC_STATE_PK, keys.GC_UNTAGGED_SK, consistent=True) is not None

    def set_every_repository_visited(self) -> None:
        self._t.put({"PK": keys.GC_STATE_PK, "SK": keys.GC_UNTAGGED_SK, "visited": "every repository"})

    def candidate_count(self) -> int:
        """How many candidates wait (16 Queries, counting only: the bench and tests)."""
        total = 0
        for shard in keys.GC_SHARDS:
            start = None
            while True:
                kwargs: dict[str, Any] = {
                    "TableName": self._t.name,
                    "KeyConditionExpression": "PK = :pk",
                    "ExpressionAttributeValues": {":pk": {"S": keys.gc_candidates_pk(shard)}},
                    "Select": "COUNT",
                }
                if start:
                    kwargs["ExclusiveStartKey"] = start
                out = self._t.client.query(**kwargs)
                total += int(out.get("Count", 0))
                start = out.get("LastEvaluatedKey")
                if not start:
                    break
        return total

    # -- a blob's deletion -------------------------------------------------------------------
    def blob(self, digest: str) -> BlobState | None:
        item = self._t.get(keys.blob_pk(digest), keys.BLOB_SK, consistent=True)
        return BlobState.of(digest, item) if item else None

    def mark_gone(self, digest: str, cutoff: int, run_id: int) -> BlobState | None:
        """Commit to deleting the blob: one conditional write that holds only if it is
        collectable now (no project names it, nothing linked or named it since `cutoff`,
        its count is trustworthy). After it, nothing links or names the blob again (every
        such write requires `gone` absent). None if the condition failed."""
        try:
            out = self._t.client.update_item(
                TableName=self._t.name,
                Key=keys.key(keys.blob_pk(digest), keys.BLOB_SK),
                UpdateExpression=f"SET {gc_ledger.GONE} = :run",
                ConditionExpression=(
                    f"{gc_ledger.TRACKED} = :one AND {gc_ledger.PROJECTS} = :zero AND {gc_ledger.LAST_REF} < :cutoff "
                    f"AND attribute_not_exists({gc_ledger.GONE})"
                ),
                ExpressionAttributeValues=marshal({":run": str(run_id), ":one": 1, ":zero": 0, ":cutoff": cutoff}),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return None
            raise
        return BlobState.of(digest, unmarshal(out["Attributes"]))

    def unlink_everywhere(self, blob: BlobState) -> None:
        """Delete the blob's links in every repository that linked it (BatchWriteItem; a
        link already gone is no error). Only once the blob is `gone`: no new link appears."""
        requests = [
            {"DeleteRequest": {"Key": keys.key(keys.repo_pk(repo), keys.link_sk(blob.digest))}} for repo in sorted(blob.repos)
        ]
        self._batch_write(requests)

    def forget_blob(self, blob: BlobState, upload_claim: str | None) -> bool:
        """The record's end (only while `gone`: a run's own commitment), with the upload
        claim that kept its object from the uploads' clean-up. The claim goes first: while
        the `gone` record is there the next run finds the blob again and deletes both, but
        a claim left after its record is found by nothing (its object went already).
        Whether the record is gone now: False if the condition failed and the record is
        still there (its candidate must stay, for the next run)."""
        if upload_claim:
            self._t.delete(keys.uploaded_pk(upload_claim), keys.UPLOADED_SK)
        try:
            self._t.client.delete_item(
                TableName=self._t.name,
                Key=keys.key(keys.blob_pk(blob.digest), keys.BLOB_SK),
                ConditionExpression=f"attribute_exists({gc_ledger.GONE})",
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
            # deleted already (an earlier attempt whose reply was lost), or not ours to
            # delete: only the first lets the candidate go
            return self._t.get(keys.blob_pk(blob.digest), keys.BLOB_SK, consistent=True) is None
        return True

    def _batch_write(self, requests: list[dict[str, Any]]) -> None:
        delay = 0.05
        for start in range(0, len(requests), 25):
            pending: dict[str, Any] = {self._t.name: requests[start : start + 25]}
            while pending:
                out = self._t.client.batch_write_item(RequestItems=pending)
                pending = out.get("UnprocessedItems") or {}
                if pending:
                    time.sleep(delay)
                    delay = min(delay * 2, 1.0)

    # -- runs ----------------------------------------------------------------------------------
    def create_run(self, trigger: str, parameters: dict[str, Any]) -> Run:
        now = self._clock()
        run = Run(self._t.next_id("gc"), trigger, dict(parameters), PENDING, now, now)
        self.save(run)
        return run

    def save(self, run: Run) -> Run:
        run = replace(run, updated=self._clock())
        self._t.put(_run_item(run))
        return run

    def get(self, run_id: int) -> Run | None:
        if run_id <= 0:
            return None
        item = self._t.get(keys.GC_RUNS_PK, keys.gc_run_sk(run_id), consistent=True)
        return _run(item) if item else None

    def runs(self) -> list[Run]:
        """Every run, newest first (one Query; runs are kept for their history)."""
        items = self._t.query_all(keys.GC_RUNS_PK, low="0", high="9~")
        return sorted((_run(i) for i in items), key=lambda r: -r.run_id)

    def add_counts(self, run_id: int, counts: dict[str, int], projects: Iterable[str] = ()) -> None:
        """Add to a run's counts and the projects whose usage it corrects (one ADD: the
        workers of a run may add at once; the counts map exists from the run's creation)."""
        counts = {k: v for k, v in counts.items() if v}
        projects = set(projects)
        if not counts and not projects:
            return
        names: dict[str, str] = {}
        parts: list[str] = []
        values: dict[str, Any] = {}
        for i, (name, value) in enumerate(counts.items()):
            names["#counts"], names[f"#c{i}"] = "counts", name
            parts.append(f"#counts.#c{i} :v{i}")
            values[f":v{i}"] = value
        if projects:
            parts.append("projects :p")
            values[":p"] = projects
        kwargs: dict[str, Any] = {"ExpressionAttributeNames": names} if names else {}
        self._t.client.update_item(
            TableName=self._t.name,
            Key=keys.key(keys.GC_RUNS_PK, keys.gc_run_sk(run_id)),
            UpdateExpression="ADD " + ", ".join(parts),
            ExpressionAttributeValues=marshal(values),
            **kwargs,
        )

    # -- a run's log ---------------------------------------------------------------------------
    def log(self, run_id: int, lines: Iterable[str]) -> None:
        now = self._clock()
        items = [
            {"PK": keys.gc_log_pk(run_id), "SK": f"{now:017.6f}#{i:06d}#{uuid.uuid4().hex[:6]}", "line": line}
            for i, line in enumerate(lines)
        ]
        if items:
            self._t.batch_put(items)

    def log_lines(self, run_id: int) -> list[str]:
        return [i["line"] for i in self._t.query_all(keys.gc_log_pk(run_id), low="\x00", high="\U0010ffff")]

    # -- one run at a time -----------------------------------------------------------------------
    def acquire(self, run_id: int, ttl: int) -> int | None:
        """Take (or renew) the lease for `run_id`; None if it was taken; else the holder
        (`run_id`). A run that died holds it until it expires."""
        now = int(self._clock())
        try:
            self._t.put(
                {"PK": keys.GC_LEASE_PK, "SK": keys.GC_LEASE_SK, "run_id": run_id, "expires": now + ttl},
                condition="attribute_not_exists(PK) OR expires < :now OR run_id = :id",
                values={":now": now, ":id": run_id},
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return None
            raise
        return run_id

    def holder(self) -> int | None:
        item = self._t.get(keys.GC_LEASE_PK, keys.GC_LEASE_SK, consistent=True)
        if not item or int(item.get("expires", 0)) < int(self._clock()):
            return None
        return int(item["run_id"])

    def release(self, run_id: int) -> None:
        try:
            self._t.client.delete_item(
                TableName=self._t.name,
                Key=keys.key(keys.GC_LEASE_PK, keys.GC_LEASE_SK),
                ConditionExpression="run_id = :id",
                ExpressionAttributeValues={":id": {"N": str(run_id)}},
            )
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise

    # -- how far the uploads' clean-up has judged ---------------------------------------------
    def uploads_judged_until(self, url_lifetime: int) -> float | None:
        """Every upload session started before the answer has been judged by the clean-up
        (None: none yet). An item written before the clean-up counted sessions (only
        `until`: the objects last written before it were judged) answers `until` less one
        URL lifetime: every session started before that had ended by `until`."""
        item = self._t.get(keys.GC_STATE_PK, keys.GC_UPLOADS_SK, consistent=True)
        if not item:
            return None
        if "sessions" in item:
            return float(item["sessions"])
        return float(item["until"]) - url_lifetime

    def set_uploads_judged_until(self, until: float) -> None:
        """Only forward (two clean-ups at once: the later cutoff wins)."""
        try:
            self._t.put({"PK": keys.GC_STATE_PK, "SK": keys.GC_UPLOADS_SK, "sessions": int(until)},
                        condition="attribute_not_exists(#s) OR #s < :s", values={":s": int(until)}, names={"#s": "sessions"})
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise

    # -- the schedule ---------------------------------------------------------------------------
    def schedule(self) -> Schedule | None:
        item = self._t.get(keys.GC_SCHEDULE_PK, keys.GC_SCHEDULE_SK, consistent=True)
        if not item:
            return None
        return Schedule(item["type"], item.get("cron", ""), json.loads(item.get("parameters") or "{}"),
                        float(item.get("created", 0)), float(item.get("updated", 0)))

    def set_schedule(self, type_: str, cron: str, parameters: dict[str, Any]) -> Schedule:
        now = self._clock()
        current = self.schedule()
        created = current.created if current else now
        self._t.put({"PK": keys.GC_SCHEDULE_PK, "SK": keys.GC_SCHEDULE_SK, "type": type_, "cron": cron,
                     "parameters": json.dumps(parameters, sort_keys=True), "created": _num(created), "updated": _num(now)})
        return Schedule(type_, cron, parameters, created, now)

    def delete_schedule(self) -> None:
        self._t.delete(keys.GC_SCHEDULE_PK, keys.GC_SCHEDULE_SK)


def _num(value: float) -> Any:
    return Decimal(str(round(value, 6)))


def _run_item(run: Run) -> dict[str, Any]:
    item: dict[str, Any] = {
        "PK": keys.GC_RUNS_PK,
        "SK": keys.gc_run_sk(run.run_id),
        "run_id": run.run_id,
        "trigger": run.trigger,
        "parameters": json.dumps(run.parameters, sort_keys=True),
        "status": run.status,
        "created": _num(run.created),
        "updated": _num(run.updated),
        "ended": _num(run.ended),
        "cutoff": run.cutoff,
        "workflow_arn": run.workflow_arn or None,
        "counts": dict(run.counts),
    }
    if run.projects:
        item["projects"] = set(run.projects)
    return item


def _run(item: dict[str, Any]) -> Run:
    return Run(
        int(item["run_id"]),
        item.get("trigger", "Manual"),
        json.loads(item.get("parameters") or "{}"),
        item.get("status", PENDING),
        float(item.get("created", 0)),
        float(item.get("updated", 0)),
        float(item.get("ended", 0)),
        int(item.get("cutoff", 0)),
        item.get("workflow_arn", ""),
        {k: int(v) for k, v in (item.get("counts") or {}).items()},
        frozenset(item.get("projects") or ()),
    )
