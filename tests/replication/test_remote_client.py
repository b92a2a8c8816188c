"""The remote-registry client and the docker-registry adapter against a real CNCF
registry (Debian's docker-registry), open and behind htpasswd Basic auth."""
from __future__ import annotations

import hashlib
import io
import json
import os

import pytest

from chalicelib.errors import RemoteNotFound, RemoteRegistryError, RemoteUnauthorized
from chalicelib.remote.adapters import DockerRegistryAdapter, RemoteArtifact, adapter_for
from chalicelib.remote.client import Credential, Manifest, RegistryClient
from tests.conftest import DISTRIBUTION_USER

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def push_image(client: RegistryClient, repository: str, tag: str, layer: bytes) -> Manifest:
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    for blob in (config, layer):
        client.upload_blob(repository, digest_of(blob), io.BytesIO(blob), len(blob))
    body = json.dumps({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest_of(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest_of(layer), "size": len(layer)}],
    }).encode()
    manifest = Manifest(body, OCI_MANIFEST, digest_of(body))
    client.put_manifest(repository, tag, manifest)
    return manifest


def test_a_blob_in_chunks_round_trips_and_the_registry_checks_its_digest(distribution):
    # chunks of 64 KiB: a 200 KiB blob goes as four PATCHes and a closing PUT
    client = RegistryClient(distribution.url, chunk_size=64 * 1024)
    data = os.urandom(200 * 1024)
    client.upload_blob("remote/chunks", digest_of(data), io.BytesIO(data), len(data))
    assert client.blob_size("remote/chunks", digest_of(data)) == len(data)
    reply = client.open_blob("remote/chunks", digest_of(data))
    assert b"".join(reply.stream(16 * 1024)) == data
    reply.release_conn()

    wrong = os.urandom(1000)
    with pytest.raises(RemoteRegistryError) as failure:
        client.upload_blob("remote/chunks", digest_of(b"something else"), io.BytesIO(wrong), len(wrong))
    assert failure.value.status == 400 and not failure.value.retryable
    assert client.blob_size("remote/chunks", digest_of(b"something else")) is None


def test_manifests_tags_catalog_and_mounts(distribution):
    client = RegistryClient(distribution.url)
    layer = os.urandom(3000)
    pushed = push_image(client, "remote/app", "v1", layer)
    client.put_manifest("remote/app", "v2", pushed)

    got = client.get_manifest("remote/app", "v1")
    assert (got.data, got.media_type, got.digest) == (pushed.data, OCI_MANIFEST, pushed.digest)
    assert client.manifest_digest("remote/app", "v2") == pushed.digest
    assert client.manifest_digest("remote/app", "v3") is None
    assert client.tags("remote/app") == ["v1", "v2"]
    assert client.tags("remote/none") == []
    assert "remote/app" in set(client.catalog())

    assert client.mount_blob("remote/other", digest_of(layer), "remote/app") is True
    assert client.blob_size("remote/other", digest_of(layer)) == len(layer)
    assert client.mount_blob("remote/other", digest_of(b"not there"), "remote/app") is False
    with pytest.raises(RemoteNotFound):
        client.get_manifest("remote/app", "missing")
    # this registry predates OCI 1.1's referrers API: no referrers, no error
    assert client.referrers("remote/app", pushed.digest) == []


def test_the_docker_registry_adapter_lists_repositories_and_tags(distribution):
    client = RegistryClient(distribution.url)
    push_image(client, "listed/one", "a", os.urandom(100))
    push_image(client, "listed/one", "b", os.urandom(100))
    adapter = adapter_for("docker-registry", distribution.url)
    assert isinstance(adapter, DockerRegistryAdapter)
    adapter.ping()
    assert "listed/one" in set(adapter.repositories())
    assert adapter.artifacts("listed/one") == [RemoteArtifact("listed/one", "", ("a",)), RemoteArtifact("listed/one", "", ("b",))]
    assert adapter.info()["supported_triggers"] == ["manual", "scheduled"]


def test_basic_auth_takes_the_right_credential_and_refuses_others(distribution_auth):
    user, password = DISTRIBUTION_USER
    client = RegistryClient(distribution_auth.url, Credential(user, password), chunk_size=1024)
    client.ping()
    pushed = push_image(client, "private/app", "v1", os.urandom(5000))  # chunked: 5 PATCHes
    assert client.get_manifest("private/app", "v1").digest == pushed.digest
    assert "private/app" in list(client.catalog())  # the registry is the session's: other tests push too

    with pytest.raises(RemoteUnauthorized):
        RegistryClient(distribution_auth.url, Credential(user, "wrong")).ping()
    with pytest.raises(RemoteUnauthorized):
        RegistryClient(distribution_auth.url).tags("private/app")


def test_an_unreachable_registry_is_a_retryable_failure():
    with pytest.raises(RemoteRegistryError) as failure:
        RegistryClient("http://127.0.0.1:9", timeout=2).ping()
    assert failure.value.retryable and failure.value.status == 0
