"""Manifests: GET, HEAD, PUT and DELETE by tag or digest."""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from chalicelib import artifacts
from chalicelib.errors import InvalidDigest, ManifestNotFound
from chalicelib.meta.registry import ManifestRecord, TagRecord
from chalicelib.oci.digests import CANONICAL, Digest, looks_like_digest
from chalicelib.oci.manifests import parse_manifest
from chalicelib.oci.names import is_valid_tag, validate_tag
from chalicelib.registry.dependencies import RegistryDependencies
from chalicelib.registry.handlers.common import write_guard
from chalicelib.web.http import Request, Response

if TYPE_CHECKING:
    from chalicelib.proxy_cache import CachedManifest


def get_manifest(svc: RegistryDependencies, req: Request, name: str, reference: str) -> Response:
    digest, media_type, size, body = _resolve(svc, name, reference, with_body=True)
    return Response(200, _headers(digest, media_type, size), body)


def check_manifest(svc: RegistryDependencies, req: Request, name: str, reference: str) -> Response:
    digest, media_type, size, _ = _resolve(svc, name, reference, with_body=False)
    return Response(200, _headers(digest, media_type, size), b"")


def put_manifest(svc: RegistryDependencies, req: Request, name: str, reference: str) -> Response:
    svc.proxy_cache.refuse_push(name)
    data = req.read_body(svc.settings.max_manifest_bytes)
    parsed = parse_manifest(data, req.header("Content-Type"))
    if looks_like_digest(reference):
        claimed = Digest.parse(reference)
        actual = hashlib.new(claimed.algorithm, data).hexdigest()
        if actual != claimed.hex:
            raise InvalidDigest(
                f"manifest digest {claimed.algorithm}:{actual} does not match {claimed}", detail={"digest": str(claimed)}
            )
        digest, tag = str(claimed), None
    else:
        digest, tag = str(Digest.of(data, CANONICAL)), validate_tag(reference)

    record = ManifestRecord.of(digest, data, parsed, int(svc.clock()))
    inline = record.body is not None
    # the references, the project's rules and the write: chalicelib/artifacts.py
    artifacts.push_manifest(svc, name, record, tag, project=write_guard(svc, name), stored_body=None if inline else data)
    headers = {"Location": f"/v2/{name}/manifests/{digest}", "Docker-Content-Digest": digest}
    if record.subject:
        headers["OCI-Subject"] = record.subject
    return Response.empty(201, headers)


def delete_manifest(svc: RegistryDependencies, req: Request, name: str, reference: str) -> Response:
    if looks_like_digest(reference):
        artifacts.delete_manifest(svc, name, str(Digest.parse(reference)))
    else:
        tag = validate_tag(reference)
        if not artifacts.delete_tag(svc, name, tag):
            raise ManifestNotFound(f"tag {tag} is not in {name}", detail={"tag": tag})
    return Response.empty(202)


def _resolve(svc: RegistryDependencies, name: str, reference: str, *, with_body: bool) -> tuple[str, str, int, bytes]:
    """(digest, media type, size, bytes) of a manifest by tag or digest; in a proxy cache
    project, pulled through from its upstream (chalicelib/proxy_cache.py)."""
    if looks_like_digest(reference):
        digest = str(Digest.parse(reference))
        record: ManifestRecord | CachedManifest | None = svc.meta.get_manifest(name, digest)
        if record is None:
            upstream = svc.proxy_cache.upstream_of(name)
            if upstream is None:
                raise ManifestNotFound(f"manifest {digest} is not in {name}", detail={"digest": digest})
            record = svc.proxy_cache.manifest_by_digest(upstream, name, digest)
        media_type, size, body = record.media_type, record.size, record.body
    else:
        # a reference that cannot be a tag names no manifest: 404, as the reference
        # registry answers (its route would not match), not 400; no read needed
        stored = svc.meta.get_tag(name, reference) if is_valid_tag(reference) else None
        # a tag a proxy cache wrote carries its check time; only such a tag, or a missing
        # one, asks which project this is (a pushed tag's pull stays one GetItem)
        upstream = None
        if is_valid_tag(reference) and (stored is None or stored.checked is not None):
            upstream = svc.proxy_cache.upstream_of(name)
        tag: TagRecord | CachedManifest | None = stored
        if upstream is not None:
            tag = svc.proxy_cache.manifest_by_tag(upstream, name, reference, stored)
        if tag is None:
            raise ManifestNotFound(f"tag {reference} is not in {name}", detail={"tag": reference})
        digest, media_type, size, body = tag.digest, tag.media_type, tag.size, tag.body
    if body is None and with_body:
        body = svc.blobs.get_manifest(digest)
    return digest, media_type, size, body or b""


def _headers(digest: str, media_type: str, size: int) -> dict[str, str]:
    return {
        "Content-Type": media_type,
        "Content-Length": str(size),
        "Docker-Content-Digest": digest,
        "ETag": f'"{digest}"',
    }
