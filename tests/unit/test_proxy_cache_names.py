"""A proxy cache's pure parts: Docker Hub's `library/` convention for upstream names, and
the client's error for each upstream failure when nothing valid is cached."""
from __future__ import annotations

import pytest

from chalicelib.errors import (
    ManifestNotFound,
    RemoteNotFound,
    RemoteRegistryError,
    RemoteUnauthorized,
    UpstreamInvalid,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from chalicelib.proxy_cache import _no_cache, _NoUpstream, upstream_repository


@pytest.mark.parametrize(("repository", "url", "type_", "expected"), [
    ("nginx", "https://registry-1.docker.io", "docker-registry", "library/nginx"),
    ("nginx", "https://index.docker.io", "docker-registry", "library/nginx"),
    ("nginx", "https://mirror.example", "docker-hub", "library/nginx"),
    ("library/nginx", "https://registry-1.docker.io", "docker-registry", "library/nginx"),
    ("bitnami/redis", "https://registry-1.docker.io", "docker-registry", "bitnami/redis"),
    ("nginx", "https://ghcr.io", "docker-registry", "nginx"),
    ("team/app", "http://127.0.0.1:5000", "docker-registry", "team/app"),
])
def test_official_images_live_under_library_on_docker_hub(repository, url, type_, expected):
    assert upstream_repository(repository, url, type_) == expected


@pytest.mark.parametrize(("failure", "expected"), [
    (RemoteRegistryError("rate limited", status=429, retryable=True), UpstreamRateLimited),
    (RemoteRegistryError("bad gateway", status=502, retryable=True), UpstreamUnavailable),
    (RemoteRegistryError("no answer (ConnectionRefused)", retryable=True), UpstreamUnavailable),
    (RemoteUnauthorized("refused the credentials", status=401), UpstreamUnavailable),
    (RemoteRegistryError("the registry answered bytes of sha256:00"), UpstreamInvalid),
    (RemoteNotFound("no such manifest", status=404), ManifestNotFound),
])
def test_with_nothing_cached_each_upstream_failure_has_its_own_error(failure, expected):
    """What the client gets when the upstream failed and nothing valid is cached: never a 500."""
    error = _no_cache(failure, "team/app:v1")
    assert isinstance(error, expected)
    assert "team/app:v1" in error.message


def test_a_deleted_registry_fails_every_call_as_an_unreachable_upstream():
    with pytest.raises(RemoteRegistryError) as failure:
        _NoUpstream(7).head_manifest("team/app", "v1")
    assert failure.value.retryable and "7 no longer exists" in failure.value.message
