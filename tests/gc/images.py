"""Pushes through the registry's own push path (what /v2's handlers call): each blob
uploaded by the upload service, the manifest put by artifacts.push_manifest."""
from __future__ import annotations

from chalicelib import artifacts
from chalicelib.meta.registry import ManifestRecord
from chalicelib.oci.digests import Digest
from chalicelib.oci.manifests import parse_manifest
from chalicelib.oci.names import project_of
from tests.api.helpers import OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, descriptor, encode


def push_blob(svc, repository: str, data: bytes) -> str:
    digest = Digest.of(data)
    svc.uploads.put_monolithic(repository, digest, data, project=project_of(repository))
    return str(digest)


def put_manifest(svc, repository: str, reference: str | None, body: bytes, media_type: str = OCI_MANIFEST) -> str:
    digest = str(Digest.of(body))
    record = ManifestRecord.of(digest, body, parse_manifest(body, media_type), int(svc.clock()))
    artifacts.push_manifest(svc, repository, record, reference, project=project_of(repository))
    return digest


def image(layers: list[bytes], seed: str = "") -> tuple[bytes, list[bytes]]:
    """(manifest bytes, [config, *layers])."""
    config = encode({"architecture": "amd64", "os": "linux", "seed": seed})
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor(OCI_CONFIG, config),
        "layers": [descriptor(OCI_LAYER, data) for data in layers],
    }
    return encode(doc), [config, *layers]


def push_image(svc, repository: str, tag: str | None, layers: list[bytes], seed: str = "") -> str:
    body, blobs = image(layers, seed)
    for data in blobs:
        push_blob(svc, repository, data)
    return put_manifest(svc, repository, tag, body)


def push_index(svc, repository: str, tag: str | None, children: list[tuple[str, bytes]]) -> str:
    body = encode({"schemaVersion": 2, "mediaType": OCI_INDEX,
                   "manifests": [{"mediaType": OCI_MANIFEST, "digest": d, "size": len(b)} for d, b in children]})
    return put_manifest(svc, repository, tag, body, OCI_INDEX)
