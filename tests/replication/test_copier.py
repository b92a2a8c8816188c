"""Copying one artifact for real between this Berth (in process, on moto: its stores and
upload service) and Debian's docker-registry, both directions: images, a multi-arch
index, a referrer, blobs linked instead of copied, reruns that copy nothing, override,
and a source that breaks off mid-blob."""
from __future__ import annotations

import hashlib
import json
import os

import pytest

from chalicelib.errors import RemoteRegistryError
from chalicelib.remote.client import Manifest, RegistryClient
from chalicelib.replicator.copier import Copier
from chalicelib.replicator.endpoints import LocalEndpoint, RemoteEndpoint
from tests.replication.test_remote_client import digest_of, push_image

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def local_bytes(svc, repository: str, digest: str) -> bytes:
    endpoint = LocalEndpoint(svc)
    blob = endpoint.open_blob(repository, digest)
    try:
        return blob.stream.read()
    finally:
        blob.close()


def layers_of(manifest: Manifest) -> list[str]:
    document = json.loads(manifest.data)
    return [document["config"]["digest"], *[d["digest"] for d in document["layers"]]]


def test_push_an_image_from_berth_to_the_cncf_registry_and_rerun(world, distribution):
    repository = f"library/{world.name('push')}"
    pushed = world.push(repository, "v1", layers=2)
    remote = RegistryClient(distribution.url, chunk_size=256)  # small chunks: several PATCHes per layer
    copier = Copier(LocalEndpoint(world.svc), RemoteEndpoint(remote), by_chunk=True)

    digest, stats = copier.copy(repository, f"mirror/{repository}", "v1", ["v1", "stable"])
    assert digest == pushed
    assert (stats.blobs_copied, stats.manifests, stats.tags) == (3, 1, ["v1", "stable"])
    copied = remote.get_manifest(f"mirror/{repository}", "stable")
    assert copied.digest == pushed
    for blob in layers_of(copied):
        reply = remote.open_blob(f"mirror/{repository}", blob)
        assert digest_of(reply.data) == blob

    # a rerun finds everything there: nothing written
    _, again = Copier(LocalEndpoint(world.svc), RemoteEndpoint(remote)).copy(repository, f"mirror/{repository}", "v1", ["v1"])
    assert (again.bytes, again.blobs_copied, again.manifests, again.tags) == (0, 0, 0, [])


def test_pull_an_image_from_the_cncf_registry_into_berth(world, distribution):
    remote = RegistryClient(distribution.url)
    source = f"upstream/{world.name('pull')}"
    layer = os.urandom(300_000)
    pushed = push_image(remote, source, "1.0", layer)

    project = world.project()
    target = f"{project.name}/app"
    digest, stats = Copier(RemoteEndpoint(remote), LocalEndpoint(world.svc)).copy(source, target, "1.0", ["1.0"])
    assert digest == pushed.digest
    assert (stats.bytes, stats.blobs_copied) == (300_000 + json.loads(pushed.data)["config"]["size"], 2)
    assert world.svc.meta.get_tag(target, "1.0").digest == pushed.digest
    assert local_bytes(world.svc, target, digest_of(layer)) == layer
    # through the management API, as any pushed image
    listed = world.admin.get(f"/projects/{project.name}/repositories/app/artifacts").json()
    assert [a["digest"] for a in listed] == [pushed.digest]

    # into a second repository: the bytes are in the bucket already, so they are linked, not copied
    _, linked = Copier(RemoteEndpoint(remote), LocalEndpoint(world.svc)).copy(source, f"{project.name}/again", "1.0", ["1.0"])
    assert (linked.bytes, linked.blobs_linked, linked.manifests) == (0, 2, 1)


def test_a_multi_arch_index_and_its_referrer_children_first(world, distribution):
    repository = f"library/{world.name('multi')}"
    children = [world.push(repository, None, seed=f"{repository}-{arch}") for arch in ("amd64", "arm64")]
    index = world.push_index(repository, "latest", children)
    # a signature-like referrer of the index
    config = b"{}"
    world.svc.blobs.put_blob(digest_of(config), config)
    world.svc.meta.link_blob(repository, digest_of(config), len(config), 0)
    subject = {"mediaType": OCI_INDEX, "digest": index, "size": len(world.svc.meta.get_manifest(repository, index).body)}
    referrer = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sig",
                           "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest_of(config), "size": 2},
                           "layers": [], "subject": subject}).encode()
    LocalEndpoint(world.svc).put_manifest(repository, digest_of(referrer), Manifest(referrer, OCI_MANIFEST, digest_of(referrer)))

    remote = RegistryClient(distribution.url)
    digest, stats = Copier(LocalEndpoint(world.svc), RemoteEndpoint(remote)).copy(repository, repository, "latest", ["latest"])
    assert digest == index
    assert stats.manifests == 4  # two children, the index, the referrer
    lines = stats.log
    assert max(lines.index(f"manifest {c} written") for c in children) < lines.index(f"manifest {index} written")
    assert lines.index(f"manifest {index} written") < lines.index(f"manifest {digest_of(referrer)} written")
    assert remote.get_manifest(repository, "latest").digest == index
    assert remote.get_manifest(repository, digest_of(referrer)).digest == digest_of(referrer)

    # and back into Berth from there: the index arrives whole
    project = world.project()
    back, _ = Copier(RemoteEndpoint(remote), LocalEndpoint(world.svc)).copy(repository, f"{project.name}/multi", "latest", ["latest"])
    assert back == index
    assert {c for c in world.svc.meta.get_manifest(f"{project.name}/multi", index).children} == set(children)


def test_override_off_keeps_a_tag_that_points_elsewhere(world, distribution):
    remote = RegistryClient(distribution.url)
    repository = f"library/{world.name('keep')}"
    first = world.push(repository, "v1", seed="first")
    target = f"kept/{repository}"
    Copier(LocalEndpoint(world.svc), RemoteEndpoint(remote)).copy(repository, target, "v1", ["v1"])
    world.push(repository, "v1", seed="second")
    _, stats = Copier(LocalEndpoint(world.svc), RemoteEndpoint(remote), override=False).copy(repository, target, "v1", ["v1"])
    assert stats.tags_kept == ["v1"] and remote.manifest_digest(target, "v1") == first
    _, stats = Copier(LocalEndpoint(world.svc), RemoteEndpoint(remote), override=True).copy(repository, target, "v1", ["v1"])
    assert stats.tags == ["v1"] and remote.manifest_digest(target, "v1") != first


class BreaksOff:
    """A remote blob stream that ends after `limit` bytes with a broken connection."""

    def __init__(self, stream, limit: int):
        self.stream, self.left = stream, limit

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            raise RemoteRegistryError("the source broke off", retryable=True)
        data = self.stream.read(min(n if n > 0 else self.left, self.left))
        self.left -= len(data)
        return data


def test_a_source_that_breaks_off_leaves_nothing_and_the_retry_completes(world, distribution, monkeypatch):
    remote = RegistryClient(distribution.url)
    source = f"flaky/{world.name('f')}"
    layer = os.urandom(2_000_000)
    pushed = push_image(remote, source, "v1", layer)
    project = world.project()
    target = f"{project.name}/flaky"
    endpoint = RemoteEndpoint(remote)
    real_open = endpoint.open_blob

    def broken(repository, digest):
        blob = real_open(repository, digest)
        blob.stream = BreaksOff(blob.stream, 700_000)
        return blob

    monkeypatch.setattr(endpoint, "open_blob", broken)
    with pytest.raises(RemoteRegistryError) as failure:
        Copier(endpoint, LocalEndpoint(world.svc)).copy(source, target, "v1", ["v1"])
    assert failure.value.retryable
    assert world.svc.meta.get_link(target, digest_of(layer)) is None
    assert world.svc.meta.get_manifest(target, pushed.digest) is None and world.svc.meta.get_tag(target, "v1") is None

    monkeypatch.undo()
    digest, _ = Copier(RemoteEndpoint(remote), LocalEndpoint(world.svc)).copy(source, target, "v1", ["v1"])
    assert digest == pushed.digest and world.svc.meta.get_tag(target, "v1").digest == pushed.digest
    assert hashlib.sha256(local_bytes(world.svc, target, digest_of(layer))).hexdigest() == digest_of(layer)[7:]


def test_a_missing_source_artifact_says_so(world, distribution):
    from chalicelib.errors import RemoteNotFound

    with pytest.raises(RemoteNotFound):
        Copier(RemoteEndpoint(RegistryClient(distribution.url)), LocalEndpoint(world.svc)).copy("no/such", "x/y", "v1", ["v1"])
