"""The harness checks itself: the image builders make images real tools accept.

No registry involved; if these fail, the other e2e failures say nothing about Berth.
"""
from __future__ import annotations

import json

import pytest

from tests.e2e.images import (
    MiB,
    build_docker_archive,
    build_oci_layout,
    read_oci_layout,
    sha256_digest,
)

pytestmark = pytest.mark.e2e


def test_oci_layout_is_valid_for_skopeo(skopeo, tmp_path):
    image = build_oci_layout(tmp_path / "layout", (6 * MiB, 1000, 0, 4096), tag="v1")
    assert max(layer.size for layer in image.layers) > 5 * MiB

    raw = skopeo.run("inspect", "--raw", f"oci:{image.path}:v1").stdout
    assert raw == image.manifest

    info = json.loads(skopeo.run("inspect", f"oci:{image.path}:v1").text)
    assert info["Digest"] == image.manifest_digest
    assert info["Layers"] == image.layer_digests
    assert info["Architecture"] == "amd64" and info["Os"] == "linux"

    config = json.loads(skopeo.run("inspect", "--config", "--raw", f"oci:{image.path}:v1").stdout)
    assert config["rootfs"]["diff_ids"] == image.diff_ids

    # skopeo copies it into another layout unchanged (decompressing each layer on the way
    # would fail on a broken gzip stream or a wrong diff_id).
    out = tmp_path / "copy"
    skopeo.run("copy", "--preserve-digests", image.ref, f"oci:{out}:v1")
    copied = read_oci_layout(out, "v1")
    assert copied.manifest == image.manifest
    assert copied.layer_digests == image.layer_digests


def test_oci_layout_seed_is_reproducible(tmp_path):
    a = build_oci_layout(tmp_path / "a", (1000, 2000), seed=7)
    b = build_oci_layout(tmp_path / "b", (1000, 2000), seed=7)
    c = build_oci_layout(tmp_path / "c", (1000, 2000))
    assert a.manifest_digest == b.manifest_digest
    assert a.manifest_digest != c.manifest_digest
    assert read_oci_layout(a.path).manifest_digest == a.manifest_digest


def test_docker_archive_loads(dockerd, tmp_path):
    tag = "berth-e2e/selftest:1"
    archive = build_docker_archive(tmp_path / "image.tar", [tag], (6 * MiB, 2048, 10))
    out = dockerd.run("load", "-i", str(archive.path))
    assert tag in out.stdout
    try:
        inspect = json.loads(dockerd.run("image", "inspect", tag).stdout)[0]
        assert inspect["Id"] == archive.image_id == sha256_digest(archive.config)
        assert inspect["RootFS"]["Layers"] == archive.diff_ids
        assert inspect["Architecture"] == "amd64"
        assert inspect["Os"] == "linux"
        assert tag in inspect["RepoTags"]
    finally:
        dockerd.run("rmi", "-f", tag, check=False)
