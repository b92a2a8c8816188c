"""Blob reads never pass bytes through Lambda: they redirect to presigned S3 URLs."""
from __future__ import annotations

from chalicelib.errors import BlobNotFound
from chalicelib.registry.http import OciRequest, OciResponse
from chalicelib.registry.oci.digests import Digest


def _linked(svc, name: str, digest: str) -> str:
    parsed = str(Digest.parse(digest))
    if svc.meta.link_size(name, parsed) is None:
        raise BlobNotFound(f"blob {parsed} is not in {name}", detail={"digest": parsed})
    return parsed


def check_blob(svc, req: OciRequest, name: str, digest: str) -> OciResponse:
    # API Gateway rewrites a HEAD response's Content-Length, so the size comes
    # from S3 itself, through a presigned HEAD.
    digest = _linked(svc, name, digest)
    url = svc.blobs.presign_head(digest, ttl=svc.settings.presign_ttl_seconds)
    return OciResponse.empty(307, {"Location": url, "Docker-Content-Digest": digest})


def get_blob(svc, req: OciRequest, name: str, digest: str) -> OciResponse:
    digest = _linked(svc, name, digest)
    url = svc.blobs.presign_get(digest, ttl=svc.settings.presign_ttl_seconds)
    return OciResponse.empty(307, {"Location": url, "Docker-Content-Digest": digest})


def delete_blob(svc, req: OciRequest, name: str, digest: str) -> OciResponse:
    parsed = str(Digest.parse(digest))
    if not svc.meta.unlink_blob(name, parsed):
        raise BlobNotFound(f"blob {parsed} is not in {name}", detail={"digest": parsed})
    return OciResponse.empty(202, {"Docker-Content-Digest": parsed})
