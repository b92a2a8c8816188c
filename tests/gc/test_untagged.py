"""The untagged step (`delete_untagged`) visits only the repositories that changed since
the last run: a change mark (GCDIRTY#, meta/gc_ledger.py changed_op) is written in every
transaction after which a manifest may be untagged, the step drains the marks, and a
mark is dropped only as the run read it. The first run with `delete_untagged` visits
every repository once (changes made before the marks existed have none)."""
from __future__ import annotations

import os

import pytest

from chalicelib import artifacts, gc
from chalicelib.meta import keys
from tests.gc.images import image, push_blob, push_image, put_manifest

HOUR = 3600


def layer() -> bytes:
    return os.urandom(512)


def collect(world, **parameters):
    svc = world.svc
    run = svc.gc.create_run(gc.MANUAL, gc.parameters_of({"delete_untagged": True, **parameters}))
    assert svc.gc.acquire(run.run_id, gc.LEASE_SECONDS) == run.run_id
    return gc.run_all(svc, run)


def marked(svc) -> set[str]:
    return {m.repository for shard in keys.GC_SHARDS for m in svc.gc.changed(shard, None, 1000)}


@pytest.fixture
def visits(world, monkeypatch):
    """The repositories the untagged step reads (each visit is one repository_contents)."""
    seen: list[str] = []
    read = type(world.svc.meta).repository_contents

    def spy(self, name):
        seen.append(name)
        return read(self, name)

    monkeypatch.setattr(type(world.svc.meta), "repository_contents", spy)
    return seen


@pytest.fixture
def settled(world):
    """Every mark drained: two runs (the first may be the one that visits every repository)."""
    world.clock.advance(2 * HOUR)
    collect(world)
    collect(world)
    assert marked(world.svc) == set()


def test_only_the_repositories_that_changed_are_visited(world, settled, visits):
    svc = world.svc
    project = world.project().name
    repos = [f"{project}/quiet{i}" for i in range(12)]
    firsts = {r: push_image(svc, r, "t", [layer()], seed=f"{r}-1") for r in repos}
    world.clock.advance(2 * HOUR)
    collect(world)  # the pushes marked them: visited once, nothing untagged
    assert set(repos) <= set(visits) and marked(svc) == set()
    visits.clear()
    moved, untagged = repos[3], repos[7]
    push_image(svc, moved, "t", [layer()], seed="moved")  # the tag moves: the first image is untagged
    assert artifacts.delete_tag(svc, untagged, "t")  # its manifest is untagged
    assert marked(svc) == {moved, untagged}
    world.clock.advance(2 * HOUR)
    run = collect(world)
    assert sorted(visits) == sorted([moved, untagged]), "the untagged step visited a repository that did not change"
    assert run.counts["manifests"] == 2
    assert svc.meta.get_manifest(moved, firsts[moved]) is None and svc.meta.get_manifest(untagged, firsts[untagged]) is None
    assert all(svc.meta.get_manifest(r, firsts[r]) is not None for r in repos if r not in (moved, untagged))
    assert marked(svc) == set()
    visits.clear()
    collect(world)  # nothing changed: no repository is read
    assert visits == []


def test_a_deleted_index_marks_its_repository_and_its_children_go(world, settled):
    from tests.gc.images import push_index

    svc = world.svc
    repo = f"{world.project().name}/multi"
    body_a, blobs_a = image([layer()], seed="child-a")
    for data in blobs_a:
        push_blob(svc, repo, data)
    child = put_manifest(svc, repo, None, body_a)
    index = push_index(svc, repo, "v1", [(child, body_a)])
    world.clock.advance(2 * HOUR)
    collect(world)
    assert svc.meta.get_manifest(repo, child) is not None and marked(svc) == set()
    svc.meta.delete_tag(repo, "v1")  # the index, then its child, are untagged
    world.clock.advance(2 * HOUR)
    run = collect(world)
    assert svc.meta.get_manifest(repo, index) is None and svc.meta.get_manifest(repo, child) is None
    assert run.counts["manifests"] == 2


def test_a_young_untagged_manifest_keeps_its_repository_marked(world, settled, visits):
    svc = world.svc
    repo = f"{world.project().name}/young"
    body, blobs = image([layer()], seed="young")
    for data in blobs:
        push_blob(svc, repo, data)
    digest = put_manifest(svc, repo, None, body)  # pushed by digest: untagged, within the grace period
    collect(world)
    assert svc.meta.get_manifest(repo, digest) is not None
    assert repo in marked(svc), "a manifest within the grace period must keep its repository for a later run"
    world.clock.advance(2 * HOUR)
    visits.clear()
    collect(world)
    assert visits == [repo]
    assert svc.meta.get_manifest(repo, digest) is None and marked(svc) == set()


def test_a_change_during_the_visit_keeps_the_mark_for_the_next_run(world, settled, monkeypatch):
    svc = world.svc
    repo = f"{world.project().name}/busy"
    first = push_image(svc, repo, "a", [layer()], seed="busy-a")
    second = push_image(svc, repo, "b", [layer()], seed="busy-b")
    world.clock.advance(2 * HOUR)
    collect(world)
    assert svc.meta.get_manifest(repo, first) is not None
    assert artifacts.delete_tag(svc, repo, "a")  # first is untagged: the repository is marked
    world.clock.advance(2 * HOUR)
    read = type(svc.meta).repository_contents

    def then_a_change(self, name):
        contents = read(self, name)
        if name == repo:  # after the run read it, "b" is deleted: second is untagged, and the mark written again
            monkeypatch.setattr(type(svc.meta), "repository_contents", read)
            assert artifacts.delete_tag(svc, repo, "b")
        return contents

    monkeypatch.setattr(type(svc.meta), "repository_contents", then_a_change)
    collect(world)
    assert svc.meta.get_manifest(repo, first) is None
    assert svc.meta.get_manifest(repo, second) is not None  # the run read it tagged
    assert repo in marked(svc), "the mark written during the run was dropped with the one the run read"
    collect(world)
    assert svc.meta.get_manifest(repo, second) is None and marked(svc) == set()


def test_a_dry_run_deletes_nothing_and_keeps_the_marks(world, settled):
    svc = world.svc
    repo = f"{world.project().name}/dry"
    first = push_image(svc, repo, "t", [layer()], seed="dry-1")
    push_image(svc, repo, "t", [layer()], seed="dry-2")
    world.clock.advance(2 * HOUR)
    run = collect(world, dry_run=True)
    assert run.counts["manifests"] == 1 and svc.meta.get_manifest(repo, first) is not None
    assert repo in marked(svc)
    collect(world)
    assert svc.meta.get_manifest(repo, first) is None


def test_the_first_run_visits_every_repository_once(world, settled, visits):
    """As after an upgrade: an untagged manifest whose change left no mark (made before the
    marks existed) is found by the first run, which visits every repository; a dry run
    does not count as that visit."""
    svc = world.svc
    repo = f"{world.project().name}/old"
    first = push_image(svc, repo, "t", [layer()], seed="old-1")
    push_image(svc, repo, "t", [layer()], seed="old-2")
    world.clock.advance(2 * HOUR)
    # no mark, and no run has visited every repository
    svc.table.delete(keys.gc_changed_pk(keys.gc_changed_shard(repo)), repo)
    svc.table.delete(keys.GC_STATE_PK, keys.GC_UNTAGGED_SK)
    repositories = set(svc.meta.list_repositories(last=None, limit=1000)[0])
    collect(world, dry_run=True)
    assert set(visits) == repositories and not svc.gc.every_repository_visited()
    assert svc.meta.get_manifest(repo, first) is not None
    visits.clear()
    run = collect(world)
    assert set(visits) == repositories and svc.gc.every_repository_visited()
    assert svc.meta.get_manifest(repo, first) is None and run.counts["manifests"] == 1
    assert any("visited every repository once" in line for line in svc.gc.log_lines(run.run_id))
    visits.clear()
    collect(world)
    assert set(visits) <= repositories and len(visits) < len(repositories)


def test_a_run_that_dies_part_way_is_finished_by_the_next_and_no_mark_is_lost(world, settled, monkeypatch):
    """The run dies after draining part of the marks (small pages, several task calls); a
    repository it had visited changes again during the run. The next run visits what is
    left and that repository again, and ends with every untagged manifest gone."""
    svc = world.svc
    project = world.project().name
    repos = [f"{project}/dies{i}" for i in range(10)]
    olds = {r: push_image(svc, r, "t", [layer()], seed=f"{r}-old") for r in repos}
    news = {r: push_image(svc, r, "t", [layer()], seed=f"{r}-new") for r in repos}  # every old one untagged
    world.clock.advance(2 * HOUR)
    monkeypatch.setattr(gc, "REPOSITORY_PAGE", 2)
    monkeypatch.setattr(gc, "STEP_ITEMS", 3)
    visit = gc._visit
    visited: list[str] = []

    def dies_at_the_sixth(svc_, run, name):
        if len(visited) == 2:  # a change in a repository this run has visited already
            assert artifacts.delete_tag(svc, visited[0], "t")
        if len(visited) == 5:
            raise RuntimeError("the task died")
        visited.append(name)
        return visit(svc_, run, name)

    monkeypatch.setattr(gc, "_visit", dies_at_the_sixth)
    run = svc.gc.create_run(gc.MANUAL, gc.parameters_of({"delete_untagged": True}))
    assert svc.gc.acquire(run.run_id, gc.LEASE_SECONDS) == run.run_id
    with pytest.raises(RuntimeError):
        gc.run_all(svc, run)
    gc.fail(svc, svc.gc.get(run.run_id), {"Error": "RuntimeError", "Cause": "the task died"})
    left = marked(svc)
    assert set(visited[1:]).isdisjoint(left) and visited[0] in left  # drained, but the change made since stays
    assert left - {visited[0]} == set(repos) - set(visited)
    assert all(svc.meta.get_manifest(r, olds[r]) is None for r in visited)
    monkeypatch.setattr(gc, "_visit", visit)
    again = collect(world)
    assert again.status == "Success"
    assert all(svc.meta.get_manifest(r, olds[r]) is None for r in repos)
    assert svc.meta.get_manifest(visited[0], news[visited[0]]) is None  # untagged during the failed run
    assert all(svc.meta.get_manifest(r, news[r]) is not None for r in repos if r != visited[0])
    assert marked(svc) == set()
