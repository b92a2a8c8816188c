"""Blob reads and deletes: /v2/<name>/blobs/<digest>.

On the in-memory stores (tests/api/conftest.py); the tests that read S3 or DynamoDB
themselves, or a presigned URL's S3 shape, on moto (`aws_api`, `aws_services`)."""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from chalicelib.storage.paths import blob_key
from tests.api.helpers import assert_error, digest, push_blob, push_blob_session

NAME = "library/app"


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_linked_blob_redirects_to_presigned_url(aws_api, aws_services, method, algorithm):
    data = b"layer bytes" * 100
    d = push_blob(aws_api, NAME, data, algorithm)
    r = aws_api.request(method, f"/v2/{NAME}/blobs/{d}")
    assert r.status == 307, r.body
    assert r.headers["docker-content-digest"] == d
    location = r.headers["location"]
    url = urlsplit(location)
    assert url.scheme in ("http", "https")
    # the object the blob's record names (its upload's own: docs/decisions/garbage-collection.md)
    assert url.path.endswith("/" + (aws_services.meta.get_link(NAME, d).key or blob_key(d)))
    assert aws_services.settings.bucket_name in location
    assert "X-Amz-Signature=" in url.query and "X-Amz-Expires=" in url.query
    assert r.body == b""


def test_get_and_head_presign_different_operations(aws_api, aws_services):
    d = push_blob(aws_api, NAME, b"abc")
    get = aws_api.get(f"/v2/{NAME}/blobs/{d}").headers["location"]
    head = aws_api.head(f"/v2/{NAME}/blobs/{d}").headers["location"]
    # a presigned URL is bound to its method: a GET URL would not serve a HEAD
    assert get != head
    assert aws_services.s3.head_object(Bucket=aws_services.settings.bucket_name, Key=aws_services.meta.get_link(NAME, d).key)["ContentLength"] == 3


def test_blob_pushed_through_a_session_is_served(api):
    d = push_blob_session(api, NAME, b"via session")
    assert api.get(f"/v2/{NAME}/blobs/{d}").status == 307


def test_blob_of_another_repository_is_unknown_here(api):
    d = push_blob(api, "library/other", b"not yours")
    assert_error(api.get(f"/v2/{NAME}/blobs/{d}"), 404, "BLOB_UNKNOWN")
    assert_error(api.head(f"/v2/{NAME}/blobs/{d}"), 404)
    assert api.get(f"/v2/library/other/blobs/{d}").status == 307


def test_unknown_blob(api):
    d = digest(b"never pushed")
    assert_error(api.get(f"/v2/{NAME}/blobs/{d}"), 404, "BLOB_UNKNOWN")
    r = api.head(f"/v2/{NAME}/blobs/{d}")
    assert_error(r, 404)
    assert r.body == b""


@pytest.mark.parametrize(
    "bad",
    [
        "sha256:abc",  # too short
        "sha256:" + "A" * 64,  # upper case hex
        "sha256:" + "g" * 64,  # not hex
        "sha512:" + "0" * 64,  # wrong length for the algorithm
        "sha256",  # no encoded part
        "nonsense",
        "sha256:" + "0" * 65,
    ],
)
@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_invalid_digest(api, method, bad):
    assert_error(api.request(method, f"/v2/{NAME}/blobs/{bad}"), 400, "DIGEST_INVALID")


def test_invalid_digest_head(api):
    assert_error(api.head(f"/v2/{NAME}/blobs/sha256:abc"), 400)


@pytest.mark.parametrize("bad", ["md5:" + "0" * 32, "sha1:" + "0" * 40, "blake3:" + "0" * 64, "sha384:" + "0" * 96])
def test_unsupported_algorithm(api, bad):
    assert_error(api.get(f"/v2/{NAME}/blobs/{bad}"), 400, "DIGEST_INVALID")


def test_delete_blob(api, services):
    d = push_blob(api, NAME, b"to delete")
    r = api.delete(f"/v2/{NAME}/blobs/{d}")
    assert r.status == 202, r.body
    assert r.headers["docker-content-digest"] == d
    assert_error(api.get(f"/v2/{NAME}/blobs/{d}"), 404, "BLOB_UNKNOWN")
    assert_error(api.head(f"/v2/{NAME}/blobs/{d}"), 404)
    assert_error(api.delete(f"/v2/{NAME}/blobs/{d}"), 404, "BLOB_UNKNOWN")


def test_delete_blob_only_unlinks_this_repository(api):
    d = push_blob(api, NAME, b"shared")
    push_blob(api, "library/other", b"shared")
    assert api.delete(f"/v2/{NAME}/blobs/{d}").status == 202
    assert api.get(f"/v2/library/other/blobs/{d}").status == 307


def test_delete_unknown_blob(api):
    assert_error(api.delete(f"/v2/{NAME}/blobs/{digest(b'nothing')}"), 404, "BLOB_UNKNOWN")


def test_blob_can_be_pushed_again_after_delete(api):
    d = push_blob(api, NAME, b"again")
    assert api.delete(f"/v2/{NAME}/blobs/{d}").status == 202
    push_blob(api, NAME, b"again")
    assert api.get(f"/v2/{NAME}/blobs/{d}").status == 307
