"""Another registry's referrers answer, read as records: a proxy cache's upstream (served on
through the referrers handler, whose descriptors must be what the upstream listed, checked)
and a replication source (whose referrers a copy follows)."""
from __future__ import annotations

from types import SimpleNamespace

from chalicelib.meta.registry import Referrer
from chalicelib.proxy_cache import ProxyCache, Upstream
from chalicelib.registry.handlers.referrers import descriptor
from chalicelib.replicator.endpoints import RemoteEndpoint

SUBJECT = "sha256:" + "0" * 64
A, B, C = ("sha256:" + c * 64 for c in "abc")
MT = "application/vnd.oci.image.manifest.v1+json"

LISTED = [
    {"mediaType": MT, "digest": A, "size": 10, "artifactType": "application/vnd.example.sbom",
     "annotations": {"org.example.kind": "sbom"}, "urls": ["https://elsewhere.example/"]},
    {"mediaType": MT, "digest": B, "size": 11, "artifactType": "", "annotations": {}},  # empty ones are kept
    {"mediaType": "x" * 300, "digest": C, "size": 12, "artifactType": 7, "annotations": {"n": 1}},  # cut, wrong types left out
    {"mediaType": MT, "digest": "sha256:short", "size": 1},  # not a digest
    {"mediaType": MT, "digest": A, "size": "10"},  # a size that is no integer
    {"digest": A, "size": 10},  # no media type
    "not a descriptor",
]


def upstream(listed: list) -> Upstream:
    client = SimpleNamespace(referrers=lambda repository, digest: listed if (repository, digest) == ("library/app", SUBJECT) else [])
    return Upstream("hub", 1, "https://registry-1.docker.io", "docker-hub", client)


def test_a_proxy_caches_upstream_descriptors_are_served_as_listed_once_checked():
    cache = ProxyCache(SimpleNamespace())
    referrers = cache.referrers(upstream(LISTED), "hub/app", SUBJECT, [])
    assert [descriptor(r) for r in referrers] == [
        {"mediaType": MT, "digest": A, "size": 10, "artifactType": "application/vnd.example.sbom",
         "annotations": {"org.example.kind": "sbom"}},
        {"mediaType": MT, "digest": B, "size": 11, "artifactType": "", "annotations": {}},
        {"mediaType": "x" * 255, "digest": C, "size": 12},
    ]


def test_what_is_cached_is_answered_without_asking_the_upstream():
    cached = [Referrer(A, MT, 10)]
    assert ProxyCache(SimpleNamespace()).referrers(upstream(LISTED[1:]), "hub/app", SUBJECT, cached) == cached


def test_a_replication_source_lists_the_referrers_it_names_by_digest():
    client = SimpleNamespace(referrers=lambda repository, digest: LISTED)
    assert RemoteEndpoint(client).referrers("library/app", SUBJECT) == [
        Referrer(A, MT, 10, "application/vnd.example.sbom"),
        Referrer(B, MT, 11, ""),
        Referrer(C, "x" * 300, 12),
    ]
