"""UploadService over S3 and DynamoDB on moto: chunked uploads land byte-exact
under their digest, verified; anything that fails verification leaves nothing."""
from __future__ import annotations

import hashlib
import io
import random

import pytest

from chalicelib import resumable_hash
from chalicelib.errors import (
    InvalidDigest,
    RangeInvalid,
    SizeInvalid,
    UploadInvalid,
    UploadNotFound,
)
from chalicelib.oci.digests import Digest
from chalicelib.registry.upload_service import (
    MIN_PART,
    PART_TARGET,
    ContentRange,
    UploadService,
)
from chalicelib.storage import paths
from tests.contract.helpers import keys_under, open_multiparts, read_object

MiB = 1024 * 1024
NAME = "library/app"
TTL = 3600


class CountingStore:
    """The real blob store, counting read-backs (verification without a saved hash state)."""

    def __init__(self, inner):
        self.inner = inner
        self.read_backs = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def read_upload(self, upload_id):
        self.read_backs += 1
        return self.inner.read_upload(upload_id)


@pytest.fixture
def store(blob_store) -> CountingStore:
    return CountingStore(blob_store)


@pytest.fixture
def make_service(store, sessions, meta, clock):
    """A new UploadService per request, as separate Lambda instances would build them."""
    return lambda: UploadService(store, sessions, meta, clock, TTL)


@pytest.fixture
def hash_unavailable(monkeypatch):
    def unavailable(cls, *args, **kwargs):
        raise resumable_hash.ResumableHashUnavailable("libcrypto disabled by the test")

    monkeypatch.setattr(resumable_hash.ResumableHash, "new", classmethod(unavailable))
    monkeypatch.setattr(resumable_hash.ResumableHash, "restore", classmethod(unavailable))


def push(make_service, sessions, data: bytes, sizes: list[int], digest: Digest, *, rng=None, name=NAME) -> str:
    """POST, one PATCH per size (each through a fresh service), PUT with the rest."""
    upload_id = make_service().start(name).id
    offset = 0
    for size in sizes:
        chunk = data[offset : offset + size]
        svc = make_service()
        session = svc.get(name, upload_id)
        style = rng.randrange(3) if rng else 0
        if style == 0:  # Content-Range and Content-Length
            svc.append(session, io.BytesIO(chunk), size, ContentRange(offset, offset + size - 1))
        elif style == 1:  # chunked transfer encoding, no range (docker's single PATCH)
            svc.append(session, io.BytesIO(chunk), None, None)
        else:
            svc.append(session, io.BytesIO(chunk), size, None)
        offset += size
        saved = sessions.get(upload_id)
        assert saved.offset == offset
        assert saved.tail_length == saved.offset - saved.parts_size < MIN_PART
    rest = data[offset:]
    svc = make_service()
    assert svc.complete(svc.get(name, upload_id), digest, io.BytesIO(rest), len(rest), None) == len(data)
    return upload_id


def assert_stored(s3, bucket, meta, sessions, upload_id: str, data: bytes, digest: Digest, name=NAME):
    assert read_object(s3, bucket, paths.blob_key(str(digest))) == data
    assert meta.link_size(name, str(digest)) == len(data)
    assert meta.blob_size(str(digest)) == len(data)
    assert sessions.get(upload_id) is None
    assert keys_under(s3, bucket, paths.UPLOADS_PREFIX) == []
    assert open_multiparts(s3, bucket) == []


def upload_items(table) -> list[str]:
    out = table.client.scan(
        TableName=table.name,
        FilterExpression="begins_with(PK, :u)",
        ExpressionAttributeValues={":u": {"S": "U#"}},
    )
    return [i["PK"]["S"] for i in out["Items"]]


def assert_nothing_left(s3, bucket, meta, table, digest: Digest, name=NAME):
    assert keys_under(s3, bucket, paths.UPLOADS_PREFIX) == []
    # A chunk that never reached a part is kept under its own running digest's key
    # (so a PUT adding nothing finds it in place). Such an object may outlive a failed
    # upload: it must hold exactly the bytes of that digest, and nothing may link to it.
    for key in keys_under(s3, bucket):
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert key == paths.blob_key("sha256:" + hashlib.sha256(body).hexdigest()), key
        assert meta.blob_size("sha256:" + hashlib.sha256(body).hexdigest()) is None
    assert open_multiparts(s3, bucket) == []
    assert upload_items(table) == []
    assert meta.link_size(name, str(digest)) is None
    assert meta.blob_size(str(digest)) is None


def random_sizes(rng: random.Random, total: int) -> list[int]:
    """Chunk sizes from 1 byte to 12 MiB, favouring the part-size boundaries."""
    sizes, remaining = [], total
    while remaining:
        kind = rng.random()
        if kind < 0.2:
            size = rng.randint(1, 64)
        elif kind < 0.35:
            size = rng.randint(1, MiB)
        elif kind < 0.65:
            size = rng.choice([MIN_PART - 1, MIN_PART, MIN_PART + 1, PART_TARGET - 1, PART_TARGET, PART_TARGET + 1, 12 * MiB])
        else:
            size = rng.randint(1, 12 * MiB)
        size = min(size, remaining)
        sizes.append(size)
        remaining -= size
    return sizes


# -- random splits -------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(12))
def test_random_chunk_splits_store_exact_bytes(seed, make_service, store, sessions, meta, s3, bucket):
    rng = random.Random(seed)
    total = rng.choice([1, 777, MIN_PART, PART_TARGET + 1, 13 * MiB + 7, rng.randint(1, 30 * MiB), 30 * MiB])
    if seed == 0:
        total = 30 * MiB  # at least one upload of the full size
    data = rng.randbytes(total)
    sizes = random_sizes(rng, total)
    if rng.random() < 0.5:  # the PUT carries the last chunk, or nothing
        sizes = sizes[:-1]
    digest = Digest.of(data)
    upload_id = push(make_service, sessions, data, sizes, digest, rng=rng)
    assert_stored(s3, bucket, meta, sessions, upload_id, data, digest)
    # every chunk was verified from the saved hash state, never by reading back
    assert store.read_backs == 0


@pytest.mark.parametrize(
    "sizes",
    [
        pytest.param([], id="single-put"),
        pytest.param([1] * 5, id="single-bytes"),
        pytest.param([MIN_PART - 1, 1, 1], id="tail-reaches-part-size"),
        pytest.param([MIN_PART], id="exact-part"),
        pytest.param([PART_TARGET], id="exact-target"),
        pytest.param([3 * MiB, 3 * MiB, 3 * MiB], id="tails-join-into-parts"),
        pytest.param([12 * MiB, 1, 12 * MiB], id="large-small-large"),
    ],
)
def test_boundary_splits(sizes, make_service, store, sessions, meta, s3, bucket):
    data = random.Random(len(sizes)).randbytes(sum(sizes) + 1000)
    digest = Digest.of(data)
    upload_id = push(make_service, sessions, data, sizes, digest)
    assert_stored(s3, bucket, meta, sessions, upload_id, data, digest)
    assert store.read_backs == 0


def test_hash_state_is_saved_after_every_chunk(make_service, sessions):
    svc = make_service()
    upload_id = svc.start(NAME).id
    states = []
    for chunk in (b"a" * 100, b"b" * (6 * MiB), b"c"):
        session = svc.get(NAME, upload_id)
        svc.append(session, io.BytesIO(chunk), len(chunk), None)
        states.append(sessions.get(upload_id).hash_state)
    assert all(states) and len(set(states)) == 3


def test_empty_blob(make_service, sessions, meta, s3, bucket):
    digest = Digest.of(b"")
    upload_id = push(make_service, sessions, b"", [], digest)
    assert_stored(s3, bucket, meta, sessions, upload_id, b"", digest)


@pytest.mark.parametrize("sizes", [[], [100], [6 * MiB, 100]], ids=["in-memory", "tail", "multipart"])
def test_sha512_digest_verifies_by_reading_back(sizes, make_service, store, sessions, meta, s3, bucket):
    data = random.Random(3).randbytes(sum(sizes) + 500)
    digest = Digest.of(data, "sha512")
    upload_id = push(make_service, sessions, data, sizes, digest)
    assert_stored(s3, bucket, meta, sessions, upload_id, data, digest)
    assert paths.blob_key(str(digest)).startswith("blobs/sha512/")


def test_a_blob_already_stored_is_not_copied_again(make_service, store, sessions, meta, s3, bucket):
    data = random.Random(4).randbytes(7 * MiB)
    digest = Digest.of(data)
    push(make_service, sessions, data, [6 * MiB], digest)
    second = push(make_service, sessions, data, [6 * MiB], digest, name="other/repo")
    assert_stored(s3, bucket, meta, sessions, second, data, digest, name="other/repo")
    assert meta.link_size(NAME, str(digest)) == len(data)


# -- failed verification -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "sizes",
    [
        pytest.param([], id="single-put"),
        pytest.param([100], id="tail"),
        pytest.param([6 * MiB], id="multipart-only"),
        pytest.param([6 * MiB, 100], id="multipart-and-tail"),
        pytest.param([9 * MiB, 3 * MiB], id="streamed-part-and-tail"),
    ],
)
@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_a_wrong_digest_discards_everything(sizes, algorithm, make_service, sessions, meta, table, s3, bucket):
    data = random.Random(5).randbytes(sum(sizes) + 1000)
    wrong = Digest.of(data + b"!", algorithm)
    with pytest.raises(InvalidDigest):
        push(make_service, sessions, data, sizes, wrong)
    assert_nothing_left(s3, bucket, meta, table, wrong)
    assert meta.blob_size(str(Digest.of(data))) is None


def test_after_a_wrong_digest_the_session_is_unknown(make_service):
    svc = make_service()
    session = svc.start(NAME)
    svc.append(session, io.BytesIO(b"abc"), 3, None)
    with pytest.raises(InvalidDigest):
        svc.complete(svc.get(NAME, session.id), Digest.of(b"abd"), io.BytesIO(b""), 0, None)
    with pytest.raises(UploadNotFound):
        make_service().get(NAME, session.id)


# -- without libcrypto: verify by reading back from S3 ----------------------------------------------
@pytest.mark.parametrize(
    "sizes",
    [[], [100, 200], [6 * MiB], [MIN_PART - 1, 1], [1, 9 * MiB, 3 * MiB, 7]],
    ids=["single-put", "tails", "one-part", "tail-to-part", "mixed"],
)
def test_without_resumable_hash_uploads_still_verify(sizes, hash_unavailable, make_service, store, sessions, meta, s3, bucket):
    data = random.Random(6).randbytes(sum(sizes) + 321)
    digest = Digest.of(data)
    upload_id = push(make_service, sessions, data, sizes, digest)
    assert_stored(s3, bucket, meta, sessions, upload_id, data, digest)


def test_without_resumable_hash_chunks_save_no_state_and_read_back(hash_unavailable, make_service, store, sessions, meta, s3, bucket):
    data = random.Random(7).randbytes(11 * MiB)
    digest = Digest.of(data)
    svc = make_service()
    upload_id = svc.start(NAME).id
    svc.append(svc.get(NAME, upload_id), io.BytesIO(data[: 6 * MiB]), 6 * MiB, None)
    assert sessions.get(upload_id).hash_state is None
    svc.complete(svc.get(NAME, upload_id), digest, io.BytesIO(data[6 * MiB :]), None, None)
    assert store.read_backs == 1
    assert_stored(s3, bucket, meta, sessions, upload_id, data, digest)


@pytest.mark.parametrize("sizes", [[100, 100], [6 * MiB, 100]], ids=["in-memory", "multipart"])
def test_without_resumable_hash_a_wrong_digest_still_fails(sizes, hash_unavailable, make_service, sessions, meta, table, s3, bucket):
    data = random.Random(8).randbytes(sum(sizes) + 10)
    wrong = Digest.of(b"something else")
    with pytest.raises(InvalidDigest):
        push(make_service, sessions, data, sizes, wrong)
    assert_nothing_left(s3, bucket, meta, table, wrong)


def test_libcrypto_lost_mid_upload(make_service, store, sessions, meta, s3, bucket, monkeypatch):
    # the first chunks were hashed on an instance with libcrypto, the rest on one without
    data = random.Random(9).randbytes(13 * MiB)
    digest = Digest.of(data)
    svc = make_service()
    upload_id = svc.start(NAME).id
    svc.append(svc.get(NAME, upload_id), io.BytesIO(data[:MiB]), MiB, None)
    assert sessions.get(upload_id).hash_state is not None

    def unavailable(cls, *args, **kwargs):
        raise resumable_hash.ResumableHashUnavailable("gone")

    monkeypatch.setattr(resumable_hash.ResumableHash, "restore", classmethod(unavailable))
    monkeypatch.setattr(resumable_hash.ResumableHash, "new", classmethod(unavailable))
    svc = make_service()
    svc.append(svc.get(NAME, upload_id), io.BytesIO(data[MiB : 8 * MiB]), 7 * MiB, None)
    svc = make_service()
    svc.complete(svc.get(NAME, upload_id), digest, io.BytesIO(data[8 * MiB :]), None, None)
    assert store.read_backs == 1
    assert_stored(s3, bucket, meta, sessions, upload_id, data, digest)


# -- ranges, sizes and races ---------------------------------------------------------------------
def test_a_chunk_must_continue_the_upload(make_service, sessions):
    svc = make_service()
    upload_id = svc.start(NAME).id
    svc.append(svc.get(NAME, upload_id), io.BytesIO(b"abc"), 3, ContentRange(0, 2))
    for bad in (ContentRange(0, 2), ContentRange(4, 6), ContentRange(2, 4)):
        with pytest.raises(RangeInvalid) as caught:
            svc.append(svc.get(NAME, upload_id), io.BytesIO(b"def"), 3, bad)
        assert caught.value.offset == 3
    assert sessions.get(upload_id).offset == 3
    # and it continues from where it was
    svc.append(svc.get(NAME, upload_id), io.BytesIO(b"def"), 3, ContentRange(3, 5))
    svc.complete(svc.get(NAME, upload_id), Digest.of(b"abcdef"), io.BytesIO(b""), 0, None)


def test_content_length_must_match_content_range(make_service):
    svc = make_service()
    session = svc.start(NAME)
    with pytest.raises(RangeInvalid):
        svc.append(session, io.BytesIO(b"abcd"), 4, ContentRange(0, 2))


@pytest.mark.parametrize("length, content_range", [(10, None), (None, ContentRange(0, 9))])
def test_a_short_body_is_size_invalid(length, content_range, make_service, sessions):
    svc = make_service()
    upload_id = svc.start(NAME).id
    with pytest.raises(SizeInvalid):
        svc.append(svc.get(NAME, upload_id), io.BytesIO(b"abc"), length, content_range)
    assert sessions.get(upload_id).offset == 0


def test_a_losing_concurrent_chunk_cannot_change_the_winners_bytes(make_service, sessions, meta, s3, bucket):
    # two PATCHes read the session at the same offset; the second to save loses (416),
    # and the blob must still hold exactly the winner's bytes
    svc = make_service()
    upload_id = svc.start(NAME).id
    winner, loser = make_service(), make_service()
    won, lost = winner.get(NAME, upload_id), loser.get(NAME, upload_id)
    ours, theirs = b"A" * 1000, b"B" * 1000
    winner.append(won, io.BytesIO(ours), len(ours), None)
    with pytest.raises(RangeInvalid):
        loser.append(lost, io.BytesIO(theirs), len(theirs), None)
    digest = Digest.of(ours)
    svc = make_service()
    svc.complete(svc.get(NAME, upload_id), digest, io.BytesIO(b""), 0, None)
    assert read_object(s3, bucket, paths.blob_key(str(digest))) == ours


def test_a_losing_concurrent_chunk_after_a_part_cannot_change_the_winners_bytes(make_service, sessions, meta, s3, bucket):
    data = random.Random(10).randbytes(6 * MiB)
    svc = make_service()
    upload_id = svc.start(NAME).id
    svc.append(svc.get(NAME, upload_id), io.BytesIO(data), len(data), None)
    winner, loser = make_service(), make_service()
    won, lost = winner.get(NAME, upload_id), loser.get(NAME, upload_id)
    ours, theirs = b"A" * 1000, b"B" * 1000
    winner.append(won, io.BytesIO(ours), len(ours), None)
    with pytest.raises(RangeInvalid):
        loser.append(lost, io.BytesIO(theirs), len(theirs), None)
    digest = Digest.of(data + ours)
    svc = make_service()
    svc.complete(svc.get(NAME, upload_id), digest, io.BytesIO(b""), 0, None)
    assert read_object(s3, bucket, paths.blob_key(str(digest))) == data + ours


def test_a_losing_concurrent_part_never_yields_wrong_bytes(make_service, sessions, meta, table, s3, bucket):
    # both requests write the same part number of one multipart upload; S3 keeps the later
    # one, so completing the winner's session either stores the winner's bytes or fails
    first = random.Random(11).randbytes(6 * MiB)
    svc = make_service()
    upload_id = svc.start(NAME).id
    svc.append(svc.get(NAME, upload_id), io.BytesIO(first), len(first), None)
    winner, loser = make_service(), make_service()
    won, lost = winner.get(NAME, upload_id), loser.get(NAME, upload_id)
    ours, theirs = b"A" * (6 * MiB), b"B" * (6 * MiB)
    winner.append(won, io.BytesIO(ours), len(ours), None)
    with pytest.raises(RangeInvalid):
        loser.append(lost, io.BytesIO(theirs), len(theirs), None)
    digest = Digest.of(first + ours)
    svc = make_service()
    try:
        svc.complete(svc.get(NAME, upload_id), digest, io.BytesIO(b""), 0, None)
    except UploadInvalid:
        assert_nothing_left(s3, bucket, meta, table, digest)
    else:
        assert read_object(s3, bucket, paths.blob_key(str(digest))) == first + ours


# -- sessions ------------------------------------------------------------------------------------
def test_sessions_expire(make_service, clock):
    svc = make_service()
    session = svc.start(NAME)
    assert session.expires_at == int(clock()) + TTL
    clock.now += TTL
    svc.get(NAME, session.id)
    clock.now += 1
    with pytest.raises(UploadNotFound):
        svc.get(NAME, session.id)


@pytest.mark.parametrize("upload_id", ["", "x" * 65, "../etc", "a b", "00000000-0000-0000-0000-000000000000"])
def test_unknown_or_implausible_ids(make_service, upload_id):
    with pytest.raises(UploadNotFound):
        make_service().get(NAME, upload_id)


def test_a_session_belongs_to_its_repository(make_service):
    svc = make_service()
    session = svc.start(NAME)
    with pytest.raises(UploadNotFound):
        svc.get("library/other", session.id)


def test_cancel_removes_everything(make_service, sessions, s3, bucket):
    svc = make_service()
    upload_id = svc.start(NAME).id
    data = random.Random(12).randbytes(6 * MiB + 10)
    svc.append(svc.get(NAME, upload_id), io.BytesIO(data[: 6 * MiB]), 6 * MiB, None)
    svc.append(svc.get(NAME, upload_id), io.BytesIO(data[6 * MiB :]), 10, None)
    assert open_multiparts(s3, bucket) and keys_under(s3, bucket, paths.UPLOADS_PREFIX)
    svc.cancel(svc.get(NAME, upload_id))
    assert sessions.get(upload_id) is None
    assert open_multiparts(s3, bucket) == []
    assert keys_under(s3, bucket) == []


def test_put_monolithic(make_service, meta, s3, bucket):
    data = b"monolithic"
    digest = Digest.of(data)
    assert make_service().put_monolithic(NAME, digest, data) == len(data)
    assert read_object(s3, bucket, paths.blob_key(str(digest))) == data
    assert meta.link_size(NAME, str(digest)) == len(data)
    with pytest.raises(InvalidDigest):
        make_service().put_monolithic(NAME, Digest.of(b"x"), data)
    assert keys_under(s3, bucket) == [paths.blob_key(str(digest))]
