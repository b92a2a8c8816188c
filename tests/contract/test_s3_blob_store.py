"""The blob store's contract (chalicelib/storage/blobs.py, BlobStore), run against each
implementation: S3BlobStore on moto, and MemoryBlobStore. What one answers, the other must.
Tests marked S3 are about how S3BlobStore talks to S3 (presigned URLs, S3's own rejections,
its batches)."""
from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from botocore.exceptions import ClientError

from chalicelib.errors import BlobNotFound, UploadInvalid
from chalicelib.oci.digests import Digest
from chalicelib.storage import paths
from chalicelib.storage.blobs import MemoryBlobStore, ObjectExists
from chalicelib.storage.s3 import S3BlobStore
from tests.contract.helpers import T0, keys_under, open_multiparts

MiB = 1024 * 1024
DATA = b"layer bytes " * 100
DIGEST = str(Digest.of(DATA))


@dataclass
class Blobs:
    """The store under test, and what its backend holds, read around it."""

    store: S3BlobStore | MemoryBlobStore
    keys: Callable[[str], list[str]]  # the objects' keys under a prefix, in key order
    multiparts: Callable[[], list[str]]  # the keys of the multipart uploads in flight


# how S3BlobStore talks to S3
S3 = pytest.mark.parametrize("blobs", ["s3"], indirect=True)


@pytest.fixture(params=["s3", "memory"])
def blobs(request, clock) -> Blobs:
    clock.now = T0
    if request.param == "memory":
        store = MemoryBlobStore(clock)
        return Blobs(store, lambda prefix: sorted(k for k in store.objects if k.startswith(prefix)),
                     lambda: sorted(key for key, _ in store.list_stale_multiparts(dt.datetime.max.replace(tzinfo=dt.UTC))))
    s3, bucket = request.getfixturevalue("s3"), request.getfixturevalue("bucket")
    return Blobs(S3BlobStore(s3, bucket), lambda prefix: sorted(keys_under(s3, bucket, prefix)),
                 lambda: sorted(open_multiparts(s3, bucket)))


# -- content-addressed objects ------------------------------------------------------
def test_put_blob_goes_to_the_digest_key(blobs):
    blobs.store.put_blob(DIGEST, DATA)
    hex_ = DIGEST.split(":")[1]
    assert blobs.keys("") == [f"blobs/sha256/{hex_[:2]}/{hex_}"]
    assert blobs.store.get_object(paths.blob_key(DIGEST)) == DATA


def test_empty_blob(blobs):
    empty = str(Digest.of(b""))
    blobs.store.put_blob(empty, b"")
    assert blobs.store.get_object(paths.blob_key(empty)) == b""


def test_put_object_only_new_never_replaces(blobs):
    """S3's If-None-Match: of two writers of one key, one wins (an upload's claim on an offset)."""
    key = paths.piece_key("u1", 0)
    blobs.store.put_object(key, b"from request A", only_new=True)
    with pytest.raises(ObjectExists):
        blobs.store.put_object(key, b"from request B", only_new=True)
    assert blobs.store.get_object(key) == b"from request A"
    blobs.store.put_object(key, b"replaced")  # without the condition, the last write wins
    assert blobs.store.get_object(key) == b"replaced"


def test_missing_object_is_upload_invalid(blobs):
    with pytest.raises(UploadInvalid):
        blobs.store.get_object(paths.piece_key("u1", 0))
    with pytest.raises(UploadInvalid):
        b"".join(blobs.store.read_object(paths.piece_key("u1", 0)))


def test_list_objects_in_key_order_with_sizes(blobs):
    for start, data in ((10, b"b" * 3), (0, b"a" * 10), (13, b"c")):
        blobs.store.put_object(paths.piece_key("u1", start), data)
    blobs.store.put_object(paths.piece_key("u2", 0), b"other session")
    listed = list(blobs.store.list_objects(paths.upload_prefix("u1")))
    assert [(paths.piece_start(o.key), o.size) for o in listed] == [(0, 10), (10, 3), (13, 1)]
    assert all(o.modified.tzinfo is not None for o in listed)


def test_list_objects_starts_after_a_key(blobs):
    for start in (0, 10, 13):
        blobs.store.put_object(paths.piece_key("u1", start), b"x")
    after = list(blobs.store.list_objects(paths.upload_prefix("u1"), start_after=paths.piece_key("u1", 0)))
    assert [paths.piece_start(o.key) for o in after] == [10, 13]


def test_manifest_bytes_round_trip(blobs):
    body = b'{"schemaVersion":2}'
    digest = str(Digest.of(body))
    blobs.store.put_manifest(digest, body)
    assert blobs.store.get_manifest(digest) == body
    assert blobs.keys("") == [paths.manifest_key(digest)]
    # manifests and blobs do not share keys
    assert paths.manifest_key(digest) != paths.blob_key(digest)


def test_missing_manifest_bytes_are_a_domain_error(blobs):
    with pytest.raises(BlobNotFound):
        blobs.store.get_manifest(DIGEST)


# -- presigned access -----------------------------------------------------------------
def _presigned(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


@S3
@pytest.mark.parametrize("method", ["presign_get", "presign_head"])
@pytest.mark.parametrize("ttl", [60, 900])
def test_presigned_url_names_the_blob_key_and_is_signed(blobs, bucket, method, ttl):
    url = getattr(blobs.store, method)(paths.blob_key(DIGEST), ttl=ttl)
    path, query = _presigned(url)
    # path-style addressing: the bucket is in the path, so one host serves every bucket
    assert path == f"/{bucket}/{paths.blob_key(DIGEST)}"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == str(ttl)
    assert query["X-Amz-SignedHeaders"] == "host"
    assert re.fullmatch(r"[0-9a-f]{64}", query["X-Amz-Signature"])
    assert query["X-Amz-Credential"].endswith("/us-east-1/s3/aws4_request")
    assert re.fullmatch(r"\d{8}T\d{6}Z", query["X-Amz-Date"])


@pytest.mark.parametrize("method", ["presign_get", "presign_head"])
def test_presigned_url_names_the_key_and_its_lifetime(blobs, method):
    url = getattr(blobs.store, method)(paths.blob_key(DIGEST), ttl=900)
    path, query = _presigned(url)
    assert path.endswith("/" + paths.blob_key(DIGEST))
    assert query["X-Amz-Expires"] == "900"


@S3
def test_get_and_head_signatures_differ(blobs):
    # the method is part of what is signed: a HEAD URL cannot be used to GET
    _, get = _presigned(blobs.store.presign_get(paths.blob_key(DIGEST), ttl=900))
    _, head = _presigned(blobs.store.presign_head(paths.blob_key(DIGEST), ttl=900))
    assert get["X-Amz-Signature"] != head["X-Amz-Signature"]


@S3
def test_presigned_urls_fetch_the_blob(blobs):
    # moto intercepts `requests` in-process, so the URLs can be followed
    blobs.store.put_blob(DIGEST, DATA)
    got = requests.get(blobs.store.presign_get(paths.blob_key(DIGEST), ttl=900), timeout=10)
    assert got.status_code == 200
    assert got.content == DATA
    head = requests.head(blobs.store.presign_head(paths.blob_key(DIGEST), ttl=900), timeout=10, stream=True)
    assert head.status_code == 200
    assert int(head.headers["Content-Length"]) == len(DATA)


# -- multipart uploads ---------------------------------------------------------------
K = paths.uploaded_key("u1")


def test_multipart_start_put_finish(blobs):
    part1, part2 = os.urandom(5 * MiB), os.urandom(1234)
    mp = blobs.store.start_multipart(K)
    assert blobs.multiparts() == [K]
    etags = [(1, blobs.store.put_part(K, mp, 1, part1)), (2, blobs.store.put_part(K, mp, 2, part2))]
    assert blobs.store.list_parts(K, mp) == etags
    blobs.store.finish_multipart(K, mp, etags)
    assert blobs.multiparts() == []
    assert blobs.store.get_object(K) == part1 + part2
    assert b"".join(blobs.store.read_object(K)) == part1 + part2


def test_a_part_copied_inside_s3_from_the_object_being_replaced(blobs):
    """An upload's first chunk (its own object) joins the multipart upload of that same key."""
    first, more = os.urandom(5 * MiB), os.urandom(1000)
    blobs.store.put_object(K, first)
    mp = blobs.store.start_multipart(K)
    etags = [(1, blobs.store.copy_part(K, mp, 1, K)), (2, blobs.store.put_part(K, mp, 2, more))]
    blobs.store.finish_multipart(K, mp, etags)
    assert blobs.store.get_object(K) == first + more


def test_rewriting_a_part_keeps_the_latest(blobs):
    mp = blobs.store.start_multipart(K)
    blobs.store.put_part(K, mp, 1, b"first")
    etag = blobs.store.put_part(K, mp, 1, b"second")
    blobs.store.finish_multipart(K, mp, [(1, etag)])
    assert blobs.store.get_object(K) == b"second"


def test_finish_with_a_replaced_part_is_upload_invalid(blobs):
    mp = blobs.store.start_multipart(K)
    stale = blobs.store.put_part(K, mp, 1, b"a" * 10)
    blobs.store.put_part(K, mp, 1, b"b" * 10)  # a concurrent writer
    with pytest.raises(UploadInvalid):
        blobs.store.finish_multipart(K, mp, [(1, stale)])


def test_finish_with_a_small_middle_part_is_upload_invalid(blobs):
    mp = blobs.store.start_multipart(K)
    parts = [(1, blobs.store.put_part(K, mp, 1, b"x" * 10)), (2, blobs.store.put_part(K, mp, 2, b"y" * 10))]
    with pytest.raises(UploadInvalid):
        blobs.store.finish_multipart(K, mp, parts)


@S3
@pytest.mark.parametrize("code", ["NoSuchUpload", "InvalidPart", "InvalidPartOrder", "EntityTooSmall"])
def test_finish_rejections_are_upload_invalid(blobs, s3, monkeypatch, code):
    # moto cannot complete an aborted upload (it fails inside moto), so S3's answer is simulated
    def complete_multipart_upload(**kw):
        raise ClientError({"Error": {"Code": code, "Message": "no"}}, "CompleteMultipartUpload")

    monkeypatch.setattr(s3, "complete_multipart_upload", complete_multipart_upload)
    with pytest.raises(UploadInvalid):
        blobs.store.finish_multipart(K, "mp", [(1, '"etag"')])


@S3
def test_finish_with_other_errors_is_not_a_domain_error(blobs, s3, monkeypatch):
    def complete_multipart_upload(**kw):
        raise ClientError({"Error": {"Code": "InternalError", "Message": "no"}}, "CompleteMultipartUpload")

    monkeypatch.setattr(s3, "complete_multipart_upload", complete_multipart_upload)
    with pytest.raises(ClientError):
        blobs.store.finish_multipart(K, "mp", [(1, '"etag"')])


def test_abort_is_idempotent(blobs):
    mp = blobs.store.start_multipart(K)
    blobs.store.put_part(K, mp, 1, b"data")
    blobs.store.abort_multipart(K, mp)
    blobs.store.abort_multipart(K, mp)
    assert blobs.multiparts() == []
    assert blobs.keys("") == []


def test_delete_keys(blobs):
    tails = [paths.piece_key("u1", i) for i in range(5)]
    for key in tails:
        blobs.store.put_object(key, b"x")
    blobs.store.put_blob(DIGEST, DATA)
    blobs.store.delete_keys(tails[:3] + ["", f"{paths.UPLOADS_PREFIX}u1/never-written"])
    assert blobs.keys("") == sorted([paths.blob_key(DIGEST)] + tails[3:])


@S3
def test_delete_no_keys_is_a_no_op(blobs, s3, monkeypatch):
    blobs.store.put_blob(DIGEST, DATA)
    calls = []
    monkeypatch.setattr(s3, "delete_objects", lambda **kw: calls.append(kw))
    blobs.store.delete_keys([])
    blobs.store.delete_keys(["", ""])
    assert calls == []


@S3
def test_delete_keys_in_batches_of_1000(blobs, s3, bucket, monkeypatch):
    keys = [f"{paths.UPLOADS_PREFIX}many/{i:05d}" for i in range(2345)]
    written = [keys[0], keys[999], keys[1000], keys[-1]]
    for key in written:
        s3.put_object(Bucket=bucket, Key=key, Body=b"")
    batches = []
    original = s3.delete_objects

    def delete_objects(**kw):
        batches.append(len(kw["Delete"]["Objects"]))
        return original(**kw)

    monkeypatch.setattr(s3, "delete_objects", delete_objects)
    blobs.store.delete_keys(keys)
    assert batches == [1000, 1000, 345]
    assert blobs.keys("") == []


def test_list_stale_multiparts(blobs):
    a = blobs.store.start_multipart(paths.uploaded_key("a"))
    b = blobs.store.start_multipart(paths.blob_key(DIGEST))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    stale = sorted(blobs.store.list_stale_multiparts(later))
    assert stale == sorted([(paths.uploaded_key("a"), a), (paths.blob_key(DIGEST), b)])
    # moto reports every upload as initiated on 2010-11-10 (the memory store: at its clock,
    # 2023), so "too recent" is checked before that
    assert list(blobs.store.list_stale_multiparts(dt.datetime(2001, 1, 1, tzinfo=dt.UTC))) == []
    blobs.store.abort_multipart(paths.uploaded_key("a"), a)
    assert list(blobs.store.list_stale_multiparts(later)) == [(paths.blob_key(DIGEST), b)]
