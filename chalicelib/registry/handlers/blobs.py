"""Blob reads never pass bytes through Lambda: they redirect to presigned S3 URLs."""
from __future__ import annotations

from typing import cast

from chalicelib.errors import BlobNotFound, UpstreamFilling
from chalicelib.oci.digests import Digest
from chalicelib.registry.dependencies import RegistryDependencies
from chalicelib.storage import paths
from chalicelib.web.http import Request, Response


def _linked(svc: RegistryDependencies, name: str, digest: str) -> tuple[str, str | None, str | None]:
    """(digest, the key of the object holding its bytes, None), one GetItem of the link; or,
    for a big blob a proxy cache is still copying, (digest, None, the upstream's own URL)."""
    parsed = str(Digest.parse(digest))
    link = svc.meta.get_link(name, parsed)
    if link is None:
        # a proxy cache project fetches it from its upstream once (chalicelib/proxy_cache.py)
        upstream = svc.proxy_cache.upstream_of(name)
        if upstream is None:
            raise BlobNotFound(f"blob {parsed} is not in {name}", detail={"digest": parsed})
        elsewhere = svc.proxy_cache.fetch_blob(upstream, name, parsed)
        if elsewhere:
            return parsed, None, elsewhere
        link = svc.meta.get_link(name, parsed)
        if link is None:
            raise BlobNotFound(f"blob {parsed} is not in {name}", detail={"digest": parsed})
    return parsed, link.key or paths.blob_key(parsed), None


def check_blob(svc: RegistryDependencies, req: Request, name: str, digest: str) -> Response:
    # API Gateway rewrites a HEAD response's Content-Length, so the size comes
    # from S3 itself, through a presigned HEAD.
    digest, key, _upstream_url = _linked(svc, name, digest)
    if key is None:
        # the upstream's URL is presigned for GET only: a HEAD waits for the copy
        raise UpstreamFilling(f"blob {digest} is being copied from the upstream; try again shortly", detail={"digest": digest})
    url = svc.blobs.presign_head(key, ttl=svc.settings.presign_ttl_seconds)
    return Response.empty(307, {"Location": url, "Docker-Content-Digest": digest})


def get_blob(svc: RegistryDependencies, req: Request, name: str, digest: str) -> Response:
    digest, key, elsewhere = _linked(svc, name, digest)
    url = svc.blobs.presign_get(key, ttl=svc.settings.presign_ttl_seconds) if key is not None else cast(str, elsewhere)  # _linked gives a key or the upstream's URL
    return Response.empty(307, {"Location": url, "Docker-Content-Digest": digest})


def delete_blob(svc: RegistryDependencies, req: Request, name: str, digest: str) -> Response:
    parsed = str(Digest.parse(digest))
    if not svc.meta.unlink_blob(name, parsed):
        raise BlobNotFound(f"blob {parsed} is not in {name}", detail={"digest": parsed})
    return Response.empty(202, {"Docker-Content-Digest": parsed})
