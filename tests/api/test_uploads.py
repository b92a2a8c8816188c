"""Blob uploads: POST, PATCH, PUT, GET and DELETE on /v2/<name>/blobs/uploads/.

On the in-memory stores (tests/api/conftest.py); the tests that read S3 or DynamoDB
themselves, or a presigned URL's S3 shape, on moto (`aws_api`, `aws_services`)."""
from __future__ import annotations

import base64
import json
import os
from urllib.parse import parse_qs, urlsplit, urlunsplit

import pytest

from chalicelib.registry.upload_service import Limits
from chalicelib.storage.paths import blob_key, piece_key, uploaded_key
from tests.api.conftest import ApiClient
from tests.api.helpers import (
    MiB,
    assert_error,
    blob_object,
    digest,
    push_blob,
    start_upload,
    with_query,
)

NAME = "library/app"
OCTET = {"Content-Type": "application/octet-stream"}
MIN_CHUNK = 5 * MiB


def _patch(api, loc, data, content_range: str | None = None):
    headers = dict(OCTET)
    if content_range is not None:
        headers["Content-Range"] = content_range
    return api.patch(loc, data, headers=headers)


def _assert_session_reply(r, status: int, offset: int, name: str = NAME) -> str:
    """Headers of a session reply; returns its Location."""
    assert r.status == status, (r.status, r.body[:300])
    loc = r.headers["location"]
    assert loc.startswith(f"/v2/{name}/blobs/uploads/")  # relative: BERTH_UPLOAD_URL is empty
    assert "_state" in parse_qs(urlsplit(loc).query)
    assert r.headers["range"] == f"0-{max(offset - 1, 0)}"
    upload_id = r.headers["docker-upload-uuid"]
    assert urlsplit(loc).path.rsplit("/", 1)[1] == upload_id
    return loc


def _blob_is_servable(api, name: str, d: str) -> bool:
    r = api.head(f"/v2/{name}/blobs/{d}")
    assert r.status in (307, 404), r.status
    return r.status == 307


# -- starting ----------------------------------------------------------------------
def test_post_opens_a_session(api):
    r = api.post(f"/v2/{NAME}/blobs/uploads/")
    loc = _assert_session_reply(r, 202, 0)
    assert r.headers["range"] == "0-0"
    # a chunk of any size is taken: no minimum is advertised (a strict client sizes its
    # test bodies from it, and the API takes about 4.4 MiB per request)
    assert "oci-chunk-min-length" not in r.headers
    assert r.headers["content-length"] == "0"
    upload_id = r.headers["docker-upload-uuid"]
    # the session is there
    r = api.get(loc)
    assert r.status == 204
    assert r.headers["docker-upload-uuid"] == upload_id


def test_post_without_trailing_slash(api):
    r = api.post(f"/v2/{NAME}/blobs/uploads")
    _assert_session_reply(r, 202, 0)


def test_each_post_opens_a_new_session(api):
    a = start_upload(api, NAME).headers["docker-upload-uuid"]
    b = start_upload(api, NAME).headers["docker-upload-uuid"]
    assert a != b


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_monolithic_post(aws_api, aws_services, algorithm):
    data = os.urandom(3000)
    d = digest(data, algorithm)
    r = aws_api.post(with_query(f"/v2/{NAME}/blobs/uploads/", digest=d), data, headers=OCTET)
    assert r.status == 201, r.body
    assert r.headers["location"] == f"/v2/{NAME}/blobs/{d}"
    assert r.headers["docker-content-digest"] == d
    assert blob_object(aws_services, d) == data
    assert _blob_is_servable(aws_api, NAME, d)


def test_monolithic_post_of_the_empty_blob(aws_api, aws_services):
    d = digest(b"")
    r = aws_api.post(with_query(f"/v2/{NAME}/blobs/uploads/", digest=d))
    assert r.status == 201, r.body
    assert blob_object(aws_services, d) == b""
    assert _blob_is_servable(aws_api, NAME, d)


def test_monolithic_post_with_wrong_digest(api):
    wrong = digest(b"something else")
    r = api.post(with_query(f"/v2/{NAME}/blobs/uploads/", digest=wrong), b"data", headers=OCTET)
    assert_error(r, 400, "DIGEST_INVALID")
    assert not _blob_is_servable(api, NAME, wrong)


@pytest.mark.parametrize("bad", ["sha256:abc", "nonsense", "md5:" + "0" * 32, "sha256:" + "G" * 64])
def test_monolithic_post_with_malformed_digest(api, bad):
    r = api.post(with_query(f"/v2/{NAME}/blobs/uploads/", digest=bad), b"data", headers=OCTET)
    assert_error(r, 400, "DIGEST_INVALID")


# -- PUT with the whole body -------------------------------------------------------
@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_put_with_whole_body(aws_api, aws_services, algorithm):
    data = os.urandom(10_000)
    d = digest(data, algorithm)
    loc = start_upload(aws_api, NAME).headers["location"]
    r = aws_api.put(with_query(loc, digest=d), data, headers=OCTET)
    assert r.status == 201, r.body
    assert r.headers["location"] == f"/v2/{NAME}/blobs/{d}"
    assert r.headers["docker-content-digest"] == d
    assert blob_object(aws_services, d) == data
    assert _blob_is_servable(aws_api, NAME, d)
    # the session is finished
    assert_error(aws_api.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")


def test_put_of_the_empty_blob(aws_api, aws_services):
    loc = start_upload(aws_api, NAME).headers["location"]
    d = digest(b"")
    r = aws_api.put(with_query(loc, digest=d))
    assert r.status == 201, r.body
    assert blob_object(aws_services, d) == b""


def test_put_of_an_existing_blob_again(aws_api, aws_services):
    data = b"same bytes"
    d = push_blob(aws_api, "library/one", data)
    loc = start_upload(aws_api, "library/two").headers["location"]
    r = aws_api.put(with_query(loc, digest=d), data, headers=OCTET)
    assert r.status == 201
    assert blob_object(aws_services, d) == data
    assert _blob_is_servable(aws_api, "library/two", d)


# -- chunked -----------------------------------------------------------------------
def _keys(services, prefix: str) -> list[str]:
    out = services.s3.list_objects_v2(Bucket=services.settings.bucket_name, Prefix=prefix)
    return [o["Key"] for o in out.get("Contents", [])]


def _scratch_keys(services, upload_id: str) -> list[str]:
    return _keys(services, f"uploads/{upload_id}/")


def _state(loc: str) -> dict:
    """The session's progress, as its signed URL carries it."""
    token = parse_qs(urlsplit(loc).query)["_state"][0]
    payload = token.split(".", 1)[0]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))).get("s", {})


def _object(services, key: str) -> bytes:
    return services.s3.get_object(Bucket=services.settings.bucket_name, Key=key)["Body"].read()


def test_chunked_patches_without_content_range(aws_api, aws_services):
    data = os.urandom(300_000)
    chunks = [data[:100_000], data[100_000:250_000], data[250_000:]]
    r = start_upload(aws_api, NAME)
    loc, upload_id = r.headers["location"], r.headers["docker-upload-uuid"]
    offset = 0
    for chunk in chunks:
        r = _patch(aws_api, loc, chunk)
        offset += len(chunk)
        loc = _assert_session_reply(r, 202, offset)
        status = aws_api.get(loc)
        _assert_session_reply(status, 204, offset)
    # the first chunk is the session's own object; smaller-than-a-part chunks after it are
    # pieces, each stored once, named by its offset; no multipart upload yet
    assert _object(aws_services, uploaded_key(upload_id)) == data[:100_000]
    assert _scratch_keys(aws_services, upload_id) == [piece_key(upload_id, 100_000), piece_key(upload_id, 250_000)]
    assert "m" not in _state(loc)
    r = aws_api.put(with_query(loc, digest=digest(data)))
    assert r.status == 201, r.body
    assert r.headers["docker-content-digest"] == digest(data)
    # joined in memory (each piece read once) into the session's own object
    assert _object(aws_services, uploaded_key(upload_id)) == data
    assert aws_services.meta.get_link("library/app", digest(data)).key == uploaded_key(upload_id)
    assert _scratch_keys(aws_services, upload_id) == []  # scratch objects are removed
    assert _keys(aws_services, blob_key(digest(data))) == []


def test_chunked_patches_with_content_range_and_final_chunk_in_put(aws_api, aws_services):
    data = os.urandom(250_000)
    loc = start_upload(aws_api, NAME).headers["location"]
    r = _patch(aws_api, loc, data[:100_000], "0-99999")
    loc = _assert_session_reply(r, 202, 100_000)
    r = _patch(aws_api, loc, data[100_000:200_000], "100000-199999")
    loc = _assert_session_reply(r, 202, 200_000)
    final = data[200_000:]
    r = aws_api.put(with_query(loc, digest=digest(data)), final, headers={**OCTET, "Content-Range": f"200000-{len(data) - 1}"})
    assert r.status == 201, r.body
    assert blob_object(aws_services, digest(data)) == data


def test_put_with_final_chunk_without_content_range(aws_api, aws_services):
    data = os.urandom(70_000)
    loc = start_upload(aws_api, NAME).headers["location"]
    loc = _patch(aws_api, loc, data[:30_000]).headers["location"]
    r = aws_api.put(with_query(loc, digest=digest(data)), data[30_000:], headers=OCTET)
    assert r.status == 201, r.body
    assert blob_object(aws_services, digest(data)) == data


def test_content_range_with_bytes_prefix(api):
    loc = start_upload(api, NAME).headers["location"]
    r = _patch(api, loc, b"abcd", "bytes=0-3")
    _assert_session_reply(r, 202, 4)


@pytest.fixture
def small_parts(aws_services, monkeypatch):
    """Parts of S3's minimum (5 MiB), and no single PutObject beyond one: the multipart
    paths with little data."""
    monkeypatch.setattr(aws_services.uploads, "limits", Limits(part_size=5 * MiB, single_put=5 * MiB))


@pytest.mark.parametrize("algorithm, final_in_put", [("sha256", False), ("sha512", False), ("sha256", True)])
def test_large_chunked_upload_uses_multipart_parts(aws_api, aws_services, small_parts, algorithm, final_in_put):
    """> 10 MiB in ~3 MiB PATCHes: small chunks wait as pieces, then are joined into parts."""
    data = os.urandom(12 * MiB + 12345)
    step = 3 * MiB
    final = data[4 * step :] if final_in_put else b""  # the last 12345 bytes
    loc = start_upload(aws_api, NAME).headers["location"]
    upload_id = urlsplit(loc).path.rsplit("/", 1)[1]
    offset = 0
    for start in range(0, len(data) - len(final), step):
        chunk = data[start : start + step]
        r = _patch(aws_api, loc, chunk, f"{start}-{start + len(chunk) - 1}" if start % (2 * step) else None)
        offset += len(chunk)
        loc = _assert_session_reply(r, 202, offset)
    state = _state(loc)
    assert state["m"] and state["c"] >= 3  # two parts written
    d = digest(data, algorithm)
    r = aws_api.put(with_query(loc, digest=d), final, headers=OCTET)
    assert r.status == 201, r.body
    assert r.headers["docker-content-digest"] == d
    # the multipart upload completed under the session's own object, which the blob's record names
    assert _object(aws_services, uploaded_key(upload_id)) == data
    assert blob_object(aws_services, d) == data
    assert _blob_is_servable(aws_api, NAME, d)
    assert _scratch_keys(aws_services, upload_id) == []
    assert aws_services.s3.list_multipart_uploads(Bucket=aws_services.settings.bucket_name).get("Uploads", []) == []


def test_large_chunked_upload_with_wrong_digest_is_discarded(aws_api, aws_services):
    data = os.urandom(11 * MiB)
    loc = start_upload(aws_api, NAME).headers["location"]
    for start in range(0, len(data), 3 * MiB):
        loc = _patch(aws_api, loc, data[start : start + 3 * MiB]).headers["location"]
    wrong = digest(b"not it")
    assert_error(aws_api.put(with_query(loc, digest=wrong)), 400, "DIGEST_INVALID")
    upload_id = urlsplit(loc).path.rsplit("/", 1)[1]
    assert _scratch_keys(aws_services, upload_id) == []
    assert_error(aws_api.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
    assert not _blob_is_servable(aws_api, NAME, wrong)
    assert not _blob_is_servable(aws_api, NAME, digest(data))


def test_patch_that_does_not_continue_is_416(api):
    loc = start_upload(api, NAME).headers["location"]
    loc = _patch(api, loc, b"a" * 100, "0-99").headers["location"]
    for bad in ("0-99", "50-149", "101-200"):
        r = _patch(api, loc, b"b" * 100, bad)
        assert_error(r, 416, "BLOB_UPLOAD_INVALID")
        assert r.headers["range"] == "0-99"
        assert urlsplit(r.headers["location"]).path == urlsplit(loc).path
    # the session is unharmed and continues where it was
    r = _patch(api, loc, b"c" * 10, "100-109")
    _assert_session_reply(r, 202, 110)


def test_first_patch_must_start_at_zero(api):
    loc = start_upload(api, NAME).headers["location"]
    r = _patch(api, loc, b"x" * 10, "5-14")
    assert_error(r, 416, "BLOB_UPLOAD_INVALID")
    assert r.headers["range"] == "0-0"
    assert "location" in r.headers


@pytest.mark.parametrize("bad", ["garbage", "10", "-5", "5-", "9-0", "a-b", "0-9/10"])
def test_malformed_content_range_is_416(api, bad):
    loc = start_upload(api, NAME).headers["location"]
    r = _patch(api, loc, b"x" * 10, bad)
    assert_error(r, 416, "BLOB_UPLOAD_INVALID")
    assert r.headers["range"] == "0-0"


def test_content_range_longer_than_the_body(api):
    loc = start_upload(api, NAME).headers["location"]
    r = _patch(api, loc, b"x" * 10, "0-19")
    assert_error(r, 416, "BLOB_UPLOAD_INVALID")
    assert r.headers["range"] == "0-0"
    # nothing was taken
    assert api.get(loc).headers["range"] == "0-0"


def test_put_final_chunk_with_content_range_that_does_not_continue(api):
    loc = start_upload(api, NAME).headers["location"]
    loc = _patch(api, loc, b"a" * 10).headers["location"]
    r = api.put(with_query(loc, digest=digest(b"a" * 20)), b"a" * 10, headers={**OCTET, "Content-Range": "0-9"})
    assert_error(r, 416, "BLOB_UPLOAD_INVALID")
    assert r.headers["range"] == "0-9"


def test_get_upload_status(api):
    loc = start_upload(api, NAME).headers["location"]
    r = api.get(loc)
    _assert_session_reply(r, 204, 0)
    assert r.headers["range"] == "0-0"
    assert r.body == b""
    loc = _patch(api, loc, b"z" * 1234).headers["location"]
    r = api.get(loc)
    _assert_session_reply(r, 204, 1234)
    assert r.headers["range"] == "0-1233"


# -- completing: errors --------------------------------------------------------------
def test_put_without_digest(api):
    loc = start_upload(api, NAME).headers["location"]
    loc = _patch(api, loc, b"abc").headers["location"]
    r = api.put(loc)
    assert_error(r, 400, "DIGEST_INVALID")
    # the session stays usable
    r = api.put(with_query(loc, digest=digest(b"abc")))
    assert r.status == 201


@pytest.mark.parametrize("bad", ["sha256:1234", "md5:" + "0" * 32])
def test_put_with_malformed_digest(api, bad):
    loc = start_upload(api, NAME).headers["location"]
    r = api.put(with_query(loc, digest=bad), b"abc", headers=OCTET)
    assert_error(r, 400, "DIGEST_INVALID")


@pytest.mark.parametrize("chunked", [False, True])
def test_put_with_wrong_digest_discards_the_session(api, chunked):
    data = b"the real bytes" * 100
    wrong = digest(b"other bytes")
    loc = start_upload(api, NAME).headers["location"]
    if chunked:
        loc = _patch(api, loc, data).headers["location"]
        r = api.put(with_query(loc, digest=wrong))
    else:
        r = api.put(with_query(loc, digest=wrong), data, headers=OCTET)
    assert_error(r, 400, "DIGEST_INVALID")
    assert_error(api.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
    # the session is over: it can complete no more
    assert_error(api.put(with_query(loc, digest=digest(data)), b"" if chunked else data, headers=OCTET), 404, "BLOB_UPLOAD_UNKNOWN")
    assert not _blob_is_servable(api, NAME, wrong)
    assert not _blob_is_servable(api, NAME, digest(data))
    assert_error(api.get(f"/v2/{NAME}/blobs/{wrong}"), 404, "BLOB_UNKNOWN")


# -- cancel and unknown sessions ---------------------------------------------------------
def test_delete_cancels_the_session(api):
    loc = start_upload(api, NAME).headers["location"]
    loc = _patch(api, loc, b"partial").headers["location"]
    r = api.delete(loc)
    assert r.status == 204
    assert_error(api.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
    assert api.delete(loc).status == 204  # idempotent: a retried cancel succeeds
    assert_error(api.put(with_query(loc, digest=digest(b"partial"))), 404, "BLOB_UPLOAD_UNKNOWN")


def test_delete_cancels_a_multipart_session(aws_api, aws_services):
    loc = start_upload(aws_api, NAME).headers["location"]
    loc = _patch(aws_api, loc, os.urandom(6 * MiB)).headers["location"]
    assert aws_api.delete(loc).status == 204
    assert_error(aws_api.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")
    uploads = aws_services.s3.list_multipart_uploads(Bucket=aws_services.settings.bucket_name).get("Uploads", [])
    assert uploads == []


@pytest.mark.parametrize(
    "upload_id",
    ["00000000-0000-0000-0000-000000000000", "not-a-session", "x" * 65, "bad$id"],
)
@pytest.mark.parametrize("method", ["GET", "PATCH", "PUT", "DELETE"])
def test_unknown_session(api, method, upload_id):
    url = f"/v2/{NAME}/blobs/uploads/{upload_id}"
    if method == "PUT":
        url = with_query(url, digest=digest(b"x"))
    r = api.request(method, url, b"x" if method in ("PATCH", "PUT") else b"")
    assert_error(r, 404, "BLOB_UPLOAD_UNKNOWN")


@pytest.mark.parametrize("keep_state", [True, False])
def test_session_of_another_repository(api, keep_state):
    loc = start_upload(api, "library/a").headers["location"]
    other = loc.replace("/v2/library/a/", "/v2/library/b/", 1)
    if not keep_state:
        other = other.split("?", 1)[0]
    for method in ("GET", "PATCH", "DELETE"):
        r = api.request(method, other, b"x" if method == "PATCH" else b"")
        assert_error(r, 404, "BLOB_UPLOAD_UNKNOWN")
    r = api.put(with_query(other, digest=digest(b"x")), b"x", headers=OCTET)
    assert_error(r, 404, "BLOB_UPLOAD_UNKNOWN")
    # the session in library/a is untouched
    assert api.get(loc).status == 204


def test_state_of_another_session(api):
    loc_a = start_upload(api, NAME).headers["location"]
    loc_b = start_upload(api, NAME).headers["location"]
    state_b = parse_qs(urlsplit(loc_b).query)["_state"][0]
    mixed = with_query(loc_a, _state=state_b)
    assert_error(api.get(mixed), 404, "BLOB_UPLOAD_UNKNOWN")


def _tamper(state: str) -> list[str]:
    payload, signature = state.split(".", 1)
    flip = "A" if payload[5] != "A" else "B"
    return [
        payload[:5] + flip + payload[6:] + "." + signature,
        payload + "." + signature[:-1] + ("A" if signature[-1] != "A" else "B"),
        payload,
        "garbage",
        "a.b.c",
        "!!!.???",
    ]


def test_tampered_state(api):
    loc = start_upload(api, NAME).headers["location"]
    state = parse_qs(urlsplit(loc).query)["_state"][0]
    for bad in _tamper(state):
        for method in ("GET", "PATCH", "DELETE"):
            r = api.request(method, with_query(loc, _state=bad), b"x" if method == "PATCH" else b"")
            assert_error(r, 404, "BLOB_UPLOAD_UNKNOWN")
    assert api.get(loc).status == 204


# -- mount -----------------------------------------------------------------------------
def test_mount_from_another_repository(aws_api, aws_services):
    data = b"shared layer" * 100
    d = push_blob(aws_api, "library/base", data)
    assert not _blob_is_servable(aws_api, "library/derived", d)
    r = aws_api.post(with_query("/v2/library/derived/blobs/uploads/", mount=d, **{"from": "library/base"}))
    assert r.status == 201, r.body
    assert r.headers["docker-content-digest"] == d
    assert r.headers["location"] == f"/v2/library/derived/blobs/{d}"
    assert _blob_is_servable(aws_api, "library/derived", d)
    assert blob_object(aws_services, d) == data


@pytest.mark.parametrize(
    "source",
    ["library/empty", "Library/Bad", "library//x", ""],
)
def test_mount_falls_back_to_a_session(api, source):
    d = push_blob(api, "library/other", b"blob elsewhere")
    r = api.post(with_query("/v2/library/derived/blobs/uploads/", mount=d, **{"from": source}))
    _assert_session_reply(r, 202, 0, "library/derived")
    assert not _blob_is_servable(api, "library/derived", d)


@pytest.mark.parametrize("mount", ["sha256:abc", "garbage", ""])
def test_mount_with_malformed_digest_falls_back(api, mount):
    r = api.post(with_query("/v2/library/derived/blobs/uploads/", mount=mount, **{"from": "library/base"}))
    _assert_session_reply(r, 202, 0, "library/derived")


def test_mount_without_from_falls_back(api):
    d = push_blob(api, "library/base", b"abc")
    r = api.post(with_query("/v2/library/derived/blobs/uploads/", mount=d))
    _assert_session_reply(r, 202, 0, "library/derived")


def test_expired_session(api, services, graph):
    loc = start_upload(api, NAME).headers["location"]
    assert api.get(loc).status == 204
    graph.now += services.settings.upload_ttl_seconds + 60  # every part's clock
    assert_error(api.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")  # the signed state expired
    assert_error(api.get(loc.split("?", 1)[0]), 404, "BLOB_UPLOAD_UNKNOWN")  # and the session itself


# -- big single requests ----------------------------------------------------------------
def test_single_patch_larger_than_a_part(aws_api, aws_services):
    data = os.urandom(9 * MiB)
    loc = start_upload(aws_api, NAME).headers["location"]
    loc = _assert_session_reply(_patch(aws_api, loc, data), 202, len(data))
    r = aws_api.put(with_query(loc, digest=digest(data)))
    assert r.status == 201, r.body
    assert blob_object(aws_services, digest(data)) == data


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_single_put_larger_than_a_part(aws_api, aws_services, algorithm):
    data = os.urandom(9 * MiB)
    d = digest(data, algorithm)
    loc = start_upload(aws_api, NAME).headers["location"]
    r = aws_api.put(with_query(loc, digest=d), data, headers=OCTET)
    assert r.status == 201, r.body
    assert blob_object(aws_services, d) == data


def test_single_put_larger_than_a_part_with_wrong_digest(api, services):
    data = os.urandom(9 * MiB)
    loc = start_upload(api, NAME).headers["location"]
    r = api.put(with_query(loc, digest=digest(b"no")), data, headers=OCTET)
    assert_error(r, 400, "DIGEST_INVALID")
    assert not _blob_is_servable(api, NAME, digest(data))
    assert_error(api.get(loc), 404, "BLOB_UPLOAD_UNKNOWN")


def test_body_larger_than_the_request_limit(api, services):
    data = b"\0" * (services.settings.max_request_body + 1)
    r = api.post(with_query(f"/v2/{NAME}/blobs/uploads/", digest=digest(data)), data, headers=OCTET)
    assert_error(r, 413, "SIZE_INVALID")


def test_small_chunked_upload_with_sha512(aws_api, aws_services):
    data = os.urandom(200_000)
    loc = start_upload(aws_api, NAME).headers["location"]
    loc = _patch(aws_api, loc, data[:120_000], "0-119999").headers["location"]
    loc = _patch(aws_api, loc, data[120_000:]).headers["location"]
    d = digest(data, "sha512")
    r = aws_api.put(with_query(loc, digest=d))
    assert r.status == 201, r.body
    assert r.headers["docker-content-digest"] == d
    assert blob_object(aws_services, d) == data
    assert _blob_is_servable(aws_api, NAME, d)


@pytest.fixture
def upload_host_api(services):
    """The app as deployed with a separate upload host (BERTH_UPLOAD_URL) and a configured
    public URL: the session's Location is absolute, on the upload host."""
    return _with_settings(services, upload_url="https://uploads.example", public_url="https://registry.example")


def _with_settings(services, **changes):
    import dataclasses

    import app as app_module

    # served until the test's own graph's `serving` block ends (tests/api/conftest.py)
    app_module.use_services(services.replace(settings=dataclasses.replace(services.settings, **changes)))
    return ApiClient(app_module.app)


def _on_api(location: str) -> str:
    """The upload host's URL as the in-process client can send it (same handler)."""
    parts = urlsplit(location)
    return urlunsplit(("", "", parts.path, parts.query, ""))


def test_a_finished_uploads_location_is_the_signed_api_base_not_the_query(upload_host_api):
    """The API's URL travels to the upload host inside the signed `_state`; an `_api` (or any
    other) query parameter that a link adds cannot send the client elsewhere."""
    data = os.urandom(64)
    loc = start_upload(upload_host_api, NAME).headers["location"]
    assert loc.startswith("https://uploads.example/v2/") and "_api=" not in loc
    reply = upload_host_api.put(with_query(_on_api(loc), _api="https://evil.example", digest=digest(data)), data, headers=OCTET)
    assert reply.status == 201, reply.body
    assert reply.headers["location"] == f"https://registry.example/v2/{NAME}/blobs/{digest(data)}"


def test_a_state_whose_api_base_was_changed_is_refused(upload_host_api):
    import base64
    import json

    loc = start_upload(upload_host_api, NAME).headers["location"]
    state = parse_qs(urlsplit(loc).query)["_state"][0]
    payload, signature = state.split(".", 1)
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["a"] == "https://registry.example"
    claims["a"] = "https://evil.example"
    forged = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode()).rstrip(b"=").decode()
    url = with_query(_on_api(loc), _state=f"{forged}.{signature}", digest=digest(b"x"))
    assert_error(upload_host_api.put(url, b"x", headers=OCTET), 404, "BLOB_UPLOAD_UNKNOWN")


@pytest.mark.parametrize(
    ("host", "expected_prefix"),
    [
        ("registry.example", "https://registry.example/v2/"),
        ("127.0.0.1:8000", "https://127.0.0.1:8000/v2/"),
        ("[::1]:8443", "https://[::1]:8443/v2/"),
        # a Host that is not a bare host name leaves the Location relative
        ("registry.example/path", "/v2/"),
        ("registry.example\r\nX-Evil: 1", "/v2/"),
    ],
)
def test_without_a_public_url_the_api_base_is_the_host_the_session_was_opened_on(services, host, expected_prefix):
    api = _with_settings(services, upload_url="https://uploads.example")
    data = os.urandom(64)
    loc = api.post(f"/v2/{NAME}/blobs/uploads/", headers={"Host": host}).headers["location"]
    reply = api.put(with_query(_on_api(loc), digest=digest(data)), data, headers={**OCTET, "Host": "attacker.example"})
    assert reply.status == 201, reply.body
    assert reply.headers["location"] == f"{expected_prefix}{NAME}/blobs/{digest(data)}"


# -- after a failed chunk, the session goes on where it was ----------------------------------
FAILED_CHUNKS = {
    "gap": lambda good: (b"x" * 10, {"Content-Range": f"{good + 1}-{good + 10}"}),
    "overlap": lambda good: (b"x" * 10, {"Content-Range": f"{max(good - 5, 0)}-{max(good - 5, 0) + 9}"}),
    "malformed": lambda good: (b"x" * 10, {"Content-Range": "ten-bytes"}),
    "range-longer-than-body": lambda good: (b"x" * 10, {"Content-Range": f"{good}-{good + 99}"}),
    "range-shorter-than-body": lambda good: (b"x" * 10, {"Content-Range": f"{good}-{good + 4}"}),
}


GOOD_SO_FAR = {"empty": 0, "small": 1000, "part-sized": 6 * MiB}


@pytest.mark.parametrize(
    ("kind", "good"),
    [
        pytest.param(kind, good, id=f"{name}-{kind}")
        for name, good in GOOD_SO_FAR.items()
        for kind in FAILED_CHUNKS
        if good or kind != "overlap"  # an empty upload has nothing to overlap
    ],
)
def test_range_is_right_after_every_kind_of_failed_chunk(aws_api, aws_services, kind, good):
    data = os.urandom(good + 500)
    loc = start_upload(aws_api, NAME).headers["location"]
    if good:
        loc = _assert_session_reply(_patch(aws_api, loc, data[:good]), 202, good)
    body, headers = FAILED_CHUNKS[kind](good)
    r = aws_api.patch(loc, body, headers={**OCTET, **headers})
    assert r.status in (400, 416), (r.status, r.body)
    # the failure names where the upload is, and both URLs still say so
    assert r.headers["range"] == f"0-{max(good - 1, 0)}"
    for url in (loc, r.headers["location"]):
        _assert_session_reply(aws_api.get(url), 204, good)
    # and the upload continues from there, with the Location the failure gave
    r = _patch(aws_api, r.headers["location"], data[good:], f"{good}-{len(data) - 1}")
    loc = _assert_session_reply(r, 202, len(data))
    assert aws_api.put(with_query(loc, digest=digest(data))).status == 201
    assert blob_object(aws_services, digest(data)) == data


@pytest.mark.parametrize("good", [0, 1000], ids=["first", "later"])
def test_two_patches_at_one_offset_the_loser_gets_416_and_the_winner_completes(aws_api, aws_services, good):
    head = os.urandom(good)
    loc = start_upload(aws_api, NAME).headers["location"]
    if good:
        loc = _patch(aws_api, loc, head).headers["location"]
    ours, theirs = b"A" * 3000, b"B" * 3000
    won = _patch(aws_api, loc, ours, f"{good}-{good + 2999}")
    lost = _patch(aws_api, loc, theirs, f"{good}-{good + 2999}")
    won_loc = _assert_session_reply(won, 202, good + 3000)
    assert_error(lost, 416, "BLOB_UPLOAD_INVALID")
    assert aws_api.put(with_query(won_loc, digest=digest(head + ours))).status == 201
    assert blob_object(aws_services, digest(head + ours)) == head + ours
    assert not _blob_is_servable(aws_api, NAME, digest(head + theirs))
