"""Images pushed into a MemoryGraph (tests/memory_graph.py) as a client's push leaves them:
each blob through the upload service (its record, link and garbage-collection ledger), each
manifest through chalicelib/artifacts.py, parsed as the manifest handler parses it."""
from __future__ import annotations

from chalicelib import artifacts
from chalicelib.meta.registry import ManifestRecord
from chalicelib.oci.digests import Digest
from chalicelib.oci.manifests import parse_manifest
from chalicelib.oci.names import project_of
from tests.api.helpers import OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, descriptor, encode


def upload(svc, repository: str, data: bytes) -> str:
    """A blob uploaded whole into the repository (a monolithic POST)."""
    digest = Digest.of(data)
    svc.uploads.put_monolithic(repository, digest, data, project=project_of(repository))
    return str(digest)


def record_of(svc, body: bytes, media_type: str) -> ManifestRecord:
    return ManifestRecord.of(str(Digest.of(body)), body, parse_manifest(body, media_type), int(svc.clock()))


def image_body(seed: str, layers: list[bytes]) -> tuple[bytes, bytes]:
    """(the manifest, its config) of an image with these layers."""
    config = encode({"architecture": "amd64", "os": "linux", "seed": seed})
    body = encode({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                   "layers": [descriptor(OCI_LAYER, data) for data in layers]})
    return body, config


def push_image(svc, repository: str, tag: str | None, *, seed: str, layers: list[bytes] | None = None,
               upload_blobs: bool = True) -> ManifestRecord:
    """Upload an image's blobs and push its manifest (with its tag): the pushed record."""
    layers = [f"layer of {seed}".encode() * 50] if layers is None else layers
    body, config = image_body(seed, layers)
    if upload_blobs:
        for data in [config, *layers]:
            upload(svc, repository, data)
    record = record_of(svc, body, OCI_MANIFEST)
    artifacts.push_manifest(svc, repository, record, tag, project=project_of(repository))
    return record


def push_index(svc, repository: str, tag: str | None, children: list[ManifestRecord]) -> ManifestRecord:
    body = encode({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
        {"mediaType": c.media_type, "digest": c.digest, "size": c.size, "platform": {"architecture": arch, "os": "linux"}}
        for c, arch in zip(children, ["amd64", "arm64", "s390x"], strict=False)]})
    record = record_of(svc, body, OCI_INDEX)
    artifacts.push_manifest(svc, repository, record, tag, project=project_of(repository))
    return record


def image_bytes(svc, repository: str, record: ManifestRecord) -> int:
    """What an image counts against its project's quota alone: its manifest and its blobs."""
    return record.size + sum(svc.meta.link_size(repository, d) for d in set(record.blobs))


def immutable(pattern: str = "**", repositories: str = "**") -> dict:
    """Harbor's immutability rule protecting tags matching `pattern`."""
    return {"id": 1, "disabled": False, "action": "immutable", "template": "immutable_template",
            "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": pattern}],
            "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": repositories}]}}
