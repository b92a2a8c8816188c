"""Registry metadata in DynamoDB: repositories, blob links, manifests, tags, referrers.

`RegistryMeta` is the contract the domain and the API are written against;
`DynamoRegistryMeta` keeps it in DynamoDB, `MemoryRegistryMeta` (meta/registry_memory.py)
in memory; tests/contract/test_registry_meta.py runs the same suite over both.
"""
from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import Conflict, ProjectGone, StoreUnavailable
from chalicelib.meta import gc_ledger, keys, outbox_items
from chalicelib.meta.table import (
    ItemsRead,
    KeyRange,
    Table,
    count_op,
    delete_op,
    is_condition_failure,
    marshal,
    put_op,
    update_op,
)

if TYPE_CHECKING:
    from chalicelib.oci.manifests import ParsedManifest

# Manifests up to this size are kept in the item itself (and copied into the tag
# item), so a pull by tag is one GetItem. Larger ones go to S3.
INLINE_MANIFEST_LIMIT = 64 * 1024
# A DynamoDB item holds at most 400 KB. Annotations are copied into the manifest
# and referrer items only up to this size; larger ones (possible only in a
# manifest kept in S3) stay in the manifest's bytes alone.
INLINE_ANNOTATIONS_LIMIT = 192 * 1024
# DynamoDB's most items in one transaction
MAX_TRANSACTION = 100
# an index's children held in its transaction (beyond, an index of very many children
# relies on garbage collection's grace period alone: docs/decisions/garbage-collection.md)
MAX_HELD_CHILDREN = 50
# how many times an upload waits for a garbage collection to finish deleting the blob's old
# record (about 20 s in all, backing off to a second)
GONE_WAITS = 25


def _annotations_attr(annotations: dict[str, str] | None) -> str | None:
    if not annotations:
        return None
    text = json.dumps(annotations)
    return text if len(text.encode()) <= INLINE_ANNOTATIONS_LIMIT else None


@dataclass
class ManifestRecord:
    digest: str
    media_type: str
    size: int
    body: bytes | None  # None when the bytes live in S3
    subject: str | None = None
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None
    blobs: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    created: int = 0
    pull_time: int = 0  # the last pull (chalicelib/pulls.py); 0: never
    # changes with every put and every tag added; read, never written from here, and not
    # part of what the manifest is (two reads of one manifest compare equal across puts)
    version: str | None = field(default=None, compare=False)

    @classmethod
    def of(cls, digest: str, data: bytes, parsed: ParsedManifest, created: int) -> ManifestRecord:
        """The record of manifest bytes as parsed (a push, a replicated or a cached manifest):
        the bytes kept in the item up to INLINE_MANIFEST_LIMIT (larger ones go to S3)."""
        return cls(
            digest=digest,
            media_type=parsed.media_type,
            size=len(data),
            body=data if len(data) <= INLINE_MANIFEST_LIMIT else None,
            subject=parsed.subject.digest if parsed.subject else None,
            artifact_type=parsed.artifact_type,
            annotations=parsed.annotations,
            blobs=list(parsed.blobs),
            # each child once: an index may list one manifest many times, and the
            # list is stored in the manifest's DynamoDB item (at most 400 KB)
            children=list(dict.fromkeys(parsed.children)),
            created=created,
        )

    def to_item(self, name: str) -> dict[str, Any]:
        return {
            "PK": keys.repo_pk(name),
            "SK": keys.manifest_sk(self.digest),
            "digest": self.digest,
            "media_type": self.media_type,
            "nbytes": self.size,
            "body": self.body,
            "subject": self.subject,
            "artifact_type": self.artifact_type,
            "annotations": _annotations_attr(self.annotations),
            "blobs": self.blobs or None,
            "children": self.children or None,
            "created": self.created,
        }

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> ManifestRecord:
        return cls(
            digest=item["digest"],
            media_type=item["media_type"],
            size=int(item["nbytes"]),
            body=item.get("body"),
            subject=item.get("subject"),
            artifact_type=item.get("artifact_type"),
            annotations=json.loads(item["annotations"]) if item.get("annotations") else None,
            blobs=list(item.get("blobs") or []),
            children=list(item.get("children") or []),
            created=int(item.get("created", 0)),
            pull_time=int(item.get("pull_time", 0)),
            version=item.get(VERSION),
        )


@dataclass(frozen=True)
class RepositoryContents:
    """A repository's manifests (by digest, with their versions), tags ({digest: [(tag,
    updated, last pull or 0)]}) and labels ({digest: [label id]}), as read at one time."""

    manifests: dict[str, ManifestRecord]
    tags: dict[str, list[tuple[str, int, int]]]
    labels: dict[str, list[int]]


@dataclass(frozen=True)
class Doomed:
    """A manifest to delete, as the caller read it: the record (its version says whether it
    changed since), the tags that named it, the ids of the labels on it."""

    record: ManifestRecord
    tags: tuple[str, ...] = ()
    label_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class BlobLink:
    size: int
    key: str | None  # where the bytes are; None: at the digest's own key (paths.blob_key)


class UploadAlreadyComplete(Exception):
    """The session ended before: it completed (its link is there) or was cancelled."""

    def __init__(self, upload_id: str, *, cancelled: bool):
        super().__init__(upload_id)
        self.cancelled = cancelled


# the attribute of a link and a blob record that names the object holding the bytes
OBJECT_KEY = "s3key"


def _upload_claim(upload_id: str, digest: str, now: int, expires: int | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {"PK": keys.uploaded_pk(upload_id), "SK": keys.UPLOADED_SK, "digest": digest, "created": now}
    if expires is not None:
        item[keys.TTL_ATTRIBUTE] = expires
    return put_op(item, "attribute_not_exists(PK)")


@dataclass(frozen=True)
class PushReads:
    missing: list[str]  # references the repository lacks
    repository_exists: bool
    tag_digest: str | None  # what the pushed tag names now (None: no such tag)
    manifest_exists: bool = False  # the repository has the pushed manifest already
    sizes: dict[str, int] = field(default_factory=dict)  # bytes of the blobs the repository links
    # the answers to other stores' reads (read_for_push's `also`), in their order: each is
    # read by the store whose read it answers
    also: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Referrer:
    """A manifest whose subject is another (a signature, an SBOM): what the referrers API
    lists of it. artifact_type and annotations are None when the manifest has none (empty
    ones count as none; annotations too large for the item are left out too)."""

    digest: str
    media_type: str
    size: int
    artifact_type: str | None = None
    annotations: dict[str, str] | None = None


@dataclass
class TagRecord:
    tag: str
    digest: str
    media_type: str
    size: int
    body: bytes | None
    # when a proxy cache last found the upstream's tag naming this digest
    # (chalicelib/proxy_cache.py); None for a tag no proxy cache wrote
    checked: int | None = field(default=None, compare=False)


# An operation of another store's change, joining one of this store's transactions (a
# manifest's quota change: QuotaStore.ops; opaque: the domain hands it on without looking
# into it, docs/decisions/store-operations-in-other-transactions.md)
Op = Any
# A read of another store's items, answered in this store's read of a push (the project's
# quota usage and immutability rules: QuotaStore.read, ImmutableRuleStore.read). The other
# store builds it for its backend (DynamoDB: a table.ItemsRead; in memory: a callable) and
# reads the answer (PushReads.also); the domain only hands them on.
Read = Any


class RepositoryList(Protocol):
    """A project's repositories in name order, paged by chalicelib/management/paging.py (its
    KeyedList): names only, or (name, RepositoryRecord) pairs, after a name."""

    def keys(self, after: str | None, limit: int) -> list[str]: ...

    def rows(self, after: str | None, limit: int) -> list[tuple[str, RepositoryRecord]]: ...


class RegistryMeta(Protocol):
    """The registry's metadata: repositories (the catalog), blob links and blob records,
    upload sessions' ends, manifests, tags, referrer entries, pulls, a proxy cache's fill
    claims and garbage collection's marks. `name` is a repository's full name
    ("<project>/<path>"), digests are strings ("sha256:..."), times are epoch seconds.

    Every write is all or nothing. A write that names `project` happens only while that
    project exists (ProjectGone otherwise, nothing written). A failed condition or a lost
    race with a concurrent write is Conflict (chalicelib/errors.py), unless the method says
    it answers False or None. Each change that others react to (artifact.pushed,
    artifact.deleted, tag.created, tag.deleted) writes its event to the outbox the store was
    given, in the same write. Operations other stores hand in (`extra`, type `Op`) are
    opaque: they join the write's transaction as they are."""

    # -- blobs: links of a repository, the store's records of their bytes
    def link_size(self, name: str, digest: str) -> int | None:
        """The size of the repository's link to `digest`; None if it links no such blob."""
        ...

    def get_link(self, name: str, digest: str) -> BlobLink | None:
        """The repository's link to a blob: its size and where its bytes are; None if none."""
        ...

    def blob_size(self, digest: str) -> int | None:
        """The size of the blob if the store holds its bytes (for any repository); else None."""
        ...

    def link_blob(self, name: str, digest: str, size: int, now: int, *, key: str | None = None,
                  project: str | None = None, extra: Iterable[Op] = ()) -> None:
        """Make `digest`, whose bytes the store holds, servable from `name` (`key`: the object
        holding the bytes when not the digest's own). Holds only while the blob's record is
        live and names that object (Conflict otherwise: garbage collection is deleting it,
        or it was uploaded again elsewhere); moves the record's last reference (gc ledger).
        `extra`: other stores' operations, in the same write. ProjectGone with `project`."""
        ...

    def link_existing(self, name: str, digest: str, now: int, *, project: str | None = None) -> int | None:
        """Link a blob the store holds (from any repository) to `name`, at the object its
        record names; its size, or None if the store has no live record of it (being
        garbage-collected counts as none). ProjectGone with `project`."""
        ...

    def link_uploaded_blob(self, name: str, digest: str, size: int, now: int, *, upload_id: str, key: str,
                           project: str | None = None, sleep: Callable[[float], None] = ...) -> str:
        """Link a blob an upload session wrote to `key`, record it (a candidate for the next
        garbage collection) and claim the session's end, at once; returns the key linked:
        `key`, or the object of the blob's existing record (a second upload of a known blob:
        the caller removes its duplicate; "" for the digest's own key). Waits (`sleep`) while
        a garbage collection deletes the blob's old record; Conflict if that lasts too long.
        UploadAlreadyComplete if the session ended before (completed or cancelled);
        ProjectGone with `project`."""
        ...

    def unlink_blob(self, name: str, digest: str) -> bool:
        """Remove the repository's link to the blob (its bytes stay for garbage collection);
        False if there was none."""
        ...

    # -- upload sessions: a session's end (completed or cancelled) is recorded once
    def end_upload(self, upload_id: str, expires_at: int) -> bool:
        """Mark the session cancelled (the record expires at `expires_at`); False if it had
        ended already (completed: its object is a blob's, keep it; or cancelled before)."""
        ...

    def upload_ended(self, upload_id: str) -> bool:
        """Whether the session completed or was cancelled (a consistent read)."""
        ...

    def upload_cancelled(self, upload_id: str) -> bool:
        """Whether the session was cancelled (a consistent read)."""
        ...

    def claimed_uploads(self, upload_ids: Iterable[str]) -> set[str]:
        """Which of these sessions completed: a blob's record claims their object."""
        ...

    # -- what a push reads, and the manifest write
    def missing_references(self, name: str, blobs: Iterable[str], manifests: Iterable[str]) -> list[str]:
        """Which of these blobs and manifests the repository does not hold."""
        ...

    def check_push(self, name: str, blobs: Iterable[str], manifests: Iterable[str]) -> tuple[list[str], bool]:
        """(the references the repository lacks, whether the repository exists), in one read."""
        ...

    def read_for_push(self, name: str, blobs: Iterable[str], manifests: Iterable[str], *, tag: str | None = None,
                      digest: str | None = None, also: Iterable[Read] = ()) -> PushReads:
        """What a manifest PUT needs, read at once: the references the repository lacks and
        the sizes of the blobs it links, whether it exists, what `tag` names now and whether
        it holds the manifest `digest`; with `also` (other stores' reads: the project's
        quota usage and immutability rules) answered in the same read, their answers in
        PushReads.also, in order."""
        ...

    def put_manifest(self, name: str, record: ManifestRecord, tag: str | None, now: int, *,
                     project: str | None = None, links: Iterable[tuple[str, int, str | None]] = (),
                     extra: Iterable[Op] = (), new_repository: bool | None = None, keep_tag: bool = False,
                     new_manifest: bool | None = None, hold_children: Iterable[str] = (),
                     copy_of: str | None = None) -> None:
        """Write the manifest (a new version), its tag, its referrer entry, the catalog entry
        (a new repository counted in its project once), the repository's garbage-collection
        mark and the artifact.pushed event, with `links` ((digest, size, object key or
        None) of blobs) linked and `extra` (other stores' opaque operations: the quota
        change) in the same write. Conflict when a condition fails: `new_repository` or
        `new_manifest` (what the caller read: the repository / manifest is new) no longer
        true, `keep_tag` (an immutable tag) naming another manifest, a `hold_children` child
        manifest gone, a blob being garbage-collected, a concurrent write. ProjectGone with
        `project`. Too many links for one transaction: the links are written first, in
        their own writes (a link without its manifest is harmless), then the rest at once.
        `copy_of`: the artifact a management API copy was asked for ("<repo>:<tag>" or
        "<repo>@<digest>"), carried in the event's data (an index's children are copied
        without it: the audit entry is the copy's, once)."""
        ...

    def get_manifest(self, name: str, digest: str) -> ManifestRecord | None:
        """The manifest (with its bytes when kept inline, and its version); None if absent."""
        ...

    def list_manifests(self, name: str, *, with_body: bool = True) -> list[ManifestRecord]:
        """Every manifest of the repository, by digest; `with_body`: their inline bytes too."""
        ...

    def artifact_count(self, name: str) -> int:
        """Harbor's artifact count: the manifests, less an index's untagged children."""
        ...

    def delete_manifest(self, name: str, digest: str, *, extra: Callable[[ManifestRecord], list[Op]] | None = None,
                        only_untagged: bool = False, created_before: int | None = None,
                        mark_changed: bool = True, named: str | None = None) -> ManifestRecord | None:
        """Delete the manifest with the tags naming it, its referrer entry, its labels and its
        artifact.deleted event; the record deleted, None if there was none. `extra`: other
        stores' opaque operations for the record as read here (its quota's release), in the
        same write, which holds only if the manifest did not change since that read.
        Conflict if it was tagged (`only_untagged`), put at or after `created_before`, or
        changed concurrently. `mark_changed`: mark the repository for garbage collection's
        untagged step. `named`: the reference (a tag or the digest) the caller named the
        artifact by, carried in the event's data as `named` (the audit entry's words)."""
        ...

    def deletion_size(self, doomed: Doomed) -> int:
        """How many operations deleting `doomed` takes in delete_manifests (100 at most fit)."""
        ...

    def delete_manifests(self, name: str, doomed: Iterable[Doomed], *, extra: Iterable[Op] = (),
                         mark_changed: bool = True) -> None:
        """Delete these manifests as the caller read them (repository_contents), each with its
        tags, referrer entry, labels and event, and `extra` (other stores' opaque operations:
        their quota's release), in one write: all, or none if anything changed since the
        read (Conflict). ValueError if it does not fit one transaction (deletion_size)."""
        ...

    def repository_contents(self, name: str) -> RepositoryContents:
        """Every manifest (without its bytes, with its version), every tag with its times and
        the label ids on each artifact, read once."""
        ...

    # -- tags
    def get_tag(self, name: str, tag: str) -> TagRecord | None:
        """The tag with a copy of its manifest (a pull by tag reads one record); None if absent."""
        ...

    def list_tags(self, name: str, *, last: str | None, limit: int) -> tuple[list[str], bool]:
        """Up to `limit` tag names after `last`, in order, and whether more follow."""
        ...

    def tag_digests(self, name: str) -> list[tuple[str, str, int]]:
        """(tag, digest, updated) of every tag of the repository, in tag order."""
        ...

    def tag_times(self, name: str) -> list[tuple[str, str, int, int]]:
        """(tag, digest, updated, last pull time or 0) of every tag, in tag order."""
        ...

    def create_tag(self, name: str, tag: str, record: ManifestRecord, now: int) -> None:
        """Point a new tag at a manifest the repository holds (with its tag.created event; the
        manifest gets a new version). Conflict if the tag exists or the manifest is gone."""
        ...

    def delete_tag(self, name: str, tag: str) -> bool:
        """Delete the tag (its tag.deleted event, the repository's garbage-collection mark);
        False if there was no such tag."""
        ...

    def mark_tag_checked(self, name: str, tag: str, digest: str, now: int) -> None:
        """A proxy cache found the upstream's tag unchanged at `now`: remember it, only while
        the tag still names `digest` (otherwise nothing happens)."""
        ...

    # -- referrers
    def list_referrers(self, name: str, subject: str) -> list[Referrer]:
        """The repository's manifests whose subject is `subject`, in digest order."""
        ...

    # -- repositories
    def repository_exists(self, name: str) -> bool: ...

    def get_repository(self, name: str) -> RepositoryRecord | None: ...

    def list_repositories(self, *, last: str | None, limit: int, prefix: str = "") -> tuple[list[str], bool]:
        """Up to `limit` names after `last` in order (with `prefix` "<project>/": only those
        starting with it), and whether more follow."""
        ...

    def repositories(self, prefix: str) -> list[RepositoryRecord]:
        """Every repository whose name starts with `prefix` ("<project>/"), in name order."""
        ...

    def repositories_in_order(self, project: str) -> RepositoryList:
        """A project's repositories in name order, paged by paging.keyed."""
        ...

    def repository_counts(self, projects: Iterable[str]) -> dict[str, int]:
        """How many repositories each of these projects holds ({project: count}, 0 for a
        project with none), in one read: counters kept with the catalog entries."""
        ...

    def delete_repository(self, name: str) -> bool:
        """Remove the repository's tags, referrer entries, manifests, labels and blob links,
        then its catalog entry (with its project's count) last, so a retry after a fault
        finishes; False if it is not in the catalog. Blob bytes stay for garbage collection."""
        ...

    # -- pulls (events of changes this store does not hold)
    def emit(self, events: list[Any]) -> None:
        """Write these events (chalicelib/events Event) to the outbox (nothing without one)."""
        ...

    def event_op(self, event: Any) -> Op:
        """The operation that writes this event (chalicelib/events Event) in one of this
        store's writes (`extra`), so it exists exactly when that write does (a quota
        warning with the push that crossed the bar)."""
        ...

    def record_pulls(self, repositories: dict[str, tuple[int, int]], artifacts: dict[tuple[str, str], int],
                     tags: dict[tuple[str, str], int] | None = None) -> None:
        """Add to repositories' pull counts ({name: (pulls, last pull time)}), set the last
        pull time of artifacts ({(name, digest): time}) and tags ({(name, tag): time});
        what was deleted meanwhile stays deleted."""
        ...

    # -- a proxy cache's copies of big blobs
    def claim_fill(self, digest: str, now: int, until: int) -> bool:
        """Whether this caller may start copying `digest` (no claim, or the last ran out)."""
        ...

    def end_fill(self, digest: str) -> None:
        """The copy ended (done or failed): the next pull may claim it."""
        ...

    # -- the health check
    def ping(self) -> None:
        """One read of the store, by the path and permission every request uses;
        StoreUnavailable (chalicelib/errors.py) if it cannot be read."""
        ...


class DynamoRegistryMeta:
    """RegistryMeta over the DynamoDB table (layout: docs/architecture.md, meta/keys.py)."""

    def __init__(self, table: Table, events: outbox_items.EventMaker | None = None):
        self._t = table
        # an Outbox (chalicelib/events/outbox.py), given by the domain layer: each change's
        # event joins its transaction as an outbox item (outbox_items.py). The store names
        # the change; the outbox makes the event.
        self._events = events

    def _event(self, kind: str, name: str, reference: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        """The outbox operation of a change to repository `name` (none without an outbox)."""
        return [] if self._events is None else [outbox_items.put(self._events.repository_event(kind, name, reference, data))]

    # -- blobs -----------------------------------------------------------------
    def link_size(self, name: str, digest: str) -> int | None:
        link = self.get_link(name, digest)
        return link.size if link else None

    def get_link(self, name: str, digest: str) -> BlobLink | None:
        """The repository's link to a blob: its size and where its bytes are (one GetItem)."""
        item = self._t.get(keys.repo_pk(name), keys.link_sk(digest), projection=f"nbytes, {OBJECT_KEY}")
        return BlobLink(int(item["nbytes"]), item.get(OBJECT_KEY)) if item else None

    def blob_size(self, digest: str) -> int | None:
        """Size of the blob if its bytes are in the store (any repository)."""
        item = self._t.get(keys.blob_pk(digest), keys.BLOB_SK, projection="nbytes")
        return int(item["nbytes"]) if item else None

    def link_blob(
        self,
        name: str,
        digest: str,
        size: int,
        now: int,
        *,
        key: str | None = None,
        project: str | None = None,
        extra: Iterable[dict] = (),
    ) -> None:
        """Make `digest`, whose bytes the store holds, servable from `name` (a mount, a copy,
        a second upload of a known blob); `key`: where the bytes are when not at the
        digest's own key, as the blob's record names it. The link holds only while the
        record is live and names that key (Conflict otherwise: garbage collection is
        deleting it, or it was deleted and uploaded again elsewhere), and it moves the
        record's `last_ref` (meta/gc_ledger.py). `project`: the write happens only while
        that project exists (ProjectGone)."""
        self._write([*_link_ops(name, digest, size, now, key), *extra], guard=project)

    def link_existing(self, name: str, digest: str, now: int, *, project: str | None = None) -> int | None:
        """Link a blob the store holds (from any repository) to `name`, naming the object its
        record names; its size, or None if the store has no live record of it."""
        for _ in range(3):
            item = self._t.get(keys.blob_pk(digest), keys.BLOB_SK, consistent=True, projection=f"nbytes, {OBJECT_KEY}, {gc_ledger.GONE}")
            if item is None or item.get(gc_ledger.GONE):
                return None
            try:
                self.link_blob(name, digest, int(item["nbytes"]), now, key=item.get(OBJECT_KEY), project=project)
                return int(item["nbytes"])
            except Conflict:
                continue  # deleted or replaced in between: read it again
        return None

    def link_uploaded_blob(
        self, name: str, digest: str, size: int, now: int, *, upload_id: str, key: str, project: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> str:
        """Link a blob whose bytes an upload session wrote to `key` (no copy is made).

        One transaction: the link, the blob's record naming `key` (created with garbage
        collection's ledger: no project names it yet, `last_ref` now, a candidate for the
        next run), and the session's claim on its object (so a session completes once, and
        the clean-up keeps the object). If the blob's bytes already exist elsewhere, the
        link names those instead and the caller removes its duplicate: returns the key
        linked. While a garbage collection is deleting the blob's old record (`gone`), it
        waits for that to finish, then records its own bytes: never the ones going."""
        link = {"PK": keys.repo_pk(name), "SK": keys.link_sk(digest), "nbytes": size, "created": now, OBJECT_KEY: key}
        record = update_op(
            keys.blob_pk(digest),
            keys.BLOB_SK,
            f"SET #n = :s, #c = :now, {OBJECT_KEY} = :k, {gc_ledger.LAST_REF} = :now, {gc_ledger.PROJECTS} = :zero, "
            f"{gc_ledger.TRACKED} = :one ADD {gc_ledger.LINKED_IN} :repo",
            {":s": size, ":now": now, ":k": key, ":zero": 0, ":one": 1, ":repo": {name}},
            names={"#n": "nbytes", "#c": "created"},
        )
        record["Update"]["ConditionExpression"] = "attribute_not_exists(PK)"
        candidate = gc_ledger.candidate_op(digest, keys.project_of(name), now)
        wait = 0.05
        for _ in range(GONE_WAITS):
            try:
                self._write([put_op(link), record, _upload_claim(upload_id, digest, now), candidate], guard=project)
                return key
            except Conflict:
                if self.upload_ended(upload_id):
                    raise UploadAlreadyComplete(upload_id, cancelled=self.upload_cancelled(upload_id)) from None
            # the blob exists already: link to its bytes (a second upload of a known blob)
            item = self._t.get(
                keys.blob_pk(digest), keys.BLOB_SK, consistent=True, projection=f"nbytes, {OBJECT_KEY}, {gc_ledger.GONE}"
            )
            if item is None:  # removed in between: record ours after all
                continue
            if item.get(gc_ledger.GONE):  # a garbage collection is deleting it: wait until it is gone
                sleep(wait)
                wait = min(wait * 2, 1.0)
                continue
            existing = item.get(OBJECT_KEY)
            try:
                self.link_blob(name, digest, int(item["nbytes"]), now, key=existing, project=project)
            except Conflict:
                continue
            return existing or ""
        raise Conflict(f"blob {digest} is being garbage-collected; retry the upload")

    def end_upload(self, upload_id: str, expires_at: int) -> bool:
        """Mark a session cancelled (it can complete no more); False if it had ended
        already: completed (its object is a blob's: keep it) or cancelled before."""
        try:
            self._t.put(
                {"PK": keys.uploaded_pk(upload_id), "SK": keys.UPLOADED_SK, "cancelled": True, keys.TTL_ATTRIBUTE: expires_at},
                condition="attribute_not_exists(PK)",
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def upload_ended(self, upload_id: str) -> bool:
        """Whether the session completed or was cancelled (one GetItem)."""
        return self._t.get(keys.uploaded_pk(upload_id), keys.UPLOADED_SK, consistent=True, projection="PK") is not None

    def upload_cancelled(self, upload_id: str) -> bool:
        item = self._t.get(keys.uploaded_pk(upload_id), keys.UPLOADED_SK, consistent=True, projection="cancelled")
        return bool(item and item.get("cancelled"))

    def claimed_uploads(self, upload_ids: Iterable[str]) -> set[str]:
        """Which of these sessions' objects a blob record claims (BatchGetItem)."""
        found = self._t.batch_get(
            ((keys.uploaded_pk(i), keys.UPLOADED_SK) for i in upload_ids), projection="PK, cancelled"
        )
        prefix = keys.uploaded_pk("")
        return {i["PK"][len(prefix) :] for i in found if not i.get("cancelled")}

    def unlink_blob(self, name: str, digest: str) -> bool:
        return self._t.delete(keys.repo_pk(name), keys.link_sk(digest), return_old=True) is not None

    def missing_references(self, name: str, blobs: Iterable[str], manifests: Iterable[str]) -> list[str]:
        """Which of these blobs and manifests the repository does not hold (one BatchGetItem)."""
        return self.check_push(name, blobs, manifests)[0]

    def check_push(self, name: str, blobs: Iterable[str], manifests: Iterable[str]) -> tuple[list[str], bool]:
        """(the blobs and manifests the repository lacks, whether the repository exists):
        one BatchGetItem. put_manifest counts a new repository with the second answer."""
        reads = self.read_for_push(name, blobs, manifests)
        return reads.missing, reads.repository_exists

    def read_for_push(
        self, name: str, blobs: Iterable[str], manifests: Iterable[str], *, tag: str | None = None, digest: str | None = None,
        also: Iterable[ItemsRead] = (),
    ) -> PushReads:
        """What a manifest PUT needs to know, in one BatchGetItem: the references the
        repository lacks (and the sizes of the blobs it has), whether it exists, what `tag`
        names now, whether it has the manifest `digest` already; and the items of `also`
        (other stores' reads: QuotaStore.read, ImmutableRuleStore.read), each answered with
        {key: item} of those found."""
        pk = keys.repo_pk(name)
        blobs = list(dict.fromkeys(blobs))
        also = list(also)
        wanted = {keys.link_sk(d): d for d in blobs}
        wanted.update({keys.manifest_sk(d): d for d in manifests})
        extra = [(keys.CATALOG_PK, name)]
        if tag is not None:
            extra.append((pk, keys.tag_sk(tag)))
        if digest is not None:
            extra.append((pk, keys.manifest_sk(digest)))
        fields = dict.fromkeys(["PK", "SK", "digest", "nbytes", *(a for read in also for a in read.attributes)])
        names = {f"#f{i}": f for i, f in enumerate(fields)}
        others = [k for read in also for k in read.keys]
        found = {
            (i["PK"], i["SK"]): i
            for i in self._t.batch_get([(pk, s) for s in wanted] + extra + others, projection=", ".join(names), names=names)
        }
        tag_item = found.get((pk, keys.tag_sk(tag))) if tag is not None else None
        return PushReads(
            missing=[d for s, d in wanted.items() if (pk, s) not in found],
            repository_exists=(keys.CATALOG_PK, name) in found,
            tag_digest=tag_item.get("digest") if tag_item else None,
            manifest_exists=digest is not None and (pk, keys.manifest_sk(digest)) in found,
            sizes={d: int(found[(pk, keys.link_sk(d))]["nbytes"]) for d in blobs if (pk, keys.link_sk(d)) in found},
            also=tuple({k: found[k] for k in read.keys if k in found} for read in also),
        )

    # -- manifests and tags ----------------------------------------------------
    def put_manifest(
        self,
        name: str,
        record: ManifestRecord,
        tag: str | None,
        now: int,
        *,
        project: str | None = None,
        links: Iterable[tuple[str, int, str | None]] = (),
        extra: Iterable[dict] = (),
        new_repository: bool | None = None,
        keep_tag: bool = False,
        new_manifest: bool | None = None,
        hold_children: Iterable[str] = (),
        copy_of: str | None = None,
    ) -> None:
        """The manifest, its tag, its referrer entry and the catalog entry in one
        transaction; `links` ((digest, size, key of the bytes or None) of blobs) are linked in it too, `extra`
        operations join it, and with `project` it happens only while that project
        exists (ProjectGone). Conflict when a concurrent change won. `new_repository`:
        whether the catalog lacks `name` (check_push's answer; None: read it here), which
        counts a new repository once; a wrong guess (a concurrent push) is a Conflict too.
        `hold_children`: child manifests the caller found in the repository; each gets a new
        version in the transaction, so that the index lands only while they are there and a
        deletion that read one before (garbage collection's of an untagged manifest) fails."""
        pk = keys.repo_pk(name)
        if new_repository is None:
            new_repository = not self.repository_exists(name)
        ops = [
            # a new version on every put: a delete that read the manifest before fails (delete_manifest);
            # new_manifest: the push counted it as new to the repository (its quota change)
            put_op({**record.to_item(name), VERSION: _new_version()}, _MANIFEST_CONDITION[new_manifest]),
            # the repository appears in the catalog with its first manifest
            *_catalog_touch(name, now, new=new_repository),
            # a tag may have moved off a manifest, or this one may arrive untagged: garbage
            # collection's untagged step looks at the repository next time
            gc_ledger.changed_op(name),
        ]
        if tag is not None:
            # keep_tag: an immutable tag is only created or put again on the same manifest
            condition = "attribute_not_exists(PK) OR #d = :d" if keep_tag else None
            tag_op = put_op(_tag_item(name, tag, record, now), condition, {":d": record.digest} if keep_tag else None)
            if keep_tag:
                tag_op["Put"]["ExpressionAttributeNames"] = {"#d": "digest"}
            ops.append(tag_op)
        ops += self._event("artifact.pushed", name, tag if tag is not None else record.digest, pushed_data(record, tag, copy_of))
        held = [c for c in dict.fromkeys(hold_children) if c != record.digest]
        if len(held) <= MAX_HELD_CHILDREN:
            ops += [_when_exists(update_op(pk, keys.manifest_sk(c), f"SET {VERSION} = :v", {":v": _new_version()})) for c in held]
        if record.subject:
            ops.append(
                put_op(
                    {
                        "PK": pk,
                        "SK": keys.referrer_sk(record.subject, record.digest),
                        "digest": record.digest,
                        "media_type": record.media_type,
                        "nbytes": record.size,
                        "artifact_type": record.artifact_type,
                        "annotations": _annotations_attr(record.annotations),
                    }
                )
            )
        links, extra = list(links), list(extra)
        # a blob the write links and the project starts naming: one update of its record
        # (a transaction touches an item once), so that the links join the manifest's transaction
        linked = {digest for digest, _, _ in links}
        folded = {d for d in map(gc_ledger.starts_naming, extra) if d in linked}
        together = [
            *ops,
            *(op for digest, size, key in links for op in _link_ops(name, digest, size, now, key, names_project=digest in folded)),
            *(op for op in extra if gc_ledger.starts_naming(op) not in folded),
        ]
        if len(together) < MAX_TRANSACTION:  # and the project's guard: all or nothing
            self._write(together, guard=project)
            return
        # too many links for one transaction: the links first, in their own transactions (as
        # an upload would leave them; a link without its manifest is harmless), then the rest
        link_ops = [op for digest, size, key in links for op in _link_ops(name, digest, size, now, key)]
        step = MAX_TRANSACTION - 2  # whole links (two operations each), and the guard
        for start in range(0, len(link_ops), step):
            self._write(link_ops[start : start + step], guard=project)
        self._write([*ops, *extra], guard=project)

    def _write(self, ops: list[dict[str, Any]], *, guard: str | None = None) -> None:
        """One transaction; with `guard`, a condition that the project still exists joins
        it (no extra call: a token issued before the project's deletion writes nothing)."""
        if guard is not None:
            ops = [*ops, _project_exists(guard)]
        try:
            self._t.transact(ops)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
            if guard is not None and len(reasons) == len(ops) and reasons[-1] == "ConditionalCheckFailed":
                raise ProjectGone(f"project {guard} does not exist (any more)") from None
            if {"ConditionalCheckFailed", "TransactionConflict"} & set(reasons):
                raise Conflict("a concurrent change to this repository won; retry") from None
            raise

    def repository_counts(self, projects: Iterable[str]) -> dict[str, int]:
        """Each project's counter of repositories (kept in the transactions that add and
        remove catalog entries: _catalog_touch, delete_repository): one BatchGetItem."""
        projects = list(dict.fromkeys(projects))
        sizes = self._t.counts(keys.repositories_list(p) for p in projects)
        return {p: sizes[keys.repositories_list(p)] for p in projects}

    def repositories_in_order(self, project: str) -> _Repositories:
        """A project's repositories in name order, paged by paging.keyed."""
        return _Repositories(KeyRange(self._t, keys.CATALOG_PK, project + "/", projection=_REPOSITORY_FIELDS[len("SK, "):]))

    def get_manifest(self, name: str, digest: str) -> ManifestRecord | None:
        item = self._t.get(keys.repo_pk(name), keys.manifest_sk(digest))
        return ManifestRecord.from_item(item) if item else None

    def get_tag(self, name: str, tag: str) -> TagRecord | None:
        item = self._t.get(keys.repo_pk(name), keys.tag_sk(tag))
        if not item:
            return None
        return TagRecord(tag, item["digest"], item["media_type"], int(item["nbytes"]), item.get("body"),
                         int(item["checked"]) if "checked" in item else None)

    # -- a proxy cache's copies of big blobs, off the request path ---------------------------
    def claim_fill(self, digest: str, now: int, until: int) -> bool:
        """Whether this caller may start copying `digest` (no copy claimed it, or the last
        claim ran out at `until` without finishing): one conditional PutItem."""
        try:
            self._t.put({"PK": keys.fill_pk(digest), "SK": keys.FILL_SK, "until": until,
                         keys.TTL_ATTRIBUTE: until + 3600},
                        condition="attribute_not_exists(PK) OR #until < :now", values={":now": now},
                        names={"#until": "until"})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def end_fill(self, digest: str) -> None:
        """The copy ended (done, or failed: the next pull may start another)."""
        self._t.delete(keys.fill_pk(digest), keys.FILL_SK)

    def ping(self) -> None:
        # a GetItem, not DescribeTable: the same permission and path as every request
        try:
            self._t.get(keys.HEALTH_PK, keys.HEALTH_SK, projection="PK")
        except (ClientError, BotoCoreError) as exc:
            raise StoreUnavailable(f"the table cannot be read: {type(exc).__name__}") from exc

    def mark_tag_checked(self, name: str, tag: str, digest: str, now: int) -> None:
        """A proxy cache found the upstream's tag unchanged: remember when (only while the
        tag still names `digest`; a tag moved meanwhile keeps its own time)."""
        try:
            self._t.client.update_item(
                TableName=self._t.name,
                Key={"PK": {"S": keys.repo_pk(name)}, "SK": {"S": keys.tag_sk(tag)}},
                UpdateExpression="SET checked = :now",
                ConditionExpression="digest = :d",
                ExpressionAttributeValues=marshal({":now": now, ":d": digest}),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def delete_tag(self, name: str, tag: str) -> bool:
        ops = [
            _when_exists(delete_op(keys.repo_pk(name), keys.tag_sk(tag))),
            *self._event("tag.deleted", name, tag, {"tag": tag}),
            gc_ledger.changed_op(name),  # the manifest it named may be untagged now
        ]
        try:
            self._t.transact(ops)
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def delete_manifest(
        self, name: str, digest: str, *, extra: Callable[[ManifestRecord], list[dict]] | None = None,
        only_untagged: bool = False, created_before: int | None = None, mark_changed: bool = True,
        named: str | None = None,
    ) -> ManifestRecord | None:
        """Delete the manifest, the tags that point at it and its referrer entry; `extra`:
        the operations (its quota's release) of the very record read here, to join the
        first transaction with the manifest's deletion, which is conditional on that read.
        `created_before`: Conflict if it was put at that time or later (garbage collection's
        grace period); `mark_changed`: mark the repository for garbage collection's untagged
        step (its children and referrers may be reached by nothing now), unless that step
        is the one deleting."""
        pk = keys.repo_pk(name)
        record = self.get_manifest(name, digest)
        if record is None:
            return None
        if created_before is not None and record.created >= created_before:
            raise Conflict(f"manifest {digest} in {name} was put again since")
        tags = [
            i["SK"][len(keys.TAG_PREFIX) :]
            for i in self._t.query_all(
                pk, low=keys.TAG_PREFIX, high=_prefix_end(keys.TAG_PREFIX), projection="SK, digest"
            )
            if i.get("digest") == digest
        ]
        if only_untagged and tags:  # tagged since the caller looked (garbage collection): keep it
            raise Conflict(f"manifest {digest} in {name} is tagged")
        # the labels put on it (chalicelib/meta/labels.py) go with it
        labels = keys.artifact_labels_prefix(digest)
        label_sks = [i["SK"] for i in self._t.query_all(pk, low=labels, high=_prefix_end(labels), projection="SK")]
        ops = self._deletion_ops(name, record, tags, label_sks, named)
        # in the first transaction, with the manifest's own deletion and its event
        ops[2:2] = [*(extra(record) if extra is not None else []), *([gc_ledger.changed_op(name)] if mark_changed else [])]
        for start in range(0, len(ops), 100):
            try:
                self._t.transact(ops[start : start + 100])
            except ClientError as exc:
                if is_condition_failure(exc):
                    raise Conflict("a concurrent change to this repository won; retry") from None
                raise
        return record

    def deletion_size(self, doomed: Doomed) -> int:
        """How many operations deleting `doomed` takes (delete_manifests' transaction holds 100)."""
        return 1 + (self._events is not None) + bool(doomed.record.subject) + len(doomed.tags) + len(doomed.label_ids)

    def delete_manifests(self, name: str, doomed: Iterable[Doomed], *, extra: Iterable[dict] = (),
                         mark_changed: bool = True) -> None:
        """Delete these manifests as the caller read them (repository_contents), each with its
        tags, referrer entry and labels, and `extra` (their quota's release), in one
        transaction: all of them or, if anything changed since the read (a manifest put
        again or tagged: its version changed; a tag moved), none (Conflict). `mark_changed`:
        as delete_manifest's (one more operation)."""
        ops = [op for d in doomed for op in self._deletion_ops(name, d.record, d.tags,
                                                                [keys.artifact_label_sk(d.record.digest, i) for i in d.label_ids])]
        ops += list(extra)
        if mark_changed:
            ops.append(gc_ledger.changed_op(name))
        if len(ops) > MAX_TRANSACTION:
            raise ValueError(f"{len(ops)} operations do not fit in one transaction")
        try:
            self._t.transact(ops)
        except ClientError as exc:
            if is_condition_failure(exc):
                raise Conflict("a concurrent change to this repository won; retry") from None
            raise

    def _deletion_ops(self, name: str, record: ManifestRecord, tags: Iterable[str], label_sks: Iterable[str],
                      named: str | None = None) -> list[dict[str, Any]]:
        """The manifest's deletion (only if nothing changed since `record` was read: it was not
        put again and no tag joined it, both of which change its version) and its event first,
        then its referrer entry, its tags (each only while it still names the manifest) and labels."""
        pk = keys.repo_pk(name)
        tags = list(tags)
        ops = [_delete_if(pk, keys.manifest_sk(record.digest), *_version_condition(record.version))]
        ops += self._event("artifact.deleted", name, record.digest, deleted_data(record, tags, named))
        if record.subject:
            ops.append(delete_op(pk, keys.referrer_sk(record.subject, record.digest)))
        ops.extend(_delete_if(pk, keys.tag_sk(t), "#d = :d", {":d": record.digest}, {"#d": "digest"}) for t in tags)
        ops.extend(delete_op(pk, sk) for sk in label_sks)
        return ops

    def repository_contents(self, name: str) -> RepositoryContents:
        """What deciding on and deleting a repository's artifacts needs, read once: every
        manifest (without its bytes, with its version), every tag with its times, and the
        ids of the labels on each artifact (two Queries over the repository's partition)."""
        pk = keys.repo_pk(name)
        manifests: dict[str, ManifestRecord] = {}
        tags: dict[str, list[tuple[str, int, int]]] = {}
        # M# (manifests) and T# (tags) are neighbours in the partition: one Query
        fields = ("SK", "digest", "media_type", "nbytes", "subject", "artifact_type", "blobs", "children", "created",
                  "pull_time", "updated", VERSION)
        names = {f"#f{i}": f for i, f in enumerate(fields)}
        for item in self._t.query_all(pk, low=keys.manifest_sk(""), high=_prefix_end(keys.TAG_PREFIX),
                                      projection=", ".join(names), names=names):
            if item["SK"].startswith(keys.TAG_PREFIX):
                tags.setdefault(item["digest"], []).append(
                    (item["SK"][len(keys.TAG_PREFIX) :], int(item.get("updated", 0)), int(item.get("pull_time", 0))))
            elif item["SK"].startswith(keys.manifest_sk("")):
                manifests[item["digest"]] = ManifestRecord.from_item(item)
        labels: dict[str, list[int]] = {}
        prefix = keys.ARTIFACT_LABEL_PREFIX
        for item in self._t.query_all(pk, low=prefix, high=_prefix_end(prefix), projection="SK, label_id"):
            labels.setdefault(item["SK"][len(prefix) :].rsplit("#", 1)[0], []).append(int(item["label_id"]))
        return RepositoryContents(manifests, {d: sorted(t) for d, t in tags.items()}, labels)

    def list_tags(self, name: str, *, last: str | None, limit: int) -> tuple[list[str], bool]:
        low = keys.tag_sk(last) + "\x00" if last else keys.TAG_PREFIX
        items = self._t.query_page(
            keys.repo_pk(name), low=low, high=_prefix_end(keys.TAG_PREFIX), limit=limit + 1, projection="SK"
        )
        tags = [i["SK"][len(keys.TAG_PREFIX) :] for i in items]
        return tags[:limit], len(tags) > limit

    # -- repositories ------------------------------------------------------------
    def repository_exists(self, name: str) -> bool:
        return self._t.get(keys.CATALOG_PK, name, projection="SK") is not None

    def list_repositories(self, *, last: str | None, limit: int, prefix: str = "") -> tuple[list[str], bool]:
        """Names in order; with `prefix` ("<project>/") only those that start with it."""
        low = max(last + "\x00", prefix) if last else (prefix or "\x00")
        high = _prefix_end(prefix) if prefix else "\U0010ffff"
        if low >= high:
            return [], False
        items = self._t.query_page(keys.CATALOG_PK, low=low, high=high, limit=limit + 1, projection="SK")
        # the Query's range holds `high`: a name equal to it does not start with the prefix
        names = [i["SK"] for i in items if i["SK"] != high]
        return names[:limit], len(names) > limit

    def repositories(self, prefix: str) -> list[RepositoryRecord]:
        """Every repository whose name starts with `prefix` ("<project>/"): one Query."""
        items = self._t.query_all(keys.CATALOG_PK, low=prefix, high=_prefix_end(prefix), projection=_REPOSITORY_FIELDS)
        return [RepositoryRecord.from_item(i) for i in items if i["SK"].startswith(prefix)]

    def get_repository(self, name: str) -> RepositoryRecord | None:
        item = self._t.get(keys.CATALOG_PK, name, projection=_REPOSITORY_FIELDS)
        return RepositoryRecord.from_item(item) if item is not None else None

    def emit(self, events: list[Any]) -> None:
        """Events of changes this table does not hold (pulls), in BatchWriteItem calls."""
        if self._events is not None and events:
            self._t.batch_put([outbox_items.item(e) for e in events])

    def event_op(self, event: Any) -> dict[str, Any]:
        """The event's outbox item's put, for another write's transaction (`extra`)."""
        return outbox_items.put(event)

    def record_pulls(
        self,
        repositories: dict[str, tuple[int, int]],
        artifacts: dict[tuple[str, str], int],
        tags: dict[tuple[str, str], int] | None = None,
    ) -> None:
        """Add to repositories' pull counts ({name: (pulls, last pull time)}) and set
        the last pull time of artifacts ({(name, digest): time}) and tags ({(name, tag):
        time}): one UpdateItem each. What was deleted meanwhile stays deleted (the
        updates are conditional)."""
        updates = [
            update_op(keys.CATALOG_PK, name, "ADD pull_count :n SET pull_time = :t", {":n": count, ":t": last})
            for name, (count, last) in repositories.items()
        ] + [
            update_op(keys.repo_pk(name), keys.manifest_sk(digest), "SET pull_time = :t", {":t": last})
            for (name, digest), last in artifacts.items()
        ] + [
            update_op(keys.repo_pk(name), keys.tag_sk(tag), "SET pull_time = :t", {":t": last})
            for (name, tag), last in (tags or {}).items()
        ]
        for op in updates:
            body = _when_exists(op)["Update"]
            try:
                self._t.client.update_item(TableName=self._t.name, **body)
            except ClientError as exc:
                if not is_condition_failure(exc):
                    raise

    def delete_repository(self, name: str) -> bool:
        """Remove the repository's tags, referrer entries, manifests and blob links, then
        (in the last transaction) its catalog entry; False if it is not in the catalog.
        In that order, a fault part-way never leaves a tag without its manifest, and the
        catalog entry stays until the end, so a retry finds the repository and finishes.
        The blobs' bytes stay for garbage collection."""
        pk = keys.repo_pk(name)
        sort_keys = sorted(
            (i["SK"] for i in self._t.query_all(pk, low="\x00", high="\U0010ffff", projection="SK")),
            key=lambda sk: _DELETE_ORDER.index(sk[:2]) if sk[:2] in _DELETE_ORDER else len(_DELETE_ORDER),
        )
        ops = [delete_op(pk, sk) for sk in sort_keys]
        step = MAX_TRANSACTION - 2
        while len(ops) > step:
            self._t.transact(ops[:step])
            ops = ops[step:]
        try:
            # the catalog entry and the project's count of repositories go together
            closing = [_when_exists(delete_op(keys.CATALOG_PK, name)), count_op(keys.repositories_list(keys.project_of(name)), -1)]
            self._t.transact([*ops, *closing])
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    # -- what the management API lists -------------------------------------------------
    def list_manifests(self, name: str, *, with_body: bool = True) -> list[ManifestRecord]:
        """Every manifest of the repository; with_body: their bytes too, when inline."""
        prefix = keys.manifest_sk("")
        if with_body:
            projection, names = None, None
        else:
            fields = ("digest", "media_type", "nbytes", "subject", "artifact_type", "blobs", "children", "created", "pull_time")
            names = {f"#f{i}": f for i, f in enumerate(fields)}
            projection = ", ".join(names)
        items = self._t.query_all(keys.repo_pk(name), low=prefix, high=_prefix_end(prefix), projection=projection, names=names)
        return [ManifestRecord.from_item(i) for i in items]

    def artifact_count(self, name: str) -> int:
        """Harbor's artifact count: manifests, less an index's untagged children. One Query
        over the repository's manifest and tag items (M# and T#: nothing sorts between)."""
        children: set[str] = set()
        manifests: set[str] = set()
        tagged: set[str] = set()
        items = self._t.query_all(
            keys.repo_pk(name), low=keys.manifest_sk(""), high=_prefix_end(keys.TAG_PREFIX), projection="SK, digest, children"
        )
        for item in items:
            if item["SK"].startswith(keys.TAG_PREFIX):
                tagged.add(item["digest"])
            elif item["SK"].startswith(keys.manifest_sk("")):
                manifests.add(item["digest"])
                children.update(item.get("children") or ())
        return len({d for d in manifests if d not in children or d in tagged})

    def tag_digests(self, name: str) -> list[tuple[str, str, int]]:
        """(tag, digest, updated) of every tag of the repository, in tag order."""
        return [(tag, digest, updated) for tag, digest, updated, _ in self.tag_times(name)]

    def tag_times(self, name: str) -> list[tuple[str, str, int, int]]:
        """(tag, digest, updated, last pull time or 0) of every tag, in tag order."""
        items = self._t.query_all(
            keys.repo_pk(name),
            low=keys.TAG_PREFIX,
            high=_prefix_end(keys.TAG_PREFIX),
            projection="SK, digest, updated, pull_time",
        )
        return [
            (i["SK"][len(keys.TAG_PREFIX) :], i["digest"], int(i.get("updated", 0)), int(i.get("pull_time", 0)))
            for i in items
        ]

    def create_tag(self, name: str, tag: str, record: ManifestRecord, now: int) -> None:
        """Point a new tag at a manifest the repository holds; Conflict if the tag exists."""
        ops = [
            put_op(_tag_item(name, tag, record, now), "attribute_not_exists(PK)"),
            # the manifest must still be there when the tag lands, and gets a new version,
            # so that a delete that read its tags before this one fails (delete_manifest)
            _when_exists(
                update_op(
                    keys.repo_pk(name), keys.manifest_sk(record.digest), f"SET {VERSION} = :v", {":v": _new_version()}
                )
            ),
            *_catalog_touch(name, now, new=False),
            *self._event("tag.created", name, tag, artifact_data(record, tag)),
        ]
        try:
            self._t.transact(ops)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    raise Conflict(f"tag {tag} already exists in {name}") from None
                raise Conflict(f"manifest {record.digest} is not in {name} any more") from None
            raise

    # -- referrers ---------------------------------------------------------------
    def list_referrers(self, name: str, subject: str) -> list[Referrer]:
        """The subject's referrer entries (one Query; their sort keys end in the digest)."""
        prefix = keys.referrer_prefix(subject)
        return [
            Referrer(
                digest=item["digest"],
                media_type=item["media_type"],
                size=int(item["nbytes"]),
                artifact_type=item.get("artifact_type") or None,
                annotations=json.loads(item["annotations"]) if item.get("annotations") else None,
            )
            for item in self._t.query_all(keys.repo_pk(name), low=prefix, high=_prefix_end(prefix))
        ]


@dataclass
class RepositoryRecord:
    name: str
    created: int
    updated: int  # the last push or tag
    pull_count: int = 0
    pull_time: int = 0

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> RepositoryRecord:
        created = int(item.get("created", 0))
        return cls(
            item["SK"],
            created,
            int(item.get("updated", created)),
            int(item.get("pull_count", 0)),
            int(item.get("pull_time", 0)),
        )


_REPOSITORY_FIELDS = "SK, created, updated, pull_count, pull_time"
# what goes first when a repository is deleted: what names a manifest before the manifest
_DELETE_ORDER = ("T#", "F#", "M#", "B#")


# The data of the events a repository's changes write, one shape for every RegistryMeta
# implementation (docs/events.md lists the fields)
def pushed_data(record: ManifestRecord, tag: str | None, copy_of: str | None = None) -> dict[str, Any]:
    """artifact.pushed's data: `copy_of`, the artifact a copy was asked for, when given."""
    return {**artifact_data(record, tag), **({"copy_of": copy_of} if copy_of else {})}


def deleted_data(record: ManifestRecord, tags: Iterable[str], named: str | None = None) -> dict[str, Any]:
    """artifact.deleted's data: `named`, the reference its deleter named it by, when given."""
    return {**artifact_data(record, None), "tags": list(tags), **({"named": named} if named else {})}


def artifact_data(record: ManifestRecord, tag: str | None) -> dict[str, Any]:
    """What every artifact and tag event says of the manifest (tag.created's whole data)."""
    return {"digest": record.digest, "media_type": record.media_type, "size": record.size, "tag": tag}


def _catalog_touch(name: str, now: int, *, new: bool) -> list[dict[str, Any]]:
    """The repository appears in the catalog with its first manifest, counted in its
    project's list (once: the entry's condition fails a retry or a concurrent first push);
    `updated` follows pushes."""
    if new:
        entry = put_op({"PK": keys.CATALOG_PK, "SK": name, "created": now, "updated": now}, "attribute_not_exists(PK)")
        return [entry, count_op(keys.repositories_list(keys.project_of(name)), 1)]
    touch = update_op(keys.CATALOG_PK, name, "SET #u = :now", {":now": now}, names={"#u": "updated"})
    return [_when_exists(touch)]


class _Repositories:
    """paging.KeyedList over the catalog entries under "<project>/"."""

    def __init__(self, source: KeyRange):
        self._source = source

    def keys(self, after: str | None, limit: int) -> list[str]:
        return self._source.keys(after, limit)

    def rows(self, after: str | None, limit: int) -> list[tuple[str, RepositoryRecord]]:
        return [(i["SK"], RepositoryRecord.from_item(i)) for i in self._source.items(after, limit)]


VERSION = "version"
# put_manifest's new_manifest: the quota counted the manifest as new to the repository
# (True) or as there already (False), so the write holds only if that is still so; None:
# the caller counted nothing
_MANIFEST_CONDITION = {True: "attribute_not_exists(PK)", False: "attribute_exists(PK)", None: None}


def _new_version() -> str:
    return uuid.uuid4().hex


def _version_condition(version: str | None) -> tuple[str, dict[str, Any], dict[str, str]]:
    if version is None:  # written before versions existed
        return "attribute_exists(PK) AND attribute_not_exists(#v)", {}, {"#v": VERSION}
    return "#v = :v", {":v": version}, {"#v": VERSION}


def _delete_if(pk: str, sk: str, condition: str, values: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    op = delete_op(pk, sk)
    op["Delete"]["ConditionExpression"] = condition
    if values:
        op["Delete"]["ExpressionAttributeValues"] = marshal(values)
    op["Delete"]["ExpressionAttributeNames"] = names
    return op


def _project_exists(project: str) -> dict[str, Any]:
    return {
        "ConditionCheck": {
            "Key": keys.key(keys.project_pk(project), keys.PROJECT_SK),
            "ConditionExpression": "attribute_exists(PK)",
        }
    }


def _tag_item(name: str, tag: str, record: ManifestRecord, now: int) -> dict[str, Any]:
    # a copy of the manifest, so that a pull by tag is one GetItem
    return {
        "PK": keys.repo_pk(name),
        "SK": keys.tag_sk(tag),
        "tag": tag,
        "digest": record.digest,
        "media_type": record.media_type,
        "nbytes": record.size,
        "body": record.body,
        "updated": now,
    }


def _link_ops(
    name: str, digest: str, size: int, now: int, key: str | None = None, *, names_project: bool = False
) -> list[dict[str, Any]]:
    """A link to a blob whose bytes the store holds, and its record's ledger: `last_ref`
    moves, the repository joins `repos` (`names_project`: and one more project names it,
    gc_ledger.named_op's +1 folded in). Only while no garbage collection committed to
    deleting the record and the record names the same object (a record that is not there
    is created: a blob put at its digest's key before the ledger, or by tests; it is
    never collected, see meta/gc_ledger.py TRACKED)."""
    link = {"PK": keys.repo_pk(name), "SK": keys.link_sk(digest), "nbytes": size, "created": now}
    if key:
        link[OBJECT_KEY] = key  # the bytes are in the object their upload wrote
    added = f"{gc_ledger.LINKED_IN} :repo" + (f", {gc_ledger.PROJECTS} :one" if names_project else "")
    record = update_op(
        keys.blob_pk(digest),
        keys.BLOB_SK,
        f"SET #n = if_not_exists(#n, :s), #c = if_not_exists(#c, :now), {gc_ledger.LAST_REF} = :now ADD {added}",
        {":s": size, ":now": now, ":repo": {name}, **({":k": key} if key else {}), **({":one": 1} if names_project else {})},
        names={"#n": "nbytes", "#c": "created"},
    )
    same_object = f"{OBJECT_KEY} = :k" if key else f"attribute_not_exists({OBJECT_KEY})"
    record["Update"]["ConditionExpression"] = (
        f"attribute_not_exists(PK) OR (attribute_not_exists({gc_ledger.GONE}) AND {same_object})"
    )
    return [put_op(link), record]


def _when_exists(op: dict[str, Any]) -> dict[str, Any]:
    next(iter(op.values()))["ConditionExpression"] = "attribute_exists(PK)"
    return op


def _prefix_end(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)
