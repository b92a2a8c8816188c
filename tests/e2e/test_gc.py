"""Garbage collection with real pushes (skopeo, and plain HTTP mounts) against a stack of
its own whose grace period is one second and whose upload URLs live 20 seconds, so a
blob nothing names is collectable at once and an abandoned upload soon after.

- A deleted image's bytes are freed while every layer another image shares stays, and
  an abandoned upload's object goes.
- The concurrent-GC proof: garbage collections run back to back through the API while
  skopeo pushes, copies (cross-repository mounts) and deletes images made of the very same
  blobs, and an HTTP client mounts them, many rounds over. Every push that succeeded and
  was not deleted afterwards still has every blob, byte for byte, in S3.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from urllib.parse import urljoin

import boto3
import pytest
import requests

from tests.e2e.conftest import _start_stack
from tests.e2e.images import build_oci_layout
from tests.e2e.registry_http import describe

pytestmark = pytest.mark.e2e

ROUNDS = int(os.environ.get("BERTH_E2E_GC_ROUNDS", "8"))


@pytest.fixture(scope="module")
def gc_stack(e2e_logs):
    saved = {k: os.environ.get(k) for k in ("BERTH_GC_GRACE", "BERTH_UPLOAD_TTL")}
    os.environ.update(BERTH_GC_GRACE="1", BERTH_UPLOAD_TTL="20")
    stacks = _start_stack([], e2e_logs, "devstack-gc")
    try:
        stack = next(stacks)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    yield stack
    next(stacks, None)


class Harbor:
    def __init__(self, stack):
        self.base = f"{stack.api}/v2/api/v2.0"
        self.session = requests.Session()
        self.session.auth = stack.credentials

    def call(self, method: str, path: str, body=None) -> requests.Response:
        return self.session.request(method, self.base + path, json=body, timeout=60)

    def project(self, name: str) -> None:
        reply = self.call("POST", "/projects", {"project_name": name, "metadata": {"public": "false"}})
        assert reply.status_code in (201, 409), describe(reply)

    def gc(self, timeout: float = 300, **parameters) -> dict:
        """Run a garbage collection now (waiting while another runs) and wait for its end."""
        deadline = time.monotonic() + timeout
        while True:
            reply = self.call("POST", "/system/gc/schedule", {"schedule": {"type": "Manual"}, "parameters": parameters})
            if reply.status_code == 201:
                break
            assert reply.status_code == 409, describe(reply)
            assert time.monotonic() < deadline, "a garbage collection kept running"
            time.sleep(0.3)
        run_id = int(reply.headers["Location"].rsplit("/", 1)[1])
        while time.monotonic() < deadline:
            run = self.call("GET", f"/system/gc/{run_id}").json()
            if run["job_status"] in ("Success", "Error", "Stopped"):
                assert run["job_status"] == "Success", self.call("GET", f"/system/gc/{run_id}/log").text
                return run
            time.sleep(0.3)
        raise AssertionError(f"garbage collection {run_id} did not end")


def bucket(stack):
    s3 = boto3.client("s3", endpoint_url=stack.moto, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    return s3, stack.resources["bucket"]


def stored_objects(stack) -> dict[str, int]:
    s3, name = bucket(stack)
    out = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for obj in page.get("Contents", []):
            out[obj["Key"]] = obj["Size"]
    return out


def blob_bytes(http, repo: str, digest: str) -> bytes | None:
    reply = http.get_blob(repo, digest)
    if reply.status_code == 404:
        return None
    assert reply.status_code == 200, describe(reply)
    return reply.content


def push(skopeo, stack, layout, ref: str) -> bool:
    out = skopeo.run("copy", "--dest-tls-verify=false", "--preserve-digests", "--format", "oci",
                     *skopeo.creds_args(stack, "dest"), layout.ref, f"docker://{stack.host}/{ref}", check=False)
    return out.returncode == 0


def test_a_deleted_images_bytes_are_freed_and_shared_layers_stay(gc_stack, skopeo, tmp_path):
    stack, harbor, http = gc_stack, Harbor(gc_stack), gc_stack.http()
    harbor.project("gcfree")
    kept = build_oci_layout(tmp_path / "kept", (300 * 1024, 200 * 1024), seed=7)
    gone = build_oci_layout(tmp_path / "gone", (300 * 1024, 150 * 1024), seed=7)  # the first layer is the same
    assert kept.layer_digests[0] == gone.layer_digests[0] and kept.layer_digests[1] != gone.layer_digests[1]
    assert push(skopeo, stack, kept, "gcfree/kept:1") and push(skopeo, stack, gone, "gcfree/gone:1")
    # an abandoned upload: a session that got its bytes and never its PUT
    start = http.request("POST", "/v2/gcfree/gone/blobs/uploads/", headers={"Content-Length": "0"})
    assert start.status_code == 202, describe(start)
    patch = http.request("PATCH", urljoin(start.url, start.headers["Location"]), data=os.urandom(64 * 1024),
                         headers={"Content-Type": "application/octet-stream"})
    assert patch.status_code == 202, describe(patch)
    before = stored_objects(stack)
    assert http.request("DELETE", f"/v2/gcfree/gone/manifests/{gone.manifest_digest}").status_code == 202
    time.sleep(22)  # the upload's URL expires (20 s) and the grace (1 s) passes
    run = harbor.gc(delete_untagged=True)
    freed = json.loads(run["job_parameters"])
    after = stored_objects(stack)
    own = {gone.layer_digests[1]: len(gone.layers[1].blob), gone.config_digest: len(gone.config)}
    assert freed["freed_bytes"] >= sum(own.values()) and freed["freed_uploads"] >= 1
    assert sum(before.values()) - sum(after.values()) >= sum(own.values()) + 64 * 1024
    for digest in own:
        assert blob_bytes(http, "gcfree/gone", digest) is None
    for digest in kept.blob_digests:
        data = blob_bytes(http, "gcfree/kept", digest)
        assert data is not None and "sha256:" + hashlib.sha256(data).hexdigest() == digest
    abandoned = f"blobs/uploaded/{start.headers['Docker-Upload-UUID']}"
    assert abandoned in before and abandoned not in after
    log = harbor.call("GET", f"/system/gc/{run['id']}/log").text
    assert f"deleted blob {gone.layer_digests[1]}" in log
    assert f"deleted blob {kept.layer_digests[0]}" not in log


def test_concurrent_pushes_mounts_and_deletes_of_the_blobs_being_swept_lose_nothing(gc_stack, skopeo, tmp_path):
    stack, harbor = gc_stack, Harbor(gc_stack)
    for project in ("gcp1", "gcp2", "gcp3"):
        harbor.project(project)
    layout = build_oci_layout(tmp_path / "same", (400 * 1024, 100 * 1024, 30 * 1024), seed=11)
    stop = threading.Event()
    runs: list[dict] = []
    pushed: dict[str, str] = {}  # reference -> manifest digest, of pushes that succeeded
    deleted: set[str] = set()
    failures: list[str] = []
    lock = threading.Lock()

    def collector():
        while not stop.is_set():
            try:
                runs.append(harbor.gc(workers=2))
            except AssertionError as exc:
                failures.append(f"gc: {exc}")
                return

    def record(reference: str, ok: bool) -> None:
        with lock:
            if ok:
                pushed[reference] = layout.manifest_digest

    def pusher():
        """skopeo pushes the image, and deletes every other push (its blobs become garbage)."""
        http = stack.http()
        for i in range(ROUNDS):
            reference = f"gcp1/img:r{i}"
            ok = push(skopeo, stack, layout, reference)
            record(reference, ok)
            if ok and i % 2 == 1:
                reply = http.request("DELETE", f"/v2/gcp1/img/manifests/r{i}")
                if reply.status_code == 202:
                    with lock:
                        deleted.add(reference)

    def copier():
        """skopeo copies within the registry (it mounts the blobs from the source)."""
        for i in range(ROUNDS):
            source, target = f"{stack.host}/gcp1/img:r{i}", f"gcp2/copy:r{i}"
            out = skopeo.run("copy", "--src-tls-verify=false", "--dest-tls-verify=false", "--preserve-digests",
                             *skopeo.creds_args(stack, "src"), *skopeo.creds_args(stack, "dest"),
                             f"docker://{source}", f"docker://{stack.host}/{target}", check=False)
            record(target, out.returncode == 0)
            time.sleep(0.5)

    def mounter():
        """Plain HTTP: mount each blob from gcp1/img (uploading it when the mount falls back),
        then put the manifest."""
        http = stack.http()
        blobs = {layout.config_digest: layout.config, **{l.digest: l.blob for l in layout.layers}}
        for i in range(ROUNDS):
            for digest, data in blobs.items():
                reply = http.mount_blob("gcp3/mounted", digest, "gcp1/img")
                if reply.status_code != 201:
                    http.upload_blob("gcp3/mounted", data)
            reply = http.put_manifest("gcp3/mounted", f"r{i}", layout.manifest)
            record(f"gcp3/mounted:r{i}", reply.status_code == 201)
            time.sleep(0.3)

    threads = [threading.Thread(target=t, daemon=True) for t in (collector, pusher, copier, mounter)]
    for t in threads:
        t.start()
    for t in threads[1:]:
        t.join(timeout=1800)
    stop.set()
    threads[0].join(timeout=600)
    assert not failures, failures
    assert len(runs) >= 2, "the collections did not overlap the pushes"
    survivors = {ref: d for ref, d in pushed.items() if ref not in deleted}
    assert len(survivors) >= ROUNDS, pushed  # most pushes get through
    # after one more run with nothing changing, every surviving push is whole, byte for byte
    harbor.gc()
    http = stack.http()
    for reference, manifest_digest in survivors.items():
        repo, tag = reference.rsplit(":", 1)
        reply = http.get_manifest(repo, tag)
        assert reply.status_code == 200, (reference, describe(reply))
        assert reply.headers["Docker-Content-Digest"] == manifest_digest
        for digest in layout.blob_digests:
            data = blob_bytes(http, repo, digest)
            assert data is not None, f"{reference} lost {digest}"
            assert "sha256:" + hashlib.sha256(data).hexdigest() == digest
    deletions = sum(int(json.loads(r["job_parameters"]).get("freed_blobs", 0)) for r in runs)
    assert deletions > 0, "no run deleted anything: the proof proved nothing"
