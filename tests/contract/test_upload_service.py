"""UploadService over S3 and DynamoDB on moto: chunked uploads land byte-exact, verified,
written once; anything that fails verification, is cancelled or abandoned leaves nothing.

Sizes are scaled down 64 times: S3's smallest part (moto's S3_UPLOAD_PART_MIN_SIZE, which
moto documents for this) and the service's limits alike, so a "MiB" here (UNIT) is 16 KiB
and every boundary sits where production's does in proportion (at full size, these
tests pushed about a GiB through moto). The test at the end runs production's limits on
S3's real minimum."""
from __future__ import annotations

import collections
import io
import random
import time

import pytest

from chalicelib import resumable_hash
from chalicelib.errors import (
    InvalidDigest,
    RangeInvalid,
    SizeInvalid,
    UploadNotFound,
)
from chalicelib.oci.digests import Digest
from chalicelib.registry.maintenance import clean_up_uploads
from chalicelib.registry.upload_service import ContentRange, Limits, UploadService, UploadSession
from chalicelib.storage import paths
from tests.contract.helpers import keys_under, open_multiparts, read_object

MiB = 1024 * 1024
SCALE = 64
UNIT = MiB // SCALE  # the tests' "MiB"
NAME = "library/app"
TTL = 3600
PRODUCTION = Limits()
LIMITS = Limits(
    min_part=PRODUCTION.min_part // SCALE,
    part_size=PRODUCTION.part_size // SCALE,
    single_put=PRODUCTION.single_put // SCALE,
    read_size=PRODUCTION.read_size // SCALE,
)
MIN_PART, PART_SIZE, SINGLE_PUT = LIMITS.min_part, LIMITS.part_size, LIMITS.single_put
S3_MIN_PART = 5 * MiB


class CountingStore:
    """The real blob store, counting read-backs: whole objects read to verify a digest, and
    each object read to be joined into a part (at most once each)."""

    def __init__(self, inner):
        self.inner = inner
        self.read_backs = 0
        self.reads: collections.Counter = collections.Counter()

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def read_object(self, key):
        self.read_backs += 1
        return self.inner.read_object(key)

    def get_object(self, key):
        self.reads[key] += 1
        return self.inner.get_object(key)


@pytest.fixture
def store(blob_store) -> CountingStore:
    return CountingStore(blob_store)


@pytest.fixture
def make_service(store, meta, clock, monkeypatch):
    """A new UploadService per request, as separate Lambda instances would build them, with
    the scaled limits, on an S3 whose smallest part is scaled alike."""
    import moto.s3.models

    assert moto.s3.models.S3_UPLOAD_PART_MIN_SIZE == S3_MIN_PART  # what the scale stands for
    monkeypatch.setattr(moto.s3.models, "S3_UPLOAD_PART_MIN_SIZE", S3_MIN_PART // SCALE)
    return lambda: UploadService(store, meta, clock, TTL, LIMITS)


@pytest.fixture
def make_production_service(store, meta, clock):
    """As make_service, with production's limits, on S3's own smallest part."""
    import moto.s3.models

    assert moto.s3.models.S3_UPLOAD_PART_MIN_SIZE == S3_MIN_PART
    return lambda: UploadService(store, meta, clock, TTL)


@pytest.fixture
def hash_unavailable(monkeypatch):
    def unavailable(cls, *args, **kwargs):
        raise resumable_hash.ResumableHashUnavailable("libcrypto disabled by the test")

    monkeypatch.setattr(resumable_hash.ResumableHash, "new", classmethod(unavailable))
    monkeypatch.setattr(resumable_hash.ResumableHash, "restore", classmethod(unavailable))


def via_url(session: UploadSession) -> UploadSession:
    """The session as the next request sees it: rebuilt from the state its URL carries."""
    return UploadSession.from_state(session.id, session.name, session.expires_at, dict(session.state()))


def push(make_service, data: bytes, sizes: list[int], digest: Digest, *, rng=None, name=NAME) -> UploadSession:
    """POST, one PATCH per size (each through a fresh service), PUT with the rest."""
    session = make_service().start(name)
    offset = 0
    for size in sizes:
        chunk = data[offset : offset + size]
        svc = make_service()
        session = via_url(session)
        style = rng.randrange(3) if rng else 0
        if style == 0:  # Content-Range and Content-Length
            svc.append(session, io.BytesIO(chunk), size, ContentRange(offset, offset + size - 1))
        elif style == 1:  # chunked transfer encoding, no range (docker's single PATCH)
            svc.append(session, io.BytesIO(chunk), None, None)
        else:
            svc.append(session, io.BytesIO(chunk), size, None)
        offset += size
        assert session.offset == offset
    rest = data[offset:]
    svc = make_service()
    assert svc.complete(via_url(session), digest, io.BytesIO(rest), len(rest), None) == len(data)
    return session


def stored_key(meta, digest: Digest, name=NAME) -> str:
    link = meta.get_link(name, str(digest))
    assert link is not None
    return link.key or paths.blob_key(str(digest))


def assert_stored(s3, bucket, meta, data: bytes, digest: Digest, name=NAME):
    key = stored_key(meta, digest, name)
    assert read_object(s3, bucket, key) == data
    assert meta.link_size(name, str(digest)) == len(data)
    assert meta.blob_size(str(digest)) == len(data)
    assert keys_under(s3, bucket, paths.UPLOADS_PREFIX) == []
    assert open_multiparts(s3, bucket) == []
    # one copy of the bytes: the object the link names, and no other
    assert key in keys_under(s3, bucket, "blobs/")


def assert_nothing_left(s3, bucket, meta, digest: Digest, name=NAME):
    assert keys_under(s3, bucket) == []
    assert open_multiparts(s3, bucket) == []
    assert meta.link_size(name, str(digest)) is None
    assert meta.blob_size(str(digest)) is None


def random_sizes(rng: random.Random, total: int) -> list[int]:
    """Chunk sizes from 1 byte to 12 (scaled) MiB, favouring the part-size boundaries."""
    sizes, remaining = [], total
    while remaining:
        kind = rng.random()
        if kind < 0.2:
            size = rng.randint(1, 64)
        elif kind < 0.35:
            size = rng.randint(1, UNIT)
        elif kind < 0.65:
            size = rng.choice([MIN_PART - 1, MIN_PART, MIN_PART + 1, PART_SIZE - 1, PART_SIZE, PART_SIZE + 1, 12 * UNIT])
        else:
            size = rng.randint(1, 12 * UNIT)
        size = min(size, remaining)
        sizes.append(size)
        remaining -= size
    return sizes


# -- random splits -------------------------------------------------------------------------
@pytest.mark.parametrize("seed", range(8))
def test_random_chunk_splits_store_exact_bytes(seed, make_service, store, meta, s3, bucket):
    rng = random.Random(seed)
    total = rng.choice([1, 777, MIN_PART, PART_SIZE + 1, 13 * UNIT + 7, rng.randint(1, 40 * UNIT), 40 * UNIT])
    if seed == 0:
        total = 40 * UNIT  # at least one upload beyond a single PutObject
    data = rng.randbytes(total)
    sizes = random_sizes(rng, total)
    if rng.random() < 0.5:  # the PUT carries the last chunk, or nothing
        sizes = sizes[:-1]
    digest = Digest.of(data)
    push(make_service, data, sizes, digest, rng=rng)
    assert_stored(s3, bucket, meta, data, digest)
    # every chunk was verified from the saved hash state, never by reading back, and no
    # piece was read more than once to be joined into a part
    assert store.read_backs == 0
    assert all(n == 1 for n in store.reads.values()), store.reads


@pytest.mark.parametrize(
    "sizes",
    [
        pytest.param([], id="single-put"),
        pytest.param([1] * 5, id="single-bytes"),
        pytest.param([MIN_PART - 1, 1, 1], id="pieces-reach-part-size"),
        pytest.param([MIN_PART], id="exact-part"),
        pytest.param([PART_SIZE], id="exact-part-size"),
        pytest.param([SINGLE_PUT + 1], id="beyond-one-put"),
        pytest.param([3 * UNIT] * 8, id="pieces-join-into-parts"),
        pytest.param([4 * UNIT] * 6, id="lambda-sized-chunks"),
        pytest.param([12 * UNIT, 1, 12 * UNIT], id="large-small-large"),
        pytest.param([6 * UNIT, 6 * UNIT], id="first-object-copied-as-a-part"),
    ],
)
def test_boundary_splits(sizes, make_service, store, meta, s3, bucket):
    data = random.Random(len(sizes)).randbytes(sum(sizes) + 1000)
    digest = Digest.of(data)
    push(make_service, data, sizes, digest)
    assert_stored(s3, bucket, meta, data, digest)
    assert store.read_backs == 0
    assert all(n == 1 for n in store.reads.values()), store.reads


def test_one_patch_then_an_empty_put_links_the_object_it_wrote(make_service, store, meta, s3, bucket):
    """docker, skopeo, podman: the layer in one PATCH; nothing is copied or read back."""
    data = random.Random(21).randbytes(9 * UNIT)
    digest = Digest.of(data)
    session = push(make_service, data, [len(data)], digest)
    assert stored_key(meta, digest) == paths.uploaded_key(session.id)
    assert keys_under(s3, bucket) == [paths.uploaded_key(session.id)]
    assert store.read_backs == 0 and not store.reads


def test_a_whole_blob_with_its_digest_goes_to_its_own_key(make_service, store, meta, s3, bucket):
    """containerd, oras: the layer in the PUT; beyond one PutObject, a multipart upload that
    completes under the session's own key (never the digest's: no other writer ever writes
    it, so garbage collection can delete it) only once the digest matched."""
    data = random.Random(22).randbytes(SINGLE_PUT + UNIT)
    digest = Digest.of(data)
    session = push(make_service, data, [], digest)
    assert keys_under(s3, bucket) == [paths.uploaded_key(session.id)]
    assert_stored(s3, bucket, meta, data, digest)


def test_hash_state_is_saved_after_every_chunk(make_service):
    svc = make_service()
    session = svc.start(NAME)
    states = []
    for chunk in (b"a" * 100, b"b" * (6 * UNIT), b"c"):
        session = via_url(session)
        svc.append(session, io.BytesIO(chunk), len(chunk), None)
        states.append(session.hash_state)
    assert all(states) and len(set(states)) == 3


def test_empty_blob(make_service, meta, s3, bucket):
    digest = Digest.of(b"")
    push(make_service, b"", [], digest)
    assert_stored(s3, bucket, meta, b"", digest)


@pytest.mark.parametrize("sizes", [[], [100], [6 * UNIT, 100]], ids=["in-memory", "tail", "multipart"])
def test_sha512_digest_verifies(sizes, make_service, store, meta, s3, bucket):
    data = random.Random(3).randbytes(sum(sizes) + 500)
    digest = Digest.of(data, "sha512")
    push(make_service, data, sizes, digest)
    assert_stored(s3, bucket, meta, data, digest)


def test_a_blob_already_stored_is_kept_once(make_service, store, meta, s3, bucket):
    data = random.Random(4).randbytes(7 * UNIT)
    digest = Digest.of(data)
    first = push(make_service, data, [7 * UNIT], digest)
    push(make_service, data, [7 * UNIT], digest, name="other/repo")
    assert_stored(s3, bucket, meta, data, digest, name="other/repo")
    # both repositories name the first upload's object; the second's copy is gone
    assert stored_key(meta, digest) == stored_key(meta, digest, "other/repo") == paths.uploaded_key(first.id)
    assert keys_under(s3, bucket) == [paths.uploaded_key(first.id)]


# -- failed verification -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "sizes",
    [
        pytest.param([], id="single-put"),
        pytest.param([100], id="first-object"),
        pytest.param([100, 100], id="pieces"),
        pytest.param([6 * UNIT, 100], id="first-object-and-piece"),
        pytest.param([SINGLE_PUT + UNIT], id="multipart"),
        pytest.param([SINGLE_PUT + UNIT, 3 * UNIT], id="multipart-and-piece"),
    ],
)
@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_a_wrong_digest_discards_everything(sizes, algorithm, make_service, meta, s3, bucket):
    data = random.Random(5).randbytes(sum(sizes) + 1000)
    wrong = Digest.of(data + b"!", algorithm)
    with pytest.raises(InvalidDigest):
        push(make_service, data, sizes, wrong)
    assert_nothing_left(s3, bucket, meta, wrong)
    assert meta.blob_size(str(Digest.of(data))) is None


def test_after_a_wrong_digest_the_session_is_over(make_service):
    svc = make_service()
    session = svc.start(NAME)
    svc.append(session, io.BytesIO(b"abc"), 3, None)
    with pytest.raises(InvalidDigest):
        svc.complete(via_url(session), Digest.of(b"abd"), io.BytesIO(b""), 0, None)
    with pytest.raises(UploadNotFound):
        make_service().status(via_url(session))
    with pytest.raises(UploadNotFound):
        make_service().complete(via_url(session), Digest.of(b"abc"), io.BytesIO(b""), 0, None)


# -- without libcrypto: verify by reading back from S3 ----------------------------------------------
@pytest.mark.parametrize(
    "sizes",
    [[], [100, 200], [6 * UNIT], [MIN_PART - 1, 1], [1, SINGLE_PUT + UNIT, 3 * UNIT, 7]],
    ids=["single-put", "pieces", "first-object", "pieces-to-part", "mixed"],
)
def test_without_resumable_hash_uploads_still_verify(sizes, hash_unavailable, make_service, store, meta, s3, bucket):
    data = random.Random(6).randbytes(sum(sizes) + 321)
    digest = Digest.of(data)
    push(make_service, data, sizes, digest)
    assert_stored(s3, bucket, meta, data, digest)


def test_without_resumable_hash_chunks_save_no_state_and_read_back(hash_unavailable, make_service, store, meta, s3, bucket):
    data = random.Random(7).randbytes(11 * UNIT)
    digest = Digest.of(data)
    svc = make_service()
    session = svc.start(NAME)
    svc.append(session, io.BytesIO(data[: 6 * UNIT]), 6 * UNIT, None)
    assert session.hash_state is None
    svc.complete(via_url(session), digest, io.BytesIO(data[6 * UNIT :]), None, None)
    assert_stored(s3, bucket, meta, data, digest)


@pytest.mark.parametrize("sizes", [[100, 100], [SINGLE_PUT + UNIT, 100]], ids=["in-memory", "multipart"])
def test_without_resumable_hash_a_wrong_digest_still_fails(sizes, hash_unavailable, make_service, meta, s3, bucket):
    data = random.Random(8).randbytes(sum(sizes) + 10)
    wrong = Digest.of(b"something else")
    with pytest.raises(InvalidDigest):
        push(make_service, data, sizes, wrong)
    assert_nothing_left(s3, bucket, meta, wrong)


def test_libcrypto_lost_mid_upload(make_service, store, meta, s3, bucket, monkeypatch):
    # the first chunks were hashed on an instance with libcrypto, the rest on one without
    data = random.Random(9).randbytes(13 * UNIT)
    digest = Digest.of(data)
    svc = make_service()
    session = svc.start(NAME)
    svc.append(session, io.BytesIO(data[:UNIT]), UNIT, None)
    assert session.hash_state is not None

    def unavailable(cls, *args, **kwargs):
        raise resumable_hash.ResumableHashUnavailable("gone")

    monkeypatch.setattr(resumable_hash.ResumableHash, "restore", classmethod(unavailable))
    monkeypatch.setattr(resumable_hash.ResumableHash, "new", classmethod(unavailable))
    session = via_url(session)
    make_service().append(session, io.BytesIO(data[UNIT : 8 * UNIT]), 7 * UNIT, None)
    make_service().complete(via_url(session), digest, io.BytesIO(data[8 * UNIT :]), None, None)
    assert_stored(s3, bucket, meta, data, digest)


# -- ranges, sizes and races ---------------------------------------------------------------------
def test_a_chunk_must_continue_the_upload(make_service):
    svc = make_service()
    session = svc.start(NAME)
    svc.append(session, io.BytesIO(b"abc"), 3, ContentRange(0, 2))
    for bad in (ContentRange(0, 2), ContentRange(4, 6), ContentRange(2, 4)):
        attempt = via_url(session)
        with pytest.raises(RangeInvalid) as caught:
            svc.append(attempt, io.BytesIO(b"def"), 3, bad)
        assert caught.value.offset == 3
    # and it continues from where it was
    session = via_url(session)
    svc.append(session, io.BytesIO(b"def"), 3, ContentRange(3, 5))
    svc.complete(via_url(session), Digest.of(b"abcdef"), io.BytesIO(b""), 0, None)


def test_content_length_must_match_content_range(make_service):
    svc = make_service()
    session = svc.start(NAME)
    with pytest.raises(RangeInvalid):
        svc.append(session, io.BytesIO(b"abcd"), 4, ContentRange(0, 2))


@pytest.mark.parametrize("length, content_range", [(10, None), (None, ContentRange(0, 9)), (2, None)])
@pytest.mark.parametrize("before", [0, 100, 6 * UNIT], ids=["first", "after-first", "after-part-sized"])
def test_a_failed_chunk_changes_nothing_and_can_be_sent_again(length, content_range, before, make_service, meta, s3, bucket):
    data = random.Random(13).randbytes(before + 3)
    svc = make_service()
    session = svc.start(NAME)
    if before:
        svc.append(session, io.BytesIO(data[:before]), before, None)
    if content_range:
        content_range = ContentRange(before, before + 9)
    with pytest.raises(SizeInvalid):
        svc.append(via_url(session), io.BytesIO(data[before:]), length, content_range)
    # the same chunk again, whole, from the same URL
    session = via_url(session)
    svc.append(session, io.BytesIO(data[before:]), 3, None)
    assert session.offset == len(data)
    svc.complete(via_url(session), Digest.of(data), io.BytesIO(b""), 0, None)
    assert_stored(s3, bucket, meta, data, Digest.of(data))


@pytest.mark.parametrize("before", [0, 1000, 6 * UNIT], ids=["first", "after-first", "after-part-sized"])
@pytest.mark.parametrize("size", [1000, SINGLE_PUT + UNIT], ids=["small", "with-parts"])
def test_two_chunks_at_one_offset_one_wins(before, size, make_service, meta, s3, bucket):
    """Two PATCHes from the same URL: the loser gets 416 and cannot change the winner's bytes."""
    head = random.Random(10).randbytes(before)
    svc = make_service()
    session = svc.start(NAME)
    if before:
        svc.append(session, io.BytesIO(head), before, None)
    won, lost = via_url(session), via_url(session)
    ours, theirs = b"A" * size, b"B" * size
    make_service().append(won, io.BytesIO(ours), len(ours), None)
    with pytest.raises(RangeInvalid):
        make_service().append(lost, io.BytesIO(theirs), len(theirs), None)
    digest = Digest.of(head + ours)
    make_service().complete(via_url(won), digest, io.BytesIO(b""), 0, None)
    assert_stored(s3, bucket, meta, head + ours, digest)


# -- sessions ------------------------------------------------------------------------------------
def test_sessions_expire_with_their_url(make_service, clock):
    svc = make_service()
    session = svc.start(NAME)
    assert session.expires_at == int(clock()) + TTL


def test_cancel_removes_everything(make_service, meta, s3, bucket):
    svc = make_service()
    session = svc.start(NAME)
    data = random.Random(12).randbytes(SINGLE_PUT + UNIT + 10)
    svc.append(session, io.BytesIO(data[: SINGLE_PUT + UNIT]), SINGLE_PUT + UNIT, None)
    session = via_url(session)
    svc.append(session, io.BytesIO(data[SINGLE_PUT + UNIT :]), 10, None)
    assert open_multiparts(s3, bucket) and keys_under(s3, bucket, paths.UPLOADS_PREFIX)
    svc.cancel(via_url(session))
    assert open_multiparts(s3, bucket) == []
    assert keys_under(s3, bucket) == []
    with pytest.raises(UploadNotFound):
        svc.status(via_url(session))
    svc.cancel(via_url(session))  # idempotent: a retried cancel succeeds


def test_cancel_after_completion_keeps_the_blob(make_service, meta, s3, bucket):
    data = b"x" * 1000
    session = push(make_service, data, [1000], Digest.of(data))
    with pytest.raises(UploadNotFound):
        make_service().cancel(via_url(session))
    assert_stored(s3, bucket, meta, data, Digest.of(data))


@pytest.mark.parametrize(
    "sizes",
    [[100], [100, 100], [SINGLE_PUT + UNIT], [SINGLE_PUT + UNIT, 3 * UNIT]],
    ids=["first-object", "pieces", "multipart", "multipart-and-piece"],
)
def test_the_clean_up_removes_what_an_abandoned_upload_left(sizes, make_service, meta, clock, store, s3, bucket):
    # a finished upload, whose object the clean-up must keep
    kept = b"kept" * 100
    push(make_service, kept, [len(kept)], Digest.of(kept))
    session = make_service().start(NAME)
    data = random.Random(14).randbytes(sum(sizes))
    offset = 0
    for size in sizes:
        session = via_url(session)
        make_service().append(session, io.BytesIO(data[offset : offset + size]), size, None)
        offset += size
    assert keys_under(s3, bucket, paths.UPLOADED_PREFIX + session.id) or open_multiparts(s3, bucket)
    # within the session's life no object is touched (S3 dates its objects by the real clock;
    # moto dates every multipart upload in 2010, so those go now)
    counts = clean_up_uploads(store, meta, time.time(), TTL)
    assert counts["scratch"] == counts["orphans"] == 0
    later = time.time() + TTL + 3600
    counts = clean_up_uploads(store, meta, later, TTL)
    assert counts["orphans"] + counts["aborted"] >= 1
    assert open_multiparts(s3, bucket) == []
    assert keys_under(s3, bucket) == [stored_key(meta, Digest.of(kept))]
    assert_stored(s3, bucket, meta, kept, Digest.of(kept))


def test_put_monolithic(make_service, meta, s3, bucket):
    data = b"monolithic"
    digest = Digest.of(data)
    assert make_service().put_monolithic(NAME, digest, data) == len(data)
    assert read_object(s3, bucket, stored_key(meta, digest)) == data
    assert stored_key(meta, digest).startswith(paths.UPLOADED_PREFIX)
    assert meta.link_size(NAME, str(digest)) == len(data)
    with pytest.raises(InvalidDigest):
        make_service().put_monolithic(NAME, Digest.of(b"x"), data)
    assert keys_under(s3, bucket) == [stored_key(meta, digest)]


# -- production's limits, on S3's real smallest part -------------------------------------------
def test_production_limits_make_parts_s3_takes(make_production_service, store, meta, s3, bucket):
    """Parts in all three ways at S3's real sizes: the first chunk's object (at least S3's
    smallest part) copied inside S3 as the first part, unread; a piece read once and joined
    to the next chunk's bytes into a part; the PUT's bytes as the last part."""
    sizes = [6 * MiB, 3 * MiB, 16 * MiB]
    data = random.Random(30).randbytes(sum(sizes) + 1000)
    digest = Digest.of(data)
    session = push(make_production_service, data, sizes, digest)
    assert_stored(s3, bucket, meta, data, digest)
    assert store.read_backs == 0
    assert paths.uploaded_key(session.id) not in store.reads
    assert list(store.reads.values()) == [1]  # the piece
