"""How a blob goes to another registry (Harbor's `copy_by_chunk`): the requests the client
sends for each choice, against a recording stand-in of a registry's HTTP answers, and the
copier's choice between them (a blob refused in one request goes again in chunks). The same
against the CNCF registry: tests/replication/test_runs.py."""
from __future__ import annotations

import hashlib
import io
import os
from types import SimpleNamespace

import pytest
from urllib3 import HTTPHeaderDict

from chalicelib.errors import RemoteBodyTooLarge, RemoteRegistryError
from chalicelib.remote.client import RegistryClient
from chalicelib.replicator.copier import Copier
from chalicelib.replicator.endpoints import OpenBlob

BLOCK = 16 * 1024  # what urllib3 reads from a file-like body at a time


class Source(io.BytesIO):
    """The source's bytes, remembering the largest read (what was held at once)."""

    largest = 0

    def read(self, n=-1):
        data = super().read(n)
        self.largest = max(self.largest, len(data))
        return data


class Registry:
    """Answers as a registry does to an upload, recording (method, headers, body size, body
    kind); `max_body` refuses larger bodies with 413, `min_chunk` is its OCI-Chunk-Min-Length."""

    def __init__(self, max_body: int = 0, min_chunk: int = 0):
        self.max_body, self.min_chunk = max_body, min_chunk
        self.seen: list[tuple[str, dict, int, str]] = []
        self.received = b""

    def request(self, method, url, headers=None, body=None, **_):
        if hasattr(body, "read"):  # streamed, as urllib3 sends a file-like body: block by block
            blocks = iter(lambda: body.read(BLOCK), b"")
            data, kind = b"".join(blocks), "stream"
        else:
            data, kind = body or b"", "bytes"
        self.seen.append((method, dict(headers or {}), len(data), kind))
        answer = HTTPHeaderDict({"Location": "/v2/r/blobs/uploads/1"})
        if self.min_chunk:
            answer["OCI-Chunk-Min-Length"] = str(self.min_chunk)
        if self.max_body and len(data) > self.max_body:
            return SimpleNamespace(status=413, headers=HTTPHeaderDict(), data=b"too large", drain_conn=lambda: None)
        self.received += data
        status = {"POST": 202, "PATCH": 202, "PUT": 201}[method]
        return SimpleNamespace(status=status, headers=answer, data=b"", drain_conn=lambda: None)

    def methods(self) -> list[str]:
        return [m for m, *_ in self.seen]


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_not_by_chunk_is_one_put_whose_body_is_streamed_from_the_source():
    data = os.urandom(3 * 1024 * 1024 + 7)
    registry, source = Registry(), Source(data)
    RegistryClient("http://registry.test", http=registry).upload_blob("r", digest_of(data), source, len(data),
                                                                      chunked=False)
    assert registry.methods() == ["POST", "PUT"]
    _, headers, size, kind = registry.seen[1]
    assert (size, kind, headers["Content-Length"]) == (len(data), "stream", str(len(data)))
    assert registry.received == data
    assert source.largest <= BLOCK  # never the whole blob in memory


def test_not_by_chunk_with_no_known_size_streams_the_source_to_its_end():
    data = os.urandom(100_000)
    registry = Registry()
    RegistryClient("http://registry.test", http=registry).upload_blob("r", digest_of(data), Source(data), -1,
                                                                      chunked=False)
    _, headers, size, kind = registry.seen[1]
    assert "Content-Length" not in headers and (size, kind) == (len(data), "stream")
    assert registry.received == data


def test_by_chunk_is_patches_of_the_chunk_size_then_an_empty_put():
    data = os.urandom(200 * 1024 + 5)
    registry = Registry()
    client = RegistryClient("http://registry.test", http=registry, chunk_size=64 * 1024)
    client.upload_blob("r", digest_of(data), io.BytesIO(data), len(data), chunked=True)
    assert registry.methods() == ["POST", "PATCH", "PATCH", "PATCH", "PATCH", "PUT"]
    ranges = [h["Content-Range"] for m, h, _, _ in registry.seen if m == "PATCH"]
    assert ranges == ["0-65535", "65536-131071", "131072-196607", f"196608-{len(data) - 1}"]
    assert registry.seen[-1][2] == 0 and registry.received == data
    # a small blob by chunk is still a PATCH (and the closing PUT)
    small = Registry()
    RegistryClient("http://registry.test", http=small).upload_blob("r", digest_of(b"x"), io.BytesIO(b"x"), 1)
    assert small.methods() == ["POST", "PATCH", "PUT"]


def test_by_chunk_respects_the_registrys_chunk_minimum_and_its_body_limit():
    data = os.urandom(300 * 1024)
    registry = Registry(min_chunk=128 * 1024)
    RegistryClient("http://registry.test", http=registry, chunk_size=64 * 1024).upload_blob(
        "r", digest_of(data), io.BytesIO(data), len(data), chunked=True)
    assert [size for m, _, size, _ in registry.seen if m == "PATCH"] == [128 * 1024, 128 * 1024, 44 * 1024]
    # a limit below the chunk: each refused chunk is sent again in halves
    limited = Registry(max_body=100 * 1024)
    RegistryClient("http://registry.test", http=limited, chunk_size=256 * 1024).upload_blob(
        "r", digest_of(data), io.BytesIO(data), len(data), chunked=True)
    accepted = [size for m, _, size, _ in limited.seen if m == "PATCH" and size <= limited.max_body]
    assert limited.received == data and max(accepted) == 64 * 1024


def test_not_by_chunk_refused_as_too_large_says_so():
    data = os.urandom(50_000)
    registry = Registry(max_body=10_000)
    with pytest.raises(RemoteBodyTooLarge) as refused:
        RegistryClient("http://registry.test", http=registry).upload_blob("r", digest_of(data), io.BytesIO(data),
                                                                          len(data), chunked=False)
    assert refused.value.status == 413 and not refused.value.retryable
    assert registry.methods() == ["POST", "PUT"]


def test_a_source_that_ends_early_fails_the_one_request_as_retryable():
    registry = Registry()
    with pytest.raises(RemoteRegistryError) as broken:
        RegistryClient("http://registry.test", http=registry).upload_blob("r", digest_of(b"abc"), io.BytesIO(b"abc"),
                                                                          10, chunked=False)
    assert broken.value.retryable and "7 bytes early" in broken.value.message


class Endpoint:
    """A copy's side: a blob source, or a destination recording how each blob was sent."""

    name = "fake"

    def __init__(self, refuse_whole: bool = False):
        self.refuse_whole = refuse_whole
        self.writes: list[bool] = []
        self.opened = 0

    def has_blob(self, repository, digest):
        return False

    def link_known_blob(self, repository, digest):
        return False

    def open_blob(self, repository, digest):
        self.opened += 1
        return OpenBlob(io.BytesIO(b"layer"), 5, lambda: None)

    def write_blob(self, repository, digest, source, size, *, chunked):
        self.writes.append(chunked)
        if self.refuse_whole and not chunked:
            raise RemoteBodyTooLarge("too large", status=413)
        assert source.read() == b"layer"


@pytest.mark.parametrize(("by_chunk", "refuse_whole", "writes", "opened"), [
    (False, False, [False], 1),  # Harbor's default: one request per blob
    (True, False, [True], 1),  # copy_by_chunk
    (False, True, [False, True], 2),  # refused in one request: read again, sent in chunks
])
def test_the_copier_sends_each_blob_as_the_policy_says(by_chunk, refuse_whole, writes, opened):
    src, dst = Endpoint(), Endpoint(refuse_whole=refuse_whole)
    stats = SimpleNamespace(log=[], bytes=0, blobs_copied=0)
    Copier(src, dst, by_chunk=by_chunk)._blob("a", "b", digest_of(b"layer"), 5, stats)
    assert (dst.writes, src.opened, stats.bytes, stats.blobs_copied) == (writes, opened, 5, 1)
    assert stats.log[-1].endswith("in chunks)" if writes[-1] else "in one request)")
