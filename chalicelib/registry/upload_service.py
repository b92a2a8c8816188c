"""Blob uploads: sessions as S3 multipart uploads, verified by digest.

Bytes are hashed as they stream through; the sha256 state is saved in the
session between requests (`chalicelib.resumable_hash`), so a chunked upload
is verified without reading the object back. Chunks become multipart parts;
bytes that do not yet make a 5 MiB part wait in a "tail" object and are
joined with the next chunk. A part's number is derived from its offset
(offset // 5 MiB + 1): parts of at least 5 MiB keep numbers increasing, and a
retried chunk rewrites the same part instead of adding a new one.
"""
from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from chalicelib import resumable_hash
from chalicelib.errors import InvalidDigest, RangeInvalid, SizeInvalid, UploadGone, UploadInvalid, UploadNotFound
from chalicelib.meta.registry import DynamoRegistryMeta
from chalicelib.meta.uploads import DynamoUploadSessions, UploadSession
from chalicelib.oci.digests import Digest
from chalicelib.storage import paths
from chalicelib.storage.blobs import BlobStore

MIN_PART = 5 * 1024 * 1024  # S3's minimum for every part but the last
PART_TARGET = 8 * 1024 * 1024  # what we flush while streaming
MAX_PARTS = 10_000
READ_SIZE = 1024 * 1024
SESSION_HASH = "sha256"


@dataclass(frozen=True)
class ContentRange:
    start: int
    end: int  # inclusive

    @classmethod
    def parse(cls, value: str | None) -> ContentRange | None:
        if value is None:
            return None
        text = value.strip()
        if text.startswith("bytes"):
            text = text[5:].lstrip(" =")
        start, sep, end = text.partition("-")
        if not sep or not start.isdigit() or not end.isdigit() or int(end) < int(start):
            raise RangeInvalid(f"invalid Content-Range {value[:100]!r}")
        return cls(int(start), int(end))

    @property
    def length(self) -> int:
        return self.end - self.start + 1


class _Hasher:
    """sha256 over the session's bytes: resumable if libcrypto allows, else per request."""

    def __init__(self, session: UploadSession):
        self.impl = None
        self.resumable = False
        try:
            if session.hash_state is not None:
                self.impl = resumable_hash.ResumableHash.restore(SESSION_HASH, session.hash_state)
                self.resumable = True
            elif session.offset == 0:
                self.impl = resumable_hash.ResumableHash.new(SESSION_HASH)
                self.resumable = True
        except resumable_hash.ResumableHashUnavailable:
            self.impl = hashlib.sha256() if session.offset == 0 else None

    def update(self, data: bytes) -> None:
        if self.impl is not None:
            self.impl.update(data)

    def state(self) -> bytes | None:
        return self.impl.state() if self.resumable and self.impl is not None else None

    def hexdigest(self) -> str | None:
        return self.impl.hexdigest() if self.impl is not None else None


class UploadService:
    def __init__(
        self,
        blobs: BlobStore,
        sessions: DynamoUploadSessions,
        meta: DynamoRegistryMeta,
        clock: Callable[[], float],
        ttl_seconds: int,
    ):
        self._blobs = blobs
        self._sessions = sessions
        self._meta = meta
        self._clock = clock
        self._ttl = ttl_seconds

    # -- sessions --------------------------------------------------------------
    def start(self, name: str) -> UploadSession:
        now = int(self._clock())
        session = UploadSession(id=str(uuid.uuid4()), name=name, created=now, expires_at=now + self._ttl)
        self._sessions.create(session)
        return session

    def get(self, name: str, upload_id: str) -> UploadSession:
        session = self._sessions.get(upload_id) if _plausible_id(upload_id) else None
        if session is None or session.name != name or session.expires_at < self._clock():
            raise UploadNotFound(f"upload {upload_id[:64]!r} is unknown or expired", detail={"upload": upload_id[:64]})
        return session

    def cancel(self, session: UploadSession) -> None:
        if session.multipart_id:
            self._blobs.abort_multipart(session.id, session.multipart_id)
        self._sessions.delete(session.id)
        self._blobs.delete_keys(_scratch([session.tail_key]))

    # -- writing ---------------------------------------------------------------
    def append(self, session: UploadSession, body: BinaryIO, length: int | None, content_range: ContentRange | None) -> UploadSession:
        """PATCH: add a chunk; returns the session as saved."""
        expected = session.offset
        old_tail = session.tail_key
        self._stream(session, body, length, content_range, final=False)
        self._sessions.save(session, expected_offset=expected)
        if old_tail != session.tail_key:
            self._blobs.delete_keys(_scratch([old_tail]))
        return session

    def complete(
        self,
        session: UploadSession,
        digest: Digest,
        body: BinaryIO,
        length: int | None,
        content_range: ContentRange | None,
        *,
        project: str | None = None,
    ) -> int:
        """PUT ?digest=: take the last chunk, verify, make the blob visible in the repository
        (only while `project`, if given, exists)."""
        old_tail = session.tail_key
        hasher, pending = self._stream(session, body, length, content_range, final=True)
        size = session.offset
        try:
            if session.multipart_id is None:
                if pending is None and not _already_in_place(session, digest, hasher):
                    pending = bytearray(self._read_tail(session))
                if pending is not None:
                    # one PutObject straight to the content-addressed key, no multipart
                    _verify(digest, pending, hasher)
                    self._blobs.put_blob(str(digest), bytes(pending))
            else:
                try:
                    if pending is None:
                        pending = bytearray(self._read_tail(session))
                    if pending:
                        self._flush_part(session, pending, session.offset - len(pending))
                    self._blobs.finish_multipart(session.id, session.multipart_id, session.parts)
                except UploadGone:
                    # an earlier attempt of this PUT completed the multipart upload and
                    # failed after: the retry finishes the job if the bytes it verified
                    # are at the blob's key (else the upload must start again)
                    if not self._finished_before(digest, hasher):
                        raise
                else:
                    self._verify_stored(session, digest, hasher)
                    if self._meta.blob_size(str(digest)) is None:
                        self._blobs.promote_upload(session.id, str(digest), size)
                    else:
                        self._blobs.delete_keys([paths.upload_data_key(session.id)])
        except (InvalidDigest, UploadInvalid):
            self._discard(session, old_tail)
            raise
        # the link, the blob record and the end of the session in one transaction
        self._meta.link_blob(
            session.name,
            str(digest),
            size,
            int(self._clock()),
            project=project,
            extra=[self._sessions.delete_op(session.id)],
        )
        self._blobs.delete_keys(_scratch([old_tail]))
        return size

    def put_monolithic(self, name: str, digest: Digest, data: bytes, *, project: str | None = None) -> int:
        """POST ?digest= with the whole blob in the body."""
        actual = hashlib.new(digest.algorithm, data).hexdigest()
        if actual != digest.hex:
            raise InvalidDigest(f"content digest {digest.algorithm}:{actual} does not match {digest}", detail={"digest": str(digest)})
        self._blobs.put_blob(str(digest), data)
        self._meta.link_blob(name, str(digest), len(data), int(self._clock()), project=project)
        return len(data)

    # -- internals -------------------------------------------------------------
    def _stream(
        self, session: UploadSession, body: BinaryIO, length: int | None, content_range: ContentRange | None, *, final: bool
    ) -> tuple[_Hasher, bytearray | None]:
        """Read the request body into parts; returns the hasher and the bytes after the
        last part (the old tail plus what arrived), or None when nothing arrived (the
        tail was then not read)."""
        if content_range is not None:
            if content_range.start != session.offset:
                raise RangeInvalid(
                    f"chunk starts at {content_range.start}, the upload is at {session.offset}", offset=session.offset
                )
            if length is not None and length != content_range.length:
                raise RangeInvalid("Content-Length does not match Content-Range", offset=session.offset)
        hasher = _Hasher(session)
        buffer: bytearray | None = None
        buffer_start = session.parts_size
        received = 0
        while True:
            chunk = body.read(READ_SIZE)
            if not chunk:
                break
            if buffer is None:
                buffer = bytearray(self._read_tail(session))
            received += len(chunk)
            hasher.update(chunk)
            buffer += chunk
            # keep at least a minimum part in hand, so the request's last bytes join a
            # part instead of waiting in a tail object
            if len(buffer) >= PART_TARGET + MIN_PART:
                self._flush_part(session, buffer[:PART_TARGET], buffer_start)
                buffer_start += PART_TARGET
                del buffer[:PART_TARGET]
        expected = content_range.length if content_range is not None else length
        if expected is not None and received != expected:
            raise SizeInvalid(f"received {received} bytes, expected {expected}")
        session.offset += received
        if buffer is None or final:
            return hasher, buffer
        if len(buffer) >= MIN_PART:
            self._flush_part(session, buffer, buffer_start)
            session.tail_key, session.tail_size = None, 0
        elif buffer:
            session.tail_key, session.tail_size = self._put_tail(session, buffer, buffer_start, hasher), len(buffer)
        else:
            session.tail_key, session.tail_size = None, 0
        session.hash_state = hasher.state()
        return hasher, buffer

    def _put_tail(self, session: UploadSession, buffer: bytearray, start: int, hasher: _Hasher) -> str:
        """Store bytes that do not make a part yet. With no parts, they are the whole blob
        so far, and their sha256 is known: store them under that digest's own key, so a
        PUT that adds nothing finds its blob already in place (no copy, no second read).
        Such an object is correct for its digest whatever happens next."""
        running = hasher.hexdigest()
        if session.multipart_id is None and start == 0 and running is not None:
            digest = f"{SESSION_HASH}:{running}"
            self._blobs.put_blob(digest, bytes(buffer))
            return paths.blob_key(digest)
        return self._blobs.put_tail(session.id, start, bytes(buffer))

    def _read_tail(self, session: UploadSession) -> bytes:
        return self._blobs.get_tail(session.tail_key) if session.tail_key else b""

    def _flush_part(self, session: UploadSession, data: bytearray, start: int) -> None:
        number = start // MIN_PART + 1
        if number > MAX_PARTS:
            raise UploadInvalid(f"blob exceeds the largest upload size ({MAX_PARTS * MIN_PART} bytes)")
        if session.multipart_id is None:
            session.multipart_id = self._blobs.start_multipart(session.id)
        etag = self._blobs.put_part(session.id, session.multipart_id, number, bytes(data))
        session.parts = [p for p in session.parts if p[0] != number] + [(number, etag)]

    def _verify_stored(self, session: UploadSession, digest: Digest, hasher: _Hasher) -> None:
        if digest.algorithm == SESSION_HASH and hasher.hexdigest() is not None:
            actual = hasher.hexdigest()
        else:
            h = hashlib.new(digest.algorithm)
            for chunk in self._blobs.read_upload(session.id):
                h.update(chunk)
            actual = h.hexdigest()
        if actual != digest.hex:
            raise InvalidDigest(f"content digest {digest.algorithm}:{actual} does not match {digest}", detail={"digest": str(digest)})

    def _finished_before(self, digest: Digest, hasher: _Hasher) -> bool:
        """The session's bytes hash to `digest` (the running hash, no read) and the blob's
        key holds bytes: those are the same bytes, as a blob key only ever holds bytes
        verified against its digest."""
        verified = digest.algorithm == SESSION_HASH and hasher.hexdigest() == digest.hex
        return verified and self._blobs.blob_exists(str(digest))

    def _discard(self, session: UploadSession, old_tail: str | None) -> None:
        if session.multipart_id:
            self._blobs.abort_multipart(session.id, session.multipart_id)
        self._blobs.delete_keys(_scratch([old_tail, paths.upload_data_key(session.id)]))
        self._sessions.delete(session.id)


def _scratch(keys: list[str | None]) -> list[str]:
    """The keys that are upload scratch. A tail kept under a blob's own key is never
    deleted here: another repository may hold that very blob."""
    return [k for k in keys if k and k.startswith(paths.UPLOADS_PREFIX)]


def _already_in_place(session: UploadSession, digest: Digest, hasher: _Hasher) -> bool:
    """The session's bytes sit under the claimed digest's key and hash to it."""
    return (
        digest.algorithm == SESSION_HASH
        and session.tail_key == paths.blob_key(str(digest))
        and hasher.hexdigest() == digest.hex
    )


def _verify(digest: Digest, data: bytearray, hasher: _Hasher) -> None:
    if digest.algorithm == SESSION_HASH and hasher.hexdigest() is not None:
        actual = hasher.hexdigest()
    else:
        # no usable running hash (or another algorithm): all the bytes are in memory
        actual = hashlib.new(digest.algorithm, data).hexdigest()
    if actual != digest.hex:
        raise InvalidDigest(f"content digest {digest.algorithm}:{actual} does not match {digest}", detail={"digest": str(digest)})


def _plausible_id(upload_id: str) -> bool:
    return 0 < len(upload_id) <= 64 and all(c.isalnum() or c == "-" for c in upload_id)
