"""containerd's own client, `ctr` (Debian's containerd 1.6), against the stack.

ctr runs containerd's resolver (containerd/remotes/docker) in its own process and
keeps what it fetches in our private containerd (conftest.py's `containerd`:
own socket, namespace `berth`, the `native` snapshotter). That resolver is not
docker's nor skopeo's:

* it resolves a tag with HEAD on the manifest, then GETs the manifest by digest;
* with `--user` it asks for tokens with the OAuth2 form (POST, `grant_type=password`),
  falling back to GET only on some errors;
* it pushes a blob it got from another repository of the same registry by trying
  a cross-repository mount first (`POST ...?mount=<digest>&from=<repo>`), and any
  other blob with POST and then one monolithic PUT `?digest=` to the Location;
* it HEADs every blob and the manifest before pushing them.

ctr's --debug log (its path is in every assertion message, and in the e2e log
directory) names each request and its answer; a few assertions read it.
"""
from __future__ import annotations

import json
import re
import secrets
import tarfile
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import ANONYMOUS
from tests.e2e.images import OCI_MANIFEST, MiB, OCIImage, build_oci_layout, sha256_digest
from tests.e2e.registry_http import describe

pytestmark = pytest.mark.e2e

# Small images keep pulls quick; the imported image has a layer above S3's 5 MiB part size.
LAYERS = (300 * 1024 + 7, 4096)
BIG_LAYERS = (6 * MiB + 11, 2000)
# What ctr prints when the registry or its token service says no.
DENIED = re.compile(r"unauthorized|denied|insufficient_scope|authorization failed|401", re.IGNORECASE)
# One request/answer in ctr's --debug log.
_DEBUG_FIELD = re.compile(r'(request\.method|response\.status|url)=("(?:[^"\\]|\\.)*"|\S+)')


def _suffix() -> str:
    return secrets.token_hex(4)


def _push_with_skopeo(stack, skopeo, tmp_path: Path, repo: str, tag: str,
                      layers=LAYERS) -> OCIImage:
    """A fresh image, pushed as the admin by skopeo to `<repo>:<tag>` (a missing
    project is created, private)."""
    image = build_oci_layout(tmp_path / f"layout-{repo.replace('/', '-')}", layers, tag=tag)
    skopeo.run("copy", "--dest-tls-verify=false", "--preserve-digests", "--format", "oci",
               *skopeo.creds_args(stack, "dest"), image.ref, f"docker://{stack.host}/{repo}:{tag}")
    return image


def _image_row(containerd, ref: str) -> dict[str, str] | None:
    """`ctr images ls` for `ref`: {"type", "digest"}, or None when ctr has no such image."""
    listing = containerd.run("images", "ls").stdout
    for line in listing.splitlines()[1:]:
        fields = line.split()
        if fields and fields[0] == ref:
            return {"type": fields[1], "digest": fields[2]}
    return None


def _check_row(containerd, ref: str) -> str:
    """`ctr images check`'s line for `ref` (status, sizes, unpacked)."""
    lines = [line for line in containerd.run("images", "check").stdout.splitlines()
             if line.split() and line.split()[0] == ref]
    assert len(lines) == 1, f"ctr images check lists {ref} {len(lines)} times"
    return lines[0]


def _pull(containerd, stack, ref: str, credentials=None, check: bool = True):
    return containerd.run("images", "pull", "--plain-http", *containerd.user_args(stack, credentials),
                          "--snapshotter", containerd.snapshotter, ref, check=check)


def _requests(result) -> list[dict[str, str]]:
    """The registry requests and answers in a ctr --debug log, in order: each a dict with
    `url` and either `request.method` or `response.status`."""
    found = []
    for line in result.stderr.splitlines():
        if 'msg="do request"' in line or 'msg="fetch response received"' in line:
            found.append({key: value.strip('"') for key, value in _DEBUG_FIELD.findall(line)})
    return found


def _assert_in_registry(stack, repo: str, tag: str, image: OCIImage) -> None:
    """`repo:tag` resolves to the image's manifest (same bytes and digest) and
    every blob is there with the right bytes."""
    http = stack.http()
    got = http.get_manifest(repo, tag)
    assert got.status_code == 200, describe(got)
    assert got.content == image.manifest, "registry changed the manifest's bytes"
    assert got.headers.get("Docker-Content-Digest") == image.manifest_digest, describe(got)
    for digest in image.blob_digests:
        head = http.head_blob(repo, digest)
        assert head.status_code == 200, describe(head)
    for layer in image.layers:
        blob = http.get_blob(repo, layer.digest)
        assert blob.status_code == 200, describe(blob)
        assert sha256_digest(blob.content) == layer.digest, f"{repo}: blob {layer.digest} corrupted"


def _pull_count(stack, project: str, repo: str) -> int:
    response = requests.get(f"{stack.api}/v2/api/v2.0/projects/{project}/repositories/{repo}",
                            auth=stack.credentials, timeout=60)
    assert response.status_code == 200, describe(response)
    return response.json()["pull_count"]


# --------------------------------------------------------------------------- pull


def test_pull_with_credentials_gets_what_skopeo_pushed(containerd, stack, skopeo, tmp_path):
    project = f"ctrpull{_suffix()}"
    image = _push_with_skopeo(stack, skopeo, tmp_path, f"{project}/app", "v1")
    ref = f"{stack.host}/{project}/app:v1"

    pulled = _pull(containerd, stack, ref)

    # ctr names the manifest skopeo pushed, and has it byte for byte.
    row = _image_row(containerd, ref)
    assert row == {"type": OCI_MANIFEST, "digest": image.manifest_digest}, pulled.log
    assert containerd.content(image.manifest_digest) == image.manifest
    assert containerd.content(image.config_digest) == image.config
    for layer in image.layers:
        assert sha256_digest(containerd.content(layer.digest)) == layer.digest
    # Every blob the manifest names (config, layers) present and the layers unpacked.
    check = _check_row(containerd, ref)
    total = len(image.blob_digests)
    assert f"complete ({total}/{total})" in check and check.split()[-1] == "true", check

    # containerd's resolution: HEAD on the tag, then GET by digest. The registry
    # gave the digest on the HEAD.
    calls = _requests(pulled)
    methods = [(c.get("request.method"), c["url"].split("/v2/", 1)[-1]) for c in calls
               if "request.method" in c and "/manifests/" in c["url"]]
    assert ("HEAD", f"{project}/app/manifests/v1") in methods, methods
    assert ("GET", f"{project}/app/manifests/{image.manifest_digest}") in methods, methods

    # One pull counted (on AWS from the GET's log line, moments later), not one per request.
    deadline = time.monotonic() + 30
    while (count := _pull_count(stack, project, "app")) == 0 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert count == 1


# --------------------------------------------------------------------------- push


def test_tag_and_push_to_another_project_mounts_the_blobs(containerd, stack, skopeo, tmp_path):
    suffix = _suffix()
    source_project, target_project = f"ctrsrc{suffix}", f"ctrdst{suffix}"
    image = _push_with_skopeo(stack, skopeo, tmp_path, f"{source_project}/app", "v1")
    source = f"{stack.host}/{source_project}/app:v1"
    target = f"{stack.host}/{target_project}/copy:v2"
    _pull(containerd, stack, source)

    containerd.run("images", "tag", source, target)
    pushed = containerd.run("images", "push", "--plain-http", *containerd.user_args(stack), target)

    _assert_in_registry(stack, f"{target_project}/copy", "v2", image)
    inspect = json.loads(skopeo.run("inspect", "--tls-verify=false", *skopeo.creds_args(stack, ""),
                                    f"docker://{target}").stdout)
    assert inspect["Digest"] == image.manifest_digest
    assert inspect["Layers"] == image.layer_digests

    # ctr knew where the blobs came from (it pulled them) and asked for a
    # cross-repository mount of each; the registry did every one (201), so no bytes moved.
    calls = _requests(pushed)
    mounts = [c for c in calls if "mount=" in c["url"] and "response.status" in c]
    mounted = {re.search(r"mount=([^&]+)", c["url"]).group(1).replace("%3A", ":") for c in mounts}
    assert mounted == set(image.blob_digests), calls
    assert all(c["url"].endswith(f"from={source_project}/app") for c in mounts), mounts
    assert all(c["response.status"].startswith("201") for c in mounts), mounts
    assert not [c for c in calls if c.get("request.method") in ("PATCH", "PUT") and "/blobs/" in c["url"]]


def test_imported_image_is_pushed_with_post_then_one_put(containerd, stack, skopeo, tmp_path):
    """An image ctr imported from a file has no source to mount from: every blob is a
    POST and a single PUT with all its bytes (to the upload host's Location)."""
    project = f"ctrmono{_suffix()}"
    image = build_oci_layout(tmp_path / "layout", BIG_LAYERS, tag="v3")
    archive = tmp_path / "image.tar"
    with tarfile.open(archive, "w") as tar:
        for path in sorted(image.path.rglob("*")):
            tar.add(path, arcname=str(path.relative_to(image.path)), recursive=False)
    ref = f"{stack.host}/{project}/app:v3"
    containerd.run("images", "import", "--base-name", f"{stack.host}/{project}/app", str(archive))
    assert _image_row(containerd, ref) == {"type": OCI_MANIFEST, "digest": image.manifest_digest}

    pushed = containerd.run("images", "push", "--plain-http", *containerd.user_args(stack), ref)

    _assert_in_registry(stack, f"{project}/app", "v3", image)
    calls = _requests(pushed)
    blob_requests = [(c["request.method"], c["url"]) for c in calls
                     if c.get("request.method") and "/blobs/" in c["url"]]
    posts = [url for method, url in blob_requests if method == "POST"]
    puts = [url for method, url in blob_requests if method == "PUT"]
    assert len(posts) == len(puts) == len(image.blob_digests), blob_requests
    assert not [url for method, url in blob_requests if method == "PATCH"], blob_requests
    put_digests = {re.search(r"digest=([^&]+)", url).group(1).replace("%3A", ":") for url in puts}
    assert put_digests == set(image.blob_digests), puts
    answers = [c["response.status"] for c in calls if "response.status" in c
               and c.get("url") in puts]
    assert answers == ["201 Created"] * len(puts), calls


# --------------------------------------------------------------------------- auth


def test_anonymous_pull_public_yes_private_no(containerd, stack, skopeo, tmp_path):
    suffix = _suffix()
    public = _push_with_skopeo(stack, skopeo, tmp_path, f"library/ctranon{suffix}", "v1")
    private_project = f"ctrpriv{suffix}"
    _push_with_skopeo(stack, skopeo, tmp_path, f"{private_project}/app", "v1")

    public_ref = f"{stack.host}/library/ctranon{suffix}:v1"
    _pull(containerd, stack, public_ref, ANONYMOUS)
    assert _image_row(containerd, public_ref) == {"type": OCI_MANIFEST, "digest": public.manifest_digest}

    private_ref = f"{stack.host}/{private_project}/app:v1"
    refused = _pull(containerd, stack, private_ref, ANONYMOUS, check=False)
    assert refused.returncode != 0, f"anonymous pull of a private project worked: {refused.log}"
    assert DENIED.search(refused.error_lines), refused.error_lines
    assert _image_row(containerd, private_ref) is None


def test_wrong_password_is_refused(containerd, stack, skopeo, tmp_path):
    suffix = _suffix()
    project = f"ctrwrong{suffix}"
    _push_with_skopeo(stack, skopeo, tmp_path, f"{project}/app", "v1")
    _push_with_skopeo(stack, skopeo, tmp_path, f"library/ctrwrong{suffix}", "v1")
    admin = stack.credentials[0]

    for ref in (f"{stack.host}/{project}/app:v1",
                # a public project too: a wrong password is an error, not anonymous access
                f"{stack.host}/library/ctrwrong{suffix}:v1"):
        refused = _pull(containerd, stack, ref, (admin, "not-the-password"), check=False)
        assert refused.returncode != 0, f"pull with a wrong password worked: {refused.log}"
        assert DENIED.search(refused.error_lines), refused.error_lines
        assert _image_row(containerd, ref) is None
