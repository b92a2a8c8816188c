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


def verify(http, reference: str, layout) -> None:
    """The pushed manifest is served, and every blob it names, byte for byte."""
    repo, tag = reference.rsplit(":", 1)
    reply = http.get_manifest(repo, tag)
    assert reply.status_code == 200, (reference, describe(reply))
    assert reply.headers["Docker-Content-Digest"] == layout.manifest_digest
    for digest in layout.blob_digests:
        data = blob_bytes(http, repo, digest)
        assert data is not None, f"{reference} lost {digest}"
        assert "sha256:" + hashlib.sha256(data).hexdigest() == digest


def test_concurrent_pushes_mounts_and_deletes_of_the_blobs_being_swept_lose_nothing(gc_stack, skopeo, tmp_path):
    """Rounds of three clients pushing one image (the same blobs) into three projects (skopeo
    twice, and plain HTTP mounting each blob from the first repository, uploading it when the
    mount falls back), while garbage collections run back to back. After each round every push
    that succeeded is read back whole; then all of them are deleted, so the blobs are garbage
    again when the next round pushes them (every third round waits for a collection to take
    them first). A push may fail (it lost to a collection: the client is told); a push that
    succeeded never loses a byte."""
    stack, harbor = gc_stack, Harbor(gc_stack)
    for project in ("gcp1", "gcp2", "gcp3"):
        harbor.project(project)
    layout = build_oci_layout(tmp_path / "same", (400 * 1024, 100 * 1024, 30 * 1024), seed=11)
    blobs = {layout.config_digest: layout.config, **{layer.digest: layer.blob for layer in layout.layers}}
    stop = threading.Event()
    runs: list[dict] = []
    failures: list[str] = []
    http = stack.http()

    def collector():
        while not stop.is_set():
            try:
                runs.append(harbor.gc(workers=2))
            except AssertionError as exc:
                failures.append(f"gc: {exc}")
                return

    def mount_and_put(reference: str) -> bool:
        client = stack.http()
        repo, tag = reference.rsplit(":", 1)
        for digest, data in blobs.items():
            if client.mount_blob(repo, digest, "gcp1/a").status_code != 201:
                client.upload_blob(repo, data)
        return client.put_manifest(repo, tag, layout.manifest).status_code == 201

    pushed_total, lost_races = 0, 0
    gc_thread = threading.Thread(target=collector, daemon=True)
    gc_thread.start()
    try:
        for i in range(ROUNDS):
            references = [f"gcp1/a:r{i}", f"gcp2/b:r{i}", f"gcp3/m:r{i}"]
            outcome: dict[str, bool] = {}
            workers = [
                threading.Thread(target=lambda r=references[0], o=outcome: o.__setitem__(r, push(skopeo, stack, layout, r))),
                threading.Thread(target=lambda r=references[1], o=outcome: o.__setitem__(r, push(skopeo, stack, layout, r))),
                threading.Thread(target=lambda r=references[2], o=outcome: o.__setitem__(r, mount_and_put(r))),
            ]
            for w in workers:
                w.start()
            for w in workers:
                w.join(timeout=600)
            for reference in references:
                if outcome.get(reference):
                    pushed_total += 1
                    verify(http, reference, layout)
                else:
                    lost_races += 1
            if i == ROUNDS - 1:
                break
            for reference in references:  # nothing names the blobs any more
                repo = reference.rsplit(":", 1)[0]
                reply = http.request("DELETE", f"/v2/{repo}/manifests/{layout.manifest_digest}")
                assert reply.status_code in (202, 404), describe(reply)
            if i % 3 == 2:
                time.sleep(3)  # a collection takes them before the next round pushes them again
    finally:
        stop.set()
        gc_thread.join(timeout=600)
    assert not failures, failures
    assert len(runs) >= 2, "the collections did not overlap the pushes"
    assert pushed_total >= 2 * ROUNDS, (pushed_total, lost_races)
    deletions = sum(int(json.loads(r["job_parameters"]).get("freed_blobs", 0)) for r in runs)
    assert deletions > 0, "no run deleted anything: the proof proved nothing"
    # the last round's pushes are whole after one more collection
    harbor.gc()
    for reference in (f"gcp1/a:r{ROUNDS - 1}", f"gcp2/b:r{ROUNDS - 1}", f"gcp3/m:r{ROUNDS - 1}"):
        if http.get_manifest(*reference.rsplit(":", 1)).status_code == 200:
            verify(http, reference, layout)
