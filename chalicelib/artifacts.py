"""Artifacts (manifests and their tags): the rules every entry point follows — the
OCI API, the management API, and the replication and lifecycle workers to come.

- A reference is a tag or a digest, resolved the same way everywhere.
- A manifest that an index in the same repository lists is not deleted while the
  index is there (Harbor refuses it through both of its APIs): delete the index first.
- An index's untagged children are listed under the index, not on their own.
- A copy links the blobs, copies an index's children first, then puts the manifest.
- A tag that a project's immutability rule protects is neither moved nor deleted
  (chalicelib/immutability.py): every write and delete of a tag comes through here.
- A manifest new to a repository charges its project's quota with the blobs new to the
  project, in its own write; deleting manifests gives back what no other manifest of the
  project names (chalicelib/quotas.py).
"""
from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from chalicelib import immutability, quotas
from chalicelib.dependencies import DomainDependencies
from chalicelib.errors import (
    BlobNotFound,
    Conflict,
    ManifestBlobUnknown,
    ManifestNotFound,
    ManifestReferenced,
    TagImmutable,
)
from chalicelib.meta.immutable_rules import RuleSet
from chalicelib.meta.quotas import Usage
from chalicelib.meta.registry import ManifestRecord, PushReads, RepositoryContents
from chalicelib.oci.digests import Digest, looks_like_digest
from chalicelib.oci.names import project_of, validate_tag


def resolve_digest(svc: DomainDependencies, name: str, reference: str) -> str:
    """The digest a tag or digest reference names in repository `name`; a tag that
    is not there is ManifestNotFound (a digest is checked by whoever reads it)."""
    if looks_like_digest(reference):
        return str(Digest.parse(reference))
    tag = svc.meta.get_tag(name, validate_tag(reference))
    if tag is None:
        raise ManifestNotFound(f"tag {reference[:128]} is not in {name}", detail={"tag": reference[:128]})
    return tag.digest


def parents(manifests: Iterable[ManifestRecord], digest: str) -> list[str]:
    """The manifests among `manifests` that list `digest` as a child."""
    return [m.digest for m in manifests if digest in m.children]


def top_level(manifests: Iterable[ManifestRecord], tagged: set[str]) -> list[ManifestRecord]:
    """Harbor lists an index's children only under the index, unless they are tagged."""
    manifests = list(manifests)
    children = {child for m in manifests for child in m.children}
    return [m for m in manifests if m.digest not in children or m.digest in tagged]


def _release(svc: DomainDependencies, name: str, records: list[ManifestRecord], *, ops: bool = True):
    """What deleting `records` from repository `name` gives back to the project's quota:
    the operations to join the deletion's transaction (or, ops=False, the change)."""
    named: dict[str, int] = {}
    for record in records:
        for d in [*dict.fromkeys(record.blobs), record.digest]:
            named[d] = named.get(d, 0) + 1
    project = project_of(name)
    counted = svc.quotas.blob_refs(project, named) if named else {}
    if not counted:
        return [] if ops else None
    change = quotas.release(project, named, counted, svc.quotas.get(project), int(svc.clock()))
    return svc.quotas.ops(change) if ops else change


def delete_repository(svc: DomainDependencies, name: str) -> bool:
    """Delete a repository with its manifests, tags and links (not while a tag of it is
    immutable), then give back to the project's quota what no other repository names.
    False if it is not there."""
    rules = svc.immutable_rules.get(project_of(name)).rules
    if rules:
        for tag, _, _ in svc.meta.tag_digests(name):
            if immutability.protects(rules, name, tag):
                raise immutability.refuse_delete(tag)
    records = svc.meta.list_manifests(name, with_body=False)
    change = _release(svc, name, records, ops=False)
    if not svc.meta.delete_repository(name):
        return False
    # after the deletion: a fault in between over-counts (refuses pushes), never under-counts
    if change is not None:
        svc.quotas.apply(change)
    return True


@dataclass(frozen=True)
class _WriteReads:
    """What a manifest's write reads, in the registry store's one call: the repository's
    part, the project's tag immutability rules and its quota usage (the last two read and
    answered by their own stores)."""

    repository: PushReads
    rules: RuleSet
    usage: Usage


def _read_for_write(svc: DomainDependencies, name: str, record: ManifestRecord, tag: str | None,
                    children: Iterable[str] = ()) -> _WriteReads:
    project = project_of(name)
    rules = svc.immutable_rules.read(project)
    usage = svc.quotas.read(project, [*record.blobs, record.digest])
    reads = svc.meta.read_for_push(name, record.blobs, children, tag=tag, digest=record.digest, also=(rules, usage))
    return _WriteReads(reads, svc.immutable_rules.rules(rules, reads.also[0]), svc.quotas.usage(usage, reads.also[1]))


def push_manifest(
    svc: DomainDependencies, name: str, record: ManifestRecord, tag: str | None, *, project: str | None, stored_body: bytes | None = None
) -> None:
    """Put a pushed manifest (and its tag) once everything it references is in the
    repository and no immutability rule forbids moving the tag. One BatchGetItem reads
    all of that; one transaction writes. `project`: the write happens only while it exists;
    `stored_body`: bytes too large for the item, written to S3 once the checks pass."""
    stored = stored_body is None

    def write() -> None:
        nonlocal stored
        read = _read_for_write(svc, name, record, tag, record.children)
        reads = read.repository
        if reads.missing:
            raise ManifestBlobUnknown(
                f"manifest references {reads.missing[0]}, which is not in {name}", detail={"digest": reads.missing[0]}
            )
        keep_tag = tag is not None and immutability.protects(read.rules.rules, name, tag)
        if tag is not None and keep_tag and reads.tag_digest not in (None, record.digest):
            raise immutability.refuse_move(name, tag)
        extra = _charge(svc, name, record, read, reads.sizes, tag=tag)
        if stored_body is not None and not stored:
            svc.blobs.put_manifest(record.digest, stored_body)
            stored = True
        _put(
            svc, name, record, tag, keep_tag=keep_tag, project=project, new_repository=not reads.repository_exists,
            extra=extra, new_manifest=not reads.manifest_exists, hold_children=record.children,
        )

    until_won(svc, write)


def cache_manifest(svc: DomainDependencies, name: str, record: ManifestRecord, tag: str | None, declared: dict[str, int], *, project: str) -> None:
    """Put a proxy cache's copy of an upstream manifest (and its tag) as a push would, and
    charge the project's quota the same way: its blobs are fetched only when a client asks
    for them, so they are charged at the sizes the (verified) manifest declares.
    QuotaExceeded (nothing written) when the project has no room for it."""
    def write() -> None:
        read = _read_for_write(svc, name, record, tag)
        reads = read.repository
        extra = _charge(svc, name, record, read, {**declared, **reads.sizes}, tag=tag)
        _put(svc, name, record, tag, keep_tag=False, project=project, new_repository=not reads.repository_exists,
             extra=extra, new_manifest=not reads.manifest_exists)

    until_won(svc, write)


# A manifest's write is conditional on what it read (the project's usage and its blobs'
# counts, the catalog, the tag); one that lost to a concurrent write, or met one in flight
# (DynamoDB's TransactionConflict: every push into a project updates its usage), reads
# again and tries again: pushes in parallel into one project are normal (a build farm, a
# multi-arch push, `docker push --all-tags`). Bounded, with full jitter so the losers do
# not meet again; the last loss answers 429, which clients retry.
WRITE_ATTEMPTS = 8
_BACKOFF_BASE_S = 0.02
_BACKOFF_CAP_S = 0.5


def until_won(svc: DomainDependencies, write: Callable[[], None]) -> None:
    for attempt in range(WRITE_ATTEMPTS):
        try:
            return write()
        except Conflict:
            if attempt == WRITE_ATTEMPTS - 1:
                raise
            svc.sleep(random.uniform(0, min(_BACKOFF_CAP_S, _BACKOFF_BASE_S * 2**attempt)))


# a manifest naming more blobs than fit beside it in one transaction is charged in a write
# of its own first: a fault between the two over-counts (refuses pushes), never under-counts
_MAX_CHARGE_OPS = 80


def _charge(
    svc: DomainDependencies, name: str, record: ManifestRecord, read: _WriteReads, sizes: dict[str, int], *, tag: str | None = None,
    linked: Iterable[str] = (),
) -> list[dict]:
    """The quota operations of a manifest new to the repository (none if it is there),
    with Harbor's QUOTA_WARNING event when the write takes usage across the warning bar
    (in the same transaction: it exists exactly when the bytes are counted). A refusal
    sends QUOTA_EXCEED (nothing else is written)."""
    from chalicelib.errors import QuotaExceeded
    from chalicelib.events.envelope import QUOTA_EXCEEDED, QUOTA_WARNING

    if read.repository.manifest_exists:
        return []
    named = {d: sizes[d] for d in record.blobs if d in sizes}
    named[record.digest] = record.size
    quota, counted = read.usage.quota, read.usage.counted
    try:
        change = quotas.charge(
            project_of(name), named, {d: c.refs for d, c in counted.items()}, quota, int(svc.clock()),
            # the blobs whose records count the project (garbage collection's ledger): those the
            # repository links or the write links; a proxy cache's not yet fetched ones have
            # none (a cache: one collected is fetched again)
            blobs=frozenset(d for d in record.blobs if d in read.repository.sizes or d in set(linked)),
            in_blob_count=frozenset(d for d, c in counted.items() if c.in_blob_count),
        )
    except QuotaExceeded as exc:
        _quota_event(svc, QUOTA_EXCEEDED, name, record, tag, exc.message, quota.hard, quota.used, emit=True)
        raise
    ops = svc.quotas.ops(change)
    warned = quotas.warning(change, int(svc.runtime_config.typed("quota_warning_percent"))) if change.quota.hard > 0 else None
    event = []
    if warned:
        event = [_quota_event(svc, QUOTA_WARNING, name, record, tag, warned, change.quota.hard, change.quota.used + change.delta)]
    if len(ops) > _MAX_CHARGE_OPS:
        svc.quotas.apply(change)
        return event
    return ops + event


def _quota_event(svc: DomainDependencies, kind: str, name: str, record: ManifestRecord, tag: str | None, details: str, hard: int, used: int,
                 *, emit: bool = False):
    """The operation writing a quota event in the push's write, opaque here (or, emit=True,
    the event written on its own)."""
    from chalicelib.events.envelope import reference_of

    data = {"repository": name, "project": project_of(name), "reference": tag or record.digest, "tag": tag,
            "digest": record.digest, "details": details, "hard": hard, "used": used}
    subject = reference_of(name, tag or record.digest)
    if emit:
        try:
            svc.meta.emit([svc.outbox.event(kind, subject, data)])
        except Exception:  # the refusal stands whether or not its event was written
            import logging

            logging.getLogger("berth.quotas").exception("the quota-exceeded event was not written")
        return None
    return svc.meta.event_op(svc.outbox.event(kind, subject, data))


def _put(svc: DomainDependencies, name: str, record: ManifestRecord, tag: str | None, *, keep_tag: bool, **kwargs) -> None:
    try:
        svc.meta.put_manifest(name, record, tag, int(svc.clock()), keep_tag=keep_tag, **kwargs)
    except Conflict:
        # the tag's condition: a concurrent push moved the protected tag first
        current = svc.meta.get_tag(name, tag) if keep_tag and tag is not None else None
        if tag is not None and current is not None and current.digest != record.digest:
            raise immutability.refuse_move(name, tag) from None
        raise


def delete_tag(svc: DomainDependencies, name: str, tag: str) -> bool:
    """Remove a tag (the manifest stays); False if it was not there. Refused for a tag
    an immutability rule protects."""
    if immutability.protects(svc.immutable_rules.get(project_of(name)).rules, name, tag):
        raise immutability.refuse_delete(tag)
    return svc.meta.delete_tag(name, tag)


def delete_manifest(
    svc: DomainDependencies, name: str, digest: str, *, manifests: Iterable[ManifestRecord] | None = None, only_untagged: bool = False,
    created_before: int | None = None, mark_changed: bool = True, named: str | None = None,
) -> ManifestRecord:
    """Delete a manifest, its tags and its referrer entry, unless an index in the
    repository still lists it or one of its tags is immutable. `manifests`: the
    repository's, if the caller has them; `only_untagged`: Conflict if it has a tag,
    `created_before`: Conflict if it was put since (garbage collection's untagged
    artifacts and grace period); `mark_changed`: False for garbage collection's own
    deletions (meta/registry.py delete_manifest); `named`: the reference the caller named it
    by (its event carries it, for the audit entry)."""
    listed = svc.meta.list_manifests(name, with_body=False) if manifests is None else manifests
    referenced_by = parents(listed, digest)
    if referenced_by:
        raise ManifestReferenced(
            f"manifest {digest} is listed by index {referenced_by[0]} in {name}; delete the index first",
            detail={"digest": digest, "index": referenced_by[0]},
        )
    rules = svc.immutable_rules.get(project_of(name)).rules
    if rules:  # only then are its tags read here (the store reads them again to delete them)
        for tag, tagged, _ in svc.meta.tag_digests(name):
            if tagged == digest and immutability.protects(rules, name, tag):
                raise immutability.refuse_delete(tag)
    # the quota's release of the record the store reads and deletes, in the same transaction
    deleted = svc.meta.delete_manifest(
        name, digest, extra=lambda record: _release(svc, name, [record]), only_untagged=only_untagged,
        created_before=created_before, mark_changed=mark_changed, named=named,
    )
    if deleted is None:
        raise ManifestNotFound(f"manifest {digest} is not in {name}", detail={"digest": digest})
    return deleted


def delete_manifests(
    svc: DomainDependencies, name: str, digests: Iterable[str], contents: RepositoryContents, *, untagged_before: int | None = None
) -> tuple[list[str], dict[str, str]]:
    """Delete these manifests of repository `name`, in the order given (an index before
    its children), by the rules delete_manifest follows (not while an index left in the
    repository lists one, nor while one of its tags is immutable), from what the caller read
    of the repository once (`contents`, meta/registry.py repository_contents) instead of
    reading it again for each. As many go in one transaction as fit with their quota's
    release, each conditional on what was read; when one fails (a tag moved or joined, a
    manifest put again since the read), its manifests are deleted one at a time as an API
    delete does. `untagged_before`: garbage collection's untagged step (the ones deleted one
    at a time only while untagged and put before that time; the repository not marked
    changed by its own deletions). (the digests deleted or found gone, {digest: why it was
    not deleted})."""
    from chalicelib.meta.registry import MAX_TRANSACTION, Doomed

    gc = untagged_before is not None
    one_at_a_time: dict[str, Any] = {"only_untagged": gc, "created_before": untagged_before, "mark_changed": not gc}

    rules = svc.immutable_rules.get(project_of(name)).rules
    left = dict(contents.manifests)  # what the repository holds once the deletions so far are done
    listing: dict[str, list[str]] = {}  # child -> the indexes that list it
    for m in left.values():
        for child in m.children:
            listing.setdefault(child, []).append(m.digest)
    deleted: list[str] = []
    refused: dict[str, str] = {}
    group: list[Doomed] = []
    room = MAX_TRANSACTION - 1 - (not gc)  # the quota's own item, and the repository's change mark

    def flush() -> None:
        if not group:
            return
        try:
            svc.meta.delete_manifests(name, group, extra=_release(svc, name, [d.record for d in group]), mark_changed=not gc)
            deleted.extend(d.record.digest for d in group)
        except Conflict:  # something changed since the read: each on its own, read afresh
            for at, doomed in enumerate(group):
                digest = doomed.record.digest
                try:
                    delete_manifest(svc, name, digest, manifests=[*left.values(), *(d.record for d in group[at + 1:])],
                                    **one_at_a_time)
                except ManifestNotFound:
                    pass  # gone meanwhile: done either way
                except (TagImmutable, ManifestReferenced, Conflict) as exc:
                    refused[digest] = exc.message
                    left[digest] = doomed.record
                    continue
                deleted.append(digest)
        group.clear()

    size = 0
    for digest in digests:
        record = left.get(digest)
        if record is None:
            deleted.append(digest)  # not there (deleted before): done
            continue
        tags = tuple(t for t, _, _ in contents.tags.get(digest, ()))
        listed_by = [p for p in listing.get(digest, ()) if p in left]
        if listed_by:
            refused[digest] = f"manifest {digest} is listed by index {listed_by[0]} in {name}; delete the index first"
            continue
        protected = next((t for t in tags if immutability.protects(rules, name, t)), None)
        if protected is not None:
            refused[digest] = immutability.refuse_delete(protected).message
            continue
        doomed = Doomed(record, tags, tuple(contents.labels.get(digest, ())))
        # its own operations, and at most three of the quota's for each digest it names
        need = svc.meta.deletion_size(doomed) + 3 * (len(set(record.blobs)) + 1)
        if need > room:  # too big to share a transaction: on its own, as an API delete
            flush()
            size = 0
            try:
                delete_manifest(svc, name, digest, manifests=left.values(), **one_at_a_time)
            except ManifestNotFound:
                pass
            except (TagImmutable, ManifestReferenced, Conflict) as exc:
                refused[digest] = exc.message
                continue
            deleted.append(digest)
            del left[digest]
            continue
        if size + need > room:
            flush()
            size = 0
        group.append(doomed)
        size += need
        del left[digest]  # an index's children may go in the same transaction
    flush()
    return deleted, refused


def copy(svc: DomainDependencies, source: str, manifests: dict[str, ManifestRecord], target: str, record: ManifestRecord, tag: str | None) -> None:
    """Copy `record` (and, for an index, its children) from repository `source`,
    whose manifests by digest are `manifests`, into `target`, tagging it `tag`. The
    artifact.pushed event of `record` (not its children's) names what was copied
    (`copy_of`): the change the audit log enters."""
    from chalicelib.events.envelope import reference_of

    _copy(svc, source, manifests, target, record, tag, set(), copy_of=reference_of(source, tag or record.digest))


def _copy(svc: DomainDependencies, source: str, manifests: dict[str, ManifestRecord], target: str, record: ManifestRecord, tag: str | None, seen: set[str],
          copy_of: str | None = None) -> None:
    seen.add(record.digest)
    now = int(svc.clock())
    for child in record.children:
        found = manifests.get(child)
        if found is None:
            raise ManifestNotFound(f"{source} lacks {child}, which {record.digest} refers to", detail={"digest": child})
        if child not in seen:
            _copy(svc, source, manifests, target, found, None, seen)
    copied = ManifestRecord(
        digest=record.digest,
        media_type=record.media_type,
        size=record.size,
        body=record.body,
        subject=record.subject,
        artifact_type=record.artifact_type,
        annotations=record.annotations,
        blobs=record.blobs,
        children=record.children,
        created=now,
    )

    def write() -> None:
        links = []
        for digest in record.blobs:
            if svc.meta.link_size(target, digest) is not None:
                continue
            link = svc.meta.get_link(source, digest)
            if link is None:
                raise BlobNotFound(f"{source} lacks blob {digest}, which {record.digest} refers to", detail={"digest": digest})
            # the copy names the same bytes (the object the blob's upload wrote)
            links.append((digest, link.size, link.key))
        read = _read_for_write(svc, target, copied, tag)
        reads = read.repository
        keep_tag = tag is not None and immutability.protects(read.rules.rules, target, tag)
        if tag is not None and keep_tag and reads.tag_digest not in (None, copied.digest):
            raise immutability.refuse_move(target, tag)
        sizes = {**reads.sizes, **{digest: size for digest, size, _ in links}}
        extra = _charge(svc, target, copied, read, sizes, tag=tag, linked=[digest for digest, _, _ in links])
        # the blobs' links with the manifest, in one transaction: a fault copies all or nothing
        _put(svc, target, copied, tag, keep_tag=keep_tag, links=links, extra=extra, new_manifest=not reads.manifest_exists,
             hold_children=record.children, copy_of=copy_of)

    until_won(svc, write)
