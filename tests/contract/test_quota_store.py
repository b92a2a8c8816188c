"""The quotas' store contract (chalicelib/meta/quotas.py, QuotaStore), run against each
implementation: DynamoDB on moto, and in memory. What one answers, the other must.

A change's operations are committed as the manifest write they join commits them: in one
transaction (DynamoDB), or by calling them (in memory); a stale read is a Conflict."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from chalicelib import quotas
from chalicelib.errors import Conflict, QuotaExceeded
from chalicelib.meta import keys
from chalicelib.meta.gc import SHARDS, BlobState, DynamoGC, MemoryGC
from chalicelib.meta.quotas import UNLIMITED, Change, Counted, DynamoQuotas, MemoryQuotas, Quota
from tests.contract.helpers import T0, conflicting_transact

A, B, C, M1, M2 = ("sha256:" + ch * 64 for ch in "abcde")


@dataclass
class Quotas:
    store: object
    commit: Callable[[list], None]  # runs a change's operations as the write they join does
    make_blob: Callable[[str], None]  # the blob's record is there from now on (gc_ledger)
    gc: DynamoGC | MemoryGC  # reads the blob records and candidates the operations write


@pytest.fixture(params=["dynamodb", "memory"])
def q(request, clock) -> Quotas:
    clock.now = T0
    if request.param == "memory":
        gc = MemoryGC(clock)
        store = MemoryQuotas(clock, ledger=gc.ledger)

        def run(ops: list) -> None:
            for op in ops:
                op()

        def make_record(digest: str) -> None:
            gc.ledger.blobs[digest] = BlobState.of(digest, {"digest": digest})

        return Quotas(store, run, make_record, gc)
    table = request.getfixturevalue("table")

    transact = conflicting_transact(table)

    def make_blob(digest: str) -> None:
        table.put({"PK": keys.blob_pk(digest), "SK": keys.BLOB_SK, "digest": digest})

    return Quotas(DynamoQuotas(table, clock), transact, make_blob, DynamoGC(table, clock))


def push(q: Quotas, project: str, sizes: dict[str, int], **kwargs) -> Change:
    """Charge a manifest naming `sizes` (digest -> bytes) as a push does: read, compute, commit."""
    store = q.store
    counted = store.blob_refs(project, sizes)
    change = quotas.charge(project, sizes, {d: c.refs for d, c in counted.items()}, store.get(project), T0,
                           in_blob_count=frozenset(d for d, c in counted.items() if c.in_blob_count), **kwargs)
    q.commit(store.ops(change))
    return change


def drop(q: Quotas, project: str, named: dict[str, int]) -> Change:
    store = q.store
    change = quotas.release(project, named, store.blob_refs(project, named), store.get(project), T0)
    q.commit(store.ops(change))
    return change


def test_a_project_without_a_quota_is_unlimited_and_empty(q):
    assert q.store.get("team") == Quota("team", UNLIMITED, 0, 0, 0)
    assert q.store.many(["team", "other"]) == {"team": Quota("team"), "other": Quota("other")}
    assert q.store.many([]) == {}
    assert q.store.blob_refs("team", [A]) == {}
    assert q.store.recount("team") is None


def test_set_hard_sets_the_limit_and_keeps_the_usage_and_creation_time(q, clock):
    assert q.store.set_hard("team", 1000) == Quota("team", 1000, 0, T0, T0)
    push(q, "team", {A: 300, M1: 10})
    clock.now = T0 + 60
    assert q.store.set_hard("team", UNLIMITED) == Quota("team", UNLIMITED, 310, T0, T0 + 60)
    assert q.store.get("team") == Quota("team", UNLIMITED, 310, T0, T0 + 60)
    assert q.store.many(["team", "other"]) == {"team": q.store.get("team"), "other": Quota("other")}


def test_a_charge_counts_each_blob_once_per_project(q):
    push(q, "team", {A: 100, B: 20, M1: 5})
    assert q.store.get("team").used == 125 and q.store.get("team").created == T0
    push(q, "team", {A: 100, C: 7, M2: 5})  # A is shared: counted once
    assert q.store.get("team").used == 137
    assert q.store.blob_refs("team", [A, B, C, M1, "sha256:" + "f" * 64]) == {
        A: Counted(2, 100), B: Counted(1, 20), C: Counted(1, 7), M1: Counted(1, 5)}
    push(q, "other", {A: 100, M1: 5})  # another project counts it again
    assert q.store.get("other").used == 105 and q.store.get("team").used == 137


def test_a_release_gives_back_only_what_no_manifest_still_names(q):
    push(q, "team", {A: 100, B: 20, M1: 5})
    push(q, "team", {A: 100, M2: 5})
    drop(q, "team", {A: 1, B: 1, M1: 1})  # the first manifest goes: A stays named by the second
    assert q.store.get("team").used == 105
    assert q.store.blob_refs("team", [A, B, M1, M2]) == {A: Counted(1, 100), M2: Counted(1, 5)}
    drop(q, "team", {A: 1, M2: 1})
    assert q.store.get("team").used == 0 and q.store.blob_refs("team", [A, M2]) == {}


def test_deleting_two_manifests_at_once_releases_a_shared_blob(q):
    push(q, "team", {A: 100, M1: 5})
    push(q, "team", {A: 100, M2: 5})
    drop(q, "team", {A: 2, M1: 1, M2: 1})
    assert q.store.get("team").used == 0 and q.store.blob_refs("team", [A, M1, M2]) == {}


def test_a_push_over_the_limit_is_refused_before_anything_is_written(q):
    q.store.set_hard("team", 150)
    push(q, "team", {A: 100, M1: 5})
    with pytest.raises(QuotaExceeded):
        push(q, "team", {B: 50, M2: 5})
    push(q, "team", {A: 100, M2: 5})  # only new bytes count: 5 more
    assert q.store.get("team").used == 110
    assert q.store.blob_refs("team", [B]) == {}


def test_a_charge_read_before_another_one_is_a_conflict_and_writes_nothing(q):
    q.store.set_hard("team", 200)
    store = q.store
    stale = quotas.charge("team", {A: 100, M1: 5}, {}, store.get("team"), T0)
    push(q, "team", {B: 100, M2: 5})  # room for one of them only
    with pytest.raises(Conflict):
        q.commit(store.ops(stale))
    assert store.get("team").used == 105 and store.blob_refs("team", [A, M1]) == {}


def test_a_charge_read_before_the_limit_changed_is_a_conflict(q):
    q.store.set_hard("team", 1000)
    stale = quotas.charge("team", {A: 100, M1: 5}, {}, q.store.get("team"), T0)
    q.store.set_hard("team", 2000)
    with pytest.raises(Conflict):
        q.commit(q.store.ops(stale))
    assert q.store.get("team").used == 0


def test_two_charges_of_the_same_new_blob_one_wins(q):
    store = q.store
    first = quotas.charge("team", {A: 100, M1: 5}, {}, store.get("team"), T0)
    second = quotas.charge("team", {A: 100, M2: 5}, {}, store.get("team"), T0)
    q.commit(store.ops(first))
    with pytest.raises(Conflict):
        q.commit(store.ops(second))  # it read A as new to the project: it reads again
    push(q, "team", {A: 100, M2: 5})
    assert store.get("team").used == 110 and store.blob_refs("team", [A])[A].refs == 2


def test_a_release_read_before_a_new_reference_is_a_conflict(q):
    store = q.store
    push(q, "team", {A: 100, M1: 5})
    stale = quotas.release("team", {A: 1, M1: 1}, store.blob_refs("team", [A, M1]), store.get("team"), T0)
    push(q, "team", {A: 100, M2: 5})
    with pytest.raises(Conflict):
        q.commit(store.ops(stale))
    assert store.get("team").used == 110


def test_apply_writes_a_change_on_its_own_and_leaves_out_a_stale_one(q):
    store = q.store
    push(q, "team", {A: 100, M1: 5})
    release = quotas.release("team", {A: 1, M1: 1}, store.blob_refs("team", [A, M1]), store.get("team"), T0)
    stale = quotas.release("team", {A: 1, M1: 1}, store.blob_refs("team", [A, M1]), store.get("team"), T0)
    store.apply(release)
    assert store.get("team").used == 0 and store.blob_refs("team", [A, M1]) == {}
    push(q, "team", {A: 100, M2: 5})
    store.apply(stale)  # read before the push: nothing of it is written
    assert store.get("team").used == 105 and store.blob_refs("team", [A])[A].refs == 1


def test_recount_sets_the_usage_to_the_sum_of_the_blobs_counted(q):
    store = q.store
    push(q, "team", {A: 100, B: 20, M1: 5})
    assert store.recount("team") == (125, 125)
    # a release that says fewer bytes than were counted: usage over-counts, as after a fault
    store.apply(Change("team", {}, {}, {B: (1, 1, 5)}, store.get("team"), T0))
    assert store.get("team").used == 120
    assert store.recount("team") == (120, 105)
    assert store.get("team").used == 105 and store.recount("team") == (105, 105)


def test_a_blob_named_by_a_project_is_counted_on_its_record(q):
    store = q.store
    with pytest.raises(Conflict):  # no record (or one a collection committed to deleting)
        push(q, "team", {A: 100, M1: 5}, blobs=frozenset({A}))
    assert store.get("team").used == 0
    q.make_blob(A)
    push(q, "team", {A: 100, M1: 5}, blobs=frozenset({A}))
    assert store.blob_refs("team", [A, M1]) == {A: Counted(1, 100, True), M1: Counted(1, 5)}
    q.make_blob(M1)  # counted as a manifest's own digest so far, now named as a blob
    push(q, "team", {M1: 5, M2: 5}, blobs=frozenset({M1}))
    assert store.blob_refs("team", [M1]) == {M1: Counted(2, 5, True)}
    push(q, "team", {A: 100, M2: 5}, blobs=frozenset({A}))  # counted already: stays
    assert store.blob_refs("team", [A]) == {A: Counted(2, 100, True)}


def test_the_blobs_record_counts_the_projects_naming_it(q):
    """What garbage collection reads (meta/gc_ledger.py): one project more when a project
    starts naming the blob, one fewer when it stops, and then the blob is a candidate."""

    def candidates() -> list[tuple[str, frozenset[str]]]:
        return [(c.digest, c.projects) for shard in SHARDS for c in q.gc.candidates(shard, None, 10)]

    q.make_blob(A)
    push(q, "team", {A: 100, M1: 5}, blobs=frozenset({A}))
    push(q, "other", {A: 100, M1: 5}, blobs=frozenset({A}))
    push(q, "team", {A: 100, M2: 5}, blobs=frozenset({A}))  # counted in team already
    assert (q.gc.blob(A).projects, q.gc.blob(A).last_ref) == (2, T0)
    drop(q, "team", {A: 1, M1: 1})  # M2 still names it in team
    assert q.gc.blob(A).projects == 2 and candidates() == []
    drop(q, "team", {A: 1, M2: 1})
    assert q.gc.blob(A).projects == 1 and candidates() == [(A, frozenset({"team"}))]
    drop(q, "other", {A: 1, M1: 1})
    assert q.gc.blob(A).projects == 0 and candidates() == [(A, frozenset({"team", "other"}))]


def test_the_removal_deletes_the_quota(q):
    q.store.set_hard("team", 1000)
    q.store.set_hard("other", 10)
    q.commit([q.store.removal("team")])
    assert q.store.get("team") == Quota("team") and q.store.get("other").hard == 10
