"""Images written straight into the stores (blob bytes, links, manifest, tag), as
a push through /v2 leaves them: the management API reads what pushes wrote."""
from __future__ import annotations

from chalicelib.meta.registry import ManifestRecord
from tests.api.helpers import OCI_CONFIG, OCI_INDEX, OCI_LAYER, OCI_MANIFEST, descriptor, digest, encode


def _blob(svc, repository: str, data: bytes) -> dict:
    d = digest(data)
    svc.blobs.put_blob(d, data)
    svc.meta.link_blob(repository, d, len(data), int(svc.clock()))
    return d


def push_image(svc, repository: str, tag: str | None, *, seed: str, layers: int = 1) -> str:
    config = encode({"architecture": "amd64", "os": "linux", "seed": seed})
    layer_data = [f"layer {i} {seed}".encode() * 40 for i in range(layers)]
    for data in [config, *layer_data]:
        _blob(svc, repository, data)
    body = encode(
        {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": descriptor(OCI_CONFIG, config),
            "layers": [descriptor(OCI_LAYER, data) for data in layer_data],
        }
    )
    record = ManifestRecord(
        digest=digest(body),
        media_type=OCI_MANIFEST,
        size=len(body),
        body=body,
        blobs=[digest(config), *[digest(d) for d in layer_data]],
        created=int(svc.clock()),
    )
    svc.meta.put_manifest(repository, record, tag, int(svc.clock()))
    return record.digest


def image_size(svc, repository: str, manifest_digest: str) -> int:
    """Harbor's size of an image: the manifest, its config and its layers."""
    import json

    record = svc.meta.get_manifest(repository, manifest_digest)
    doc = json.loads(record.body)
    return record.size + doc["config"]["size"] + sum(layer["size"] for layer in doc["layers"])


def push_index(svc, repository: str, tag: str | None, children: list[str]) -> str:
    manifests = []
    for child, arch in zip(children, ["amd64", "arm64", "s390x"]):
        record = svc.meta.get_manifest(repository, child)
        manifests.append(
            {"mediaType": record.media_type, "digest": child, "size": record.size, "platform": {"architecture": arch, "os": "linux"}}
        )
    body = encode({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests})
    record = ManifestRecord(
        digest=digest(body),
        media_type=OCI_INDEX,
        size=len(body),
        body=body,
        children=list(children),
        created=int(svc.clock()),
    )
    svc.meta.put_manifest(repository, record, tag, int(svc.clock()))
    return record.digest
