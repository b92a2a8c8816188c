"""RegistryMeta in memory: the same answers as DynamoRegistryMeta (meta/registry.py), for
fast tests of the code that uses it; tests/contract/test_registry_meta.py runs one suite
over both.

Every write checks all its conditions before it changes anything (the project's guard
first: DynamoDB answers ProjectGone whatever else failed), then runs the other stores'
operations it was handed (`extra`: the in-memory stores' callables, MemoryQuotas.ops;
a Conflict from one and nothing of the write happens), then writes all of it and keeps
its events in `emitted` (the DynamoDB store's outbox items).

What the store reads or writes of other stores' data comes in as callables or objects:
`project_exists` (the `project=` guard: DynamoDB's condition on the project's item),
`labels` (the labels on artifacts, which DynamoDB keeps in the repository's partition:
MemoryLabels). The blob records, links, upload claims, candidates and change marks are
a `MemoryLedger` (meta/gc.py), the one a MemoryGC reads; `blob_live` is what a
MemoryQuotas checks of a blob's record. Other stores' reads joined to read_for_push
(`also`: MemoryQuotas.read, MemoryImmutableRules.read) are callables, answered by calling them.

What it does not model: concurrency (one writer at a time, so no write loses a race it
did not read), DynamoDB's 100-operation transactions (a big deletion is one write here),
TTL expiry, and a label added then removed after a read (DynamoDB refuses the stale
deletion by the manifest's version; here only labels the caller did not read refuse it).
"""
from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Protocol

from chalicelib.errors import Conflict, ProjectGone
from chalicelib.meta import keys
from chalicelib.meta.gc import BlobState, MemoryLedger
from chalicelib.meta.registry import (
    GONE_WAITS,
    INLINE_ANNOTATIONS_LIMIT,
    MAX_HELD_CHILDREN,
    MAX_TRANSACTION,
    BlobLink,
    Doomed,
    ManifestRecord,
    Op,
    PushReads,
    Read,
    Referrer,
    RepositoryContents,
    RepositoryRecord,
    TagRecord,
    UploadAlreadyComplete,
    artifact_data,
    deleted_data,
    pushed_data,
)

if TYPE_CHECKING:
    from chalicelib.meta.registry import DynamoRegistryMeta, RegistryMeta


class ArtifactLabels(Protocol):
    """The part of the label store (meta/labels.py LabelStore) a repository's manifests
    take with them when they go."""

    def artifact_label_ids(self, repository: str) -> dict[str, list[int]]: ...

    def remove_from_artifact(self, repository: str, digest: str, label_id: int) -> bool: ...


class _NoLabels:
    def artifact_label_ids(self, repository: str) -> dict[str, list[int]]:
        return {}

    def remove_from_artifact(self, repository: str, digest: str, label_id: int) -> bool:
        return False


@dataclass
class _Tag:
    record: TagRecord
    updated: int
    pull_time: int = 0


class MemoryRegistryMeta:
    """RegistryMeta in memory (module docstring). `events`: an Outbox
    (chalicelib/events/outbox.py); the events each committed write makes are kept in
    `emitted`, in order."""

    def __init__(
        self,
        events: Any = None,
        *,
        project_exists: Callable[[str], bool] = lambda project: True,
        ledger: MemoryLedger | None = None,
        labels: ArtifactLabels | None = None,
    ):
        self._events = events
        self._project_exists = project_exists
        self.ledger = ledger if ledger is not None else MemoryLedger()
        self._labels: ArtifactLabels = labels if labels is not None else _NoLabels()
        self.emitted: list[Any] = []
        self._links: dict[tuple[str, str], BlobLink] = {}  # (repository, digest): ledger.links holds which exist
        self._catalog: dict[str, RepositoryRecord] = {}
        self._manifests: dict[str, dict[str, ManifestRecord]] = {}  # repository -> digest -> record
        self._tags: dict[str, dict[str, _Tag]] = {}  # repository -> tag -> its record
        self._referrers: dict[str, dict[tuple[str, str], Referrer]] = {}  # repository -> (subject, digest)
        self._cancelled: set[str] = set()  # upload sessions ended by end_upload
        self._fills: dict[str, int] = {}  # digest -> until
        self._linking: frozenset[str] = frozenset()

    # -- what other in-memory stores read of this one
    def blob_live(self, digest: str) -> bool:
        """Whether the blob's record is there and no garbage collection committed to
        deleting it (what MemoryQuotas checks where DynamoDB's operations check the record)."""
        if digest in self._linking:  # linked by the write whose operations ask (see _run_linking)
            return True
        blob = self.ledger.blobs.get(digest)
        return blob is not None and blob.gone is None

    def _event(self, kind: str, name: str, reference: str, data: dict[str, Any]) -> list[Any]:
        return [] if self._events is None else [self._events.repository_event(kind, name, reference, data)]

    def _guard(self, project: str | None) -> None:
        if project is not None and not self._project_exists(project):
            raise ProjectGone(f"project {project} does not exist (any more)")

    @staticmethod
    def _run(extra: Iterable[Op]) -> None:
        for op in extra:
            op()

    def _run_linking(self, extra: Iterable[Op], linked: Iterable[str]) -> None:
        """The operations of a write that links these blobs (their conditions checked): to
        them, the blobs are live. In DynamoDB a project's starting to name a blob the write
        links is one update with the link's (gc_ledger.starts_naming), under the link's
        condition (no record yet, or a live one naming the same object)."""
        self._linking = frozenset(linked)
        try:
            self._run(extra)
        finally:
            self._linking = frozenset()

    # -- blobs -----------------------------------------------------------------
    def link_size(self, name: str, digest: str) -> int | None:
        link = self.get_link(name, digest)
        return link.size if link else None

    def get_link(self, name: str, digest: str) -> BlobLink | None:
        if (name, digest) not in self.ledger.links:
            return None
        link = self._links.get((name, digest))
        if link is None:  # linked through the ledger alone (a GC test's setup): the record's
            blob = self.ledger.blobs.get(digest)
            return BlobLink(blob.nbytes, blob.key) if blob else None
        return link

    def blob_size(self, digest: str) -> int | None:
        blob = self.ledger.blobs.get(digest)
        return blob.nbytes if blob else None

    def _check_link(self, digest: str, key: str | None) -> None:
        """_link_ops' condition: no record, or a live one naming the same object."""
        blob = self.ledger.blobs.get(digest)
        if blob is not None and (blob.gone is not None or blob.key != (key or None)):
            raise Conflict(f"blob {digest} is being garbage-collected or was uploaded again; retry")

    def _apply_link(self, name: str, digest: str, size: int, now: int, key: str | None) -> None:
        self._links[(name, digest)] = BlobLink(size, key or None)
        self.ledger.links.add((name, digest))
        blob = self.ledger.blobs.get(digest)
        if blob is None:
            # a record the link creates names the digest's own key and is never collected
            # (no `tracked`), as _link_ops' update creates it
            self.ledger.blobs[digest] = BlobState(digest, size, None, None, now, False, None, frozenset({name}))
        else:
            self.ledger.blobs[digest] = replace(blob, last_ref=now, repos=blob.repos | {name})

    def link_blob(self, name: str, digest: str, size: int, now: int, *, key: str | None = None,
                  project: str | None = None, extra: Iterable[Op] = ()) -> None:
        self._guard(project)
        self._check_link(digest, key)
        self._run(extra)  # (DynamoDB folds no operation on the blob's record into this one's)
        self._apply_link(name, digest, size, now, key)

    def link_existing(self, name: str, digest: str, now: int, *, project: str | None = None) -> int | None:
        blob = self.ledger.blobs.get(digest)
        if blob is None or blob.gone is not None:
            return None
        self.link_blob(name, digest, blob.nbytes, now, key=blob.key, project=project)
        return blob.nbytes

    def link_uploaded_blob(self, name: str, digest: str, size: int, now: int, *, upload_id: str, key: str,
                           project: str | None = None, sleep: Callable[[float], None] = time.sleep) -> str:
        wait = 0.05
        for _ in range(GONE_WAITS):
            self._guard(project)
            if digest not in self.ledger.blobs and not self.upload_ended(upload_id):
                self._links[(name, digest)] = BlobLink(size, key)
                self.ledger.links.add((name, digest))
                self.ledger.blobs[digest] = BlobState(digest, size, key, 0, now, True, None, frozenset({name}))
                self.ledger.upload_claims.add(upload_id)
                self.ledger.note_candidate(digest, keys.project_of(name), now)
                return key
            if self.upload_ended(upload_id):
                raise UploadAlreadyComplete(upload_id, cancelled=self.upload_cancelled(upload_id))
            blob = self.ledger.blobs.get(digest)
            if blob is None:
                continue
            if blob.gone is not None:  # a garbage collection is deleting it: wait until it is gone
                sleep(wait)
                wait = min(wait * 2, 1.0)
                continue
            try:
                self.link_blob(name, digest, blob.nbytes, now, key=blob.key, project=project)
            except Conflict:
                continue
            return blob.key or ""
        raise Conflict(f"blob {digest} is being garbage-collected; retry the upload")

    def unlink_blob(self, name: str, digest: str) -> bool:
        if (name, digest) not in self.ledger.links:
            return False
        self.ledger.links.discard((name, digest))
        self._links.pop((name, digest), None)
        return True

    # -- upload sessions -----------------------------------------------------------
    def end_upload(self, upload_id: str, expires_at: int) -> bool:
        if self.upload_ended(upload_id):
            return False
        self._cancelled.add(upload_id)
        return True

    def upload_ended(self, upload_id: str) -> bool:
        return upload_id in self.ledger.upload_claims or upload_id in self._cancelled

    def upload_cancelled(self, upload_id: str) -> bool:
        return upload_id in self._cancelled

    def claimed_uploads(self, upload_ids: Iterable[str]) -> set[str]:
        return {i for i in upload_ids if i in self.ledger.upload_claims}

    # -- what a push reads -------------------------------------------------------------
    def missing_references(self, name: str, blobs: Iterable[str], manifests: Iterable[str]) -> list[str]:
        return self.check_push(name, blobs, manifests)[0]

    def check_push(self, name: str, blobs: Iterable[str], manifests: Iterable[str]) -> tuple[list[str], bool]:
        reads = self.read_for_push(name, blobs, manifests)
        return reads.missing, reads.repository_exists

    def read_for_push(self, name: str, blobs: Iterable[str], manifests: Iterable[str], *, tag: str | None = None,
                      digest: str | None = None, also: Iterable[Read] = ()) -> PushReads:
        blobs = list(dict.fromkeys(blobs))
        held = self._manifests.get(name, {})
        missing = [d for d in blobs if self.get_link(name, d) is None]
        missing += [d for d in dict.fromkeys(manifests) if d not in held]
        tag_entry = self._tags.get(name, {}).get(tag) if tag is not None else None
        sizes = {}
        for d in blobs:
            link = self.get_link(name, d)
            if link is not None:
                sizes[d] = link.size
        return PushReads(
            missing=missing,
            repository_exists=name in self._catalog,
            tag_digest=tag_entry.record.digest if tag_entry else None,
            manifest_exists=digest is not None and digest in held,
            sizes=sizes,
            also=tuple(read() for read in also),
        )

    # -- manifests ------------------------------------------------------------------
    def put_manifest(self, name: str, record: ManifestRecord, tag: str | None, now: int, *,
                     project: str | None = None, links: Iterable[tuple[str, int, str | None]] = (),
                     extra: Iterable[Op] = (), new_repository: bool | None = None, keep_tag: bool = False,
                     new_manifest: bool | None = None, hold_children: Iterable[str] = (),
                     copy_of: str | None = None) -> None:
        if new_repository is None:
            new_repository = not self.repository_exists(name)
        links, extra = list(links), list(extra)
        held = [c for c in dict.fromkeys(hold_children) if c != record.digest]
        if len(held) > MAX_HELD_CHILDREN:
            held = []  # not held: garbage collection's grace period (as DynamoRegistryMeta)
        events = self._event("artifact.pushed", name, tag if tag is not None else record.digest, pushed_data(record, tag, copy_of))
        size = 1 + (2 if new_repository else 1) + 1 + (tag is not None) + len(events) + len(held) + bool(record.subject)
        if size + 2 * len(links) + len(extra) >= MAX_TRANSACTION:
            # as many links as DynamoDB's transactions do not hold: written first, in their own writes
            step = (MAX_TRANSACTION - 2) // 2
            for start in range(0, len(links), step):
                batch = links[start : start + step]
                self._guard(project)
                for digest, _, key in batch:
                    self._check_link(digest, key)
                for digest, nbytes, key in batch:
                    self._apply_link(name, digest, nbytes, now, key)
            links = []
        self._guard(project)
        manifests = self._manifests.get(name, {})
        if (new_manifest is True and record.digest in manifests) or (new_manifest is False and record.digest not in manifests):
            raise Conflict(f"manifest {record.digest} in {name} changed meanwhile; retry")
        if new_repository == (name in self._catalog):
            raise Conflict(f"repository {name} changed meanwhile; retry")
        tags = self._tags.get(name, {})
        if tag is not None and keep_tag and tag in tags and tags[tag].record.digest != record.digest:
            raise Conflict(f"tag {tag} names another manifest")
        if any(c not in manifests for c in held):
            raise Conflict(f"a child manifest of {record.digest} is not in {name} any more")
        for digest, _, key in links:
            self._check_link(digest, key)
        self._run_linking(extra, (digest for digest, _, _ in links))
        # the write
        self._manifests.setdefault(name, {})[record.digest] = _as_stored(record)
        for child in held:
            manifests[child].version = _new_version()
        if new_repository:
            self._catalog[name] = RepositoryRecord(name, now, now)
        else:
            self._catalog[name].updated = now
        self.ledger.note_changed(name)
        if tag is not None:
            self._tags.setdefault(name, {})[tag] = _Tag(_tag_record(tag, record), now)
        if record.subject:
            self._referrers.setdefault(name, {})[(record.subject, record.digest)] = Referrer(
                record.digest, record.media_type, record.size, record.artifact_type or None, _inline(record.annotations))
        for digest, nbytes, key in links:
            self._apply_link(name, digest, nbytes, now, key)
        self.emitted.extend(events)

    def get_manifest(self, name: str, digest: str) -> ManifestRecord | None:
        found = self._manifests.get(name, {}).get(digest)
        return copy.deepcopy(found) if found else None

    def list_manifests(self, name: str, *, with_body: bool = True) -> list[ManifestRecord]:
        manifests = self._manifests.get(name, {})
        out = [copy.deepcopy(manifests[d]) for d in sorted(manifests)]
        if not with_body:  # DynamoDB's projection leaves out the bytes, the annotations and the version
            out = [replace(m, body=None, annotations=None, version=None) for m in out]
        return out

    def artifact_count(self, name: str) -> int:
        manifests = self._manifests.get(name, {})
        children = {c for m in manifests.values() for c in m.children}
        tagged = {t.record.digest for t in self._tags.get(name, {}).values()}
        return len({d for d in manifests if d not in children or d in tagged})

    def _tags_of(self, name: str, digest: str) -> list[str]:
        tags = self._tags.get(name, {})
        return [t for t in sorted(tags) if tags[t].record.digest == digest]

    def delete_manifest(self, name: str, digest: str, *, extra: Callable[[ManifestRecord], list[Op]] | None = None,
                        only_untagged: bool = False, created_before: int | None = None,
                        mark_changed: bool = True, named: str | None = None) -> ManifestRecord | None:
        record = self.get_manifest(name, digest)
        if record is None:
            return None
        if created_before is not None and record.created >= created_before:
            raise Conflict(f"manifest {digest} in {name} was put again since")
        tags = self._tags_of(name, digest)
        if only_untagged and tags:
            raise Conflict(f"manifest {digest} in {name} is tagged")
        label_ids = self._labels.artifact_label_ids(name).get(digest, [])
        events = self._event("artifact.deleted", name, digest, deleted_data(record, tags, named))
        self._run(extra(record) if extra is not None else [])
        self._delete(name, record, tags, label_ids)
        if mark_changed:
            self.ledger.note_changed(name)
        self.emitted.extend(events)
        return record

    def deletion_size(self, doomed: Doomed) -> int:
        return 1 + (self._events is not None) + bool(doomed.record.subject) + len(doomed.tags) + len(doomed.label_ids)

    def delete_manifests(self, name: str, doomed: Iterable[Doomed], *, extra: Iterable[Op] = (),
                         mark_changed: bool = True) -> None:
        doomed, extra = list(doomed), list(extra)
        size = sum(self.deletion_size(d) for d in doomed) + len(extra) + mark_changed
        if size > MAX_TRANSACTION:
            raise ValueError(f"{size} operations do not fit in one transaction")
        manifests = self._manifests.get(name, {})
        tags = self._tags.get(name, {})
        labelled = self._labels.artifact_label_ids(name)
        stale = Conflict("a concurrent change to this repository won; retry")
        for d in doomed:
            current = manifests.get(d.record.digest)
            # put again or tagged since the read: a new version (labelled since: DynamoDB's
            # label store gives the manifest a new version too)
            if current is None or current.version is None or current.version != d.record.version:
                raise stale
            if any(t not in tags or tags[t].record.digest != d.record.digest for t in d.tags):
                raise stale
            if not set(labelled.get(d.record.digest, [])) <= set(d.label_ids):
                raise stale
        events = [e for d in doomed for e in self._event(
            "artifact.deleted", name, d.record.digest, deleted_data(d.record, d.tags))]
        self._run(extra)
        for d in doomed:
            self._delete(name, d.record, d.tags, d.label_ids)
        if mark_changed:
            self.ledger.note_changed(name)
        self.emitted.extend(events)

    def _delete(self, name: str, record: ManifestRecord, tags: Iterable[str], label_ids: Iterable[int]) -> None:
        self._manifests.get(name, {}).pop(record.digest, None)
        if record.subject:
            self._referrers.get(name, {}).pop((record.subject, record.digest), None)
        for t in tags:
            self._tags.get(name, {}).pop(t, None)
        for label_id in label_ids:
            self._labels.remove_from_artifact(name, record.digest, label_id)

    def repository_contents(self, name: str) -> RepositoryContents:
        # as DynamoDB's projection reads them: without the bytes and the annotations
        manifests = {m.digest: replace(m, body=None, annotations=None) for m in self.list_manifests(name)}
        tags: dict[str, list[tuple[str, int, int]]] = {}
        for tag, digest, updated, pulled in self.tag_times(name):
            tags.setdefault(digest, []).append((tag, updated, pulled))
        # in the order of their keys in DynamoDB's partition (the ids as text)
        labels = {d: sorted(ids, key=str) for d, ids in self._labels.artifact_label_ids(name).items() if ids}
        return RepositoryContents(manifests, {d: sorted(t) for d, t in tags.items()}, labels)

    # -- tags -----------------------------------------------------------------------
    def get_tag(self, name: str, tag: str) -> TagRecord | None:
        found = self._tags.get(name, {}).get(tag)
        return copy.deepcopy(found.record) if found else None

    def list_tags(self, name: str, *, last: str | None, limit: int) -> tuple[list[str], bool]:
        tags = [t for t in sorted(self._tags.get(name, {})) if not last or t > last]
        return tags[: max(limit, 0)], len(tags) > limit

    def tag_digests(self, name: str) -> list[tuple[str, str, int]]:
        return [(tag, digest, updated) for tag, digest, updated, _ in self.tag_times(name)]

    def tag_times(self, name: str) -> list[tuple[str, str, int, int]]:
        tags = self._tags.get(name, {})
        return [(t, tags[t].record.digest, tags[t].updated, tags[t].pull_time) for t in sorted(tags)]

    def create_tag(self, name: str, tag: str, record: ManifestRecord, now: int) -> None:
        if tag in self._tags.get(name, {}):
            raise Conflict(f"tag {tag} already exists in {name}")
        manifest = self._manifests.get(name, {}).get(record.digest)
        if manifest is None or name not in self._catalog:
            raise Conflict(f"manifest {record.digest} is not in {name} any more")
        events = self._event("tag.created", name, tag, artifact_data(record, tag))
        self._tags.setdefault(name, {})[tag] = _Tag(_tag_record(tag, record), now)
        # a new version, so that a delete that read its tags before this one fails
        manifest.version = _new_version()
        self._catalog[name].updated = now
        self.emitted.extend(events)

    def delete_tag(self, name: str, tag: str) -> bool:
        if self._tags.get(name, {}).pop(tag, None) is None:
            return False
        self.ledger.note_changed(name)
        self.emitted.extend(self._event("tag.deleted", name, tag, {"tag": tag}))
        return True

    def mark_tag_checked(self, name: str, tag: str, digest: str, now: int) -> None:
        found = self._tags.get(name, {}).get(tag)
        if found is not None and found.record.digest == digest:
            found.record.checked = now

    # -- referrers ------------------------------------------------------------------
    def list_referrers(self, name: str, subject: str) -> list[Referrer]:
        entries = self._referrers.get(name, {})
        return [copy.deepcopy(entries[k]) for k in sorted(k for k in entries if k[0] == subject)]

    # -- repositories ---------------------------------------------------------------
    def repository_exists(self, name: str) -> bool:
        return name in self._catalog

    def get_repository(self, name: str) -> RepositoryRecord | None:
        found = self._catalog.get(name)
        return replace(found) if found else None

    def list_repositories(self, *, last: str | None, limit: int, prefix: str = "") -> tuple[list[str], bool]:
        names = [n for n in sorted(self._catalog) if n.startswith(prefix) and (not last or n > last)]
        return names[: max(limit, 0)], len(names) > limit

    def repositories(self, prefix: str) -> list[RepositoryRecord]:
        return [replace(self._catalog[n]) for n in sorted(self._catalog) if n.startswith(prefix)]

    def repositories_in_order(self, project: str) -> _Repositories:
        return _Repositories(lambda: {n: r for n, r in self._catalog.items() if n.startswith(project + "/")})

    def repository_counts(self, projects: Iterable[str]) -> dict[str, int]:
        counts = {p: 0 for p in projects}
        for name in self._catalog:
            if keys.project_of(name) in counts:
                counts[keys.project_of(name)] += 1
        return counts

    def delete_repository(self, name: str) -> bool:
        if name not in self._catalog:
            return False
        for digest, ids in self._labels.artifact_label_ids(name).items():
            for label_id in ids:
                self._labels.remove_from_artifact(name, digest, label_id)
        self._tags.pop(name, None)
        self._referrers.pop(name, None)
        self._manifests.pop(name, None)
        for link in [k for k in self.ledger.links if k[0] == name]:
            self.ledger.links.discard(link)
            self._links.pop(link, None)
        del self._catalog[name]
        return True

    # -- pulls ----------------------------------------------------------------------
    def emit(self, events: list[Any]) -> None:
        if self._events is not None:
            self.emitted.extend(events)

    def event_op(self, event: Any) -> Op:
        return lambda: self.emitted.append(event)  # run by the write it joins, once its checks passed

    def record_pulls(self, repositories: dict[str, tuple[int, int]], artifacts: dict[tuple[str, str], int],
                     tags: dict[tuple[str, str], int] | None = None) -> None:
        for name, (count, last) in repositories.items():
            repository = self._catalog.get(name)
            if repository is not None:
                repository.pull_count += count
                repository.pull_time = last
        for (name, digest), last in artifacts.items():
            manifest = self._manifests.get(name, {}).get(digest)
            if manifest is not None:
                manifest.pull_time = last
        for (name, tag), last in (tags or {}).items():
            entry = self._tags.get(name, {}).get(tag)
            if entry is not None:
                entry.pull_time = last

    # -- a proxy cache's copies of big blobs ---------------------------------------------
    def claim_fill(self, digest: str, now: int, until: int) -> bool:
        claimed = self._fills.get(digest)
        if claimed is not None and not claimed < now:
            return False
        self._fills[digest] = until
        return True

    def end_fill(self, digest: str) -> None:
        self._fills.pop(digest, None)

    def ping(self) -> None:
        """Memory is always there to read."""


class _Repositories:
    """paging.KeyedList over the catalog entries under "<project>/"."""

    def __init__(self, entries: Callable[[], dict[str, RepositoryRecord]]):
        self._entries = entries

    def keys(self, after: str | None, limit: int) -> list[str]:
        if limit < 1:
            return []
        return sorted(n for n in self._entries() if after is None or n > after)[:limit]

    def rows(self, after: str | None, limit: int) -> list[tuple[str, RepositoryRecord]]:
        entries = self._entries()
        return [(n, replace(entries[n])) for n in self.keys(after, limit)]


def _new_version() -> str:
    return uuid.uuid4().hex


def _inline(annotations: dict[str, str] | None) -> dict[str, str] | None:
    """The annotations as the DynamoDB items keep them: none when empty or too big."""
    if not annotations or len(json.dumps(annotations).encode()) > INLINE_ANNOTATIONS_LIMIT:
        return None
    return copy.deepcopy(annotations)


def _as_stored(record: ManifestRecord) -> ManifestRecord:
    """The record as DynamoRegistryMeta reads it back after a put: a new version, no pull
    yet (the put replaces the item), the annotations only when kept inline."""
    return replace(copy.deepcopy(record), annotations=_inline(record.annotations), blobs=list(record.blobs),
                   children=list(record.children), pull_time=0, version=_new_version())


def _tag_record(tag: str, record: ManifestRecord) -> TagRecord:
    # a copy of the manifest, so that a pull by tag is one read
    return TagRecord(tag, record.digest, record.media_type, record.size, record.body)


if TYPE_CHECKING:

    def _implementations(dynamo: DynamoRegistryMeta, memory: MemoryRegistryMeta) -> tuple[RegistryMeta, RegistryMeta]:
        """mypy's check that both keep the contract."""
        return dynamo, memory
