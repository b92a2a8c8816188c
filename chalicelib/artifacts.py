"""Artifacts (manifests and their tags): the rules every entry point follows — the
OCI API, the management API, and the replication and lifecycle workers to come.

- A reference is a tag or a digest, resolved the same way everywhere.
- A manifest that an index in the same repository lists is not deleted while the
  index is there (Harbor refuses it through both of its APIs): delete the index first.
- An index's untagged children are listed under the index, not on their own.
- A copy links the blobs, copies an index's children first, then puts the manifest.
- A tag that a project's immutability rule protects is neither moved nor deleted
  (chalicelib/immutability.py): every write and delete of a tag comes through here.
"""
from __future__ import annotations

from collections.abc import Iterable

from chalicelib import immutability
from chalicelib.errors import BlobNotFound, Conflict, ManifestBlobUnknown, ManifestNotFound, ManifestReferenced
from chalicelib.meta.registry import ManifestRecord
from chalicelib.oci.digests import Digest, looks_like_digest
from chalicelib.oci.names import project_of, validate_tag


def resolve_digest(svc, name: str, reference: str) -> str:
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


def push_manifest(
    svc, name: str, record: ManifestRecord, tag: str | None, *, project: str | None, stored_body: bytes | None = None
) -> None:
    """Put a pushed manifest (and its tag) once everything it references is in the
    repository and no immutability rule forbids moving the tag. One BatchGetItem reads
    all of that; one transaction writes. `project`: the write happens only while it exists;
    `stored_body`: bytes too large for the item, written to S3 once the checks pass."""
    reads = svc.meta.read_for_push(name, record.blobs, record.children, tag=tag)
    if reads.missing:
        raise ManifestBlobUnknown(
            f"manifest references {reads.missing[0]}, which is not in {name}", detail={"digest": reads.missing[0]}
        )
    keep_tag = tag is not None and immutability.protects(reads.rules.rules, name, tag)
    if keep_tag and reads.tag_digest not in (None, record.digest):
        raise immutability.refuse_move(name, tag)
    if stored_body is not None:
        svc.blobs.put_manifest(record.digest, stored_body)
    _put(svc, name, record, tag, keep_tag=keep_tag, project=project, new_repository=not reads.repository_exists)


def _put(svc, name: str, record: ManifestRecord, tag: str | None, *, keep_tag: bool, **kwargs) -> None:
    try:
        svc.meta.put_manifest(name, record, tag, int(svc.clock()), keep_tag=keep_tag, **kwargs)
    except Conflict:
        # the tag's condition: a concurrent push moved the protected tag first
        current = svc.meta.get_tag(name, tag) if keep_tag and tag is not None else None
        if current is not None and current.digest != record.digest:
            raise immutability.refuse_move(name, tag) from None
        raise


def delete_tag(svc, name: str, tag: str) -> bool:
    """Remove a tag (the manifest stays); False if it was not there. Refused for a tag
    an immutability rule protects."""
    if immutability.protects(svc.immutable_rules.get(project_of(name)).rules, name, tag):
        raise immutability.refuse_delete(tag)
    return svc.meta.delete_tag(name, tag)


def delete_manifest(svc, name: str, digest: str, *, manifests: Iterable[ManifestRecord] | None = None) -> ManifestRecord:
    """Delete a manifest, its tags and its referrer entry, unless an index in the
    repository still lists it or one of its tags is immutable. `manifests`: the
    repository's, if the caller has them."""
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
    deleted = svc.meta.delete_manifest(name, digest)
    if deleted is None:
        raise ManifestNotFound(f"manifest {digest} is not in {name}", detail={"digest": digest})
    return deleted


def copy(svc, source: str, manifests: dict[str, ManifestRecord], target: str, record: ManifestRecord, tag: str | None) -> None:
    """Copy `record` (and, for an index, its children) from repository `source`,
    whose manifests by digest are `manifests`, into `target`, tagging it `tag`."""
    _copy(svc, source, manifests, target, record, tag, set())


def _copy(svc, source: str, manifests: dict[str, ManifestRecord], target: str, record: ManifestRecord, tag: str | None, seen: set[str]) -> None:
    seen.add(record.digest)
    now = int(svc.clock())
    for child in record.children:
        found = manifests.get(child)
        if found is None:
            raise ManifestNotFound(f"{source} lacks {child}, which {record.digest} refers to", detail={"digest": child})
        if child not in seen:
            _copy(svc, source, manifests, target, found, None, seen)
    links = []
    for digest in record.blobs:
        if svc.meta.link_size(target, digest) is not None:
            continue
        link = svc.meta.get_link(source, digest)
        if link is None:
            raise BlobNotFound(f"{source} lacks blob {digest}, which {record.digest} refers to", detail={"digest": digest})
        # the copy names the same bytes (the object the blob's upload wrote)
        links.append((digest, link.size, link.key))
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
    keep_tag = False
    if tag is not None:
        keep_tag = immutability.protects(svc.immutable_rules.get(project_of(target)).rules, target, tag)
        current = svc.meta.get_tag(target, tag) if keep_tag else None
        if current is not None and current.digest != copied.digest:
            raise immutability.refuse_move(target, tag)
    # the blobs' links with the manifest, in one transaction: a fault copies all or nothing
    _put(svc, target, copied, tag, keep_tag=keep_tag, links=links)
