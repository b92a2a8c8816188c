"""The S3 key layout, in one place (docs/architecture.md repeats it).

    blobs/<alg>/<hex[0:2]>/<hex>          blob content, by digest; shared by all repositories
    blobs/uploaded/<upload-id>             a blob as its upload session wrote it (digest not
                                           known while the bytes arrived); the blob's record
                                           and links point at it, so it is never copied
    manifests/<alg>/<hex>                  manifest bytes too large to keep in DynamoDB
    uploads/<upload-id>/<start>            scratch: a chunk smaller than a multipart part,
                                           kept until it is joined into one (read back once)
    replication/<execution-id>/items.json  a replication run's items: the task ids its
                                           Distributed Map reads (ItemReader), deleted when
                                           the run finishes (a lifecycle rule expires the rest)

Everything under uploads/ is scratch: an S3 lifecycle rule expires the prefix and
aborts stale multipart uploads (infra/berth.yaml). An object under blobs/uploaded/
that no blob record claims (an abandoned session's) is removed by the scheduled
clean-up (chalicelib/registry/maintenance.py).
"""
from __future__ import annotations

UPLOADS_PREFIX = "uploads/"
UPLOADED_PREFIX = "blobs/uploaded/"
REPLICATION_PREFIX = "replication/"
_START_DIGITS = 15  # zero-padded, so that a listing is in offset order


def blob_key(digest: str) -> str:
    algorithm, hex_ = digest.split(":", 1)
    return f"blobs/{algorithm}/{hex_[:2]}/{hex_}"


def manifest_key(digest: str) -> str:
    algorithm, hex_ = digest.split(":", 1)
    return f"manifests/{algorithm}/{hex_}"


def uploaded_key(upload_id: str) -> str:
    return f"{UPLOADED_PREFIX}{upload_id}"


def upload_id(now: float, random_hex: str) -> str:
    """A new upload session's id: UUID-shaped, its first 12 hex digits the start time in
    milliseconds, so the objects under blobs/uploaded/ list in the order their sessions
    started (the clean-up lists only the recent ones: uploaded_since)."""
    text = f"{int(now * 1000):012x}{random_hex[12:32]}"
    return f"{text[:8]}-{text[8:12]}-{text[12:16]}-{text[16:20]}-{text[20:32]}"


def uploaded_since(when: float, prefix: str = UPLOADED_PREFIX) -> str:
    """A key before every object of a session started at `when` or later, and after every
    object of a session started before it, under `prefix` (blobs/uploaded/<id>, or the
    scratch pieces' uploads/<id>/...): S3's StartAfter, and where a listing may stop."""
    stamp = f"{max(0, int(when * 1000)):012x}"
    return f"{prefix}{stamp[:8]}-{stamp[8:12]}"


def upload_prefix(upload_id: str) -> str:
    return f"{UPLOADS_PREFIX}{upload_id}/"


def piece_key(upload_id: str, start: int) -> str:
    """Where a chunk that starts at `start` is kept (and claimed: one writer per offset)."""
    return f"{upload_prefix(upload_id)}{start:0{_START_DIGITS}d}"


def piece_start(key: str) -> int:
    return int(key.rsplit("/", 1)[1])


def replication_items_key(execution_id: int) -> str:
    """A replication run's item list, which its Distributed Map reads from S3 (the state
    machine's role may read this prefix only: infra/replication.yaml)."""
    return f"{REPLICATION_PREFIX}{execution_id:010d}/items.json"
