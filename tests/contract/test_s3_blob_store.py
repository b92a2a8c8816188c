"""S3BlobStore against S3 on moto: the key layout, presigned access, upload sessions."""
from __future__ import annotations

import datetime as dt
import os
import re
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from botocore.exceptions import ClientError

from chalicelib.errors import BlobNotFound, UploadInvalid
from chalicelib.oci.digests import Digest
from chalicelib.storage import paths
from chalicelib.storage.blobs import ObjectExists
from tests.contract.helpers import keys_under, open_multiparts, read_object

MiB = 1024 * 1024
DATA = b"layer bytes " * 100
DIGEST = str(Digest.of(DATA))


# -- content-addressed objects ------------------------------------------------------
def exists(s3, bucket, key: str) -> bool:
    return key in keys_under(s3, bucket, key)


def test_put_blob_goes_to_the_digest_key(blob_store, s3, bucket):
    blob_store.put_blob(DIGEST, DATA)
    hex_ = DIGEST.split(":")[1]
    assert keys_under(s3, bucket) == [f"blobs/sha256/{hex_[:2]}/{hex_}"]
    assert read_object(s3, bucket, paths.blob_key(DIGEST)) == DATA


def test_empty_blob(blob_store, s3, bucket):
    empty = str(Digest.of(b""))
    blob_store.put_blob(empty, b"")
    assert read_object(s3, bucket, paths.blob_key(empty)) == b""


def test_put_object_only_new_never_replaces(blob_store, s3, bucket):
    """S3's If-None-Match: of two writers of one key, one wins (an upload's claim on an offset)."""
    key = paths.piece_key("u1", 0)
    blob_store.put_object(key, b"from request A", only_new=True)
    with pytest.raises(ObjectExists):
        blob_store.put_object(key, b"from request B", only_new=True)
    assert blob_store.get_object(key) == b"from request A"
    blob_store.put_object(key, b"replaced")  # without the condition, the last write wins
    assert blob_store.get_object(key) == b"replaced"


def test_missing_object_is_upload_invalid(blob_store):
    with pytest.raises(UploadInvalid):
        blob_store.get_object(paths.piece_key("u1", 0))


def test_list_objects_in_key_order_with_sizes(blob_store):
    for start, data in ((10, b"b" * 3), (0, b"a" * 10), (13, b"c")):
        blob_store.put_object(paths.piece_key("u1", start), data)
    blob_store.put_object(paths.piece_key("u2", 0), b"other session")
    listed = list(blob_store.list_objects(paths.upload_prefix("u1")))
    assert [(paths.piece_start(o.key), o.size) for o in listed] == [(0, 10), (10, 3), (13, 1)]
    assert all(o.modified.tzinfo is not None for o in listed)


def test_manifest_bytes_round_trip(blob_store, s3, bucket):
    body = b'{"schemaVersion":2}'
    digest = str(Digest.of(body))
    blob_store.put_manifest(digest, body)
    assert blob_store.get_manifest(digest) == body
    assert keys_under(s3, bucket) == [paths.manifest_key(digest)]
    # manifests and blobs do not share keys
    assert paths.manifest_key(digest) != paths.blob_key(digest)


def test_missing_manifest_bytes_are_a_domain_error(blob_store):
    with pytest.raises(BlobNotFound):
        blob_store.get_manifest(DIGEST)


# -- presigned access -----------------------------------------------------------------
def _presigned(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path, {k: v[0] for k, v in parse_qs(parts.query).items()}


@pytest.mark.parametrize("method", ["presign_get", "presign_head"])
@pytest.mark.parametrize("ttl", [60, 900])
def test_presigned_url_names_the_blob_key_and_is_signed(blob_store, bucket, method, ttl):
    url = getattr(blob_store, method)(paths.blob_key(DIGEST), ttl=ttl)
    path, query = _presigned(url)
    # path-style addressing: the bucket is in the path, so one host serves every bucket
    assert path == f"/{bucket}/{paths.blob_key(DIGEST)}"
    assert query["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert query["X-Amz-Expires"] == str(ttl)
    assert query["X-Amz-SignedHeaders"] == "host"
    assert re.fullmatch(r"[0-9a-f]{64}", query["X-Amz-Signature"])
    assert query["X-Amz-Credential"].endswith("/us-east-1/s3/aws4_request")
    assert re.fullmatch(r"\d{8}T\d{6}Z", query["X-Amz-Date"])


def test_get_and_head_signatures_differ(blob_store):
    # the method is part of what is signed: a HEAD URL cannot be used to GET
    _, get = _presigned(blob_store.presign_get(paths.blob_key(DIGEST), ttl=900))
    _, head = _presigned(blob_store.presign_head(paths.blob_key(DIGEST), ttl=900))
    assert get["X-Amz-Signature"] != head["X-Amz-Signature"]


def test_presigned_urls_fetch_the_blob(blob_store):
    # moto intercepts `requests` in-process, so the URLs can be followed
    blob_store.put_blob(DIGEST, DATA)
    got = requests.get(blob_store.presign_get(paths.blob_key(DIGEST), ttl=900), timeout=10)
    assert got.status_code == 200
    assert got.content == DATA
    head = requests.head(blob_store.presign_head(paths.blob_key(DIGEST), ttl=900), timeout=10, stream=True)
    assert head.status_code == 200
    assert int(head.headers["Content-Length"]) == len(DATA)


# -- multipart uploads ---------------------------------------------------------------
K = paths.uploaded_key("u1")


def test_multipart_start_put_finish(blob_store, s3, bucket):
    part1, part2 = os.urandom(5 * MiB), os.urandom(1234)
    mp = blob_store.start_multipart(K)
    assert open_multiparts(s3, bucket) == [K]
    etags = [(1, blob_store.put_part(K, mp, 1, part1)), (2, blob_store.put_part(K, mp, 2, part2))]
    assert blob_store.list_parts(K, mp) == etags
    blob_store.finish_multipart(K, mp, etags)
    assert open_multiparts(s3, bucket) == []
    assert read_object(s3, bucket, K) == part1 + part2
    assert b"".join(blob_store.read_object(K)) == part1 + part2


def test_a_part_copied_inside_s3_from_the_object_being_replaced(blob_store, s3, bucket):
    """An upload's first chunk (its own object) joins the multipart upload of that same key."""
    first, more = os.urandom(5 * MiB), os.urandom(1000)
    blob_store.put_object(K, first)
    mp = blob_store.start_multipart(K)
    etags = [(1, blob_store.copy_part(K, mp, 1, K)), (2, blob_store.put_part(K, mp, 2, more))]
    blob_store.finish_multipart(K, mp, etags)
    assert read_object(s3, bucket, K) == first + more


def test_rewriting_a_part_keeps_the_latest(blob_store, s3, bucket):
    mp = blob_store.start_multipart(K)
    blob_store.put_part(K, mp, 1, b"first")
    etag = blob_store.put_part(K, mp, 1, b"second")
    blob_store.finish_multipart(K, mp, [(1, etag)])
    assert read_object(s3, bucket, K) == b"second"


def test_finish_with_a_replaced_part_is_upload_invalid(blob_store):
    mp = blob_store.start_multipart(K)
    stale = blob_store.put_part(K, mp, 1, b"a" * 10)
    blob_store.put_part(K, mp, 1, b"b" * 10)  # a concurrent writer
    with pytest.raises(UploadInvalid):
        blob_store.finish_multipart(K, mp, [(1, stale)])


def test_finish_with_a_small_middle_part_is_upload_invalid(blob_store):
    mp = blob_store.start_multipart(K)
    parts = [(1, blob_store.put_part(K, mp, 1, b"x" * 10)), (2, blob_store.put_part(K, mp, 2, b"y" * 10))]
    with pytest.raises(UploadInvalid):
        blob_store.finish_multipart(K, mp, parts)


@pytest.mark.parametrize("code", ["NoSuchUpload", "InvalidPart", "InvalidPartOrder", "EntityTooSmall"])
def test_finish_rejections_are_upload_invalid(blob_store, s3, monkeypatch, code):
    # moto cannot complete an aborted upload (it fails inside moto), so S3's answer is simulated
    def complete_multipart_upload(**kw):
        raise ClientError({"Error": {"Code": code, "Message": "no"}}, "CompleteMultipartUpload")

    monkeypatch.setattr(s3, "complete_multipart_upload", complete_multipart_upload)
    with pytest.raises(UploadInvalid):
        blob_store.finish_multipart(K, "mp", [(1, '"etag"')])


def test_finish_with_other_errors_is_not_a_domain_error(blob_store, s3, monkeypatch):
    def complete_multipart_upload(**kw):
        raise ClientError({"Error": {"Code": "InternalError", "Message": "no"}}, "CompleteMultipartUpload")

    monkeypatch.setattr(s3, "complete_multipart_upload", complete_multipart_upload)
    with pytest.raises(ClientError):
        blob_store.finish_multipart(K, "mp", [(1, '"etag"')])


def test_abort_is_idempotent(blob_store, s3, bucket):
    mp = blob_store.start_multipart(K)
    blob_store.put_part(K, mp, 1, b"data")
    blob_store.abort_multipart(K, mp)
    blob_store.abort_multipart(K, mp)
    assert open_multiparts(s3, bucket) == []
    assert keys_under(s3, bucket) == []


def test_delete_keys(blob_store, s3, bucket):
    tails = [paths.piece_key("u1", i) for i in range(5)]
    for key in tails:
        blob_store.put_object(key, b"x")
    blob_store.put_blob(DIGEST, DATA)
    blob_store.delete_keys(tails[:3] + ["", f"{paths.UPLOADS_PREFIX}u1/never-written"])
    assert sorted(keys_under(s3, bucket)) == sorted([paths.blob_key(DIGEST)] + tails[3:])


def test_delete_no_keys_is_a_no_op(blob_store, s3, bucket, monkeypatch):
    blob_store.put_blob(DIGEST, DATA)
    calls = []
    monkeypatch.setattr(s3, "delete_objects", lambda **kw: calls.append(kw))
    blob_store.delete_keys([])
    blob_store.delete_keys(["", ""])
    assert calls == []


def test_delete_keys_in_batches_of_1000(blob_store, s3, bucket, monkeypatch):
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
    blob_store.delete_keys(keys)
    assert batches == [1000, 1000, 345]
    assert keys_under(s3, bucket) == []


def test_list_stale_multiparts(blob_store, s3, bucket):
    a = blob_store.start_multipart(paths.uploaded_key("a"))
    b = blob_store.start_multipart(paths.blob_key(DIGEST))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    stale = sorted(blob_store.list_stale_multiparts(later))
    assert stale == sorted([(paths.uploaded_key("a"), a), (paths.blob_key(DIGEST), b)])
    # moto reports every upload as initiated on 2010-11-10, so "too recent" is checked before that
    assert list(blob_store.list_stale_multiparts(dt.datetime(2001, 1, 1, tzinfo=dt.UTC))) == []
    blob_store.abort_multipart(paths.uploaded_key("a"), a)
    assert list(blob_store.list_stale_multiparts(later)) == [(paths.blob_key(DIGEST), b)]
