"""Proxy cache projects (docs/proxy-cache.md) against a real upstream: Debian's
docker-registry (open, and behind htpasswd), sometimes behind a fault proxy
(tests/fault_proxy.py) that answers 429 or garbage, pulled through by skopeo."""
from __future__ import annotations

import hashlib
import json
import os
import time
import uuid

import pytest
import requests

from chalicelib.remote.client import Credential, RegistryClient
from devstack.distribution import Distribution
from tests.fault_proxy import FaultProxy
from tests.replication.test_remote_client import digest_of, push_image

USER = ("puller", "Pull-secret-1")


def _api(stack, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{stack.api}/v2/api/v2.0{path}", auth=stack.credentials, timeout=60, **kwargs)


def _proxy_project(stack, url: str, credential: tuple[str, str] | None = None) -> str:
    suffix = uuid.uuid4().hex[:8]
    body = {"name": f"upstream-{suffix}", "type": "docker-registry", "url": url, "insecure": True}
    if credential:
        body["credential"] = {"type": "basic", "access_key": credential[0], "access_secret": credential[1]}
    created = _api(stack, "POST", "/registries", json=body)
    assert created.status_code == 201, created.text
    registry_id = int(created.headers["Location"].rsplit("/", 1)[1])
    name = f"hub-{suffix}"
    made = _api(stack, "POST", "/projects", json={"project_name": name, "registry_id": registry_id, "public": False})
    assert made.status_code == 201, made.text
    shown = _api(stack, "GET", f"/projects/{name}").json()
    assert shown["registry_id"] == registry_id
    return name


def _interval(stack, seconds: int) -> None:
    reply = _api(stack, "PUT", "/configurations", json={"proxy_cache_check_interval": seconds})
    assert reply.status_code == 200, reply.text


def _pull(skopeo, stack, ref: str, dest, *, check: bool = True):
    return skopeo.run("copy", "--src-tls-verify=false", *skopeo.creds_args(stack, "src"), f"docker://{ref}",
                      f"dir:{dest}", check=check)


def _pulled_manifest(dest) -> bytes:
    return (dest / "manifest.json").read_bytes()


@pytest.fixture
def upstream(tmp_path):
    with Distribution(tmp_path / "upstream") as registry:
        yield registry


@pytest.fixture(autouse=True)
def _default_interval(stack):
    yield
    _interval(stack, 300)


def test_first_pull_fetches_then_the_cache_serves_with_the_upstream_stopped(stack, skopeo, tmp_path):
    registry = Distribution(tmp_path / "upstream-auth", users=dict([USER])).__enter__()
    try:
        layer = os.urandom(300 * 1024)
        pushed = push_image(RegistryClient(registry.url, Credential(*USER)), "team/app", "v1", layer)
        project = _proxy_project(stack, registry.url, USER)

        _pull(skopeo, stack, f"{stack.host}/{project}/team/app:v1", tmp_path / "first")
        assert _pulled_manifest(tmp_path / "first") == pushed.data
        assert (tmp_path / "first" / digest_of(layer).split(":")[1]).read_bytes() == layer

        # the management API shows the cached repository like any other
        repos = _api(stack, "GET", f"/projects/{project}/repositories").json()
        assert [r["name"] for r in repos] == [f"{project}/team/app"]
        # pushes are refused, with the OCI error DENIED
        http = stack.http()
        refused = http.request("POST", f"/v2/{project}/team/app/blobs/uploads/")
        assert refused.status_code == 403 and refused.json()["errors"][0]["code"] == "DENIED"
        refused = http.put_manifest(f"{project}/team/app", "v2", pushed.data, pushed.media_type)
        assert refused.status_code == 403 and refused.json()["errors"][0]["code"] == "DENIED"
    finally:
        registry.__exit__()

    # the upstream is gone: the second pull is the cache's (tag within its interval)
    _pull(skopeo, stack, f"{stack.host}/{project}/team/app:v1", tmp_path / "second")
    assert _pulled_manifest(tmp_path / "second") == pushed.data
    # by digest too (immutable: never asks the upstream)
    _pull(skopeo, stack, f"{stack.host}/{project}/team/app@{pushed.digest}", tmp_path / "third")
    # something never pulled cannot be served: a clear OCI error, not a 500
    missing = stack.http().get_manifest(f"{project}/team/app", "v9")
    assert missing.status_code == 503 and missing.json()["errors"][0]["code"] == "UNAVAILABLE"
    assert "not cached" in missing.json()["errors"][0]["message"]


def test_stale_serve_while_the_upstream_answers_429_and_a_moved_tag_after_the_interval(stack, skopeo, upstream, tmp_path):
    client = RegistryClient(upstream.url)
    first = push_image(client, "library/nginx", "1.27", os.urandom(2000))
    with FaultProxy(upstream.url) as faults:
        project = _proxy_project(stack, faults.url)
        _interval(stack, 0)  # every pull asks the upstream
        _pull(skopeo, stack, f"{stack.host}/{project}/library/nginx:1.27", tmp_path / "first")
        assert _pulled_manifest(tmp_path / "first") == first.data

        faults.mode = "429"
        _pull(skopeo, stack, f"{stack.host}/{project}/library/nginx:1.27", tmp_path / "stale")
        assert _pulled_manifest(tmp_path / "stale") == first.data
        assert faults.requests("HEAD", "/manifests/1.27") >= 2  # it did ask, and was refused
        assert "proxy cache served a cached manifest" in stack.log_tail(400)
        # nothing cached and the upstream rate-limits: Docker's 429, TOOMANYREQUESTS
        never = stack.http().get_manifest(f"{project}/library/nginx", "never")
        assert never.status_code == 429 and never.json()["errors"][0]["code"] == "TOOMANYREQUESTS"

        # the upstream moves the tag; within a long interval the cache does not even ask
        faults.mode = "pass"
        second = push_image(client, "library/nginx", "1.27", os.urandom(3000))
        assert second.digest != first.digest
        _interval(stack, 3600)
        heads = faults.requests("HEAD", "/manifests/1.27")
        _pull(skopeo, stack, f"{stack.host}/{project}/library/nginx:1.27", tmp_path / "cached")
        assert _pulled_manifest(tmp_path / "cached") == first.data
        assert faults.requests("HEAD", "/manifests/1.27") == heads
        # once the interval has passed (0 now), the moved tag is picked up
        _interval(stack, 0)
        _pull(skopeo, stack, f"{stack.host}/{project}/library/nginx:1.27", tmp_path / "moved")
        assert _pulled_manifest(tmp_path / "moved") == second.data

        # an upstream that answers other bytes than the digest it names: never cached
        faults.mode = "garbage"
        push_image(client, "library/nginx", "1.28", os.urandom(1000))
        bad = stack.http().get_manifest(f"{project}/library/nginx", "1.28")
        assert bad.status_code == 502 and bad.json()["errors"][0]["code"] == "UNAVAILABLE", bad.text
        # while a cached tag is served stale when the upstream sends garbage for it
        served = stack.http().get_manifest(f"{project}/library/nginx", "1.27")
        assert served.status_code == 200 and served.content == second.data
        faults.mode = "pass"
        good = stack.http().get_manifest(f"{project}/library/nginx", "1.28")
        assert good.status_code == 200 and hashlib.sha256(good.content).hexdigest() == good.headers[
            "Docker-Content-Digest"].split(":")[1]


def test_a_layer_over_64_mib_on_the_first_pull(stack, skopeo, upstream, tmp_path):
    layer = os.urandom(65 * 1024 * 1024 + 123)
    pushed = push_image(RegistryClient(upstream.url), "big/layer", "v1", layer)
    project = _proxy_project(stack, upstream.url)
    _pull(skopeo, stack, f"{stack.host}/{project}/big/layer:v1", tmp_path / "big")
    assert _pulled_manifest(tmp_path / "big") == pushed.data
    got = (tmp_path / "big" / digest_of(layer).split(":")[1]).read_bytes()
    assert len(got) == len(layer) and got == layer
    # the blob GET answered a redirect to S3 (no bytes through the API)
    reply = stack.http().request("GET", f"/v2/{project}/big/layer/blobs/{digest_of(layer)}", allow_redirects=False)
    assert reply.status_code == 307 and "Signature" in reply.headers["Location"]


def _inline_limit(stack, size: int) -> None:
    reply = _api(stack, "PUT", "/configurations", json={"proxy_cache_inline_copy_bytes": size})
    assert reply.status_code == 200, reply.text


def _wait_for_the_cache(stack, path: str, timeout: float = 120) -> requests.Response:
    """Until the blob GET redirects to S3: the background copy is done."""
    deadline = time.monotonic() + timeout
    while True:
        reply = stack.http().request("GET", path, allow_redirects=False)
        if reply.status_code == 307 and "Signature" in reply.headers["Location"]:
            return reply
        assert time.monotonic() < deadline, f"still {reply.status_code} {reply.headers.get('Location')}"
        time.sleep(0.5)


def test_a_blob_too_big_for_the_request_is_copied_in_the_background(stack, skopeo, upstream, tmp_path):
    """Above proxy_cache_inline_copy_bytes the first GET starts the proxy_fill function (an
    asynchronous Lambda invocation) and answers 503 with Retry-After; once it is done, the
    blob is the cache's like any other, verified and byte-exact."""
    layer = os.urandom(6 * 1024 * 1024 + 7)
    pushed = push_image(RegistryClient(upstream.url), "big/async", "v1", layer)
    project = _proxy_project(stack, upstream.url)
    _inline_limit(stack, 1024 * 1024)
    try:
        path = f"/v2/{project}/big/async/blobs/{digest_of(layer)}"
        first = stack.http().request("GET", path, allow_redirects=False)
        assert first.status_code in (503, 307), first.text  # 307: the copy already finished
        if first.status_code == 503:
            assert first.json()["errors"][0]["code"] == "UNAVAILABLE" and first.headers["Retry-After"] == "10"
            assert "being copied" in first.json()["errors"][0]["message"]
        _wait_for_the_cache(stack, path)
        _pull(skopeo, stack, f"{stack.host}/{project}/big/async:v1", tmp_path / "pulled")
        assert _pulled_manifest(tmp_path / "pulled") == pushed.data
        assert (tmp_path / "pulled" / digest_of(layer).split(":")[1]).read_bytes() == layer
    finally:
        _inline_limit(stack, 256 * 1024 * 1024)


def test_a_big_blob_is_pulled_from_the_upstreams_cdn_while_the_cache_fills(stack, skopeo, upstream, tmp_path):
    """An upstream that sends blob GETs to another origin (its CDN, presigned): the first
    pull of a big blob goes there, without our credentials; later pulls are the cache's."""
    layer = os.urandom(5 * 1024 * 1024 + 3)
    pushed = push_image(RegistryClient(upstream.url), "big/cdn", "v1", layer)
    with FaultProxy(upstream.url) as faults:
        faults.mode = "cdn"
        project = _proxy_project(stack, faults.url)
        _inline_limit(stack, 1024 * 1024)
        try:
            path = f"/v2/{project}/big/cdn/blobs/{digest_of(layer)}"
            first = stack.http().request("GET", path, allow_redirects=False)
            assert first.status_code == 307
            assert first.headers["Location"] in (f"{upstream.url}/v2/big/cdn/blobs/{digest_of(layer)}",) or \
                "Signature" in first.headers["Location"]  # the copy may have won the race
            _pull(skopeo, stack, f"{stack.host}/{project}/big/cdn:v1", tmp_path / "first")
            assert (tmp_path / "first" / digest_of(layer).split(":")[1]).read_bytes() == layer
            _wait_for_the_cache(stack, path)
        finally:
            _inline_limit(stack, 256 * 1024 * 1024)
    # the upstream is gone: the cache serves it
    _pull(skopeo, stack, f"{stack.host}/{project}/big/cdn:v1", tmp_path / "second")
    assert _pulled_manifest(tmp_path / "second") == pushed.data
    assert (tmp_path / "second" / digest_of(layer).split(":")[1]).read_bytes() == layer


def test_multi_arch_fetches_only_the_requested_platform(stack, skopeo, upstream, tmp_path):
    client = RegistryClient(upstream.url)
    amd = push_image(client, "multi/app", "amd", os.urandom(1500))
    arm_layer = os.urandom(1700)
    arm = push_image(client, "multi/app", "arm", arm_layer)
    index = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": amd.media_type, "digest": amd.digest, "size": len(amd.data),
             "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": arm.media_type, "digest": arm.digest, "size": len(arm.data),
             "platform": {"architecture": "arm64", "os": "linux"}},
        ],
    }).encode()
    from chalicelib.remote.client import Manifest

    client.put_manifest("multi/app", "v1", Manifest(index, "application/vnd.oci.image.index.v1+json", digest_of(index)))
    with FaultProxy(upstream.url) as faults:
        project = _proxy_project(stack, faults.url)
        skopeo.run("copy", "--src-tls-verify=false", "--override-arch", "amd64", "--override-os", "linux",
                   *skopeo.creds_args(stack, "src"), f"docker://{stack.host}/{project}/multi/app:v1",
                   f"dir:{tmp_path / 'amd'}")
        assert _pulled_manifest(tmp_path / "amd") == amd.data
        assert faults.requests("GET", f"/manifests/{amd.digest}") == 1
        assert faults.requests("GET", f"/manifests/{arm.digest}") == 0
        assert faults.requests("GET", f"/blobs/{digest_of(arm_layer)}") == 0


def _real_image(skopeo, upstream, tmp_path, repo: str, fmt: str):
    """An image a runtime can unpack (tar layers), pushed to the upstream by skopeo."""
    from tests.e2e.images import build_oci_layout

    image = build_oci_layout(tmp_path / f"layout-{fmt}", (300 * 1024 + 7, 4096), tag="v1")
    skopeo.run("copy", "--dest-tls-verify=false", "--format", fmt, image.ref, f"docker://{upstream.host}/{repo}:v1")
    return image


def test_docker_pulls_through_the_cache(dockerd, stack, skopeo, upstream, tmp_path):
    image = _real_image(skopeo, upstream, tmp_path, "team/dockerpull", "v2s2")
    project = _proxy_project(stack, upstream.url)
    ref = f"{stack.host}/{project}/team/dockerpull:v1"
    dockerd.login(stack)
    try:
        dockerd.run("pull", ref)
        inspect = json.loads(dockerd.run("image", "inspect", ref).stdout)[0]
        assert inspect["RootFS"]["Layers"] == image.diff_ids
    finally:
        dockerd.run("rmi", ref, check=False)


def test_containerd_pulls_through_the_cache(containerd, stack, skopeo, upstream, tmp_path):
    image = _real_image(skopeo, upstream, tmp_path, "team/ctrpull", "oci")
    project = _proxy_project(stack, upstream.url)
    ref = f"{stack.host}/{project}/team/ctrpull:v1"
    containerd.run("images", "pull", "--plain-http", *containerd.user_args(stack), "--snapshotter",
                   containerd.snapshotter, ref)
    for layer in image.layers:
        assert hashlib.sha256(containerd.content(layer.digest)).hexdigest() == layer.digest.split(":")[1]


def test_referrers_come_from_the_upstream_until_cached(stack):
    """A proxy project's referrers API asks its upstream (OCI 1.1's API) when nothing is
    cached for the subject. The upstream here is this Berth itself (it has the API; the
    CNCF registry 2.8 has none), seen through a registry endpoint with its admin."""
    import io

    from chalicelib.remote.client import Manifest

    client = RegistryClient(stack.api, Credential(*stack.credentials), insecure=True)
    source = f"src-{uuid.uuid4().hex[:8]}"
    assert _api(stack, "POST", "/projects", json={"project_name": source}).status_code == 201
    subject = push_image(client, f"{source}/app", "v1", os.urandom(512))
    empty = b"{}"
    client.upload_blob(f"{source}/app", digest_of(empty), io.BytesIO(empty), len(empty))
    body = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": "application/vnd.example.sbom",
        "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest_of(empty), "size": 2},
        "layers": [{"mediaType": "application/vnd.oci.empty.v1+json", "digest": digest_of(empty), "size": 2}],
        "subject": {"mediaType": subject.media_type, "digest": subject.digest, "size": len(subject.data)},
    }).encode()
    sbom = Manifest(body, "application/vnd.oci.image.manifest.v1+json", digest_of(body))
    client.put_manifest(f"{source}/app", sbom.digest, sbom)

    proxy = _proxy_project(stack, stack.api, stack.credentials)
    listed = client.referrers(f"{proxy}/{source}/app", subject.digest)
    assert [(d["digest"], d.get("artifactType")) for d in listed] == [(sbom.digest, "application/vnd.example.sbom")]
    # the client fetches it by digest through the proxy: cached, and listed from the cache since
    assert client.get_manifest(f"{proxy}/{source}/app", sbom.digest).digest == sbom.digest
    assert client.manifest_digest(f"{proxy}/{source}/app", subject.digest) == subject.digest
    assert [d["digest"] for d in client.referrers(f"{proxy}/{source}/app", subject.digest)] == [sbom.digest]
