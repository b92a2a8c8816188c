"""Small helpers for the API tests: digests, pushes, manifest documents, assertions."""
from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
EMPTY_JSON = b"{}"
MiB = 1024 * 1024


PASSWORD = "Member-Passw0rd"  # every account a test module creates uses it (one hash)
_hashes: dict[str, str] = {}


def password_hash(password: str = PASSWORD) -> str:
    """A stored hash of `password` at the tests' cost (tests/conftest.py), one per run."""
    from tests.conftest import cheap_passwords

    if password not in _hashes:
        _hashes[password] = cheap_passwords().hash(password)
    return _hashes[password]


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


class FrozenClock:
    """A clock that stands still until a test moves it (`clock.now += 60`)."""

    def __init__(self, now: float = 1_900_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def digest(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def with_query(url: str, **params: str) -> str:
    """`url` with extra query parameters (keeps the ones it has, e.g. _state)."""
    parts = urlsplit(url)
    query = parse_qs(parts.query, keep_blank_values=True)
    for k, v in params.items():
        query[k] = [v]
    return urlunsplit(parts._replace(query=urlencode(query, doseq=True)))


def assert_error(reply, status: int, code: str | None = None) -> None:
    assert reply.status == status, (reply.status, reply.body[:500])
    assert reply.headers["docker-distribution-api-version"] == "registry/2.0"
    if code is not None:
        assert reply.headers["content-type"].startswith("application/json")
        assert code in reply.error_codes, reply.body[:500]
        for entry in reply.json()["errors"]:
            assert isinstance(entry["message"], str)


# -- blobs and uploads ---------------------------------------------------------
def start_upload(api, name: str, **params: str):
    """POST an upload session; returns the 202 reply (Location is the session URL)."""
    url = f"/v2/{name}/blobs/uploads/"
    if params:
        url = with_query(url, **params)
    reply = api.post(url)
    assert reply.status == 202, (reply.status, reply.body[:500])
    return reply


def push_blob(api, name: str, data: bytes, algorithm: str = "sha256") -> str:
    """Monolithic POST ?digest= with the whole blob; returns the digest."""
    d = digest(data, algorithm)
    reply = api.post(
        with_query(f"/v2/{name}/blobs/uploads/", digest=d), data, headers={"Content-Type": "application/octet-stream"}
    )
    assert reply.status == 201, (reply.status, reply.body[:500])
    return d


def push_blob_session(api, name: str, data: bytes) -> str:
    """POST a session, then one PUT ?digest= carrying the whole blob."""
    loc = start_upload(api, name).headers["location"]
    d = digest(data)
    reply = api.put(with_query(loc, digest=d), data, headers={"Content-Type": "application/octet-stream"})
    assert reply.status == 201, (reply.status, reply.body[:500])
    return d


def blob_object(services, d: str) -> bytes:
    """The blob's bytes where its record says they are (its own key, or its upload's object)."""
    from chalicelib.meta import keys
    from chalicelib.storage.paths import blob_key

    record = services.table.get(keys.blob_pk(d), keys.BLOB_SK) or {}
    key = record.get("s3key") or blob_key(d)
    return services.s3.get_object(Bucket=services.settings.bucket_name, Key=key)["Body"].read()


# -- manifests -------------------------------------------------------------------
def encode(doc: dict) -> bytes:
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode()


def descriptor(media_type: str, data: bytes, **extra) -> dict:
    return {"mediaType": media_type, "digest": digest(data), "size": len(data), **extra}


def image_manifest(
    api,
    name: str,
    media_type: str = OCI_MANIFEST,
    *,
    seed: str = "",
    layers: int = 1,
    subject: dict | None = None,
    artifact_type: str | None = None,
    annotations: dict | None = None,
    push: bool = True,
) -> bytes:
    """An image manifest of `media_type` whose config and layers are pushed to `name`
    (unless push=False). `seed` makes its blobs, and so its digest, unique."""
    docker = media_type == DOCKER_MANIFEST
    config = encode({"architecture": "amd64", "os": "linux", "seed": seed})
    blobs = [(DOCKER_CONFIG if docker else OCI_CONFIG, config)]
    blobs += [(DOCKER_LAYER if docker else OCI_LAYER, f"layer {i} {seed}".encode() * 50) for i in range(layers)]
    if push:
        for _, data in blobs:
            push_blob(api, name, data)
    doc: dict = {
        "schemaVersion": 2,
        "mediaType": media_type,
        "config": descriptor(*blobs[0]),
        "layers": [descriptor(mt, data) for mt, data in blobs[1:]],
    }
    if subject is not None:
        doc["subject"] = subject
    if artifact_type is not None:
        doc["artifactType"] = artifact_type
    if annotations is not None:
        doc["annotations"] = annotations
    return encode(doc)


def artifact_manifest(
    api, name: str, artifact_type: str, *, subject: dict | None = None, annotations: dict | None = None, payload: bytes = b""
) -> bytes:
    """An OCI 1.1 artifact: artifactType with the empty config `{}` (pushed), optional payload layer."""
    push_blob(api, name, EMPTY_JSON)
    layers = [descriptor(OCI_EMPTY, EMPTY_JSON)]
    if payload:
        push_blob(api, name, payload)
        layers = [descriptor("application/octet-stream", payload)]
    doc: dict = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": artifact_type,
        "config": descriptor(OCI_EMPTY, EMPTY_JSON),
        "layers": layers,
    }
    if subject is not None:
        doc["subject"] = subject
    if annotations is not None:
        doc["annotations"] = annotations
    return encode(doc)


def index_manifest(children: list[tuple[str, bytes]], media_type: str = OCI_INDEX, **extra) -> bytes:
    """An index (or Docker list) over (media type, manifest bytes) children."""
    manifests = [
        descriptor(mt, body, platform={"architecture": arch, "os": "linux"})
        for (mt, body), arch in zip(children, ["amd64", "arm64", "s390x", "ppc64le"])
    ]
    return encode({"schemaVersion": 2, "mediaType": media_type, "manifests": manifests, **extra})


def put_manifest(api, name: str, reference: str, body: bytes, media_type: str = OCI_MANIFEST):
    return api.put(f"/v2/{name}/manifests/{reference}", body, headers={"Content-Type": media_type})


def push_manifest(api, name: str, reference: str, body: bytes, media_type: str = OCI_MANIFEST) -> str:
    reply = put_manifest(api, name, reference, body, media_type)
    assert reply.status == 201, (reply.status, reply.body[:500])
    assert reply.headers["docker-content-digest"] == digest(body)
    return digest(body)


def push_image(api, name: str, tag: str, media_type: str = OCI_MANIFEST, **kw) -> tuple[str, bytes]:
    """Push an image (blobs and manifest) under `tag`; returns (digest, manifest bytes)."""
    body = image_manifest(api, name, media_type, seed=kw.pop("seed", f"{name}:{tag}"), **kw)
    return push_manifest(api, name, tag, body, media_type), body
