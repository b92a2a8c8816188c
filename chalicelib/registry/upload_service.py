"""Blob uploads: the bytes written once, verified by digest, linked in one transaction.

A session is no database item: its progress (offset, sha256 state, multipart upload)
travels in the signed `_state` of its upload URL (chalicelib/registry/upload_tokens.py),
so a chunk costs only the S3 calls that store its bytes. Races are decided by S3: each
chunk claims its start offset with a conditional write (If-None-Match), so of two
requests at one offset one wins and the other gets 416.

Where the bytes go (docs/decisions/uploads-no-second-copy.md):
- the whole blob in one request with its digest (PUT or POST ?digest=): straight to the
  digest's own key, one PutObject (verified in memory first) or, when large, a multipart
  upload there that completes only if the digest matches;
- the first chunk of a session (docker, skopeo, podman send the whole layer in one
  PATCH): one PutObject to the session's own object, blobs/uploaded/<id>; a PUT that adds
  nothing links the blob to that object, which is never copied;
- more chunks: a chunk of 5 MiB or more becomes multipart parts of that same object
  (the first chunk's object joins as a part copied inside S3); smaller chunks are kept
  as pieces (uploads/<id>/<start>) and joined into a part of 5 MiB or more with later
  bytes, each read back once. So a chunk of any size works on every host.
"""
from __future__ import annotations

import base64
import hashlib
import io
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from chalicelib import resumable_hash
from chalicelib.errors import InvalidDigest, RangeInvalid, SizeInvalid, UploadGone, UploadInvalid, UploadNotFound
from chalicelib.meta.registry import RegistryMeta, UploadAlreadyComplete
from chalicelib.oci.digests import Digest
from chalicelib.storage import paths
from chalicelib.storage.blobs import BlobStore, ObjectExists

logger = logging.getLogger("berth.uploads")
SESSION_HASH = "sha256"
MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """S3's multipart rules and how much of a request is held in memory."""

    min_part: int = 5 * MiB  # S3's minimum for every part but the last
    part_size: int = 16 * MiB  # the parts a long body is cut into
    single_put: int = 32 * MiB  # a body up to this size is one PutObject
    max_parts: int = 10_000
    read_size: int = 1 * MiB


@dataclass
class UploadSession:
    id: str
    name: str
    expires_at: int
    offset: int = 0  # bytes received so far
    hash_state: bytes | None = None  # resumable sha256 over bytes 0..offset
    multipart_id: str | None = None  # multipart upload of blobs/uploaded/<id>
    parts_end: int = 0  # bytes in multipart parts; pieces hold parts_end..offset
    next_part: int = 1
    first_size: int = 0  # bytes of the first chunk's object (before any part)
    scratch: bool = False  # objects under uploads/<id>/ may exist

    @property
    def key(self) -> str:
        return paths.uploaded_key(self.id)

    @property
    def multipart(self) -> str:
        """The multipart upload of a session whose parts have begun (_Chunk._begin_parts)."""
        if self.multipart_id is None:
            raise RuntimeError(f"upload {self.id} has no multipart upload yet")
        return self.multipart_id

    def state(self) -> dict:
        """What the signed upload URL carries (defaults left out: short URLs)."""
        out: dict = {"o": self.offset}
        if self.hash_state is not None:
            out["h"] = base64.b64encode(self.hash_state).decode()
        if self.multipart_id:
            out.update(m=self.multipart_id, p=self.parts_end, c=self.next_part)
        if self.first_size:
            out["f"] = self.first_size
        if self.scratch:
            out["x"] = 1
        return out

    @classmethod
    def from_state(cls, upload_id: str, name: str, expires_at: int, state: dict) -> UploadSession:
        try:
            return cls(
                upload_id,
                name,
                expires_at,
                offset=int(state.get("o", 0)),
                hash_state=base64.b64decode(state["h"]) if state.get("h") else None,
                multipart_id=state.get("m") or None,
                parts_end=int(state.get("p", 0)),
                next_part=int(state.get("c", 1)),
                first_size=int(state.get("f", 0)),
                scratch=bool(state.get("x")),
            )
        except (TypeError, ValueError):
            raise UploadNotFound("upload state is invalid") from None


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
    """sha256 over the session's bytes (resumable where libcrypto allows), plus the
    claimed digest's own algorithm when the whole blob passes in this request."""

    def __init__(self, session: UploadSession, other: str | None = None):
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
            self.impl = hashlib.sha256() if session.offset == 0 else None  # type: ignore[assignment]  # hashlib's, when resuming is not available
        self.other = hashlib.new(other) if other and other != SESSION_HASH and session.offset == 0 else None

    def update(self, data: bytes) -> None:
        if self.impl is not None:
            self.impl.update(data)
        if self.other is not None:
            self.other.update(data)

    def state(self) -> bytes | None:
        return self.impl.state() if self.resumable and self.impl is not None else None

    def hexdigest(self, algorithm: str) -> str | None:
        """The digest of everything so far, if known without reading the bytes back."""
        if algorithm == SESSION_HASH:
            return self.impl.hexdigest() if self.impl is not None else None
        return self.other.hexdigest() if self.other is not None else None


class UploadService:
    def __init__(self, blobs: BlobStore, meta: RegistryMeta, clock: Callable[[], float], ttl_seconds: int,
                 limits: Limits = Limits()):
        self._blobs = blobs
        self._meta = meta
        self._clock = clock
        self._ttl = ttl_seconds
        self.limits = limits

    # -- sessions: no AWS call ------------------------------------------------------
    def start(self, name: str) -> UploadSession:
        now = self._clock()
        return UploadSession(id=paths.upload_id(now, uuid.uuid4().hex), name=name, expires_at=int(now) + self._ttl)

    def status(self, session: UploadSession) -> UploadSession:
        """GET: the session, unless it completed or was cancelled (one GetItem)."""
        if self._meta.upload_ended(session.id):
            raise UploadNotFound(f"upload {session.id} has ended", detail={"upload": session.id})
        return session

    def cancel(self, session: UploadSession) -> None:
        """End the session and remove what it wrote (never an object a finished upload linked).
        Idempotent: a cancel retried after a fault removes what the first one could not."""
        if not self._meta.end_upload(session.id, session.expires_at + self._ttl) and not self._meta.upload_cancelled(
            session.id
        ):
            raise UploadNotFound(f"upload {session.id} has completed", detail={"upload": session.id})
        if session.multipart_id:
            self._blobs.abort_multipart(session.key, session.multipart_id)
        self._remove_scratch(session)
        if session.offset:
            self._blobs.delete_keys([session.key])

    # -- writing ---------------------------------------------------------------
    def append(self, session: UploadSession, body: BinaryIO, length: int | None, content_range: ContentRange | None) -> UploadSession:
        """PATCH: add a chunk. The session is updated in place (the caller issues its new URL)."""
        _check_range(session, content_range, length)
        _Chunk(self, session, None).receive(body, content_range.length if content_range else length)
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
        """PUT ?digest=: take the last chunk (if any), verify, link the blob in the repository
        (only while `project`, if given, exists)."""
        _check_range(session, content_range, length)
        try:
            chunk = _Chunk(self, session, digest, project)
            return chunk.receive(body, content_range.length if content_range else length)
        except (InvalidDigest, UploadInvalid):
            # a wrong digest or lost data ends the session: none of its bytes stay
            self._discard(session)
            raise
        except UploadAlreadyComplete as exc:
            if exc.cancelled:
                raise UploadNotFound(f"upload {session.id} was cancelled", detail={"upload": session.id}) from None
            return session.offset  # a retried PUT of a session that completed: its link is there

    def put_monolithic(self, name: str, digest: Digest, data: bytes, *, project: str | None = None) -> int:
        """POST ?digest= with the whole blob in the body."""
        # no URL was issued; the session's id names the object its bytes go to
        session = self.start(name)
        return self.complete(session, digest, io.BytesIO(data), len(data), None, project=project)

    # -- helpers shared with _Chunk --------------------------------------------------
    def _remove_scratch(self, session: UploadSession) -> None:
        if session.scratch:
            self._blobs.delete_keys([o.key for o in self._blobs.list_objects(paths.upload_prefix(session.id))])

    def _discard(self, session: UploadSession) -> None:
        """After a failed verification: nothing of this session stays (unless a finished
        upload of this very session linked its object)."""
        try:
            self.cancel(session)
        except UploadNotFound:
            pass  # it had completed: its object is a blob's


class _Chunk:
    """One request's bytes (a PATCH, or the PUT that completes: `digest` set)."""

    def __init__(self, service: UploadService, session: UploadSession, digest: Digest | None, project: str | None = None):
        self.svc = service
        self.project = project
        self.blobs = service._blobs
        self.limits = service.limits
        self.session = session
        self.digest = digest
        self.start = session.offset
        # the whole blob in this one request, its digest known: its own key is the target
        self.direct = digest is not None and session.offset == 0
        self.hasher = _Hasher(session, digest.algorithm if digest else None)
        self.claim: str | None = None  # the object that claims this chunk's offset
        self.direct_multipart: str | None = None

    # -- the request body ------------------------------------------------------------
    def receive(self, body: BinaryIO, expected: int | None) -> int:
        session, limits = self.session, self.limits
        buf = bytearray()
        received = 0
        flushing = False
        pending = self._pending_size()
        try:
            while True:
                block = body.read(limits.read_size)
                if not block:
                    break
                received += len(block)
                if expected is not None and received > expected:
                    raise SizeInvalid(f"received more than the {expected} bytes announced")
                self.hasher.update(block)
                buf += block
                if not flushing and pending + len(buf) > self._hold_limit():
                    self._begin_parts(buf)
                    flushing, pending = True, 0
                if flushing:
                    self._flush(buf, keep=limits.part_size + limits.min_part)
            if expected is not None and received != expected:
                raise SizeInvalid(f"received {received} bytes, expected {expected}")
            if self.digest is None:
                self._end_chunk(buf, flushing)
                session.offset += received
                session.hash_state = self.hasher.state()
                return session.offset
            return self._end_upload(buf, flushing, received)
        except BaseException:
            self._abandon_chunk()
            raise

    def _hold_limit(self) -> int:
        """How many bytes (pending ones included) stay in memory before parts are written."""
        if self.session.offset == 0 and self.session.multipart_id is None:
            return self.limits.single_put
        return self.limits.part_size + self.limits.min_part

    def _pending_size(self) -> int:
        return self.session.offset - (self.session.parts_end if self.session.multipart_id else 0)

    # -- multipart ---------------------------------------------------------------------
    def _begin_parts(self, buf: bytearray) -> None:
        """This request writes multipart parts: claim its offset, open the multipart upload
        if needed, and put the bytes waiting from earlier chunks in front of `buf`."""
        session = self.session
        if self.direct:
            self.direct_multipart = self.blobs.start_multipart(self.session.key)
            return
        self._claim_offset(b"")
        if session.multipart_id is None:
            session.multipart_id = self.blobs.start_multipart(session.key)
            session.parts_end, session.next_part = 0, 1
        buf[0:0] = self._take_pending()

    def _take_pending(self, *, copy: bool = True) -> bytes:
        """The bytes after the last part, for the next part: the first chunk's object joins
        as a part copied inside S3 when it is large enough, else it and the pieces are read
        back (each once: they are then behind a part)."""
        session, head = self.session, bytearray()
        if session.first_size and session.parts_end == 0:
            if copy and session.first_size >= self.limits.min_part:
                self._add_part(lambda n: self.blobs.copy_part(session.key, session.multipart, n, session.key))
                session.parts_end = session.first_size
            else:
                head += self.blobs.get_object(session.key)
            session.first_size = 0
        if session.scratch:
            start = session.parts_end + len(head)
            for obj in self._pieces(start):
                head += self.blobs.get_object(obj.key)
        return bytes(head)

    def _pieces(self, start: int):
        """The chain of pieces from `start` to where this request's chunk begins (a piece is
        named by its start; a claim of a chunk that wrote parts is empty, never in the chain)."""
        found = {paths.piece_start(o.key): o for o in self.blobs.list_objects(paths.upload_prefix(self.session.id))}
        chain, at = [], start
        while at < self.start:
            obj = found.get(at)
            if obj is None or obj.size == 0:
                raise UploadInvalid("upload data expired or was removed; restart the upload")
            chain.append(obj)
            at += obj.size
        return chain

    def _flush(self, buf: bytearray, *, keep: int) -> None:
        """Write parts of part_size while more than `keep` bytes are in hand."""
        size = self.limits.part_size
        while len(buf) >= keep and len(buf) >= size:
            self._put_part(bytes(buf[:size]))
            del buf[:size]

    def _direct(self) -> str:
        """The multipart upload a direct PUT writes its parts to (started by its first part)."""
        if self.direct_multipart is None:
            raise RuntimeError(f"upload {self.session.id} has no direct multipart upload yet")
        return self.direct_multipart

    def _put_part(self, data: bytes) -> None:
        if self.direct:
            key, multipart = self.session.key, self._direct()
            self._direct_parts = getattr(self, "_direct_parts", [])
            number = len(self._direct_parts) + 1
            self._check_part_number(number)
            self._direct_parts.append((number, self.blobs.put_part(key, multipart, number, data)))
            return
        self._add_part(lambda n: self.blobs.put_part(self.session.key, self.session.multipart, n, data))
        self.session.parts_end += len(data)

    def _add_part(self, write: Callable[[int], str]) -> None:
        number = self.session.next_part
        self._check_part_number(number)
        write(number)
        self.session.next_part = number + 1

    def _check_part_number(self, number: int) -> None:
        if number > self.limits.max_parts:
            raise UploadInvalid(
                f"the upload needs more than {self.limits.max_parts} parts: send larger chunks"
            )

    # -- the end of a PATCH ------------------------------------------------------------
    def _end_chunk(self, buf: bytearray, flushing: bool) -> None:
        session = self.session
        if flushing:
            if len(buf) >= self.limits.min_part:
                self._put_part(bytes(buf))
            elif buf:
                self._put_piece(session.parts_end, bytes(buf), claim=False)
            return
        if not buf:
            return
        if session.offset == 0:
            # the first chunk: the session's own object (a PUT that adds nothing links it)
            self._claim_offset(bytes(buf))
            session.first_size = len(buf)
        else:
            self._put_piece(session.offset, bytes(buf), claim=True)

    def _put_piece(self, start: int, data: bytes, *, claim: bool) -> None:
        self.session.scratch = True
        if claim:
            self._claim_offset(data)
        else:
            # behind this request's own claim: no other writer can be here
            self.blobs.put_object(paths.piece_key(self.session.id, start), data)

    def _claim_offset(self, data: bytes) -> None:
        """One writer per offset: the chunk's first object is created only if none is there."""
        session = self.session
        key = session.key if self.start == 0 else paths.piece_key(session.id, self.start)
        if self.start != 0:
            session.scratch = True
        try:
            self.blobs.put_object(key, data, only_new=True)
        except ObjectExists:
            raise RangeInvalid(
                f"another request already wrote the chunk at {self.start} of this upload", offset=self.start
            ) from None
        self.claim = key

    def _abandon_chunk(self) -> None:
        """A chunk that failed releases its offset, so that the client can send it again."""
        if self.direct_multipart:
            self.blobs.abort_multipart(self.session.key, self.direct_multipart)
        if self.claim:
            try:
                self.blobs.delete_keys([self.claim])
            except Exception:  # best effort: the lifecycle and the clean-up remove it later
                logger.warning("could not release an upload's claim", extra={"key": self.claim}, exc_info=True)

    # -- the end of the upload (PUT) ---------------------------------------------------------
    def _end_upload(self, buf: bytearray, flushing: bool, received: int) -> int:
        session, digest = self.session, self.digest
        assert digest is not None
        size = session.offset + received
        if self.direct:
            return self._finish_direct(buf, flushing, size)
        session.offset = size  # so that a failure below removes everything (UploadService.cancel)
        if not flushing and session.multipart_id is None:
            if not buf and session.first_size == size and not session.scratch:
                # the blob is the first chunk's object: verify and link it, nothing moves
                self._verify(lambda: self.blobs.read_object(session.key))
                return self._link_uploaded(size)
            # small, in several chunks: join in memory (each piece read once) into the
            # session's own object (it holds the first chunk: this session's claim)
            whole = self._take_pending(copy=False) + bytes(buf)
            self._verify_bytes(whole)
            self.blobs.put_object(session.key, whole)
            return self._link_uploaded(size)
        try:
            if not flushing:
                self._begin_parts(buf)
            self._flush(buf, keep=self.limits.part_size + self.limits.min_part)
            if buf:
                self._put_part(bytes(buf))
            parts = self.blobs.list_parts(session.key, session.multipart)
            self.blobs.finish_multipart(session.key, session.multipart, parts)
        except UploadGone:
            # an earlier attempt of this PUT completed the multipart upload and failed
            # after: the retry finishes the job if the object holds the bytes it verified
            if not self._finished_before(size):
                raise
        session.multipart_id = None  # completed: nothing to abort any more
        self._verify(lambda: self.blobs.read_object(session.key))
        return self._link_uploaded(size)

    def _finished_before(self, size: int) -> bool:
        """The bytes of this session hash to the digest (the running hash, no read) and its
        object has their size: the object is the completed multipart upload of them."""
        digest = self.digest
        assert digest is not None
        if self.hasher.hexdigest(digest.algorithm) != digest.hex:
            return False
        found = [o for o in self.blobs.list_objects(self.session.key) if o.key == self.session.key]
        return bool(found) and found[0].size == size

    def _finish_direct(self, buf: bytearray, flushing: bool, size: int) -> int:
        # the session's own object, never the digest's key: an object another writer may
        # write is never one a garbage collection deletes (docs/decisions/garbage-collection.md)
        key = self.session.key
        if not flushing:
            self._verify_bytes(bytes(buf))
            self.blobs.put_object(key, bytes(buf))
        else:
            if buf:
                self._put_part(bytes(buf))
            # verified before the object appears: a wrong digest leaves nothing behind
            self._verify(None)
            self.blobs.finish_multipart(key, self._direct(), self._direct_parts)
            self.direct_multipart = None
        self.session.offset = size
        return self._link_uploaded(size)

    def _verify(self, read_back: Callable | None) -> None:
        digest = self.digest
        assert digest is not None
        actual = self.hasher.hexdigest(digest.algorithm)
        if actual is None and read_back is not None:
            h = hashlib.new(digest.algorithm)
            for block in read_back():
                h.update(block)
            actual = h.hexdigest()
        if actual != digest.hex:
            raise InvalidDigest(
                f"content digest {digest.algorithm}:{actual} does not match {digest}", detail={"digest": str(digest)}
            )

    def _verify_bytes(self, data: bytes) -> None:
        self._verify(lambda: iter([data]))

    def _link_uploaded(self, size: int) -> int:
        session = self.session
        linked = self.svc._meta.link_uploaded_blob(
            session.name,
            str(self.digest),
            size,
            int(self.svc._clock()),
            upload_id=session.id,
            key=session.key,
            project=self.project,
        )
        if linked != session.key:
            # the blob's bytes were there already: keep those, drop this copy
            self.blobs.delete_keys([session.key])
        self.svc._remove_scratch(session)
        return size

def _check_range(session: UploadSession, content_range: ContentRange | None, length: int | None) -> None:
    if content_range is None:
        return
    if content_range.start != session.offset:
        raise RangeInvalid(
            f"chunk starts at {content_range.start}, the upload is at {session.offset}", offset=session.offset
        )
    if length is not None and length != content_range.length:
        raise RangeInvalid("Content-Length does not match Content-Range", offset=session.offset)
