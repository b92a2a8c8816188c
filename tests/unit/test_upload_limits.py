"""A layer larger than anything S3 takes in one call (5 GiB for PutObject, a part or a
part copy) uploads in every client's shape. The machine cannot hold such a layer, so S3's
limits are scaled down (5 GiB becomes 64 KiB) in an in-memory store that enforces them,
and the upload service runs with limits scaled the same way."""
from __future__ import annotations

import io
import random
from datetime import UTC, datetime

import pytest

from chalicelib.errors import UploadInvalid
from chalicelib.oci.digests import Digest
from chalicelib.registry.upload_service import ContentRange, Limits, UploadService, UploadSession
from chalicelib.storage import paths
from chalicelib.storage.blobs import ObjectExists, StoredObject

KiB = 1024
S3_MAX_CALL = 64 * KiB  # S3's 5 GiB: the most one PutObject, UploadPart or UploadPartCopy moves
S3_MIN_PART = 1 * KiB  # S3's 5 MiB
S3_MAX_PARTS = 10_000
LIMITS = Limits(min_part=S3_MIN_PART, part_size=4 * KiB, single_put=8 * KiB, read_size=512)
LAYER = 5 * S3_MAX_CALL + 1234  # "a layer over 5 GB"


class ScaledS3:
    """Objects and multipart uploads in memory, refusing what S3 refuses (scaled)."""

    def __init__(self):
        self.objects: dict[str, bytes] = {}
        self.multiparts: dict[str, tuple[str, dict[int, bytes]]] = {}
        self.largest_call = 0

    def _moved(self, size: int) -> None:
        assert size <= S3_MAX_CALL, f"one call moved {size} bytes, S3 takes at most {S3_MAX_CALL}"
        self.largest_call = max(self.largest_call, size)

    def put_object(self, key, data, *, only_new=False):
        self._moved(len(data))
        if only_new and key in self.objects:
            raise ObjectExists(key)
        self.objects[key] = bytes(data)

    def get_object(self, key):
        if key not in self.objects:
            raise UploadInvalid("gone")
        return self.objects[key]

    def read_object(self, key):
        yield self.get_object(key)

    def delete_keys(self, keys):
        for key in keys:
            self.objects.pop(key, None)

    def list_objects(self, prefix):
        return [StoredObject(k, len(v), datetime.now(UTC)) for k, v in sorted(self.objects.items()) if k.startswith(prefix)]

    def start_multipart(self, key):
        upload = f"mp{len(self.multiparts)}"
        self.multiparts[upload] = (key, {})
        return upload

    def put_part(self, key, multipart_id, number, data):
        self._moved(len(data))
        assert number in range(1, S3_MAX_PARTS + 1), f"S3 part numbers are 1..{S3_MAX_PARTS}, not {number}"
        self.multiparts[multipart_id][1][number] = bytes(data)
        return f'"{number}"'

    def copy_part(self, key, multipart_id, number, source_key):
        return self.put_part(key, multipart_id, number, self.objects[source_key])

    def list_parts(self, key, multipart_id):
        return [(n, f'"{n}"') for n in sorted(self.multiparts[multipart_id][1])]

    def finish_multipart(self, key, multipart_id, parts):
        target, stored = self.multiparts.pop(multipart_id)
        numbers = [n for n, _ in parts]
        assert numbers == sorted(numbers) and target == key
        for n in numbers[:-1]:
            assert len(stored[n]) >= S3_MIN_PART, "EntityTooSmall"
        self.objects[key] = b"".join(stored[n] for n in numbers)

    def abort_multipart(self, key, multipart_id):
        self.multiparts.pop(multipart_id, None)


class Meta:
    """Where each blob's bytes are, as the blob records and links say."""

    def __init__(self):
        self.links: dict[str, str | None] = {}
        self.ended: set[str] = set()

    def link_blob(self, name, digest, size, now, *, key=None, upload_id=None, claim_expires=None, project=None):
        self.links[digest] = key
        self.ended.add(upload_id)

    def link_uploaded_blob(self, name, digest, size, now, *, upload_id, key, project=None):
        self.links[digest] = key
        self.ended.add(upload_id)
        return key

    def end_upload(self, upload_id, expires_at):
        return upload_id not in self.ended

    def upload_cancelled(self, upload_id):
        return False


@pytest.fixture
def world():
    store, meta = ScaledS3(), Meta()
    return store, meta, lambda: UploadService(store, meta, lambda: 0, 3600, LIMITS)


def _stored(store, meta, digest: Digest) -> bytes:
    return store.objects[meta.links[str(digest)] or paths.blob_key(str(digest))]


def _via_url(session):
    return UploadSession.from_state(session.id, session.name, session.expires_at, dict(session.state()))


def _chunked(make, data: bytes, sizes: list[int], digest: Digest, final: bytes = b"") -> None:
    session = make().start("library/big")
    offset = 0
    for size in sizes:
        session = _via_url(session)
        make().append(session, io.BytesIO(data[offset : offset + size]), size, ContentRange(offset, offset + size - 1))
        offset += size
    make().complete(_via_url(session), digest, io.BytesIO(final), len(final), None)


def test_one_patch_then_put(world):
    """docker, skopeo, podman: the whole layer in one PATCH, streamed into parts."""
    store, meta, make = world
    data = random.Random(1).randbytes(LAYER)
    _chunked(make, data, [LAYER], Digest.of(data))
    assert _stored(store, meta, Digest.of(data)) == data
    assert not store.multiparts and store.largest_call <= S3_MAX_CALL


def test_one_put(world):
    """containerd, oras: the whole layer in the PUT, to the session's own object (one writer
    per key: docs/decisions/garbage-collection.md)."""
    store, meta, make = world
    data = random.Random(2).randbytes(LAYER)
    _chunked(make, data, [], Digest.of(data), final=data)
    assert meta.links[str(Digest.of(data))].startswith("blobs/uploaded/")
    assert _stored(store, meta, Digest.of(data)) == data


@pytest.mark.parametrize("chunk", [300, S3_MIN_PART, 3 * KiB, 20 * KiB], ids=["tiny", "min-part", "lambda-sized", "large"])
def test_chunks(world, chunk):
    store, meta, make = world
    data = random.Random(chunk).randbytes(LAYER)
    sizes = [chunk] * (LAYER // chunk)
    _chunked(make, data, sizes, Digest.of(data), final=data[sum(sizes) :])
    assert _stored(store, meta, Digest.of(data)) == data
    # nothing of the session is left but the blob itself
    assert set(store.objects) == {meta.links[str(Digest.of(data))] or paths.blob_key(str(Digest.of(data)))}


def test_more_parts_than_s3_allows_is_refused_not_corrupted(world, monkeypatch):
    _, _, make = world
    monkeypatch.setattr("tests.unit.test_upload_limits.S3_MAX_PARTS", 3)
    service = make()
    service.limits = Limits(min_part=S3_MIN_PART, part_size=4 * KiB, single_put=8 * KiB, max_parts=3, read_size=512)
    session = service.start("library/big")
    with pytest.raises(UploadInvalid):
        service.append(session, io.BytesIO(b"x" * (40 * KiB)), 40 * KiB, None)
