"""Test images built from random bytes, with no registry and no network.

Two formats:

* an OCI image layout directory (``oci-layout``, ``index.json``,
  ``blobs/sha256/...``) for ``skopeo copy oci:<dir>:<tag> ...``;
* a ``docker save`` tarball (``manifest.json``, the config, one tar per layer)
  for ``docker load -i``.

Layers are tar archives holding random (incompressible) bytes, so their
compressed size is about their nominal size: a 7 MiB layer really makes the
client send 7 MiB. Random data also means every run pushes fresh blobs, so
nothing passes just because a blob was left over from an earlier run.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

MiB = 1024 * 1024

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_EMPTY = "application/vnd.oci.empty.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"

# A fixed timestamp keeps configs reproducible for a given seed.
CREATED = "2024-01-01T00:00:00Z"
_EPOCH = 1704067200

# Four layers, one well above S3's 5 MiB part minimum and above what one
# Lambda request can carry.
DEFAULT_LAYER_SIZES = (7 * MiB, 300 * 1024, 64 * 1024, 1 * MiB + 17)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Layer:
    tar: bytes      # uncompressed tar: its digest is the diff_id
    blob: bytes     # what is pushed: gzip of tar (OCI layout) or tar itself (docker archive)
    media_type: str

    @property
    def diff_id(self) -> str:
        return sha256_digest(self.tar)

    @property
    def digest(self) -> str:
        return sha256_digest(self.blob)

    @property
    def size(self) -> int:
        return len(self.blob)

    def descriptor(self) -> dict:
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}


@dataclass
class OCIImage:
    """An image written as an OCI layout; all digests precomputed."""

    path: Path
    tag: str
    manifest: bytes
    config: bytes
    layers: list[Layer]
    index: dict = field(default_factory=dict)

    @property
    def manifest_digest(self) -> str:
        return sha256_digest(self.manifest)

    @property
    def config_digest(self) -> str:
        return sha256_digest(self.config)

    @property
    def layer_digests(self) -> list[str]:
        return [layer.digest for layer in self.layers]

    @property
    def diff_ids(self) -> list[str]:
        return [layer.diff_id for layer in self.layers]

    @property
    def blob_digests(self) -> list[str]:
        """Config first, then layers, in manifest order."""
        return [self.config_digest, *self.layer_digests]

    @property
    def ref(self) -> str:
        """The skopeo/containers-image reference for this layout."""
        return f"oci:{self.path}:{self.tag}"


@dataclass
class DockerArchive:
    """An image written as a `docker save` tarball."""

    path: Path
    repo_tags: list[str]
    config: bytes
    layers: list[Layer]

    @property
    def image_id(self) -> str:
        """What `docker image inspect` reports as Id: the config's digest."""
        return sha256_digest(self.config)

    @property
    def diff_ids(self) -> list[str]:
        return [layer.diff_id for layer in self.layers]


def _rng_bytes(rng: random.Random | None, n: int) -> bytes:
    return rng.randbytes(n) if rng is not None else os.urandom(n)


def random_layer_tar(index: int, size: int, rng: random.Random | None = None) -> bytes:
    """A tar with a directory, a small text file and `size` random bytes."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add(name: str, data: bytes | None, mode: int) -> None:
            info = tarfile.TarInfo(name)
            info.mtime = _EPOCH
            info.uid = info.gid = 0
            info.uname = info.gname = "root"
            info.mode = mode
            if data is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))

        add(f"berth-layer-{index}", None, 0o755)
        add(f"berth-layer-{index}/README", f"berth e2e layer {index}, {size} random bytes\n".encode(),
            0o644)
        add(f"berth-layer-{index}/random.bin", _rng_bytes(rng, size), 0o644)
    return buf.getvalue()


def _gzip(data: bytes) -> bytes:
    # mtime=0 and no file name: the same tar always gives the same blob.
    return gzip.compress(data, compresslevel=1, mtime=0)


def _image_config(diff_ids: Sequence[str], architecture: str, labels: dict | None) -> bytes:
    config = {
        "created": CREATED,
        "architecture": architecture,
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": ["/bin/sh"],
            "Labels": labels or {"org.opencontainers.image.title": "berth-e2e"},
        },
        "rootfs": {"type": "layers", "diff_ids": list(diff_ids)},
        "history": [
            {"created": CREATED, "created_by": f"berth e2e: add layer {i}"}
            for i in range(len(diff_ids))
        ],
    }
    return canonical_json(config)


def _write_blob(root: Path, data: bytes) -> str:
    digest = sha256_digest(data)
    path = root / "blobs" / "sha256" / digest.split(":", 1)[1]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def build_oci_layout(
    dest: str | os.PathLike,
    layer_sizes: Sequence[int] = DEFAULT_LAYER_SIZES,
    *,
    tag: str = "latest",
    architecture: str = "amd64",
    seed: int | None = None,
    annotations: dict | None = None,
) -> OCIImage:
    """Write an OCI image layout with one image (gzip layers of random data).

    `seed` makes the content reproducible; by default every call is unique.
    """
    rng = random.Random(seed) if seed is not None else None
    root = Path(dest)
    root.mkdir(parents=True, exist_ok=True)

    layers = []
    for i, size in enumerate(layer_sizes):
        tar = random_layer_tar(i, size, rng)
        layers.append(Layer(tar=tar, blob=_gzip(tar), media_type=OCI_LAYER_GZIP))

    config = _image_config([layer.diff_id for layer in layers], architecture, None)
    manifest_obj = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": sha256_digest(config), "size": len(config)},
        "layers": [layer.descriptor() for layer in layers],
        "annotations": annotations or {"org.opencontainers.image.created": CREATED},
    }
    # Indented on purpose: a registry must keep the exact bytes, not re-serialize.
    manifest = json.dumps(manifest_obj, indent=2).encode()

    for layer in layers:
        _write_blob(root, layer.blob)
    _write_blob(root, config)
    _write_blob(root, manifest)

    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": OCI_MANIFEST,
            "digest": sha256_digest(manifest),
            "size": len(manifest),
            "annotations": {REF_NAME: tag},
        }],
    }
    (root / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    (root / "index.json").write_text(json.dumps(index))
    return OCIImage(path=root, tag=tag, manifest=manifest, config=config, layers=layers, index=index)


@dataclass
class LayoutContents:
    """What a layout (e.g. one skopeo wrote) holds for one tag."""

    path: Path
    manifest_descriptor: dict
    manifest: bytes
    config: bytes

    @property
    def manifest_digest(self) -> str:
        return self.manifest_descriptor["digest"]

    @property
    def manifest_json(self) -> dict:
        return json.loads(self.manifest)

    @property
    def layer_digests(self) -> list[str]:
        return [d["digest"] for d in self.manifest_json["layers"]]

    @property
    def config_digest(self) -> str:
        return self.manifest_json["config"]["digest"]

    def blob(self, digest: str) -> bytes:
        return (self.path / "blobs" / digest.replace(":", "/", 1)).read_bytes()


def read_oci_layout(path: str | os.PathLike, tag: str = "latest") -> LayoutContents:
    """Read the image tagged `tag` from a layout, verifying every blob's digest and size."""
    root = Path(path)
    layout = json.loads((root / "oci-layout").read_text())
    if layout.get("imageLayoutVersion") != "1.0.0":
        raise ValueError(f"{root}: unexpected oci-layout {layout}")
    index = json.loads((root / "index.json").read_text())
    matches = [m for m in index.get("manifests", [])
               if (m.get("annotations") or {}).get(REF_NAME) == tag]
    if len(matches) != 1:
        raise ValueError(f"{root}: {len(matches)} manifests tagged {tag!r} in {index}")
    desc = matches[0]

    def blob(descriptor: dict) -> bytes:
        digest = descriptor["digest"]
        data = (root / "blobs" / digest.replace(":", "/", 1)).read_bytes()
        if sha256_digest(data) != digest:
            raise ValueError(f"{root}: blob {digest} has digest {sha256_digest(data)}")
        if len(data) != descriptor["size"]:
            raise ValueError(f"{root}: blob {digest} has size {len(data)}, not {descriptor['size']}")
        return data

    manifest = blob(desc)
    manifest_json = json.loads(manifest)
    config = blob(manifest_json["config"])
    for layer in manifest_json["layers"]:
        blob(layer)
    return LayoutContents(path=root, manifest_descriptor=desc, manifest=manifest, config=config)


def build_docker_archive(
    dest: str | os.PathLike,
    repo_tags: Sequence[str],
    layer_sizes: Sequence[int] = (6 * MiB, 256 * 1024, 3000),
    *,
    architecture: str = "amd64",
    seed: int | None = None,
) -> DockerArchive:
    """Write a `docker save`-format tarball loadable by `docker load -i`.

    Layout (as `docker save` writes it): `manifest.json`, `<config hex>.json`,
    one `<id>/layer.tar` (with the legacy `VERSION` and `json`) per layer, and
    `repositories`.
    """
    rng = random.Random(seed) if seed is not None else None
    layers = [Layer(tar=t, blob=t, media_type="application/vnd.docker.image.rootfs.diff.tar")
              for t in (random_layer_tar(i, size, rng) for i, size in enumerate(layer_sizes))]
    config = _image_config([layer.diff_id for layer in layers], architecture,
                           {"org.opencontainers.image.title": "berth-e2e-docker"})
    config_hex = hashlib.sha256(config).hexdigest()

    members: list[tuple[str, bytes | None]] = []
    layer_paths = []
    parent = ""
    for layer in layers:
        # Legacy v1 ids: any 64-hex name unique per (parent, layer) chain will do.
        layer_id = hashlib.sha256(f"{parent} {layer.diff_id}".encode()).hexdigest()
        members.append((layer_id, None))
        members.append((f"{layer_id}/VERSION", b"1.0"))
        legacy = {"id": layer_id, "created": CREATED, "os": "linux", "architecture": architecture}
        if parent:
            legacy["parent"] = parent
        members.append((f"{layer_id}/json", canonical_json(legacy)))
        members.append((f"{layer_id}/layer.tar", layer.tar))
        layer_paths.append(f"{layer_id}/layer.tar")
        parent = layer_id
    members.append((f"{config_hex}.json", config))
    manifest = [{"Config": f"{config_hex}.json", "RepoTags": list(repo_tags), "Layers": layer_paths}]
    members.append(("manifest.json", json.dumps(manifest).encode()))
    repositories: dict[str, dict[str, str]] = {}
    for repo_tag in repo_tags:
        repo, _, tag = repo_tag.rpartition(":")
        repositories.setdefault(repo, {})[tag] = parent
    members.append(("repositories", json.dumps(repositories).encode()))

    path = Path(dest)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.mtime = _EPOCH
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.mode = 0o644
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return DockerArchive(path=path, repo_tags=list(repo_tags), config=config, layers=layers)
