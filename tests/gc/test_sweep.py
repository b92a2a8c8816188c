"""What a garbage collection run deletes and keeps, step by step (chalicelib/gc.py run_all:
the workflow's steps in this process; test_gc_api.py runs them as the Step Functions
execution). Blobs, links, S3 objects and the upload claims go; what any tag, manifest or
index still names stays; a blob named again during a run stays; a run that died part-way
is finished by the next; usage is corrected."""
from __future__ import annotations

import os

import pytest

from chalicelib import artifacts, gc
from chalicelib.errors import Conflict, ManifestBlobUnknown
from chalicelib.meta import keys
from chalicelib.oci.digests import Digest
from chalicelib.storage import paths
from tests.gc.images import image, push_blob, push_image, put_manifest

HOUR = 3600


def layer(n: int = 2048) -> bytes:
    return os.urandom(n)


def new_run(world, **parameters):
    return world.svc.gc.create_run(gc.MANUAL, gc.parameters_of(parameters))


def collect(world, **parameters):
    run = new_run(world, **parameters)
    assert world.svc.gc.acquire(run.run_id, gc.LEASE_SECONDS) == run.run_id
    return gc.run_all(world.svc, run)


def stored(world, repository: str, digest: str) -> bool:
    """The blob's link, record and bytes are all there."""
    svc = world.svc
    link = svc.meta.get_link(repository, digest)
    if link is None or svc.meta.blob_size(digest) is None:
        return False
    key = link.key or paths.blob_key(digest)
    return any(o.key == key for o in svc.blobs.list_objects(key))


def object_gone(world, key: str) -> bool:
    return not any(o.key == key for o in world.svc.blobs.list_objects(key))


@pytest.fixture
def project(world):
    return world.project().name


def test_a_deleted_images_blobs_go_and_a_shared_layer_stays(world, project):
    svc = world.svc
    shared, own = layer(), layer()
    kept = push_image(svc, f"{project}/a", "1", [shared], seed="a")
    gone = push_image(svc, f"{project}/b", "1", [shared, own], seed="b")
    own_digest = push_blob(svc, f"{project}/b", own)
    own_key = svc.meta.get_link(f"{project}/b", own_digest).key
    artifacts.delete_manifest(svc, f"{project}/b", gone)
    world.clock.advance(2 * HOUR)
    run = collect(world)
    assert run.status == "Success"
    assert not stored(world, f"{project}/b", own_digest)
    assert object_gone(world, own_key)
    assert svc.table.get(keys.uploaded_pk(own_key.rsplit("/", 1)[1]), keys.UPLOADED_SK) is None
    # the shared layer and everything image a names stay
    record = svc.meta.get_manifest(f"{project}/a", kept)
    assert all(stored(world, f"{project}/a", d) for d in record.blobs)
    assert stored(world, f"{project}/b", record.blobs[1])  # b's link to the shared layer too
    assert run.counts["blobs"] == 2  # b's config and its own layer
    assert run.counts["bytes"] == len(own) + len(image([shared, own], "b")[1][0])


def test_a_blob_within_the_grace_period_stays_until_a_later_run(world, project):
    svc = world.svc
    digest = push_blob(svc, f"{project}/r", layer())  # uploaded, no manifest names it
    run = collect(world)
    assert run.counts.get("recent") and stored(world, f"{project}/r", digest)
    world.clock.advance(2 * HOUR)
    run = collect(world)
    assert not stored(world, f"{project}/r", digest)


def test_a_dry_run_reports_and_deletes_nothing(world, project):
    svc = world.svc
    data = layer(5000)
    digest = push_blob(svc, f"{project}/d", data)
    world.clock.advance(2 * HOUR)
    run = collect(world, dry_run=True)
    assert run.counts["blobs"] >= 1 and run.counts["bytes"] >= len(data)
    assert stored(world, f"{project}/d", digest)
    assert any(f"would delete blob {digest}" in line for line in svc.gc.log_lines(run.run_id))
    run = collect(world)
    assert not stored(world, f"{project}/d", digest)


def test_nothing_changed_reads_no_blob(world, project):
    """A run's work is the candidates: with none, it reads no blob record."""
    world.clock.advance(2 * HOUR)
    collect(world)
    assert world.svc.gc.candidate_count() == 0
    run = collect(world)
    assert run.counts.get("checked", 0) == 0


def test_a_blob_named_again_before_the_run_commits_stays(world, project):
    """The conditional write decides: a manifest naming the blob, put after the run read
    the candidate but before it committed, keeps it."""
    svc = world.svc
    data = layer()
    digest = push_blob(svc, f"{project}/x", data)
    world.clock.advance(2 * HOUR)
    run = new_run(world)
    svc.gc.acquire(run.run_id, gc.LEASE_SECONDS)
    gc.begin(svc, run, {})
    run = svc.gc.get(run.run_id)
    [candidate] = [c for c in svc.gc.candidates(digest.split(":")[1][0], None, 1000) if c.digest == digest]
    # the push lands now: the blob's record counts a project
    body, blobs = image([data], seed="again")
    push_blob(svc, f"{project}/x", blobs[0])
    put_manifest(svc, f"{project}/x", "v", body)
    outcome, _ = gc.sweep_one(svc, run, candidate)
    assert outcome.get("blobs", 0) == 0
    assert stored(world, f"{project}/x", digest)


def test_a_candidate_written_again_after_the_run_read_it_stays(world, project, monkeypatch):
    """A run drops a candidate only as it read it: the run finds the layer named and lets
    its candidate go, but the image's deletion wrote the candidate again in between (the
    layer's last project stopped naming it). That write stays, and a later run collects
    the layer (a candidate lost there would leave it stored for ever)."""
    from chalicelib.meta import gc_ledger

    svc = world.svc
    repo = f"{project}/c"
    data = layer()
    manifest = push_image(svc, repo, "1", [data], seed="c")
    digest = str(Digest.of(data))
    world.clock.advance(2 * HOUR)
    run = new_run(world)
    svc.gc.acquire(run.run_id, gc.LEASE_SECONDS)
    gc.begin(svc, run, {})
    run = svc.gc.get(run.run_id)
    [candidate] = [c for c in svc.gc.candidates(digest.split(":")[1][0], None, 1000) if c.digest == digest]
    read = svc.gc.blob(digest)
    assert read.projects == 1  # the run finds it named: it will drop the candidate

    def deleted_meanwhile(d):
        artifacts.delete_manifest(svc, repo, manifest)
        return read

    monkeypatch.setattr(svc.gc, "blob", deleted_meanwhile)
    outcome, _ = gc.sweep_one(svc, run, candidate)
    monkeypatch.undo()
    assert outcome.get("referenced") == 1
    assert svc.table.get(keys.gc_candidates_pk(digest), digest) is not None
    assert svc.gc.blob(digest).projects == 0 and gc_ledger.GONE not in svc.table.get(keys.blob_pk(digest), keys.BLOB_SK)
    svc.gc.release(run.run_id)
    collect(world)
    assert not stored(world, repo, digest)


def test_a_mount_while_the_blob_is_going_fails_and_a_push_uploads_again(world, project):
    """Once a run committed (the record is `gone`), a mount and a manifest naming it are
    refused; after the run, an upload records the blob anew and the push succeeds."""
    svc = world.svc
    data = layer()
    digest = push_blob(svc, f"{project}/m", data)
    world.clock.advance(2 * HOUR)
    run = new_run(world)
    svc.gc.acquire(run.run_id, gc.LEASE_SECONDS)
    gc.begin(svc, run, {})
    run = svc.gc.get(run.run_id)
    marked = svc.gc.mark_gone(digest, run.cutoff, run.run_id)
    assert marked is not None
    link = svc.meta.get_link(f"{project}/m", digest)
    with pytest.raises(Conflict):
        svc.meta.link_blob(f"{project}/other", digest, link.size, int(svc.clock()), key=link.key)
    body, blobs = image([data], seed="m")
    push_blob(svc, f"{project}/m", blobs[0])
    with pytest.raises((Conflict, ManifestBlobUnknown)):
        put_manifest(svc, f"{project}/m", "v", body)
    # the run dies here; the next one finishes the deletion
    svc.gc.release(run.run_id)
    run2 = collect(world)
    assert run2.counts["blobs"] >= 1
    assert svc.meta.blob_size(digest) is None and object_gone(world, marked.key)
    # pushed again: a new upload, a new object, and the manifest lands
    push_blob(svc, f"{project}/m", data)
    put_manifest(svc, f"{project}/m", "v", body)
    assert stored(world, f"{project}/m", digest)
    assert svc.meta.get_link(f"{project}/m", digest).key != marked.key


def test_a_run_that_dies_deleting_the_upload_claim_is_finished_by_the_next(world, project, monkeypatch):
    """The upload claim goes before the record: a run that dies at the claim leaves the
    record `gone` for the next run, which deletes both (a claim left after its record is
    found by nothing: it would stay for ever)."""
    svc = world.svc
    digest = push_blob(svc, f"{project}/k", layer())
    key = svc.meta.get_link(f"{project}/k", digest).key
    claim = keys.uploaded_pk(key.rsplit("/", 1)[1])
    world.clock.advance(2 * HOUR)
    delete_item = svc.table.client.delete_item

    def dies_at_the_claim(**kwargs):
        if kwargs["Key"]["PK"]["S"] == claim:
            raise RuntimeError("the run died here")
        return delete_item(**kwargs)

    monkeypatch.setattr(svc.table.client, "delete_item", dies_at_the_claim)
    run = new_run(world)
    svc.gc.acquire(run.run_id, gc.LEASE_SECONDS)
    with pytest.raises(RuntimeError):
        gc.run_all(svc, run)
    monkeypatch.undo()
    svc.gc.release(run.run_id)
    collect(world)
    assert svc.table.get(keys.blob_pk(digest), keys.BLOB_SK) is None
    assert svc.table.get(claim, keys.UPLOADED_SK) is None
    assert object_gone(world, key)


def test_untagged_manifests_go_with_delete_untagged(world, project):
    svc = world.svc
    repo = f"{project}/u"
    first = push_image(svc, repo, "t", [layer()], seed="first")
    second = push_image(svc, repo, "t", [layer()], seed="second")  # the tag moves: first is untagged
    world.clock.advance(2 * HOUR)
    run = collect(world)
    assert svc.meta.get_manifest(repo, first) is not None  # without delete_untagged it stays
    run = collect(world, delete_untagged=True)
    assert run.counts["manifests"] == 1
    assert svc.meta.get_manifest(repo, first) is None and svc.meta.get_manifest(repo, second) is not None
    # its blobs became candidates when it went, and go in a later run (they were named until now)
    world.clock.advance(2 * HOUR)
    collect(world)
    record = svc.meta.get_manifest(repo, second)
    assert all(stored(world, repo, d) for d in record.blobs)


def test_an_index_keeps_its_untagged_children(world, project):
    from tests.gc.images import push_index

    svc = world.svc
    repo = f"{project}/i"
    body_a, blobs_a = image([layer()], seed="ia")
    body_b, blobs_b = image([layer()], seed="ib")
    for data in blobs_a + blobs_b:
        push_blob(svc, repo, data)
    a = put_manifest(svc, repo, None, body_a)
    b = put_manifest(svc, repo, None, body_b)
    index = push_index(svc, repo, "multi", [(a, body_a), (b, body_b)])
    world.clock.advance(2 * HOUR)
    collect(world, delete_untagged=True)
    assert all(svc.meta.get_manifest(repo, d) is not None for d in (a, b, index))


def test_usage_is_corrected(world, project):
    svc = world.svc
    repo = f"{project}/q"
    data = layer(4000)
    digest = push_image(svc, repo, "1", [data], seed="q")
    # a deletion that died between its items and its quota left the usage too high
    quota = svc.quotas.get(project)
    svc.table.client.update_item(TableName=svc.table.name, Key=keys.key(keys.quota_pk(project), keys.QUOTA_SK),
                                 UpdateExpression="ADD used :n", ExpressionAttributeValues={":n": {"N": "1000"}})
    artifacts.delete_manifest(svc, repo, digest)
    world.clock.advance(2 * HOUR)
    collect(world)
    assert svc.quotas.get(project).used == 0
    assert quota.used > 0


def test_abandoned_uploads_go_once_their_url_expired(world, project):
    import io

    svc = world.svc
    session = svc.uploads.start(f"{project}/up")
    svc.uploads.append(session, io.BytesIO(b"x" * 5000), 5000, None)  # a PATCH, never a PUT
    assert not object_gone(world, session.key)
    collect(world)
    assert not object_gone(world, session.key)  # its URL has not expired: it may still complete
    world.clock.advance(svc.settings.upload_ttl_seconds + 2 * HOUR)
    run = collect(world)
    assert object_gone(world, session.key)
    assert run.counts["uploads"] >= 1 and run.counts["upload_bytes"] >= 5000
    # the next run lists only the uploads started since the last one judged
    assert svc.gc.uploads_judged_until(svc.settings.upload_ttl_seconds) >= session.expires_at - svc.settings.upload_ttl_seconds


def test_a_stopped_run_is_finished_by_the_next(world, project):
    svc = world.svc
    digest = push_blob(svc, f"{project}/s", layer())
    world.clock.advance(2 * HOUR)
    run = new_run(world)
    svc.gc.acquire(run.run_id, gc.LEASE_SECONDS)
    gc.begin(svc, run, {})
    run = svc.gc.get(run.run_id)
    assert svc.gc.mark_gone(digest, run.cutoff, run.run_id) is not None
    gc.stop(svc, run)
    assert svc.gc.get(run.run_id).status == "Stopped" and svc.gc.holder() is None
    assert gc.step(svc, {"step": "sweep", "run_id": run.run_id, "shard": 0, "after": ""}).get("stopped")
    collect(world)
    assert svc.meta.blob_size(digest) is None


def test_the_uploads_clean_up_state_moves_forward_and_reads_the_old_shape(world):
    """GCSTATE/UPLOADS: `sessions` (every session started before it judged), only forward;
    an item of the old shape (`until`: objects last written before it judged) reads as
    `until` less one URL lifetime (every session started before that had ended by then)."""
    svc = world.svc
    ttl = svc.settings.upload_ttl_seconds
    svc.table.put({"PK": keys.GC_STATE_PK, "SK": keys.GC_UPLOADS_SK, "until": 1_800_000_000})
    assert svc.gc.uploads_judged_until(ttl) == 1_800_000_000 - ttl
    svc.gc.set_uploads_judged_until(1_700_000_000)  # the new shape replaces the old
    assert svc.gc.uploads_judged_until(ttl) == 1_700_000_000
    svc.gc.set_uploads_judged_until(1_600_000_000)  # never back
    assert svc.gc.uploads_judged_until(ttl) == 1_700_000_000
    svc.table.delete(keys.GC_STATE_PK, keys.GC_UPLOADS_SK)
    assert svc.gc.uploads_judged_until(ttl) is None
