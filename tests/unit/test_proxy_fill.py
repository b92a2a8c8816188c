"""A proxy cache's blob too big to copy within the request (chalicelib/proxy_cache.py):
copied by the proxy_fill function in the background, once, while the client is sent to the
upstream's CDN (only another origin: our credentials never went there) or asked to retry."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from chalicelib.errors import UpstreamFilling, UpstreamUnavailable
from chalicelib.proxy_cache import ProxyCache, Upstream, _credential_free

DIGEST = "sha256:" + "a" * 64
MiB = 1024 * 1024


class Reply:
    def __init__(self, size: int, redirected_to: str | None = None):
        self.headers = {"Content-Length": str(size)}
        history = [SimpleNamespace(redirect_location=redirected_to)] if redirected_to else []
        self.retries = SimpleNamespace(history=history)
        self.closed = self.released = False

    def close(self):
        self.closed = True

    def release_conn(self):
        self.released = True


class World:
    def __init__(self, *, reply: Reply, invoke_fails: bool = False):
        self.claims: set[str] = set()
        self.invoked: list[dict] = []
        self.copied: list[str] = []
        self.reply = reply

        def claim_fill(digest, now, until):
            if digest in self.claims:
                return False
            self.claims.add(digest)
            return True

        def invoke(**kwargs):
            if invoke_fails:
                raise RuntimeError("Lambda said no")
            self.invoked.append(kwargs)

        self.svc = SimpleNamespace(
            clock=lambda: 1000.0,
            settings=SimpleNamespace(function_name=lambda name: f"berth-t-{name}", auth="token"),
            runtime_config=SimpleNamespace(typed=lambda name: {"proxy_cache_inline_copy_bytes": 4 * MiB}[name]),
            meta=SimpleNamespace(blob_size=lambda digest: None, link_existing=lambda *a, **k: None, claim_fill=claim_fill,
                                 end_fill=lambda digest: self.claims.discard(digest)),
            functions=SimpleNamespace(invoke=invoke),
        )
        self.cache = ProxyCache(self.svc)
        self.cache._copy = lambda upstream, repository, digest, reply, length: self.copied.append(digest)
        self.upstream = Upstream("hub", 1, "https://registry.example", "docker-registry",
                                 SimpleNamespace(open_blob=lambda repository, digest: self.reply))


def test_a_small_blob_is_copied_within_the_request():
    world = World(reply=Reply(3 * MiB))
    assert world.cache.fetch_blob(world.upstream, "hub/app", DIGEST) is None
    assert world.copied == [DIGEST] and world.invoked == []


def test_a_big_blob_starts_one_background_copy_and_the_client_retries():
    world = World(reply=Reply(5 * MiB))
    with pytest.raises(UpstreamFilling) as raised:
        world.cache.fetch_blob(world.upstream, "hub/app", DIGEST)
    assert raised.value.headers == {"Retry-After": "10"}
    assert world.copied == [] and world.reply.closed
    [call] = world.invoked
    assert call["FunctionName"] == "berth-t-proxy_fill" and call["InvocationType"] == "Event"
    assert json.loads(call["Payload"]) == {"repository": "hub/app", "digest": DIGEST}
    # the next pulls, while it copies, start nothing more
    with pytest.raises(UpstreamFilling):
        world.cache.fetch_blob(world.upstream, "hub/app", DIGEST)
    assert len(world.invoked) == 1


def test_a_big_blob_the_upstream_sends_to_its_cdn_sends_the_client_there():
    cdn = "https://cdn.example/blobs/abc?X-Amz-Signature=s"
    world = World(reply=Reply(5 * MiB, redirected_to=cdn))
    assert world.cache.fetch_blob(world.upstream, "hub/app", DIGEST) == cdn
    assert len(world.invoked) == 1


def test_a_copy_that_cannot_start_lets_the_next_pull_try_again():
    world = World(reply=Reply(5 * MiB), invoke_fails=True)
    with pytest.raises(UpstreamUnavailable, match="could not start"):
        world.cache.fetch_blob(world.upstream, "hub/app", DIGEST)
    assert world.claims == set()


def test_the_background_copy_ends_its_claim_even_when_it_fails():
    world = World(reply=Reply(5 * MiB))
    world.cache.upstream_of = lambda repository: world.upstream

    def broken(*args):
        raise UpstreamUnavailable("the upstream broke off")

    world.cache._copy = broken
    world.claims.add(DIGEST)
    with pytest.raises(UpstreamUnavailable):
        world.cache.fill("hub/app", DIGEST)
    assert world.claims == set()


@pytest.mark.parametrize(("target", "handed_on"), [
    ("https://cdn.example/x?sig=1", True),  # another host
    ("https://registry.example:8443/x", True),  # another port is another origin
    ("http://registry.example/x", True),  # another scheme too
    ("https://registry.example/v2/x/blobs/y", False),  # our credentials went there
    ("/relative/path", False),
    (None, False),
])
def test_only_another_origin_is_handed_to_the_client(target, handed_on):
    reply = Reply(1, redirected_to=target)
    assert _credential_free(reply, "https://registry.example") == (target if handed_on else None)
