"""The blob store contract: what the registry needs from object storage.

Objects are named by key (chalicelib/storage/paths.py); a blob's bytes are at its
content-addressed key unless its record names another (the object its upload wrote).
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


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


class ObjectExists(Exception):
    """A write that must create its object found one there (another writer won)."""
