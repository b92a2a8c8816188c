"""Resumable SHA-256 / SHA-512 whose state survives between HTTP requests.

A blob upload session spans many requests (POST, PATCH..., PUT), possibly on
different Lambda instances. To verify the digest without reading the bytes back
from S3 we hash while streaming and keep the hash state with the session.
Python's ``hashlib`` objects cannot be serialized, so this module drives
OpenSSL's low-level ``SHA256_*`` / ``SHA512_*`` functions through ctypes, where
the whole state is a small plain struct (``SHA256_CTX``: 112 bytes,
``SHA512_CTX``: 216 bytes) that can be copied out and back in.

The state blob returned by :meth:`ResumableHash.state` is opaque:

    magic  b"BRH"  (3 bytes)
    format version (1 byte, currently 1)
    algorithm id   (1 byte: 1 = sha256, 2 = sha512)
    reserved       (1 byte, 0)
    ctx size       (2 bytes, big endian)
    ctx bytes      (ctx size bytes, native layout of OpenSSL's struct)
    check          (8 bytes: first 8 bytes of sha256 over everything before)

:meth:`ResumableHash.restore` refuses (``ValueError``) a state with another
magic, version, algorithm or size, a bad check, or a ctx whose fields are not
plausible (``md_len``, ``num``, bit counter). The check detects corruption, not
forgery: the state must be stored where clients cannot write it (the upload
session record), or protected by the caller's own MAC.

If libcrypto cannot be loaded (or its self-test fails), :meth:`new` and
:meth:`restore` raise :class:`ResumableHashUnavailable`; callers then verify by
reading the bytes back. The library is loaded lazily, on first use, so importing
this module is cheap. Each object owns its own ctx, so objects may be used from
different threads (one object must not be updated concurrently); ctypes releases
the GIL during the OpenSSL calls, so hashing in threads runs in parallel.
"""
from __future__ import annotations

import ctypes
import hashlib
import struct
import threading
from typing import Any

__all__ = ["ResumableHash", "ResumableHashUnavailable", "available"]

_MAGIC = b"BRH"
_VERSION = 1
_HEADER = struct.Struct(">3sBBBH")
_CHECK_LEN = 8


class ResumableHashUnavailable(RuntimeError):
    """libcrypto could not be loaded or failed its self-test."""


class _Algo:
    """What we need to know about one algorithm's OpenSSL context struct."""

    def __init__(self, name: str, ident: int, ctx_size: int, digest_size: int,
                 block_size: int, counter_fmt: str, num_offset: int) -> None:
        self.name = name
        self.ident = ident
        self.ctx_size = ctx_size
        self.digest_size = digest_size
        self.block_size = block_size
        # Layout of the bit counter (Nl, Nh) right after the 8 state words, and of
        # the trailing (num, md_len) unsigned ints.
        self.counter_fmt = counter_fmt
        self.counter_offset = 8 * struct.calcsize(counter_fmt[1])
        self.num_offset = num_offset
        # filled by _ensure_loaded with libcrypto's functions
        self.init: Any = None
        self.update: Any = None
        self.final: Any = None


# SHA256_CTX: SHA_LONG h[8]; SHA_LONG Nl, Nh; SHA_LONG data[16]; unsigned int num, md_len;
#   4*8 + 4*2 + 4*16 + 4 + 4 = 112
# SHA512_CTX: SHA_LONG64 h[8]; SHA_LONG64 Nl, Nh; union { u64 d[16]; u8 p[128]; } u;
#   unsigned int num, md_len;  8*8 + 8*2 + 128 + 4 + 4 = 216
_ALGOS = {
    "sha256": _Algo("sha256", 1, 112, 32, 64, "=II", 104),
    "sha512": _Algo("sha512", 2, 216, 64, 128, "=QQ", 208),
}
_BY_IDENT = {a.ident: a for a in _ALGOS.values()}

_lock = threading.Lock()
_loaded = False
_lib: ctypes.CDLL | None = None
_load_error: str | None = None


def _candidates() -> list[str]:
    import ctypes.util  # imports subprocess/shutil: keep it off the import path

    names = []
    found = ctypes.util.find_library("crypto")
    if found:
        names.append(found)
    for name in ("libcrypto.so.3", "libcrypto.so.1.1", "libcrypto.so", "libcrypto.dylib"):
        if name not in names:
            names.append(name)
    return names


def _bind(lib: ctypes.CDLL) -> None:
    for prefix, algo in (("SHA256", _ALGOS["sha256"]), ("SHA512", _ALGOS["sha512"])):
        init = getattr(lib, f"{prefix}_Init")
        init.argtypes = [ctypes.c_void_p]
        init.restype = ctypes.c_int
        update = getattr(lib, f"{prefix}_Update")
        update.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t]
        update.restype = ctypes.c_int
        final = getattr(lib, f"{prefix}_Final")
        final.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        final.restype = ctypes.c_int
        algo.init, algo.update, algo.final = init, update, final


def _self_test() -> None:
    data = b"abc" + bytes(range(256)) * 3  # crosses both block sizes
    for name in _ALGOS:
        for cut in (1, 2, 3, 64, 130, len(data)):
            h = ResumableHash._new_unchecked(name)
            h.update(data[:cut])
            h2 = ResumableHash._restore_unchecked(name, h.state())
            h2.update(data[cut:])
            want = hashlib.new(name, data).hexdigest()
            # Twice: finalizing must not consume the state.
            if h2.hexdigest() != want or h2.hexdigest() != want:
                raise ResumableHashUnavailable(f"libcrypto {name} self-test failed")
        empty = ResumableHash._new_unchecked(name)
        if empty.hexdigest() != hashlib.new(name).hexdigest():
            raise ResumableHashUnavailable(f"libcrypto {name} self-test failed (empty)")


def _ensure_loaded() -> None:
    global _loaded, _lib, _load_error
    if _loaded:
        if _lib is None:
            raise ResumableHashUnavailable(_load_error or "libcrypto unavailable")
        return
    with _lock:
        if not _loaded:
            errors = []
            lib = None
            for name in _candidates():
                try:
                    candidate = ctypes.CDLL(name)
                    _bind(candidate)
                except (OSError, AttributeError) as exc:
                    errors.append(f"{name}: {exc}")
                    continue
                lib = candidate
                break
            if lib is None:
                _load_error = "cannot load libcrypto (" + "; ".join(errors) + ")"
            else:
                _lib = lib
                try:
                    _self_test()
                except (ResumableHashUnavailable, ValueError, OSError, ctypes.ArgumentError) as exc:
                    _lib = None
                    _load_error = f"libcrypto self-test failed: {exc}"
            _loaded = True
    if _lib is None:
        raise ResumableHashUnavailable(_load_error or "libcrypto unavailable")


def available() -> bool:
    """True when libcrypto could be loaded and passed its self-test."""
    try:
        _ensure_loaded()
    except ResumableHashUnavailable:
        return False
    return True


def _algo(name: str) -> _Algo:
    try:
        return _ALGOS[name]
    except (KeyError, TypeError):
        raise ValueError(f"unsupported algorithm {name!r} (sha256 or sha512)") from None


def _check(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()[:_CHECK_LEN]


class ResumableHash:
    """A SHA-256 or SHA-512 computation that can be saved and resumed."""

    __slots__ = ("_algo", "_ctx", "algorithm")

    def __init__(self, algo: _Algo, ctx: ctypes.Array) -> None:
        # Use new() or restore().
        self.algorithm = algo.name
        self._algo = algo
        self._ctx = ctx

    # -- construction -------------------------------------------------------

    @classmethod
    def new(cls, algorithm: str) -> ResumableHash:
        algo = _algo(algorithm)
        _ensure_loaded()
        return cls._new_unchecked(algo.name)

    @classmethod
    def restore(cls, algorithm: str, state: bytes) -> ResumableHash:
        algo = _algo(algorithm)
        _ensure_loaded()
        return cls._restore_unchecked(algo.name, state)

    @classmethod
    def _new_unchecked(cls, algorithm: str) -> ResumableHash:
        algo = _ALGOS[algorithm]
        ctx = ctypes.create_string_buffer(algo.ctx_size)
        if algo.init(ctx) != 1:
            raise ResumableHashUnavailable(f"{algo.name} init failed")
        return cls(algo, ctx)

    @classmethod
    def _restore_unchecked(cls, algorithm: str, state: bytes) -> ResumableHash:
        algo = _ALGOS[algorithm]
        if not isinstance(state, (bytes, bytearray, memoryview)):
            raise TypeError("hash state must be bytes")
        state = bytes(state)
        if len(state) < _HEADER.size + _CHECK_LEN:
            raise ValueError("hash state is truncated")
        magic, version, ident, reserved, size = _HEADER.unpack_from(state)
        if magic != _MAGIC:
            raise ValueError("not a resumable hash state")
        if version != _VERSION or reserved != 0:
            raise ValueError(f"unsupported hash state format version {version}")
        if ident != algo.ident:
            other = _BY_IDENT.get(ident)
            raise ValueError(
                f"hash state is for {other.name if other else 'an unknown algorithm'}, "
                f"not {algo.name}")
        if size != algo.ctx_size:
            raise ValueError(f"hash state size {size} does not match {algo.name} ({algo.ctx_size})")
        if len(state) != _HEADER.size + size + _CHECK_LEN:
            raise ValueError("hash state has the wrong length")
        body, check = state[:-_CHECK_LEN], state[-_CHECK_LEN:]
        if _check(body) != check:
            raise ValueError("hash state is corrupt (check mismatch)")
        raw = body[_HEADER.size:]
        _validate_ctx(algo, raw)
        ctx = ctypes.create_string_buffer(raw, algo.ctx_size)
        return cls(algo, ctx)

    # -- hashing ------------------------------------------------------------

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if isinstance(data, bytes):
            ok = self._algo.update(self._ctx, data, len(data))
        else:
            view = memoryview(data)
            if not view.c_contiguous:
                buf = view.tobytes()
                ok = self._algo.update(self._ctx, buf, len(buf))
            else:
                view = view.cast("B")
                n = view.nbytes
                if n == 0:
                    return
                if view.readonly:
                    # ctypes cannot take the address of a read-only buffer.
                    buf = view.tobytes()
                    ok = self._algo.update(self._ctx, buf, n)
                else:
                    arr = (ctypes.c_char * n).from_buffer(view)
                    ok = self._algo.update(self._ctx, arr, n)
                    del arr
                view.release()
        if ok != 1:
            raise RuntimeError(f"{self.algorithm} update failed")

    def state(self) -> bytes:
        """The opaque saved state; see the module docstring for its format."""
        body = _HEADER.pack(_MAGIC, _VERSION, self._algo.ident, 0, self._algo.ctx_size) \
            + self._ctx.raw
        return body + _check(body)

    def copy(self) -> ResumableHash:
        return type(self)(self._algo, ctypes.create_string_buffer(self._ctx.raw, self._algo.ctx_size))

    def digest(self) -> bytes:
        """The digest of everything so far; the computation may continue."""
        ctx = ctypes.create_string_buffer(self._ctx.raw, self._algo.ctx_size)
        out = ctypes.create_string_buffer(self._algo.digest_size)
        if self._algo.final(out, ctx) != 1:
            raise RuntimeError(f"{self.algorithm} final failed")
        return out.raw

    def hexdigest(self) -> str:
        return self.digest().hex()

    @property
    def size(self) -> int:
        """Number of bytes hashed so far (from the ctx's bit counter)."""
        lo, hi = struct.unpack_from(self._algo.counter_fmt, self._ctx.raw, self._algo.counter_offset)
        bits = (hi << (8 * struct.calcsize(self._algo.counter_fmt[1]))) | lo
        return bits // 8

    def __repr__(self) -> str:
        return f"<ResumableHash {self.algorithm} size={self.size}>"


def _validate_ctx(algo: _Algo, raw: bytes) -> None:
    """Reject ctx bytes that cannot be a state of this algorithm on this machine."""
    num, md_len = struct.unpack_from("=II", raw, algo.num_offset)
    if md_len != algo.digest_size:
        # Also catches sha224/sha384 states and a foreign byte order.
        raise ValueError(f"hash state is not a {algo.name} state (md_len={md_len})")
    if num >= algo.block_size:
        raise ValueError(f"hash state is corrupt (num={num})")
    lo, hi = struct.unpack_from(algo.counter_fmt, raw, algo.counter_offset)
    word_bits = 8 * struct.calcsize(algo.counter_fmt[1])
    bits = (hi << word_bits) | lo
    if bits % 8 or (bits // 8) % algo.block_size != num:
        raise ValueError("hash state is corrupt (length counter does not match buffer)")
