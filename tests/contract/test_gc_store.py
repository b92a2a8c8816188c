"""Garbage collection's store contract (chalicelib/meta/gc.py, GCStore), run against each
implementation: DynamoDB on moto, and in memory. What one answers, the other must.

The blob records, links, upload claims and candidates are written by other paths (pushes,
uploads, deletions: meta/gc_ledger.py); `Ledger` writes them as those paths do, in the
table or in the MemoryLedger."""
from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.meta import gc_ledger, keys
from chalicelib.meta.gc import (
    PENDING,
    RUNNING,
    SHARDS,
    BlobState,
    DynamoGC,
    MemoryGC,
    MemoryLedger,
)
from tests.contract.helpers import T0


def digest(shard: str, n: int) -> str:
    return f"sha256:{shard}{n:063x}"


class DynamoLedger:
    def __init__(self, table):
        self._t = table

    def put_blob(self, blob: BlobState) -> None:
        item = {"PK": keys.blob_pk(blob.digest), "SK": keys.BLOB_SK, "digest": blob.digest, "nbytes": blob.nbytes,
                "s3key": blob.key, gc_ledger.PROJECTS: blob.projects, gc_ledger.LAST_REF: blob.last_ref,
                gc_ledger.TRACKED: 1 if blob.tracked else None, gc_ledger.GONE: blob.gone,
                gc_ledger.LINKED_IN: set(blob.repos) or None}
        self._t.put(item)

    def link(self, repository: str, d: str) -> None:
        self._t.put({"PK": keys.repo_pk(repository), "SK": keys.link_sk(d), "digest": d, "nbytes": 1})

    def linked(self, repository: str, d: str) -> bool:
        return self._t.get(keys.repo_pk(repository), keys.link_sk(d)) is not None

    def claim(self, upload_id: str) -> None:
        self._t.put({"PK": keys.uploaded_pk(upload_id), "SK": keys.UPLOADED_SK, "digest": "x"})

    def claimed(self, upload_id: str) -> bool:
        return self._t.get(keys.uploaded_pk(upload_id), keys.UPLOADED_SK) is not None

    def note_candidate(self, d: str, project: str, now: int) -> None:
        self._t.transact([gc_ledger.candidate_op(d, project, now)])

    def note_changed(self, repository: str) -> None:
        self._t.transact([gc_ledger.changed_op(repository)])


class InMemoryLedger:
    def __init__(self, ledger: MemoryLedger):
        self._l = ledger

    def put_blob(self, blob: BlobState) -> None:
        self._l.blobs[blob.digest] = blob

    def link(self, repository: str, d: str) -> None:
        self._l.links.add((repository, d))

    def linked(self, repository: str, d: str) -> bool:
        return (repository, d) in self._l.links

    def claim(self, upload_id: str) -> None:
        self._l.upload_claims.add(upload_id)

    def claimed(self, upload_id: str) -> bool:
        return upload_id in self._l.upload_claims

    def note_candidate(self, d: str, project: str, now: int) -> None:
        self._l.note_candidate(d, project, now)

    def note_changed(self, repository: str) -> None:
        self._l.note_changed(repository)


@pytest.fixture(params=["dynamodb", "memory"])
def gc(request, clock):
    clock.now = T0
    if request.param == "memory":
        ledger = MemoryLedger()
        return MemoryGC(clock, ledger), InMemoryLedger(ledger)
    table = request.getfixturevalue("table")
    return DynamoGC(table, clock), DynamoLedger(table)


def blob(d: str, **fields) -> BlobState:
    values = {"nbytes": 10, "key": None, "projects": 0, "last_ref": T0 - 100, "tracked": True, "gone": None, **fields}
    return BlobState(d, **values)


# -- candidates -------------------------------------------------------------------------------
def test_candidates_by_shard_in_digest_order_a_page_at_a_time(gc):
    store, ledger = gc
    ds = [digest("a", 3), digest("a", 1), digest("a", 2), digest("0", 1)]
    for d in ds:
        ledger.note_candidate(d, "team", T0)
    assert store.candidate_count() == 4
    page = store.candidates("a", None, 2)
    assert [c.digest for c in page] == [digest("a", 1), digest("a", 2)]
    assert [c.digest for c in store.candidates("a", page[-1].digest, 2)] == [digest("a", 3)]
    assert [c.digest for c in store.candidates("0", None, 10)] == [digest("0", 1)]
    assert store.candidates("f", None, 10) == []
    assert SHARDS[0] == "0" and len(SHARDS) == 16 and "a" in SHARDS


def test_a_candidate_keeps_its_first_time_and_gathers_projects(gc):
    store, ledger = gc
    d = digest("b", 1)
    ledger.note_candidate(d, "team", T0)
    [first] = store.candidates("b", None, 10)
    ledger.note_candidate(d, "other", T0 + 50)
    [again] = store.candidates("b", None, 10)
    assert (first.since, first.projects) == (T0, frozenset({"team"}))
    assert (again.since, again.projects) == (T0, frozenset({"team", "other"})) and again.nonce != first.nonce


def test_a_candidate_written_again_since_it_was_read_is_not_dropped(gc):
    store, ledger = gc
    d, e = digest("c", 1), digest("c", 2)
    ledger.note_candidate(d, "team", T0)
    ledger.note_candidate(e, "team", T0)
    read_d, read_e = store.candidates("c", None, 10)
    ledger.note_candidate(d, "team", T0 + 1)  # a project stopped naming it again meanwhile
    store.drop_candidate(read_d)
    store.drop_candidate(read_e)
    assert [c.digest for c in store.candidates("c", None, 10)] == [d] and store.candidate_count() == 1
    store.drop_candidate(read_e)  # gone already: no error


# -- repositories changed since the last run ---------------------------------------------------
def test_change_marks_by_shard_in_repository_order_dropped_only_as_read(gc):
    store, ledger = gc
    repositories = [f"team/app{i:02d}" for i in range(40)]
    for repository in repositories:
        ledger.note_changed(repository)
    shard = keys.gc_changed_shard(repositories[0])
    mine = sorted(r for r in repositories if keys.gc_changed_shard(r) == shard)
    page = store.changed(shard, None, 1)
    assert [m.repository for m in page] == mine[:1]
    assert [m.repository for m in store.changed(shard, page[-1].repository, 100)] == mine[1:]
    assert sum(len(store.changed(s, None, 100)) for s in SHARDS) == 40
    first = page[0]
    ledger.note_changed(first.repository)  # changed again while the run looked
    assert store.drop_changed(first) is False
    [again] = store.changed(shard, None, 1)
    assert again.repository == first.repository and again.nonce != first.nonce
    assert store.drop_changed(again) is True and store.drop_changed(again) is False
    assert [m.repository for m in store.changed(shard, None, 100)] == mine[1:]


def test_every_repository_visited_once_recorded(gc):
    store, _ = gc
    assert store.every_repository_visited() is False
    store.set_every_repository_visited()
    store.set_every_repository_visited()
    assert store.every_repository_visited() is True


# -- a blob's deletion ----------------------------------------------------------------------
def test_a_blob_as_garbage_collection_reads_it(gc):
    store, ledger = gc
    d = digest("d", 1)
    assert store.blob(d) is None
    stored = blob(d, nbytes=1 << 33, key="uploads/x", projects=2, tracked=False, repos=frozenset({"team/a", "team/b"}))
    ledger.put_blob(stored)
    assert store.blob(d) == stored


def test_mark_gone_only_while_the_blob_is_collectable(gc):
    store, ledger = gc
    cutoff = T0
    cases = {
        digest("e", 1): blob(digest("e", 1), projects=1),  # a project names it
        digest("e", 2): blob(digest("e", 2), last_ref=T0),  # named since the cutoff
        digest("e", 3): blob(digest("e", 3), tracked=False),  # older than the ledger
        digest("e", 4): blob(digest("e", 4), projects=None),
        digest("e", 5): blob(digest("e", 5), gone="7"),  # another run committed first
    }
    for b in cases.values():
        ledger.put_blob(b)
    for d, b in cases.items():
        assert store.mark_gone(d, cutoff, 9) is None
        assert store.blob(d) == b
    assert store.mark_gone(digest("e", 6), cutoff, 9) is None  # no record
    collectable = blob(digest("e", 7), repos=frozenset({"team/a"}))
    ledger.put_blob(collectable)
    gone = store.mark_gone(collectable.digest, cutoff, 9)
    assert gone == replace(collectable, gone="9") and store.blob(collectable.digest) == gone
    assert store.mark_gone(collectable.digest, cutoff, 10) is None  # once


def test_unlink_everywhere_and_forget_the_blob_with_its_claim(gc):
    store, ledger = gc
    d = digest("f", 1)
    ledger.put_blob(blob(d, repos=frozenset({"team/a", "team/b", "team/c"})))
    for repository in ("team/a", "team/b", "other/x"):
        ledger.link(repository, d)
    ledger.claim("upload-1")
    ledger.claim("upload-2")
    gone = store.mark_gone(d, T0, 9)
    store.unlink_everywhere(gone)  # team/c's link went already: no error
    assert [r for r in ("team/a", "team/b", "other/x") if ledger.linked(r, d)] == ["other/x"]
    assert store.forget_blob(gone, "upload-1") is True
    assert store.blob(d) is None and not ledger.claimed("upload-1") and ledger.claimed("upload-2")
    assert store.forget_blob(gone, None) is True  # deleted already (a reply lost): gone


def test_forget_blob_keeps_a_record_no_run_committed_to_delete(gc):
    store, ledger = gc
    live = blob(digest("1", 1))
    ledger.put_blob(live)
    ledger.claim("upload-1")
    assert store.forget_blob(live, "upload-1") is False
    assert store.blob(live.digest) == live and not ledger.claimed("upload-1")


# -- runs and their logs ----------------------------------------------------------------------
def test_runs_are_numbered_saved_and_listed_newest_first(gc, clock):
    store, _ = gc
    first = store.create_run("Manual", {"delete_untagged": True, "dry_run": True, "workers": 2})
    clock.now = T0 + 0.5
    second = store.create_run("Schedule", {})
    assert second.run_id > first.run_id > 0
    assert (first.status, first.created, first.updated, first.ended, first.cutoff) == (PENDING, T0, T0, 0, 0)
    assert first.dry_run and not second.dry_run and second.created == T0 + 0.5
    assert store.get(first.run_id) == first and store.get(0) is None and store.get(second.run_id + 1) is None
    assert store.runs() == [second, first]
    clock.now = T0 + 9
    saved = store.save(replace(first, status=RUNNING, cutoff=T0 - 3600, workflow_arn="arn:aws:states:x"))
    assert saved.updated == T0 + 9 and saved.created == T0
    assert store.get(first.run_id) == saved


def test_counts_and_projects_add_up(gc):
    store, _ = gc
    run = store.create_run("Manual", {})
    store.add_counts(run.run_id, {"blobs": 2, "bytes": 100, "kept": 0})
    store.add_counts(run.run_id, {"blobs": 1, "manifests": 4}, ["team", "other"])
    store.add_counts(run.run_id, {}, ["team", "third"])
    store.add_counts(run.run_id, {"kept": 0})  # nothing
    got = store.get(run.run_id)
    assert got.counts == {"blobs": 3, "bytes": 100, "manifests": 4}
    assert got.projects == frozenset({"team", "other", "third"})


def test_a_log_in_the_order_written(gc, clock):
    store, _ = gc
    run = store.create_run("Manual", {})
    store.log(run.run_id, ["first", "second"])
    clock.now = T0 + 1
    store.log(run.run_id, [])
    store.log(run.run_id, ["third"])
    store.log(run.run_id + 1, ["elsewhere"])
    assert store.log_lines(run.run_id) == ["first", "second", "third"]
    assert store.log_lines(run.run_id + 2) == []


# -- one run at a time --------------------------------------------------------------------------
def test_the_lease_lets_one_run_at_a_time(gc, clock):
    store, _ = gc
    assert store.holder() is None
    assert store.acquire(1, 60) == 1 and store.holder() == 1
    assert store.acquire(2, 60) is None
    clock.now = T0 + 30
    assert store.acquire(1, 60) == 1  # renewed: until T0 + 90
    clock.now = T0 + 80
    assert store.acquire(2, 60) is None and store.holder() == 1
    store.release(2)  # not its lease
    assert store.holder() == 1
    clock.now = T0 + 91  # a run that died holds it until it expires
    assert store.holder() is None
    assert store.acquire(2, 60) == 2 and store.holder() == 2
    store.release(2)
    assert store.holder() is None and store.acquire(3, 60) == 3


# -- the uploads' clean-up, the schedule ------------------------------------------------------
def test_the_uploads_clean_up_moves_only_forward(gc):
    store, _ = gc
    assert store.uploads_judged_until(3600) is None
    store.set_uploads_judged_until(T0 + 0.7)
    assert store.uploads_judged_until(3600) == T0
    store.set_uploads_judged_until(T0 - 50)
    assert store.uploads_judged_until(3600) == T0
    store.set_uploads_judged_until(T0 + 50)
    assert store.uploads_judged_until(3600) == T0 + 50


def test_the_schedule_keeps_its_creation_time(gc, clock):
    store, _ = gc
    assert store.schedule() is None
    first = store.set_schedule("Daily", "0 0 0 * * *", {"delete_untagged": True})
    assert (first.type, first.cron, first.parameters, first.created, first.updated) == (
        "Daily", "0 0 0 * * *", {"delete_untagged": True}, T0, T0)
    assert store.schedule() == first
    clock.now = T0 + 60
    second = store.set_schedule("Custom", "0 */5 * * * *", {})
    assert (second.created, second.updated) == (T0, T0 + 60) and store.schedule() == second
    store.schedule().parameters["x"] = 1  # a copy
    assert store.schedule() == second
    store.delete_schedule()
    assert store.schedule() is None
    store.delete_schedule()
    assert store.set_schedule("Hourly", "0 0 * * * *", {}).created == T0 + 60
