"""Resumable sha256/sha512 over libcrypto, checked against hashlib."""
from __future__ import annotations

import hashlib
import random
import struct
import threading

import pytest

from chalicelib import resumable_hash as rh
from chalicelib.resumable_hash import ResumableHash, ResumableHashUnavailable

ALGOS = ["sha256", "sha512"]


@pytest.fixture(autouse=True, scope="module")
def _require_libcrypto():
    # CI images ship libcrypto; a missing one must fail, not skip.
    assert rh.available(), rh._load_error


def _resume(h: ResumableHash) -> ResumableHash:
    return ResumableHash.restore(h.algorithm, h.state())


@pytest.mark.parametrize("algorithm", ALGOS)
def test_empty_input(algorithm):
    h = ResumableHash.new(algorithm)
    assert h.hexdigest() == hashlib.new(algorithm).hexdigest()
    assert _resume(h).hexdigest() == hashlib.new(algorithm).hexdigest()
    h.update(b"")
    h.update(memoryview(b""))
    h.update(bytearray())
    assert h.hexdigest() == hashlib.new(algorithm).hexdigest()
    assert h.size == 0


@pytest.mark.parametrize("algorithm", ALGOS)
def test_random_splits_with_save_restore(algorithm):
    rng = random.Random(1234 + len(algorithm))
    for _ in range(200):
        data = rng.randbytes(rng.randrange(0, 3000))
        cuts = sorted(rng.randrange(0, len(data) + 1) for _ in range(rng.randrange(0, 6)))
        h = ResumableHash.new(algorithm)
        pos = 0
        for cut in cuts + [len(data)]:
            h.update(data[pos:cut])
            pos = cut
            h = _resume(h)  # every piece in a "new request"
        assert h.size == len(data)
        assert h.hexdigest() == hashlib.new(algorithm, data).hexdigest()


@pytest.mark.parametrize("algorithm", ALGOS)
def test_every_split_point_around_block_boundaries(algorithm):
    data = bytes(range(256)) * 2
    want = hashlib.new(algorithm, data).hexdigest()
    for cut in range(len(data) + 1):
        h = ResumableHash.new(algorithm)
        h.update(data[:cut])
        h2 = _resume(h)
        h2.update(data[cut:])
        assert h2.hexdigest() == want, cut


@pytest.mark.parametrize("algorithm", ALGOS)
def test_buffer_types(algorithm):
    data = bytes(range(200)) * 5
    writable = bytearray(data)
    h = ResumableHash.new(algorithm)
    h.update(memoryview(data)[:100])           # read-only memoryview
    h.update(memoryview(writable)[100:300])    # writable memoryview
    h.update(bytearray(data[300:700]))
    h.update(memoryview(data)[700:])
    assert h.hexdigest() == hashlib.new(algorithm, data).hexdigest()
    h2 = ResumableHash.new(algorithm)
    h2.update(memoryview(data)[::2])           # non-contiguous
    assert h2.hexdigest() == hashlib.new(algorithm, data[::2]).hexdigest()


@pytest.mark.parametrize("algorithm", ALGOS)
def test_large_input_in_pieces(algorithm):
    rng = random.Random(99)
    data = rng.randbytes(20 * 1024 * 1024)
    view = memoryview(data)
    h = ResumableHash.new(algorithm)
    pos = 0
    while pos < len(data):
        step = rng.randrange(1, 3 * 1024 * 1024)
        h.update(view[pos:pos + step])
        pos += step
        h = _resume(h)
    assert h.size == len(data)
    assert h.hexdigest() == hashlib.new(algorithm, data).hexdigest()


@pytest.mark.parametrize("algorithm", ALGOS)
def test_state_round_trip_is_stable(algorithm):
    h = ResumableHash.new(algorithm)
    h.update(b"hello world" * 17)
    state = h.state()
    assert isinstance(state, bytes)
    restored = ResumableHash.restore(algorithm, state)
    assert restored.algorithm == algorithm
    assert restored.state() == state
    assert restored.hexdigest() == h.hexdigest()
    # Restoring does not tie the two objects together.
    restored.update(b"more")
    assert h.hexdigest() == hashlib.new(algorithm, b"hello world" * 17).hexdigest()
    assert restored.hexdigest() == hashlib.new(algorithm, b"hello world" * 17 + b"more").hexdigest()
    # Accepts bytearray/memoryview state too (e.g. from DynamoDB Binary).
    assert ResumableHash.restore(algorithm, bytearray(state)).hexdigest() == h.hexdigest()


@pytest.mark.parametrize("algorithm", ALGOS)
def test_hexdigest_is_idempotent_and_does_not_consume(algorithm):
    h = ResumableHash.new(algorithm)
    h.update(b"abc")
    state = h.state()
    first = h.hexdigest()
    assert h.hexdigest() == first
    assert h.digest().hex() == first
    assert h.state() == state
    h.update(b"def")
    assert h.hexdigest() == hashlib.new(algorithm, b"abcdef").hexdigest()


def test_copy_is_independent():
    h = ResumableHash.new("sha256")
    h.update(b"abc")
    c = h.copy()
    c.update(b"def")
    assert h.hexdigest() == hashlib.sha256(b"abc").hexdigest()
    assert c.hexdigest() == hashlib.sha256(b"abcdef").hexdigest()


def test_refuses_other_algorithms_state():
    s256 = ResumableHash.new("sha256")
    s256.update(b"x")
    s512 = ResumableHash.new("sha512")
    s512.update(b"x")
    with pytest.raises(ValueError):
        ResumableHash.restore("sha512", s256.state())
    with pytest.raises(ValueError):
        ResumableHash.restore("sha256", s512.state())


def _reframe(state: bytes, *, magic=b"BRH", version=1, ident=1, reserved=0, size=None,
             body=None) -> bytes:
    """Build a state with a correct check around arbitrary header/ctx values."""
    ctx = state[8:-8] if body is None else body
    head = struct.pack(">3sBBBH", magic, version, ident, reserved, len(ctx) if size is None else size)
    frame = head + ctx
    return frame + hashlib.sha256(frame).digest()[:8]


def test_reframe_helper_matches_real_format():
    h = ResumableHash.new("sha256")
    h.update(b"abc")
    assert _reframe(h.state()) == h.state()


@pytest.mark.parametrize("mutate", [
    pytest.param(lambda s: b"", id="empty"),
    pytest.param(lambda s: s[:20], id="truncated"),
    pytest.param(lambda s: s + b"\0", id="extended"),
    pytest.param(lambda s: b"XYZ" + s[3:], id="magic"),
    pytest.param(lambda s: s[:3] + b"\x02" + s[4:], id="version"),
    pytest.param(lambda s: s[:40] + bytes([s[40] ^ 1]) + s[41:], id="flipped-ctx-bit"),
    pytest.param(lambda s: s[:-1] + bytes([s[-1] ^ 0xFF]), id="flipped-check"),
    pytest.param(lambda s: _reframe(s, version=2), id="reframed-version"),
    pytest.param(lambda s: _reframe(s, ident=9), id="reframed-unknown-algorithm"),
    pytest.param(lambda s: _reframe(s, reserved=1), id="reframed-reserved"),
    pytest.param(lambda s: _reframe(s, body=s[8:-8] + b"\0" * 8), id="reframed-bigger-ctx"),
    pytest.param(lambda s: _reframe(s, size=100), id="reframed-size-lies"),
    pytest.param(lambda s: _reframe(s, body=s[8:-8][:108] + struct.pack("=I", 28)),
                 id="sha224-md_len"),
    pytest.param(lambda s: _reframe(s, body=s[8:-8][:104] + struct.pack("=I", 64) + s[8:-8][108:]),
                 id="num-out-of-range"),
    pytest.param(lambda s: _reframe(s, body=s[8:-8][:32] + struct.pack("=I", 8 * 5) + s[8:-8][36:]),
                 id="counter-disagrees-with-num"),
    pytest.param(lambda s: _reframe(s, body=s[8:-8][:108] + struct.pack(">I", 32)),
                 id="foreign-byte-order"),
])
def test_refuses_tampered_or_foreign_state(mutate):
    h = ResumableHash.new("sha256")
    h.update(b"abc")
    bad = mutate(h.state())
    with pytest.raises(ValueError):
        ResumableHash.restore("sha256", bad)


def test_refuses_non_bytes_state():
    with pytest.raises(TypeError):
        ResumableHash.restore("sha256", "not bytes")  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ["md5", "sha1", "SHA256", "", None])
def test_unknown_algorithm(name):
    with pytest.raises(ValueError):
        ResumableHash.new(name)  # type: ignore[arg-type]


def test_sha512_tampering_detected():
    h = ResumableHash.new("sha512")
    h.update(b"q" * 300)
    state = h.state()
    ctx = state[8:-8]
    bad = _reframe(state, ident=2, body=ctx[:212] + struct.pack("=I", 48))  # sha384 md_len
    with pytest.raises(ValueError):
        ResumableHash.restore("sha512", bad)
    assert ResumableHash.restore("sha512", _reframe(state, ident=2)).hexdigest() == h.hexdigest()


def test_threads_do_not_share_state():
    data = [bytes([i]) * (100_000 + i) for i in range(8)]
    results = {}

    def work(i):
        h = ResumableHash.new("sha256")
        for _ in range(5):
            h.update(data[i])
            h = _resume(h)
        results[i] = h.hexdigest()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for i in range(8):
        assert results[i] == hashlib.sha256(data[i] * 5).hexdigest()


def test_unavailable_when_libcrypto_cannot_be_loaded(monkeypatch):
    monkeypatch.setattr(rh, "_loaded", False)
    monkeypatch.setattr(rh, "_lib", None)
    monkeypatch.setattr(rh, "_load_error", None)
    monkeypatch.setattr(rh, "_candidates", lambda: ["/nonexistent/libcrypto-berth.so"])
    assert rh.available() is False
    with pytest.raises(ResumableHashUnavailable):
        ResumableHash.new("sha256")
    with pytest.raises(ResumableHashUnavailable):
        ResumableHash.restore("sha256", b"")
    # Unknown algorithm is still a ValueError, before any library question.
    with pytest.raises(ValueError):
        ResumableHash.new("md5")


def test_unavailable_when_self_test_fails(monkeypatch):
    monkeypatch.setattr(rh, "_loaded", False)
    monkeypatch.setattr(rh, "_lib", None)
    monkeypatch.setattr(rh, "_load_error", None)

    def broken():
        raise ResumableHashUnavailable("boom")

    monkeypatch.setattr(rh, "_self_test", broken)
    assert rh.available() is False
    with pytest.raises(ResumableHashUnavailable, match="self-test"):
        ResumableHash.new("sha512")


def test_import_does_not_load_library():
    import pathlib
    import subprocess
    import sys

    code = ("import chalicelib.resumable_hash as r, sys; "
            "assert r._lib is None and not r._loaded; "
            "assert 'ctypes.util' not in sys.modules; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=False, cwd=str(pathlib.Path(__file__).resolve().parents[2]))
    assert out.returncode == 0, out.stderr
