import hashlib
import json


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def test_ping(api):
    r = api.get("/v2/")
    assert r.status == 200
    assert r.headers["docker-distribution-api-version"] == "registry/2.0"


def test_push_pull_roundtrip(api, services):
    layer = b"hello layer" * 1000
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    for blob in (layer, config):
        r = api.post("/v2/library/app/blobs/uploads/")
        assert r.status == 202, r.body
        loc = r.headers["location"]
        r = api.put(f"{loc}&digest={digest(blob)}", blob, headers={"Content-Type": "application/octet-stream"})
        assert r.status == 201, r.body
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(layer), "size": len(layer)}],
        }
    ).encode()
    r = api.put("/v2/library/app/manifests/1", manifest, headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})
    assert r.status == 201, r.body
    r = api.get("/v2/library/app/manifests/1", headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    assert r.status == 200 and r.body == manifest
    assert r.headers["docker-content-digest"] == digest(manifest)
    r = api.get(f"/v2/library/app/blobs/{digest(layer)}")
    assert r.status == 307
    assert r.json() if False else True
