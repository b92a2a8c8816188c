"""The registry metadata's store contract (chalicelib/meta/registry.py, RegistryMeta), run
against each implementation: DynamoRegistryMeta on moto, and MemoryRegistryMeta
(chalicelib/meta/registry_memory.py). What one answers, the other must.

Other stores' operations joining a write (`extra`) are those of the same backend's stores
(the quota's change: DynamoQuotas / MemoryQuotas), and the labels and garbage collection's
ledger are read through their own stores (DynamoLabels / MemoryLabels, DynamoGC /
MemoryGC over the registry's MemoryLedger). Tests marked DYNAMODB read the table's items
or load it in bulk: they are about how the DynamoDB store keeps its data."""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from chalicelib.errors import Conflict
from chalicelib.events.outbox import Outbox, event_of
from chalicelib.meta import keys
from chalicelib.meta.gc import DynamoGC, MemoryGC
from chalicelib.meta.immutable_rules import DynamoImmutableRules, MemoryImmutableRules
from chalicelib.meta.labels import DynamoLabels, Label, MemoryLabels
from chalicelib.meta.quotas import DynamoQuotas, MemoryQuotas
from chalicelib.meta.registry import Doomed, DynamoRegistryMeta, ManifestRecord, Referrer, TagRecord
from chalicelib.meta.registry_memory import MemoryRegistryMeta
from chalicelib.meta.table import Table, unmarshal
from chalicelib.oci import mediatypes as mt
from chalicelib.oci.digests import Digest
from tests.contract.helpers import T0, conflicting_transact

NAME = "library/app"


@dataclass
class Registry:
    """The store under test, with the stores of the same backend it works with."""

    meta: DynamoRegistryMeta | MemoryRegistryMeta
    labels: DynamoLabels | MemoryLabels
    quotas: DynamoQuotas | MemoryQuotas
    rules: DynamoImmutableRules | MemoryImmutableRules
    gc: DynamoGC | MemoryGC
    make_project: Callable[[str], None]  # the project exists from now on (the `project=` guard)
    commit: Callable[[list], None]  # runs other stores' operations on their own, as the domain does
    emitted: Callable[[], list]  # the events the store wrote (DynamoDB: its outbox items)
    table: Table | None = None  # DynamoDB's


# how the DynamoDB store keeps its data: items, bulk loads
DYNAMODB = pytest.mark.parametrize("registry", ["dynamodb"], indirect=True)


@pytest.fixture(params=["dynamodb", "memory"])
def registry(request, clock) -> Registry:
    clock.now = T0
    outbox = Outbox("/berth/test", clock)
    if request.param == "memory":
        projects: set[str] = set()
        rules = MemoryImmutableRules()
        gc = MemoryGC(clock)
        meta: MemoryRegistryMeta | None = None
        labels = MemoryLabels(clock, lambda repository, digest: meta is not None and meta.get_manifest(repository, digest) is not None)
        quota_store = MemoryQuotas(clock, lambda digest: meta is not None and meta.blob_live(digest))
        meta = MemoryRegistryMeta(outbox, project_exists=projects.__contains__, ledger=gc.ledger, rules=rules.get,
                                  quota=quota_store.get, counted=quota_store.blob_refs, labels=labels)

        def run(ops: list) -> None:
            for op in ops:
                op()

        memory = meta
        return Registry(meta, labels, quota_store, rules, gc, projects.add, run, lambda: list(memory.emitted))
    table = request.getfixturevalue("table")

    def make_project(project: str) -> None:
        table.put({"PK": keys.project_pk(project), "SK": keys.PROJECT_SK, "name": project})

    def outbox_events() -> list:
        raw = table.client.scan(TableName=table.name)["Items"]
        found = [e for e in (event_of(unmarshal(i)) for i in raw) if e is not None]
        return sorted(found, key=lambda e: (e.epoch, e.id))

    return Registry(DynamoRegistryMeta(table, outbox), DynamoLabels(table, clock), DynamoQuotas(table, clock),
                    DynamoImmutableRules(table), DynamoGC(table, clock), make_project, conflicting_transact(table),
                    outbox_events, table)


@pytest.fixture
def meta(registry):
    return registry.meta


@pytest.fixture
def labels(registry):
    return registry.labels


def digest_of(text: str) -> str:
    return str(Digest.of(text.encode()))


def put_in_bulk(registry: Registry, monkeypatch, writes) -> None:
    """put_manifest for each (name, record, tag); on DynamoDB its items written in bulk.

    moto copies the whole table for every TransactWriteItems, so a thousand
    transactions take minutes; the items are exactly those put_manifest builds.
    """
    meta, table = registry.meta, registry.table
    if table is None:
        for name, rec, tag in writes:
            meta.put_manifest(name, rec, tag, T0)
        return
    ops: list[dict] = []
    with monkeypatch.context() as mp:
        mp.setattr(table, "transact", ops.extend)
        for name, rec, tag in writes:
            meta.put_manifest(name, rec, tag, T0)
    puts = {}
    for op in ops:
        if "Put" in op:
            item = op["Put"]["Item"]
            puts[(item["PK"]["S"], item["SK"]["S"])] = item
        else:
            table.client.update_item(TableName=table.name, **op["Update"])
    items = list(puts.values())
    for start in range(0, len(items), 25):
        requests = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        table.client.batch_write_item(RequestItems={table.name: requests})


def record(text: str = "m", **fields) -> ManifestRecord:
    body = f'{{"manifest":"{text}"}}'.encode()
    values = {
        "digest": str(Digest.of(body)),
        "media_type": mt.OCI_MANIFEST,
        "size": len(body),
        "body": body,
        "blobs": [digest_of(f"{text}-config"), digest_of(f"{text}-layer")],
        "created": T0,
    }
    values.update(fields)
    return ManifestRecord(**values)


# -- blob links ----------------------------------------------------------------------------
def test_link_blob(meta: DynamoRegistryMeta):
    d = digest_of("layer")
    assert meta.link_size(NAME, d) is None
    assert meta.blob_size(d) is None
    meta.link_blob(NAME, d, 1234, T0)
    assert meta.link_size(NAME, d) == 1234
    assert meta.blob_size(d) == 1234
    assert meta.link_size("library/other", d) is None


def test_a_second_link_links_the_blob_there_too(meta):
    d = digest_of("layer")
    meta.link_blob(NAME, d, 10, T0)
    meta.link_blob("library/other", d, 10, T0 + 500)
    assert meta.link_size("library/other", d) == 10
    assert meta.link_size(NAME, d) == 10
    assert meta.blob_size(d) == 10


@DYNAMODB
def test_link_keeps_the_first_created_time(registry):
    # the record's creation time is the DynamoDB item's alone (the Protocol does not read it)
    meta, table = registry.meta, registry.table
    d = digest_of("layer")
    meta.link_blob(NAME, d, 10, T0)
    meta.link_blob("library/other", d, 10, T0 + 500)
    assert table.get(keys.blob_pk(d), keys.BLOB_SK)["created"] == T0
    assert meta.link_size("library/other", d) == 10


def test_unlink_blob(meta):
    d = digest_of("layer")
    meta.link_blob(NAME, d, 10, T0)
    meta.link_blob("library/other", d, 10, T0)
    assert meta.unlink_blob(NAME, d) is True
    assert meta.unlink_blob(NAME, d) is False
    assert meta.link_size(NAME, d) is None
    # other repositories and the record of the bytes are untouched (GC decides about bytes)
    assert meta.link_size("library/other", d) == 10
    assert meta.blob_size(d) == 10


def test_missing_references(meta):
    blobs = [digest_of(f"blob-{i}") for i in range(4)]
    children = [digest_of(f"child-{i}") for i in range(3)]
    meta.link_blob(NAME, blobs[0], 1, T0)
    meta.link_blob(NAME, blobs[2], 1, T0)
    meta.link_blob("library/other", blobs[1], 1, T0)
    child = record("child-0")
    meta.put_manifest(NAME, child, None, T0)
    children[0] = child.digest
    assert meta.missing_references(NAME, blobs, children) == [blobs[1], blobs[3], children[1], children[2]]
    assert meta.missing_references(NAME, [blobs[0], blobs[0]], [children[0]]) == []
    assert meta.missing_references(NAME, [], []) == []


def test_a_manifest_is_not_a_blob_and_a_blob_is_not_a_manifest(meta):
    m = record()
    meta.put_manifest(NAME, m, None, T0)
    meta.link_blob(NAME, digest_of("layer"), 1, T0)
    assert meta.missing_references(NAME, [m.digest], [digest_of("layer")]) == [m.digest, digest_of("layer")]


def test_missing_references_beyond_one_batch(meta):
    # BatchGetItem takes 100 keys at a time
    digests = [digest_of(f"blob-{i}") for i in range(250)]
    present = set(random.Random(1).sample(digests, 40))
    for d in present:
        meta.link_blob(NAME, d, 1, T0)
    assert meta.missing_references(NAME, digests, []) == [d for d in digests if d not in present]


# -- manifests and tags -------------------------------------------------------------------
def test_put_manifest_with_tag(meta):
    m = record(annotations={"org.opencontainers.image.title": "x"}, children=[])
    meta.put_manifest(NAME, m, "latest", T0)
    assert meta.get_manifest(NAME, m.digest) == m
    assert meta.get_tag(NAME, "latest") == TagRecord("latest", m.digest, m.media_type, m.size, m.body)
    assert meta.repository_exists(NAME)
    assert meta.get_tag(NAME, "other") is None
    assert meta.get_tag("library/other", "latest") is None
    assert meta.get_manifest("library/other", m.digest) is None


def test_put_manifest_without_tag(meta):
    m = record()
    meta.put_manifest(NAME, m, None, T0)
    assert meta.get_manifest(NAME, m.digest) == m
    assert meta.list_tags(NAME, last=None, limit=100) == ([], False)
    assert meta.repository_exists(NAME)


def test_index_record_round_trips(meta):
    children = [digest_of("amd64"), digest_of("arm64")]
    m = record("index", media_type=mt.OCI_INDEX, blobs=[], children=children, artifact_type="application/x")
    meta.put_manifest(NAME, m, "multi", T0)
    assert meta.get_manifest(NAME, m.digest) == m


def test_manifest_bytes_kept_elsewhere(meta):
    m = record(body=None)
    meta.put_manifest(NAME, m, "big", T0)
    assert meta.get_manifest(NAME, m.digest).body is None
    assert meta.get_tag(NAME, "big").body is None


def test_moving_a_tag(meta):
    old, new = record("old"), record("new")
    meta.put_manifest(NAME, old, "latest", T0)
    meta.put_manifest(NAME, new, "latest", T0 + 1)
    assert meta.get_tag(NAME, "latest").digest == new.digest
    assert meta.get_manifest(NAME, old.digest) == old  # untagged, not deleted
    assert meta.list_tags(NAME, last=None, limit=10) == (["latest"], False)


def test_put_manifest_with_subject_makes_a_referrer(meta):
    subject = record("subject")
    sbom = record(
        "sbom",
        subject=subject.digest,
        artifact_type="application/vnd.example.sbom",
        annotations={"org.example.kind": "sbom"},
    )
    sig = record("sig", subject=subject.digest, media_type=mt.OCI_MANIFEST, artifact_type=None)
    bare = record("bare", subject=subject.digest, artifact_type="", annotations={})  # empty ones are none
    meta.put_manifest(NAME, sbom, None, T0)
    meta.put_manifest(NAME, sig, None, T0)
    meta.put_manifest(NAME, bare, "bare", T0)
    expected = sorted(
        [
            Referrer(sbom.digest, mt.OCI_MANIFEST, sbom.size, "application/vnd.example.sbom", {"org.example.kind": "sbom"}),
            Referrer(sig.digest, mt.OCI_MANIFEST, sig.size),
            Referrer(bare.digest, mt.OCI_MANIFEST, bare.size),
        ],
        key=lambda r: r.digest,
    )
    assert meta.list_referrers(NAME, subject.digest) == expected  # in digest order
    # the subject need not exist, and referrers are per repository and per subject
    assert meta.get_manifest(NAME, subject.digest) is None
    assert meta.list_referrers("library/other", subject.digest) == []
    assert meta.list_referrers(NAME, sbom.digest) == []


def test_delete_tag(meta):
    m = record()
    meta.put_manifest(NAME, m, "a", T0)
    meta.put_manifest(NAME, m, "b", T0)
    assert meta.delete_tag(NAME, "a") is True
    assert meta.delete_tag(NAME, "a") is False
    assert meta.get_tag(NAME, "b").digest == m.digest
    assert meta.get_manifest(NAME, m.digest) == m


def test_delete_manifest_removes_its_tags_and_referrer_entry(meta):
    subject = record("subject")
    m = record("artifact", subject=subject.digest, artifact_type="application/x")
    other = record("other")
    meta.put_manifest(NAME, subject, "base", T0)
    for tag in ("v1", "v1.0", "latest"):
        meta.put_manifest(NAME, m, tag, T0)
    meta.put_manifest(NAME, other, "other", T0)
    assert len(meta.list_referrers(NAME, subject.digest)) == 1

    assert meta.delete_manifest(NAME, m.digest) == m
    assert meta.get_manifest(NAME, m.digest) is None
    assert meta.list_tags(NAME, last=None, limit=100) == (["base", "other"], False)
    assert meta.list_referrers(NAME, subject.digest) == []
    assert meta.get_tag(NAME, "other").digest == other.digest
    assert meta.get_manifest(NAME, subject.digest) == subject
    assert meta.delete_manifest(NAME, m.digest) is None


def test_delete_manifest_with_more_tags_than_one_transaction(registry, meta, monkeypatch):
    m = record()
    put_in_bulk(registry, monkeypatch, [(NAME, m, f"t{i:03d}") for i in range(150)])
    meta.put_manifest(NAME, record("keep"), "keep", T0)
    assert meta.delete_manifest(NAME, m.digest) == m
    assert meta.list_tags(NAME, last=None, limit=1000) == (["keep"], False)


def test_delete_manifest_in_another_repository_is_none(meta):
    m = record()
    meta.put_manifest(NAME, m, "latest", T0)
    assert meta.delete_manifest("library/other", m.digest) is None
    assert meta.get_tag(NAME, "latest") is not None


def test_repository_contents_reads_manifests_tags_and_labels_once(meta, labels):
    a, b = record("a"), record("b")
    meta.put_manifest(NAME, a, "v1", T0)
    meta.put_manifest(NAME, a, "v2", T0 + 5)
    meta.put_manifest(NAME, b, None, T0)
    label = labels.create(Label(name="golden", scope="g"))
    labels.add_to_artifact(NAME, b.digest, label)
    contents = meta.repository_contents(NAME)
    assert set(contents.manifests) == {a.digest, b.digest}
    assert all(m.version for m in contents.manifests.values()) and contents.manifests[a.digest].body is None
    assert contents.tags == {a.digest: [("v1", T0, 0), ("v2", T0 + 5, 0)]}
    assert contents.labels == {b.digest: [label.label_id]}


def test_delete_manifests_deletes_as_read_in_one_transaction(meta, labels):
    subject, a = record("subject"), record("a")
    referrer = record("sig", subject=subject.digest)
    meta.put_manifest(NAME, subject, "base", T0)
    meta.put_manifest(NAME, a, "v1", T0)
    meta.put_manifest(NAME, referrer, None, T0)
    label = labels.create(Label(name="lbl", scope="g"))
    labels.add_to_artifact(NAME, a.digest, label)
    contents = meta.repository_contents(NAME)
    doomed = [Doomed(contents.manifests[a.digest], ("v1",), (label.label_id,)), Doomed(contents.manifests[referrer.digest])]
    meta.delete_manifests(NAME, doomed)
    assert set(meta.repository_contents(NAME).manifests) == {subject.digest}
    assert meta.list_tags(NAME, last=None, limit=10) == (["base"], False)
    assert meta.list_referrers(NAME, subject.digest) == []
    assert labels.artifact_label_ids(NAME) == {}


@pytest.mark.parametrize("change", ["tagged", "put again", "tag moved", "labelled"])
def test_delete_manifests_deletes_nothing_when_anything_changed_since_the_read(meta, labels, change):
    a, b, c = record("a"), record("b"), record("c")
    meta.put_manifest(NAME, a, "v1", T0)
    meta.put_manifest(NAME, b, "v2", T0)
    meta.put_manifest(NAME, c, None, T0)
    contents = meta.repository_contents(NAME)
    if change == "tagged":
        meta.create_tag(NAME, "late", b, T0)
    elif change == "put again":
        meta.put_manifest(NAME, b, None, T0)
    elif change == "tag moved":
        meta.put_manifest(NAME, c, "v2", T0)  # v2 names c now
    else:
            labels.add_to_artifact(NAME, b.digest, labels.create(Label(name="late", scope="g")))
    doomed = [Doomed(contents.manifests[a.digest], ("v1",)), Doomed(contents.manifests[b.digest], ("v2",))]
    with pytest.raises(Conflict):
        meta.delete_manifests(NAME, doomed)
    assert {a.digest, b.digest} <= set(meta.repository_contents(NAME).manifests)
    assert meta.get_tag(NAME, "v1").digest == a.digest


# -- lists ------------------------------------------------------------------------------
def _pages(fetch, limit: int) -> tuple[list[str], int]:
    out, last, pages = [], None, 0
    while True:
        page, more = fetch(last=last, limit=limit)
        pages += 1
        out.extend(page)
        assert len(page) <= limit
        if not more:
            return out, pages
        assert len(page) == limit
        last = page[-1]


PREFIX_TAGS = ["a", "a-b", "a.b", "a_b", "ab", "a-", "A", "a0", "b", "a-b-c", "a.b.c"]


@pytest.mark.parametrize("limit", [1, 2, 3, 5, 100])
def test_list_tags_with_tags_that_prefix_each_other(meta, limit):
    m = record()
    for tag in PREFIX_TAGS:
        meta.put_manifest(NAME, m, tag, T0)
    tags, _ = _pages(lambda **kw: meta.list_tags(NAME, **kw), limit)
    assert tags == sorted(PREFIX_TAGS)  # byte order, each exactly once


def test_list_tags_from_any_last(meta):
    m = record()
    for tag in ("a", "a-b", "a.b", "ab"):
        meta.put_manifest(NAME, m, tag, T0)
    assert meta.list_tags(NAME, last="a", limit=10) == (["a-b", "a.b", "ab"], False)
    assert meta.list_tags(NAME, last="a-b", limit=10) == (["a.b", "ab"], False)
    assert meta.list_tags(NAME, last="a.b", limit=1) == (["ab"], False)
    assert meta.list_tags(NAME, last="a", limit=2) == (["a-b", "a.b"], True)
    assert meta.list_tags(NAME, last="ab", limit=10) == ([], False)
    # a `last` that is not a tag still means "after it"
    assert meta.list_tags(NAME, last="a-", limit=10) == (["a-b", "a.b", "ab"], False)
    assert meta.list_tags(NAME, last="0", limit=10) == (["a", "a-b", "a.b", "ab"], False)


def test_list_tags_only_lists_tags(meta):
    # blob links, manifests and referrers share the partition
    subject = record("subject")
    meta.link_blob(NAME, digest_of("layer"), 1, T0)
    meta.put_manifest(NAME, record("r", subject=subject.digest), None, T0)
    meta.put_manifest(NAME, subject, "only", T0)
    meta.put_manifest("library/app2", subject, "elsewhere", T0)
    meta.put_manifest("library", subject, "parent", T0)
    assert meta.list_tags(NAME, last=None, limit=100) == (["only"], False)


def test_a_thousand_tags_in_pages_of_a_hundred(registry, meta, monkeypatch):
    m = record()
    tags = [f"v{i}" for i in range(1000)]
    random.Random(2).shuffle(tags)
    put_in_bulk(registry, monkeypatch, [(NAME, m, tag) for tag in tags])
    assert meta.get_tag(NAME, tags[0]).digest == m.digest
    listed, pages = _pages(lambda **kw: meta.list_tags(NAME, **kw), 100)
    assert listed == sorted(tags)
    assert pages == 10
    assert meta.list_tags(NAME, last=None, limit=1000) == (sorted(tags), False)
    assert meta.list_tags(NAME, last=None, limit=999) == (sorted(tags)[:999], True)


def test_list_tags_of_an_unknown_repository(meta):
    assert meta.list_tags("no/such/repo", last=None, limit=100) == ([], False)


REPOS = ["a", "a-b", "a.b", "a/b", "a/b/c", "a_b", "ab", "a0", "b", "library/app", "library/app-x", "library/app/x"]


@pytest.mark.parametrize("limit", [1, 2, 5, 100])
def test_list_repositories(meta, limit):
    m = record()
    for name in REPOS:
        meta.put_manifest(name, m, "latest", T0)
    meta.put_manifest("a", record("second"), "other", T0)  # listed once
    meta.link_blob("blob-only", digest_of("layer"), 1, T0)  # not a repository until it has a manifest
    names, _ = _pages(meta.list_repositories, limit)
    assert names == sorted(REPOS)
    assert not meta.repository_exists("blob-only")


def test_list_repositories_from_any_last(meta):
    for name in ("a", "a-b", "a/b", "ab"):
        meta.put_manifest(name, record(), None, T0)
    assert meta.list_repositories(last="a", limit=10) == (["a-b", "a/b", "ab"], False)
    assert meta.list_repositories(last="a/b", limit=10) == (["ab"], False)
    assert meta.list_repositories(last="ab", limit=10) == ([], False)
    assert meta.list_repositories(last=None, limit=2) == (["a", "a-b"], True)


def test_empty_catalog(meta):
    assert meta.list_repositories(last=None, limit=100) == ([], False)


def test_repository_counts_follow_first_pushes_and_deletions(meta):
    assert meta.repository_counts([]) == {}
    assert meta.repository_counts(["library", "other"]) == {"library": 0, "other": 0}
    for name in ("library/app", "library/app/x", "other/app"):
        meta.put_manifest(name, record(), "latest", T0)
    meta.put_manifest("library/app", record("second"), "v2", T0)  # a repository is counted once
    meta.link_blob("library/blob-only", digest_of("layer"), 1, T0)  # a blob alone is no repository
    assert meta.repository_counts(["library", "other", "library"]) == {"library": 2, "other": 1}
    assert meta.delete_repository("library/app") is True
    assert meta.delete_repository("library/app") is False  # counted down once
    assert meta.repository_counts(["library", "other", "none"]) == {"library": 1, "other": 1, "none": 0}


def test_one_background_copy_of_a_blob_at_a_time_until_it_ends_or_runs_out(meta):
    """A proxy cache's claim on copying a big blob (proxy_cache.py: start_fill)."""
    digest = digest_of("big layer")
    assert meta.claim_fill(digest, T0, T0 + 900)
    assert not meta.claim_fill(digest, T0 + 1, T0 + 901)  # a second pull: the copy is under way
    assert not meta.claim_fill(digest, T0 + 900, T0 + 1800)  # still, at its last second
    assert meta.claim_fill(digest, T0 + 901, T0 + 1801)  # ran out (the function died): another may start
    meta.end_fill(digest)
    assert meta.claim_fill(digest, T0 + 902, T0 + 1802)  # ended: the next pull may start one
    assert meta.claim_fill(digest_of("another"), T0, T0 + 900)
