"""skopeo pushes an OCI layout to the registry and pulls it back, byte for byte.

skopeo (containers/image) uploads each blob as POST, one PATCH with the whole
layer, PUT `?digest=`; a layer above 5 MiB therefore has to take the upload
host. Copying between two repositories of the same registry makes it try a
cross-repository mount first.
"""
from __future__ import annotations

import json

import pytest

from tests.e2e.images import build_oci_layout, read_oci_layout, sha256_digest
from tests.e2e.registry_http import describe

pytestmark = pytest.mark.e2e

LAYER_SIZES = (7 * 1024 * 1024, 300 * 1024, 64 * 1024, 1024 * 1024 + 17)


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return build_oci_layout(tmp_path_factory.mktemp("src") / "layout", LAYER_SIZES)


def _inspect_raw(skopeo, stack, reference: str) -> bytes:
    proc = skopeo.run("inspect", "--raw", "--tls-verify=false",
                      *skopeo.creds_args(stack, ""), f"docker://{reference}")
    return proc.stdout


def _push_and_pull(skopeo, stack, image, repo: str, tmp_path) -> None:
    ref = f"{stack.host}/{repo}"
    skopeo.run("copy", "--dest-tls-verify=false", "--preserve-digests", "--format", "oci",
               *skopeo.creds_args(stack, "dest"), image.ref, f"docker://{ref}")

    # The registry serves the exact bytes skopeo pushed.
    raw = _inspect_raw(skopeo, stack, ref)
    assert sha256_digest(raw) == image.manifest_digest, (
        f"manifest bytes changed: registry has {sha256_digest(raw)}, pushed "
        f"{image.manifest_digest}\n{raw[:500]!r}")
    assert raw == image.manifest

    http = stack.http()
    name, _, tag = repo.rpartition(":")
    head = http.get_manifest(name, tag, method="HEAD")
    assert head.status_code == 200, describe(head)
    assert head.headers.get("Docker-Content-Digest") == image.manifest_digest, describe(head)
    by_digest = http.get_manifest(name, image.manifest_digest)
    assert by_digest.status_code == 200, describe(by_digest)
    assert by_digest.content == image.manifest

    info = json.loads(skopeo.run("inspect", "--tls-verify=false", *skopeo.creds_args(stack, ""),
                                 f"docker://{ref}").text)
    assert info["Digest"] == image.manifest_digest
    assert info["Layers"] == image.layer_digests
    assert info["Architecture"] == "amd64" and info["Os"] == "linux"

    # Pull it back into a fresh layout: same manifest, same blobs, same bytes.
    dest = tmp_path / "pulled"
    skopeo.run("copy", "--src-tls-verify=false", "--preserve-digests",
               *skopeo.creds_args(stack, "src"), f"docker://{ref}", f"oci:{dest}:latest")
    pulled = read_oci_layout(dest, "latest")  # verifies every blob against its digest
    assert pulled.manifest_digest == image.manifest_digest
    assert pulled.manifest == image.manifest
    assert pulled.config_digest == image.config_digest
    assert pulled.config == image.config
    assert pulled.layer_digests == image.layer_digests
    for layer in image.layers:
        assert pulled.blob(layer.digest) == layer.blob


def test_push_pull_roundtrip(skopeo, stack, image, tmp_path):
    _push_and_pull(skopeo, stack, image, "library/multi:1", tmp_path)


def test_copy_to_second_repository_mounts_blobs(skopeo, stack, image, tmp_path):
    src = f"{stack.host}/library/multi:1"
    if _inspect_raw_or_none(skopeo, stack, src) != image.manifest:
        # Runs on its own too: push the source first.
        skopeo.run("copy", "--dest-tls-verify=false", "--preserve-digests", "--format", "oci",
                   *skopeo.creds_args(stack, "dest"), image.ref, f"docker://{src}")

    dst = f"{stack.host}/library/multi-copy:1"
    proc = skopeo.run("copy", "--src-tls-verify=false", "--dest-tls-verify=false",
                      "--preserve-digests", *skopeo.creds_args(stack, "src"),
                      *skopeo.creds_args(stack, "dest"), f"docker://{src}", f"docker://{dst}")
    # containers/image remembers where it saw each blob and tries
    # POST /v2/<dst>/blobs/uploads/?mount=<digest>&from=<src> before uploading.
    assert "mount=" in proc.stderr, "skopeo did not attempt a cross-repository mount"

    raw = _inspect_raw(skopeo, stack, dst)
    assert raw == image.manifest

    http = stack.http()
    for digest in image.blob_digests:
        head = http.head_blob("library/multi-copy", digest)
        assert head.status_code == 200, describe(head)

    dest = tmp_path / "pulled-copy"
    skopeo.run("copy", "--src-tls-verify=false", "--preserve-digests",
               *skopeo.creds_args(stack, "src"), f"docker://{dst}", f"oci:{dest}:latest")
    pulled = read_oci_layout(dest)
    assert pulled.manifest == image.manifest
    for layer in image.layers:
        assert pulled.blob(layer.digest) == layer.blob


def test_cross_repository_mount_api(stack, image, skopeo):
    """The mount request itself: 201 Created with the blob's location, no upload session."""
    src = f"{stack.host}/library/multi:1"
    if _inspect_raw_or_none(skopeo, stack, src) != image.manifest:
        skopeo.run("copy", "--dest-tls-verify=false", "--preserve-digests", "--format", "oci",
                   *skopeo.creds_args(stack, "dest"), image.ref, f"docker://{src}")
    http = stack.http()
    big = image.layers[0].digest
    mounted = http.mount_blob("library/mounted", big, "library/multi")
    assert mounted.status_code == 201, describe(mounted)
    assert mounted.headers.get("Docker-Content-Digest") == big, describe(mounted)
    assert f"/v2/library/mounted/blobs/{big}" in mounted.headers.get("Location", ""), describe(mounted)
    got = http.get_blob("library/mounted", big)
    assert got.status_code == 200, describe(got)
    assert got.content == image.layers[0].blob

    # Mounting from a repository that does not have the blob falls back to an upload session.
    fallback = http.mount_blob("library/mounted-2", big, "library/does-not-exist")
    assert fallback.status_code == 202, describe(fallback)
    assert fallback.headers.get("Location"), describe(fallback)


def test_push_pull_with_apigw_limits(skopeo, limited_stack, tmp_path):
    image = build_oci_layout(tmp_path / "layout", LAYER_SIZES)
    _push_and_pull(skopeo, limited_stack, image, "library/multi:limited", tmp_path)


def _inspect_raw_or_none(skopeo, stack, reference: str) -> bytes | None:
    proc = skopeo.run("inspect", "--raw", "--tls-verify=false", *skopeo.creds_args(stack, ""),
                      f"docker://{reference}", check=False)
    return proc.stdout if proc.returncode == 0 else None
