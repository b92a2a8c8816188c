"""The two sides of a copy: this Berth (in process, through the same stores and upload
service as its API) and another registry (through chalicelib/remote's client).

Both answer the same small set of calls, so copier.py does not care which side is which:
manifests by reference, blobs by digest (present? read, write, link what the store has
already), referrers. Nothing here decides what to copy.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from chalicelib import artifacts
from chalicelib.errors import (
    InvalidDigest,
    ManifestBlobUnknown,
    ManifestNotFound,
    RemoteRegistryError,
    UnsupportedDigest,
)
from chalicelib.meta.registry import ManifestRecord, Referrer
from chalicelib.oci.digests import Digest, looks_like_digest
from chalicelib.oci.manifests import parse_manifest
from chalicelib.registry.handlers.common import write_guard
from chalicelib.remote.client import Manifest, RegistryClient
from chalicelib.services import Services


class BlobSource(Protocol):
    def read(self, n: int = -1) -> bytes: ...


@dataclass
class OpenBlob:
    stream: BlobSource
    size: int
    close: Callable[[], None]


class Endpoint(Protocol):
    name: str

    def manifest(self, repository: str, reference: str) -> Manifest | None: ...
    def manifest_digest(self, repository: str, reference: str) -> str | None: ...
    def has_blob(self, repository: str, digest: str) -> bool: ...
    def link_known_blob(self, repository: str, digest: str) -> bool: ...
    def open_blob(self, repository: str, digest: str) -> OpenBlob: ...
    def write_blob(self, repository: str, digest: str, source: BinaryIO, size: int, *, chunked: bool) -> None: ...
    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> None: ...
    def referrers(self, repository: str, digest: str) -> list[Referrer]: ...
    def delete(self, repository: str, reference: str) -> bool: ...


class LocalEndpoint:
    """This Berth. Blobs are written by the upload service (streamed into an S3 multipart
    upload, hashed on the way, linked only once verified), or linked without a copy when
    their bytes are already in the bucket; manifests by the same store calls as a PUT."""

    name = "local"

    def __init__(self, svc: Services):
        self.svc = svc

    def manifest(self, repository: str, reference: str) -> Manifest | None:
        if looks_like_digest(reference):
            record = self.svc.meta.get_manifest(repository, reference)
            if record is None:
                return None
            digest, media_type, body = record.digest, record.media_type, record.body
        else:
            tag = self.svc.meta.get_tag(repository, reference)
            if tag is None:
                return None
            digest, media_type, body = tag.digest, tag.media_type, tag.body
        if body is None:
            body = self.svc.blobs.get_manifest(digest)
        return Manifest(body, media_type, digest)

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        if looks_like_digest(reference):
            return reference if self.svc.meta.get_manifest(repository, reference) is not None else None
        tag = self.svc.meta.get_tag(repository, reference)
        return tag.digest if tag else None

    def has_blob(self, repository: str, digest: str) -> bool:
        return self.svc.meta.get_link(repository, digest) is not None

    def link_known_blob(self, repository: str, digest: str) -> bool:
        """Link a blob whose bytes the bucket holds already (from any repository): no copy."""
        size = self.svc.meta.link_existing(repository, digest, int(self.svc.clock()), project=write_guard(self.svc, repository))
        return size is not None

    def open_blob(self, repository: str, digest: str) -> OpenBlob:
        from chalicelib.storage import paths

        link = self.svc.meta.get_link(repository, digest)
        if link is None:
            raise ManifestNotFound(f"blob {digest} is not in {repository}")
        body = self.svc.s3.get_object(Bucket=self.svc.settings.bucket_name,
                                      Key=link.key or paths.blob_key(digest))["Body"]
        return OpenBlob(body, link.size, body.close)

    def write_blob(self, repository: str, digest: str, source: BinaryIO, size: int, *, chunked: bool) -> None:
        """Straight into S3, as a PUT of the whole blob with its digest goes (one PutObject up
        to the upload service's single-put size, else a multipart upload at the digest's key,
        hashed on the way). No HTTP request carries the bytes, so `chunked` (Harbor's
        copy_by_chunk, about requests to another registry) changes nothing here."""
        uploads = self.svc.uploads
        session = uploads.start(repository)
        uploads.complete(session, Digest.parse(digest), source, size, None, project=write_guard(self.svc, repository))

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> None:
        """As a PUT does: every reference present, then the manifest (and tag) in one write."""
        svc = self.svc
        parsed = parse_manifest(manifest.data, manifest.media_type)
        record = ManifestRecord.of(manifest.digest, manifest.data, parsed, int(svc.clock()))
        tag = None if looks_like_digest(reference) else reference
        # the domain's push: references present, the project's tag immutability, one write
        try:
            artifacts.push_manifest(
                svc, repository, record, tag, project=write_guard(svc, repository), stored_body=None if record.body is not None else manifest.data
            )
        except ManifestBlobUnknown as exc:
            raise RemoteRegistryError(f"{repository}: {exc.message}; the manifest is not put") from None

    def referrers(self, repository: str, digest: str) -> list[Referrer]:
        return self.svc.meta.list_referrers(repository, digest)

    def delete(self, repository: str, reference: str) -> bool:
        if looks_like_digest(reference):
            try:
                artifacts.delete_manifest(self.svc, repository, reference)
            except ManifestNotFound:
                return False
            return True
        return artifacts.delete_tag(self.svc, repository, reference)


class RemoteEndpoint:
    """Another registry, through its OCI distribution API."""

    def __init__(self, client: RegistryClient, name: str = "remote"):
        self.client = client
        self.name = name

    def manifest(self, repository: str, reference: str) -> Manifest | None:
        from chalicelib.errors import RemoteNotFound

        try:
            return self.client.get_manifest(repository, reference)
        except RemoteNotFound:
            return None

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        return self.client.manifest_digest(repository, reference)

    def has_blob(self, repository: str, digest: str) -> bool:
        return self.client.blob_size(repository, digest) is not None

    def link_known_blob(self, repository: str, digest: str) -> bool:
        return False  # which of its repositories holds it is not known here

    def open_blob(self, repository: str, digest: str) -> OpenBlob:
        reply = self.client.open_blob(repository, digest)
        length = reply.headers.get("Content-Length")
        size = int(length) if length and length.isdigit() else -1
        return OpenBlob(_Verified(reply, digest), size, reply.release_conn)

    def write_blob(self, repository: str, digest: str, source: BinaryIO, size: int, *, chunked: bool) -> None:
        self.client.upload_blob(repository, digest, source, size, chunked=chunked)

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> None:
        self.client.put_manifest(repository, reference, manifest)

    def referrers(self, repository: str, digest: str) -> list[Referrer]:
        """The registry's referrers of `digest` that name a digest (what a copy follows)."""
        return [r for r in map(_referrer, self.client.referrers(repository, digest)) if r is not None]

    def delete(self, repository: str, reference: str) -> bool:
        """The artifact (a digest) or the tag alone; False if it was not there."""
        if looks_like_digest(reference):
            return self.client.delete_manifest(repository, reference)
        return self.client.delete_tag(repository, reference)


def _referrer(item: object) -> Referrer | None:
    """A registry's referrer descriptor as a record; None if it is none (mediaType, digest and
    size are required: image-spec descriptor.md). The copy reads the referrer's manifest by
    its digest, which checks the rest."""
    if not isinstance(item, dict) or not isinstance(item.get("mediaType"), str) or not isinstance(item.get("size"), int):
        return None
    try:
        digest = str(Digest.parse(str(item.get("digest"))))
    except (InvalidDigest, UnsupportedDigest):
        return None
    artifact_type = item.get("artifactType")
    return Referrer(digest, item["mediaType"], item["size"], artifact_type if isinstance(artifact_type, str) else None)


class _Verified:
    """A remote blob's bytes, hashed as they are read: a source that sends other bytes than
    the digest names fails the copy at its end (the destination checks too)."""

    def __init__(self, reply, digest: str):
        self._reply = reply
        self._digest = digest
        self._hash = hashlib.sha256()

    def read(self, n: int = -1) -> bytes:
        try:
            data = self._reply.read(n if n and n > 0 else None)
        except Exception as exc:  # noqa: BLE001 - urllib3's many read failures: the connection broke
            raise RemoteRegistryError(f"the source broke off while sending {self._digest}: {type(exc).__name__}",
                                      retryable=True) from None
        self._hash.update(data)
        if not data and "sha256:" + self._hash.hexdigest() != self._digest:
            raise RemoteRegistryError(f"the source sent bytes that are not {self._digest}")
        return data
