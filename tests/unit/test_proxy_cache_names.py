"""Docker Hub's `library/` convention for a proxy cache's upstream names."""
from __future__ import annotations

import pytest

from chalicelib.proxy_cache import upstream_repository


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
