"""Garbage collection's steps (chalicelib/gc.py run_all: begin, untagged, sweep, uploads,
finish) on the in-memory graph (tests/memory_graph.py): what a run deletes and what it
keeps, after the domain's pushes and deletions. tests/gc pins the same on moto, with the
workflow and the races."""
from __future__ import annotations

import io

import pytest

from chalicelib import artifacts, gc, projects
from chalicelib.events.envelope import ARTIFACT_DELETED
from chalicelib.meta.accounts import User
from chalicelib.meta.gc import SUCCESS
from chalicelib.oci.digests import Digest
from chalicelib.storage import paths
from tests.memory_graph import MemoryGraph
from tests.unit.memory_images import push_image

APP = "library/app"
SHARED = b"a base layer shared by images " * 40


@pytest.fixture
def svc() -> MemoryGraph:
    svc = MemoryGraph()
    svc.accounts.create_user(User("alice"))
    projects.create(svc, "library", "alice")
    svc.events.clear()
    return svc


def collect(svc: MemoryGraph, **parameters) -> gc.Run:
    """A run, every step in this process, once the grace period of what is there is over."""
    svc.now += svc.settings.gc_grace_seconds + 1
    run = gc.run_all(svc, svc.gc.create_run(gc.MANUAL, gc.parameters_of(parameters)))
    assert run.status == SUCCESS
    return run


def stored(svc: MemoryGraph, digest: str) -> bool:
    """Whether the blob's record and its bytes (under the key the record names) are there."""
    blob = svc.gc.blob(digest)
    return blob is not None and (blob.key or paths.blob_key(digest)) in svc.blobs.objects


def test_what_a_deleted_manifest_named_goes_after_the_grace_period(svc):
    record = push_image(svc, APP, "1", seed="a")
    artifacts.delete_manifest(svc, APP, record.digest)
    run = collect(svc)
    assert run.counts["blobs"] == len(record.blobs)
    for digest in record.blobs:
        assert svc.gc.blob(digest) is None
        assert svc.meta.get_link(APP, digest) is None
    assert not [k for k in svc.blobs.objects if k.startswith((paths.UPLOADED_PREFIX, "blobs/"))]


def test_nothing_goes_within_the_grace_period(svc):
    record = push_image(svc, APP, "1", seed="a")
    artifacts.delete_manifest(svc, APP, record.digest)
    run = gc.run_all(svc, svc.gc.create_run(gc.MANUAL, gc.parameters_of({})))
    assert run.counts.get("blobs", 0) == 0
    assert run.counts["recent"] == len(record.blobs)
    assert all(stored(svc, d) for d in record.blobs)


def test_what_a_manifest_names_stays(svc):
    first = push_image(svc, APP, "1", seed="a", layers=[SHARED])
    second = push_image(svc, "library/tools", "1", seed="b", layers=[SHARED])
    artifacts.delete_manifest(svc, APP, first.digest)
    collect(svc)
    shared = Digest.of(SHARED)
    assert svc.gc.blob(str(shared)) is not None  # still named by library/tools
    assert svc.gc.blob(first.blobs[0]) is None  # first's config: named by nothing
    assert svc.meta.get_manifest("library/tools", second.digest) is not None


def test_untagged_manifests_go_with_delete_untagged_and_give_the_quota_back(svc):
    old = push_image(svc, APP, "latest", seed="a")
    new = push_image(svc, APP, "latest", seed="b")  # `old` is untagged now
    svc.events.clear()
    collect(svc)  # without delete_untagged: kept
    assert svc.meta.get_manifest(APP, old.digest) is not None
    assert svc.events == []
    run = collect(svc, delete_untagged=True)
    assert run.counts["manifests"] == 1
    assert svc.meta.get_manifest(APP, old.digest) is None
    assert svc.meta.get_manifest(APP, new.digest) is not None
    assert [(e.type, e.data["digest"]) for e in svc.events] == [(ARTIFACT_DELETED, old.digest)]
    assert svc.quotas.get("library").used == new.size + sum(svc.meta.link_size(APP, d) for d in new.blobs)
    assert all(svc.gc.blob(d) is None for d in old.blobs)  # its blobs went in the same run


def test_a_dry_run_deletes_nothing(svc):
    old = push_image(svc, APP, "latest", seed="a")
    push_image(svc, APP, "latest", seed="b")
    artifacts.delete_tag(svc, APP, "latest")
    svc.events.clear()
    run = collect(svc, delete_untagged=True, dry_run=True)
    assert run.counts["manifests"] == 2
    assert svc.meta.get_manifest(APP, old.digest) is not None
    assert all(stored(svc, d) for d in old.blobs)
    assert svc.events == []


def test_what_an_abandoned_upload_left_goes_once_its_url_expired(svc):
    session = svc.uploads.start(APP)
    svc.uploads.append(session, io.BytesIO(b"half a layer"), 12, None)
    assert svc.blobs.objects
    collect(svc)  # the session's URL is still valid
    assert svc.blobs.objects
    svc.now += svc.settings.upload_ttl_seconds
    run = collect(svc)
    assert run.counts["uploads"] >= 1
    assert svc.blobs.objects == {}
