"""The blob store contract: what the registry needs from object storage.

Objects are named by key (chalicelib/storage/paths.py); a blob's bytes are at its
content-addressed key unless its record names another (the object its upload wrote).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from chalicelib.errors import BlobNotFound, UploadGone, UploadInvalid
from chalicelib.storage import paths


@dataclass(frozen=True)
class StoredObject:
    key: str
    size: int
    modified: datetime


class BlobStore(Protocol):
    # reading: clients fetch bytes themselves through presigned URLs
    def presign_get(self, key: str, *, ttl: int) -> str: ...
    def presign_head(self, key: str, *, ttl: int) -> str: ...

    # manifests too large for their DynamoDB item
    def put_manifest(self, digest: str, data: bytes) -> None: ...
    def get_manifest(self, digest: str) -> bytes: ...

    # objects
    def put_object(self, key: str, data: bytes, *, only_new: bool = False) -> None:
        """only_new: raise ObjectExists instead of replacing an object (S3's If-None-Match)."""
    def get_object(self, key: str) -> bytes: ...
    def read_object(self, key: str) -> Iterator[bytes]: ...
    def delete_keys(self, keys: Sequence[str]) -> None: ...
    def list_objects(self, prefix: str, *, start_after: str | None = None) -> Iterator[StoredObject]: ...

    # multipart uploads: parts of at least 5 MiB (but the last), at most 10,000
    def start_multipart(self, key: str) -> str: ...
    def put_part(self, key: str, multipart_id: str, number: int, data: bytes) -> str: ...
    def copy_part(self, key: str, multipart_id: str, number: int, source_key: str) -> str: ...
    def list_parts(self, key: str, multipart_id: str) -> list[tuple[int, str]]: ...
    def finish_multipart(self, key: str, multipart_id: str, parts: Sequence[tuple[int, str]]) -> None: ...
    def abort_multipart(self, key: str, multipart_id: str) -> None: ...
    def list_stale_multiparts(self, older_than: datetime) -> Iterator[tuple[str, str]]:
        """(key, multipart id) of the multipart uploads started before `older_than`."""
        ...


class ObjectExists(Exception):
    """A write that must create its object found one there (another writer won)."""


MIN_PART = 5 * 1024 * 1024  # S3's smallest part but the last


@dataclass
class _Multipart:
    key: str
    started: datetime
    parts: dict[int, tuple[str, bytes]] = field(default_factory=dict)  # number -> (etag, bytes)


class MemoryBlobStore:
    """BlobStore in memory: the same answers as S3BlobStore (chalicelib/storage/s3.py), for
    fast tests; tests/contract/test_s3_blob_store.py runs one suite over both. Presigned
    URLs name the key (memory:///<key>) and are signed by nothing: nobody can follow them."""

    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self.objects: dict[str, tuple[bytes, datetime]] = {}  # key -> (bytes, when written)
        self._multiparts: dict[str, _Multipart] = {}  # multipart id -> its upload
        self._ids = itertools.count(1)

    def _now(self) -> datetime:
        return dt.datetime.fromtimestamp(self._clock(), tz=dt.UTC)

    def presign_get(self, key: str, *, ttl: int) -> str:
        return f"memory:///{key}?X-Amz-Expires={ttl}&method=GET"

    def presign_head(self, key: str, *, ttl: int) -> str:
        return f"memory:///{key}?X-Amz-Expires={ttl}&method=HEAD"

    def put_manifest(self, digest: str, data: bytes) -> None:
        self.put_object(paths.manifest_key(digest), data)

    def get_manifest(self, digest: str) -> bytes:
        found = self.objects.get(paths.manifest_key(digest))
        if found is None:
            raise BlobNotFound(f"manifest bytes for {digest} are missing")
        return found[0]

    def put_blob(self, digest: str, data: bytes) -> None:
        self.put_object(paths.blob_key(digest), data)

    def put_object(self, key: str, data: bytes, *, only_new: bool = False) -> None:
        if only_new and key in self.objects:
            raise ObjectExists(key)
        self.objects[key] = (bytes(data), self._now())

    def get_object(self, key: str) -> bytes:
        return b"".join(self.read_object(key))

    def read_object(self, key: str) -> Iterator[bytes]:
        found = self.objects.get(key)
        if found is None:
            raise UploadInvalid("upload data expired or was removed; restart the upload")
        yield found[0]

    def delete_keys(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.objects.pop(key, None)

    def list_objects(self, prefix: str, *, start_after: str | None = None) -> Iterator[StoredObject]:
        for key in sorted(k for k in self.objects if k.startswith(prefix) and (not start_after or k > start_after)):
            data, modified = self.objects[key]
            yield StoredObject(key, len(data), modified)

    def start_multipart(self, key: str) -> str:
        multipart_id = f"mp{next(self._ids)}"
        self._multiparts[multipart_id] = _Multipart(key, self._now())
        return multipart_id

    def _upload(self, key: str, multipart_id: str) -> _Multipart:
        upload = self._multiparts.get(multipart_id)
        if upload is None or upload.key != key:
            raise UploadGone("the upload's multipart upload was completed or aborted")
        return upload

    def put_part(self, key: str, multipart_id: str, number: int, data: bytes) -> str:
        upload = self._upload(key, multipart_id)
        etag = f'"{hashlib.md5(data, usedforsecurity=False).hexdigest()}-{next(self._ids)}"'
        upload.parts[number] = (etag, bytes(data))
        return etag

    def copy_part(self, key: str, multipart_id: str, number: int, source_key: str) -> str:
        return self.put_part(key, multipart_id, number, self.get_object(source_key))

    def list_parts(self, key: str, multipart_id: str) -> list[tuple[int, str]]:
        upload = self._upload(key, multipart_id)
        return [(n, upload.parts[n][0]) for n in sorted(upload.parts)]

    def finish_multipart(self, key: str, multipart_id: str, parts: Sequence[tuple[int, str]]) -> None:
        upload = self._upload(key, multipart_id)
        ordered = sorted(parts)
        for number, etag in ordered:
            if number not in upload.parts or upload.parts[number][0] != etag:
                raise UploadInvalid("upload parts are inconsistent (InvalidPart); restart the upload")
        if any(len(upload.parts[number][1]) < MIN_PART for number, _ in ordered[:-1]):
            raise UploadInvalid("upload parts are inconsistent (EntityTooSmall); restart the upload")
        self.put_object(key, b"".join(upload.parts[number][1] for number, _ in ordered))
        del self._multiparts[multipart_id]

    def abort_multipart(self, key: str, multipart_id: str) -> None:
        upload = self._multiparts.get(multipart_id)
        if upload is not None and upload.key == key:
            del self._multiparts[multipart_id]

    def list_stale_multiparts(self, older_than: datetime) -> Iterator[tuple[str, str]]:
        for multipart_id, upload in list(self._multiparts.items()):
            if upload.started < older_than:
                yield upload.key, multipart_id

