"""The S3 key layout, in one place (docs/architecture.md repeats it).

    blobs/<alg>/<hex[0:2]>/<hex>          blob content, by digest; shared by all repositories
    manifests/<alg>/<hex>                  manifest bytes too large to keep in DynamoDB
    uploads/<upload-id>/data               the S3 multipart upload of an upload session
    uploads/<upload-id>/tail/<nonce>/<start>-<end>
                                           bytes received but not yet a 5 MiB part

Everything under uploads/ is scratch: an S3 lifecycle rule aborts stale multipart
uploads and expires the prefix (infra/berth.yaml).
"""
from __future__ import annotations

UPLOADS_PREFIX = "uploads/"


def blob_key(digest: str) -> str:
    algorithm, hex_ = digest.split(":", 1)
    return f"blobs/{algorithm}/{hex_[:2]}/{hex_}"


def manifest_key(digest: str) -> str:
    algorithm, hex_ = digest.split(":", 1)
    return f"manifests/{algorithm}/{hex_}"


def upload_data_key(upload_id: str) -> str:
    return f"{UPLOADS_PREFIX}{upload_id}/data"


def upload_tail_key(upload_id: str, start: int, end: int, nonce: str) -> str:
    # A key per write: a request that loses the race to save the session must not
    # overwrite the tail that the winner's saved session (and hash state) points at.
    return f"{UPLOADS_PREFIX}{upload_id}/tail/{nonce}/{start}-{end}"
