"""Copy one artifact from one endpoint to another, in the order that leaves nothing
half-written at the destination:

1. each blob the destination lacks: linked when its bytes are there already (this Berth's
   bucket), else streamed from the source with bounded memory (verified by the
   destination): in chunks with `copy_by_chunk`, else in one request (a destination that
   refuses it as too large, 413, gets the blob read again from the source, in chunks);
2. an index's child manifests before the index, each by digest (recursively);
3. the manifest itself, by digest, only once everything it references is there;
4. its referrers (signatures, SBOMs: manifests whose `subject` is it), the same way;
5. then the tags, each moved to it (an existing tag elsewhere stays unless `override`).

Everything that was already there is skipped, so a rerun after a failure does only what
is left, and a run that finds the destination complete writes nothing.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

from chalicelib.errors import RemoteBodyTooLarge
from chalicelib.oci.manifests import parse_manifest
from chalicelib.remote.client import Manifest
from chalicelib.replicator.endpoints import Endpoint
from chalicelib.replicator.throttle import limited

MAX_REFERRERS = 100  # per artifact; beyond it the rest waits for the next run


@dataclass
class CopyStats:
    bytes: int = 0  # blob bytes streamed from source to destination
    blobs_copied: int = 0
    blobs_skipped: int = 0  # there already
    blobs_linked: int = 0  # bytes present at the destination, linked without a copy
    manifests: int = 0  # manifests written
    tags: list[str] = field(default_factory=list)  # tags moved
    tags_kept: list[str] = field(default_factory=list)  # tags left at another digest (override off)
    log: list[str] = field(default_factory=list)


class Copier:
    def __init__(self, src: Endpoint, dst: Endpoint, *, override: bool = True, log: Callable[[str], None] | None = None,
                 speed: int = 0, by_chunk: bool = False):
        self.src = src
        self.dst = dst
        self.override = override
        self.speed = speed  # KiB/s for the blobs of this copy; 0 or -1: no limit
        self.by_chunk = by_chunk  # Harbor's copy_by_chunk: PATCH chunks, not one request per blob
        self._log = log

    def copy(self, src_repo: str, dst_repo: str, reference: str, tags: list[str]) -> tuple[str, CopyStats]:
        """Copy the artifact `reference` names (a digest, or a tag) with `tags`; its digest."""
        stats = CopyStats()
        manifest = self.src.manifest(src_repo, reference)
        if manifest is None:
            from chalicelib.errors import RemoteNotFound

            raise RemoteNotFound(f"{src_repo}@{reference} is no longer at the source")
        self._say(stats, f"copy {src_repo}@{manifest.digest} ({manifest.media_type}) to {dst_repo}")
        self._tree(src_repo, dst_repo, manifest, stats, depth=0)
        for referrer in self.src.referrers(src_repo, manifest.digest)[:MAX_REFERRERS]:
            child = self.src.manifest(src_repo, referrer.digest)
            if child is not None:
                self._say(stats, f"referrer {child.digest} ({referrer.artifact_type or ''})")
                self._tree(src_repo, dst_repo, child, stats, depth=0)
        for tag in tags:
            current = self.dst.manifest_digest(dst_repo, tag)
            if current == manifest.digest:
                continue
            if current is not None and not self.override:
                self._say(stats, f"tag {tag} kept at {current} (override is off)")
                stats.tags_kept.append(tag)
                continue
            self.dst.put_manifest(dst_repo, tag, manifest)
            stats.tags.append(tag)
            self._say(stats, f"tag {tag} -> {manifest.digest}")
        return manifest.digest, stats

    def _tree(self, src_repo: str, dst_repo: str, manifest: Manifest, stats: CopyStats, depth: int) -> None:
        if depth > 4:
            raise ValueError(f"{manifest.digest}: indexes nested deeper than 4")
        if self.dst.manifest_digest(dst_repo, manifest.digest) is not None:
            self._say(stats, f"manifest {manifest.digest} is there already")
            return
        parsed = parse_manifest(manifest.data, manifest.media_type)
        for child_digest in dict.fromkeys(parsed.children):
            if self.dst.manifest_digest(dst_repo, child_digest) is not None:
                continue
            child = self.src.manifest(src_repo, child_digest)
            if child is None:
                from chalicelib.errors import RemoteNotFound

                raise RemoteNotFound(f"{src_repo}@{child_digest}, a child of {manifest.digest}, is not at the source")
            self._tree(src_repo, dst_repo, child, stats, depth + 1)
        sizes = _blob_sizes(manifest.data)
        for digest in dict.fromkeys(parsed.blobs):
            self._blob(src_repo, dst_repo, digest, sizes.get(digest, -1), stats)
        self.dst.put_manifest(dst_repo, manifest.digest, manifest)
        stats.manifests += 1
        self._say(stats, f"manifest {manifest.digest} written")

    def _blob(self, src_repo: str, dst_repo: str, digest: str, size: int, stats: CopyStats) -> None:
        if self.dst.has_blob(dst_repo, digest):
            stats.blobs_skipped += 1
            return
        if self.dst.link_known_blob(dst_repo, digest):
            stats.blobs_linked += 1
            self._say(stats, f"blob {digest} linked (its bytes are there)")
            return
        chunked = self.by_chunk
        length = self._send(src_repo, dst_repo, digest, size, chunked)
        if length is None:  # refused in one request: read again from the source, sent in chunks
            self._say(stats, f"blob {digest}: the destination refused it in one request (413); sending it in chunks")
            chunked = True
            length = self._send(src_repo, dst_repo, digest, size, chunked)
        stats.blobs_copied += 1
        stats.bytes += max(length or 0, 0)  # the second _send (in chunks) never answers None
        self._say(stats, f"blob {digest} copied ({length} bytes, {'in chunks' if chunked else 'in one request'})")

    def _send(self, src_repo: str, dst_repo: str, digest: str, size: int, chunked: bool) -> int | None:
        """The blob streamed from the source to the destination; its length, or None when
        the destination refused it in one request as too large."""
        blob = self.src.open_blob(src_repo, digest)
        try:
            length = size if size >= 0 else blob.size
            self.dst.write_blob(dst_repo, digest, limited(blob.stream, self.speed), length, chunked=chunked)
        except RemoteBodyTooLarge:
            if chunked:
                raise
            return None
        finally:
            blob.close()
        return length

    def _say(self, stats: CopyStats, line: str) -> None:
        stats.log.append(line)
        if self._log:
            self._log(line)


def _blob_sizes(data: bytes) -> dict[str, int]:
    """digest -> size of the blobs a manifest lists (config, layers, an artifact's blobs)."""
    try:
        document = json.loads(data)
    except ValueError:
        return {}
    out = {}
    for descriptor in [document.get("config") or {}, *(document.get("layers") or []), *(document.get("blobs") or [])]:
        if isinstance(descriptor, dict) and isinstance(descriptor.get("digest"), str):
            size = descriptor.get("size")
            out[descriptor["digest"]] = size if isinstance(size, int) else -1
    return out
