"""The docker CLI (classic image store) pushes and pulls through a private dockerd.

docker 20.10 pushes each layer as POST, one PATCH with the whole
(gzip-compressed on the fly) layer, PUT `?digest=`, and treats 127.0.0.0/8
registries as insecure (plain HTTP) without any daemon configuration.
"""
from __future__ import annotations

import json
import re

import pytest

from tests.e2e.images import MiB, build_docker_archive, sha256_digest
from tests.e2e.registry_http import describe

pytestmark = pytest.mark.e2e

LAYER_SIZES = (6 * MiB + 4321, 512 * 1024, 2000)


def test_push_rmi_pull_roundtrip(dockerd, stack, tmp_path):
    local_tag = "berth-e2e/dockertest:1"
    remote = f"{stack.host}/library/dockertest:1"
    archive = build_docker_archive(tmp_path / "image.tar", [local_tag], LAYER_SIZES)

    loaded = dockerd.run("load", "-i", str(archive.path))
    assert local_tag in loaded.stdout
    dockerd.run("tag", local_tag, remote)
    dockerd.login(stack)
    try:
        pushed = dockerd.run("push", remote)
        match = re.search(r"digest: (sha256:[0-9a-f]{64}) size: (\d+)", pushed.stdout)
        assert match, pushed.stdout
        manifest_digest = match.group(1)

        # The registry has what docker says it pushed.
        http = stack.http()
        got = http.get_manifest("library/dockertest", "1")
        assert got.status_code == 200, describe(got)
        assert sha256_digest(got.content) == manifest_digest
        assert got.headers.get("Docker-Content-Digest") == manifest_digest, describe(got)
        assert len(got.content) == int(match.group(2))
        manifest = json.loads(got.content)
        assert manifest["config"]["digest"] == archive.image_id
        assert len(manifest["layers"]) == len(LAYER_SIZES)

        # Remove every local trace, then pull it back.
        dockerd.run("rmi", remote, local_tag)
        gone = dockerd.run("image", "inspect", remote, check=False)
        assert gone.returncode != 0, "image still present after rmi"

        pulled = dockerd.run("pull", remote)
        assert manifest_digest in pulled.stdout, pulled.stdout

        inspect = json.loads(dockerd.run("image", "inspect", remote).stdout)[0]
        assert inspect["Id"] == archive.image_id
        assert inspect["RootFS"]["Layers"] == archive.diff_ids
        assert f"{stack.host}/library/dockertest@{manifest_digest}" in inspect["RepoDigests"]
        assert inspect["Architecture"] == "amd64" and inspect["Os"] == "linux"
    finally:
        dockerd.run("rmi", "-f", remote, local_tag, check=False)
