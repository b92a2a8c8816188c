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
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pytest

from chalicelib import quotas
from chalicelib.errors import Conflict, ProjectGone, StoreUnavailable
from chalicelib.events.envelope import Event
from chalicelib.events.outbox import Outbox
from chalicelib.meta import keys, outbox_items
from chalicelib.meta.gc import DynamoGC, MemoryGC
from chalicelib.meta.immutable_rules import DynamoImmutableRules, MemoryImmutableRules, RuleSet
from chalicelib.meta.labels import DynamoLabels, Label, MemoryLabels
from chalicelib.meta.quotas import Counted, DynamoQuotas, MemoryQuotas, Quota, Usage
from chalicelib.meta.registry import (
    BlobLink,
    Doomed,
    DynamoRegistryMeta,
    ManifestRecord,
    PushReads,
    Referrer,
    TagRecord,
    UploadAlreadyComplete,
)
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
    outbox: Outbox
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
        quota_store = MemoryQuotas(clock, lambda digest: meta is not None and meta.blob_live(digest), ledger=gc.ledger)
        meta = MemoryRegistryMeta(outbox, project_exists=projects.__contains__, ledger=gc.ledger, labels=labels)

        def run(ops: list) -> None:
            for op in ops:
                op()

        memory = meta
        return Registry(meta, labels, quota_store, rules, gc, projects.add, run, lambda: list(memory.emitted), outbox)
    table = request.getfixturevalue("table")

    def make_project(project: str) -> None:
        table.put({"PK": keys.project_pk(project), "SK": keys.PROJECT_SK, "name": project})

    def outbox_events() -> list:
        raw = table.client.scan(TableName=table.name)["Items"]
        found = [Event.from_json(j) for j in (outbox_items.event_json(unmarshal(i)) for i in raw) if j is not None]
        return sorted(found, key=lambda e: (e.epoch, e.id))

    return Registry(DynamoRegistryMeta(table, outbox), DynamoLabels(table, clock), DynamoQuotas(table, clock),
                    DynamoImmutableRules(table), DynamoGC(table, clock), make_project, conflicting_transact(table),
                    outbox_events, outbox, table)


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


def push_reads(registry: Registry, name: str, blobs: list[str], manifests: Iterable[str] = (), *, tag: str | None = None,
               digest: str | None = None) -> tuple[PushReads, RuleSet, Usage]:
    """read_for_push as the domain calls it (chalicelib/artifacts.py): the project's rules and
    quota usage read in the same call by their own stores (of the same backend), and read
    back from the answers by them."""
    project = name.split("/")[0]
    rules, usage = registry.rules.read(project), registry.quotas.read(project, [*blobs, *([digest] if digest else [])])
    reads = registry.meta.read_for_push(name, blobs, manifests, tag=tag, digest=digest, also=(rules, usage))
    return reads, registry.rules.rules(rules, reads.also[0]), registry.quotas.usage(usage, reads.also[1])


def charge(project: str, sizes: dict[str, int], usage: Usage, **kwargs) -> quotas.Change:
    """The quota's change of a push that read `usage` (as chalicelib/artifacts.py computes it)."""
    refs = {d: c.refs for d, c in usage.counted.items()}
    in_blob_count = frozenset(d for d, c in usage.counted.items() if c.in_blob_count)
    return quotas.charge(project, sizes, refs, usage.quota, T0, in_blob_count=in_blob_count, **kwargs)


def test_read_for_push_answers_the_quota_and_rules_reads_in_the_same_read(registry):
    """A push's one read: the repository's part, and the project's usage and immutability
    rules, read and answered for their own stores."""
    meta, quota_store, rule_store = registry.meta, registry.quotas, registry.rules
    first, second = record("first"), record("second", blobs=[digest_of("first-config"), digest_of("second-layer")])
    reads, rules, usage = push_reads(registry, NAME, first.blobs, tag="latest", digest=first.digest)
    assert reads == PushReads(missing=first.blobs, repository_exists=False, tag_digest=None, also=reads.also)
    assert (rules, usage) == (RuleSet(), Usage(Quota("library"), {}))

    rule_store.save("library", rule_store.get("library"), [{"id": 1, "action": "immutable"}], 1)
    quota_store.set_hard("library", 10_000)
    for d in first.blobs:
        meta.link_blob(NAME, d, 100, T0)
    sizes = {first.blobs[0]: 100, first.blobs[1]: 100, first.digest: first.size}
    meta.put_manifest(NAME, first, "latest", T0, extra=quota_store.ops(charge("library", sizes, usage)))

    reads, rules, usage = push_reads(registry, NAME, second.blobs, tag="latest", digest=second.digest)
    assert reads == PushReads(missing=[second.blobs[1]], repository_exists=True, tag_digest=first.digest,
                              manifest_exists=False, sizes={second.blobs[0]: 100}, also=reads.also)
    assert rules == rule_store.get("library") and rules.rules == [{"id": 1, "action": "immutable"}]
    assert usage == Usage(quota_store.get("library"), {second.blobs[0]: Counted(1, 100)})
    assert (usage.quota.hard, usage.quota.used) == (10_000, 200 + first.size)
    reads, _, usage = push_reads(registry, NAME, first.blobs, digest=first.digest)
    assert reads.manifest_exists and usage.counted == quota_store.blob_refs("library", [*first.blobs, first.digest])
    # another project's push reads that project's rules and usage
    assert push_reads(registry, "other/app", first.blobs, digest=first.digest)[1:] == (RuleSet(), Usage(Quota("other"), {}))


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


def test_a_copys_event_names_what_was_copied(registry, meta):
    """artifact.pushed carries `copy_of` (the artifact a copy was asked for) when given."""
    copied, child = record("copied"), record("child")
    meta.put_manifest(NAME, child, None, T0)
    meta.put_manifest(NAME, copied, "v1", T0, copy_of="other/app:v1")
    pushed = {e.data["digest"]: e.data for e in registry.emitted() if e.type == "berth.artifact.pushed"}
    assert pushed[copied.digest]["copy_of"] == "other/app:v1" and pushed[copied.digest]["tag"] == "v1"
    assert "copy_of" not in pushed[child.digest]


def test_a_deletions_event_names_the_artifact_as_its_deleter_did(registry, meta):
    """artifact.deleted carries `named` (the tag or digest the caller named: the audit
    entry's words) when given, and nothing of the kind otherwise."""
    first, second = record("first"), record("second")
    meta.put_manifest(NAME, first, "v1", T0)
    meta.put_manifest(NAME, second, "v2", T0)
    assert meta.delete_manifest(NAME, first.digest, named="v1") == first
    assert meta.delete_manifest(NAME, second.digest) == second
    deleted = [e for e in registry.emitted() if e.type == "berth.artifact.deleted"]
    by_digest = {e.data["digest"]: e.data for e in deleted}
    assert by_digest[first.digest]["named"] == "v1" and by_digest[first.digest]["tags"] == ["v1"]
    assert "named" not in by_digest[second.digest] and by_digest[second.digest]["reference"] == second.digest


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


# -- uploads, and garbage collection's ledger as the store shows it ----------------------------
def test_an_upload_links_its_object_and_ends_its_session_once(meta):
    d = digest_of("uploaded")
    assert meta.link_uploaded_blob(NAME, d, 10, T0, upload_id="u1", key="uploads/u1") == "uploads/u1"
    assert meta.get_link(NAME, d) == BlobLink(10, "uploads/u1")
    assert meta.blob_size(d) == 10
    assert meta.upload_ended("u1") and not meta.upload_cancelled("u1")
    assert meta.claimed_uploads(["u1", "u2"]) == {"u1"}
    with pytest.raises(UploadAlreadyComplete) as ended:
        meta.link_uploaded_blob(NAME, d, 10, T0, upload_id="u1", key="uploads/u1")
    assert ended.value.cancelled is False
    assert meta.end_upload("u1", T0 + 3600) is False  # completed: its object is the blob's


def test_a_second_upload_of_a_known_blob_links_the_first_object(meta):
    d = digest_of("uploaded")
    meta.link_uploaded_blob(NAME, d, 10, T0, upload_id="u1", key="uploads/u1")
    assert meta.link_uploaded_blob("library/other", d, 10, T0 + 1, upload_id="u2", key="uploads/u2") == "uploads/u1"
    assert meta.get_link("library/other", d) == BlobLink(10, "uploads/u1")
    # the second session's object is a duplicate the caller removes: no blob claims it
    assert meta.claimed_uploads(["u1", "u2"]) == {"u1"}
    assert not meta.upload_ended("u2")


def test_a_cancelled_session_completes_no_more(meta):
    assert meta.end_upload("u3", T0 + 3600) is True
    assert meta.end_upload("u3", T0 + 3600) is False
    assert meta.upload_ended("u3") and meta.upload_cancelled("u3")
    assert meta.claimed_uploads(["u3"]) == set()
    d = digest_of("late")
    with pytest.raises(UploadAlreadyComplete) as ended:
        meta.link_uploaded_blob(NAME, d, 10, T0, upload_id="u3", key="uploads/u3")
    assert ended.value.cancelled is True
    assert meta.get_link(NAME, d) is None and meta.blob_size(d) is None
    assert not meta.upload_ended("u4") and not meta.upload_cancelled("u4")


def test_a_link_names_the_object_the_blob_record_names(meta):
    d = digest_of("uploaded")
    meta.link_uploaded_blob(NAME, d, 10, T0, upload_id="u1", key="uploads/u1")
    with pytest.raises(Conflict):  # uploaded again elsewhere: not the object this caller holds
        meta.link_blob("library/other", d, 10, T0)
    with pytest.raises(Conflict):
        meta.link_blob("library/other", d, 10, T0, key="uploads/u9")
    assert meta.get_link("library/other", d) is None
    meta.link_blob("library/other", d, 10, T0, key="uploads/u1")
    assert meta.get_link("library/other", d) == BlobLink(10, "uploads/u1")
    assert meta.link_existing("library/third", d, T0) == 10
    assert meta.get_link("library/third", d) == BlobLink(10, "uploads/u1")
    assert meta.link_existing("library/third", digest_of("unknown"), T0) is None
    assert meta.get_link("library/third", digest_of("unknown")) is None


def _collecting(registry: Registry, d: str):
    """The blob uploaded at T0, then committed to by a garbage collection (its record `gone`)."""
    registry.meta.link_uploaded_blob(NAME, d, 10, T0, upload_id="u1", key="uploads/u1")
    state = registry.gc.mark_gone(d, T0 + 1, 7)
    assert state is not None and state.gone == "7"
    return state


def test_a_blob_being_collected_is_linked_nowhere_and_named_by_no_manifest(registry, meta):
    d = digest_of("collected")
    _collecting(registry, d)
    with pytest.raises(Conflict):
        meta.link_blob("library/other", d, 10, T0 + 5, key="uploads/u1")
    assert meta.link_existing("library/other", d, T0 + 5) is None
    m = record("m", blobs=[d])
    with pytest.raises(Conflict):
        meta.put_manifest("library/other", m, "v1", T0 + 5, links=[(d, 10, "uploads/u1")])
    assert meta.get_link("library/other", d) is None
    assert meta.get_manifest("library/other", m.digest) is None
    assert not meta.repository_exists("library/other")
    assert meta.blob_size(d) == 10  # the record stays until the run forgets it


def test_an_upload_waits_for_a_collection_to_forget_the_blob_then_records_its_own(registry, meta):
    d = digest_of("collected")
    state = _collecting(registry, d)
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:  # the run finishes meanwhile
            registry.gc.unlink_everywhere(state)
            assert registry.gc.forget_blob(state, "u1")

    assert meta.link_uploaded_blob("library/other", d, 10, T0 + 5, upload_id="u2", key="uploads/u2", sleep=sleep) == "uploads/u2"
    assert waits == [0.05, 0.1, 0.2]
    assert meta.get_link("library/other", d) == BlobLink(10, "uploads/u2")
    assert meta.get_link(NAME, d) is None
    assert meta.claimed_uploads(["u1", "u2"]) == {"u2"}


def test_an_upload_gives_up_when_a_collection_lasts_too_long(registry, meta):
    d = digest_of("collected")
    _collecting(registry, d)
    waits: list[float] = []
    with pytest.raises(Conflict):
        meta.link_uploaded_blob("library/other", d, 10, T0 + 5, upload_id="u2", key="uploads/u2", sleep=waits.append)
    assert len(waits) == 25 and max(waits) == 1.0
    assert meta.get_link("library/other", d) is None
    assert not meta.upload_ended("u2")


# -- the project's guard ---------------------------------------------------------------------------
def test_writes_into_a_project_that_is_gone_write_nothing(registry, meta):
    m, d = record(), digest_of("layer")
    with pytest.raises(ProjectGone):
        meta.put_manifest(NAME, m, "v1", T0, project="library", links=[(d, 1, None)])
    with pytest.raises(ProjectGone):
        meta.link_blob(NAME, d, 1, T0, project="library")
    with pytest.raises(ProjectGone):
        meta.link_uploaded_blob(NAME, d, 1, T0, upload_id="u1", key="uploads/u1", project="library")
    assert meta.get_manifest(NAME, m.digest) is None and meta.get_tag(NAME, "v1") is None
    assert not meta.repository_exists(NAME)
    assert meta.get_link(NAME, d) is None and meta.blob_size(d) is None
    assert not meta.upload_ended("u1")
    assert registry.emitted() == []
    registry.make_project("library")
    meta.link_uploaded_blob(NAME, d, 1, T0, upload_id="u1", key="uploads/u1", project="library")
    meta.put_manifest(NAME, m, "v1", T0, project="library", links=[(d, 1, "uploads/u1")])
    assert meta.get_manifest(NAME, m.digest) == m
    with pytest.raises(ProjectGone):
        meta.link_existing("other/app", d, T0, project="other")
    assert meta.link_existing("library/b", d, T0, project="library") == 1


# -- what a manifest's write holds to -------------------------------------------------------------
def test_put_manifest_holds_to_what_the_caller_read(meta):
    a, b = record("a"), record("b")
    with pytest.raises(Conflict):  # the caller read the repository as there
        meta.put_manifest(NAME, a, None, T0, new_repository=False)
    meta.put_manifest(NAME, a, "v1", T0, new_repository=True, new_manifest=True)
    with pytest.raises(Conflict):  # a concurrent first push counted it
        meta.put_manifest(NAME, b, None, T0, new_repository=True)
    with pytest.raises(Conflict):
        meta.put_manifest(NAME, a, None, T0, new_manifest=True)
    with pytest.raises(Conflict):
        meta.put_manifest(NAME, b, None, T0, new_manifest=False)
    assert meta.get_manifest(NAME, b.digest) is None
    assert meta.repository_counts(["library"]) == {"library": 1}
    meta.put_manifest(NAME, a, None, T0 + 1, new_repository=False, new_manifest=False)
    meta.put_manifest(NAME, b, None, T0 + 1, new_repository=False, new_manifest=True)
    assert [m.digest for m in meta.list_manifests(NAME)] == sorted([a.digest, b.digest])


def test_an_immutable_tag_is_only_created_or_put_again_on_its_manifest(meta):
    a, b = record("a"), record("b")
    meta.put_manifest(NAME, a, "v1", T0, keep_tag=True)
    meta.put_manifest(NAME, a, "v1", T0 + 1, keep_tag=True)
    with pytest.raises(Conflict):
        meta.put_manifest(NAME, b, "v1", T0 + 2, keep_tag=True)
    assert meta.get_tag(NAME, "v1").digest == a.digest
    assert meta.get_manifest(NAME, b.digest) is None
    meta.put_manifest(NAME, b, "v1", T0 + 3)  # not immutable: moves
    assert meta.get_tag(NAME, "v1").digest == b.digest


def test_an_index_lands_only_while_its_children_are_there_and_renews_them(meta):
    child, gone = record("child"), record("gone")
    meta.put_manifest(NAME, child, None, T0)
    before = meta.repository_contents(NAME).manifests[child.digest]
    index = record("index", media_type=mt.OCI_INDEX, blobs=[], children=[child.digest, gone.digest])
    with pytest.raises(Conflict):
        meta.put_manifest(NAME, index, "multi", T0, hold_children=[child.digest, gone.digest])
    assert meta.get_manifest(NAME, index.digest) is None and meta.get_tag(NAME, "multi") is None
    index = record("index", media_type=mt.OCI_INDEX, blobs=[], children=[child.digest])
    meta.put_manifest(NAME, index, "multi", T0, hold_children=[child.digest, child.digest])
    # a deletion that read the child before the index landed deletes nothing
    with pytest.raises(Conflict):
        meta.delete_manifests(NAME, [Doomed(before)])
    assert meta.get_manifest(NAME, child.digest) == child
    assert meta.artifact_count(NAME) == 1  # the index; its untagged child is part of it


def test_a_push_that_links_its_blobs_and_charges_its_quota_at_once(registry, meta):
    """The quota's change (QuotaStore.ops) joins the write; a stale one is a Conflict and
    nothing of the push happens."""
    layer = digest_of("layer")
    meta.link_uploaded_blob(NAME, layer, 100, T0, upload_id="u1", key="uploads/u1")
    m = record("m", blobs=[layer])
    registry.quotas.set_hard("library", 1000)

    def read_and_charge():
        reads, _, usage = push_reads(registry, NAME, [layer], tag="v1", digest=m.digest)
        assert reads.sizes == {layer: 100} and reads.missing == [] and not reads.manifest_exists
        return charge("library", {layer: 100, m.digest: m.size}, usage, blobs=frozenset({layer}))

    stale = read_and_charge()
    registry.quotas.set_hard("library", 2000)  # the limit changed since the read
    with pytest.raises(Conflict):
        meta.put_manifest("library/other", m, "v1", T0, links=[(layer, 100, "uploads/u1")],
                          extra=registry.quotas.ops(stale))
    assert meta.get_manifest("library/other", m.digest) is None and meta.get_link("library/other", layer) is None
    assert not meta.repository_exists("library/other") and registry.emitted() == []
    assert registry.quotas.get("library").used == 0

    reads, _, usage = push_reads(registry, "library/other", [layer], tag="v1", digest=m.digest)
    assert reads.missing == [layer] and not reads.repository_exists
    change = charge("library", {layer: 100, m.digest: m.size}, usage, blobs=frozenset({layer}))
    meta.put_manifest("library/other", m, "v1", T0, links=[(layer, 100, "uploads/u1")], extra=registry.quotas.ops(change))
    assert meta.get_link("library/other", layer) == BlobLink(100, "uploads/u1")
    assert registry.quotas.get("library").used == 100 + m.size
    again, _, usage = push_reads(registry, "library/other", [layer], tag="v1", digest=m.digest)
    assert usage.counted == {layer: Counted(1, 100, in_blob_count=True), m.digest: Counted(1, m.size)}
    assert (usage.quota.hard, usage.quota.used) == (2000, 100 + m.size)
    assert usage.quota == registry.quotas.get("library")
    assert again.manifest_exists and again.tag_digest == m.digest


def test_a_push_links_a_blob_the_store_has_no_record_of_and_counts_it_in_the_same_write(registry, meta):
    """A blob put at its digest's own key before the ledger: the link creates its record,
    and the project's starting to name it holds under the link's condition."""
    layer = digest_of("old layer")
    m = record("m", blobs=[layer])
    _, _, usage = push_reads(registry, NAME, [layer], digest=m.digest)
    change = charge("library", {layer: 10, m.digest: m.size}, usage, blobs=frozenset({layer}))
    meta.put_manifest(NAME, m, "v1", T0, links=[(layer, 10, None)], extra=registry.quotas.ops(change))
    assert meta.get_link(NAME, layer) == BlobLink(10, None) and meta.blob_size(layer) == 10
    assert registry.quotas.blob_refs("library", [layer])[layer].in_blob_count
    assert (registry.gc.blob(layer).projects, registry.gc.blob(layer).last_ref) == (1, T0)  # the record counts the project
    assert registry.quotas.get("library").used == 10 + m.size


def test_links_beyond_one_write_land_first_and_stay(meta):
    """More links than one DynamoDB transaction holds: they are written first, in their own
    writes (a link without its manifest is harmless), then the manifest."""
    layers = [digest_of(f"layer-{i}") for i in range(60)]
    m = record("many", blobs=layers)
    with pytest.raises(Conflict):  # the repository was read as there: the manifest does not land
        meta.put_manifest(NAME, m, "v1", T0, links=[(d, 1, None) for d in layers], new_repository=False)
    assert meta.get_manifest(NAME, m.digest) is None and not meta.repository_exists(NAME)
    assert meta.missing_references(NAME, layers, []) == []
    meta.put_manifest(NAME, m, "v1", T0, links=[(d, 2, None) for d in layers])
    assert meta.get_manifest(NAME, m.digest) == m and meta.link_size(NAME, layers[-1]) == 2


def test_read_for_push_without_other_stores_reads_reads_the_repository_alone(registry, meta):
    registry.rules.save("library", RuleSet(), [{"id": 1, "tag_selectors": [{"pattern": "v*"}]}], 1)
    registry.quotas.set_hard("library", 500)
    meta.put_manifest(NAME, record("a"), "v1", T0)
    assert meta.read_for_push(NAME, [], [], tag="v1") == PushReads([], True, record("a").digest)
    assert meta.read_for_push(NAME, [], [], tag="v2", digest=record("a").digest) == PushReads([], True, None, True)
    assert meta.check_push("library/none", [digest_of("x")], []) == ([digest_of("x")], False)


# -- tags -----------------------------------------------------------------------------------------
def test_create_tag_names_a_held_manifest_once(meta):
    a = record("a")
    meta.put_manifest(NAME, a, None, T0)
    read = meta.repository_contents(NAME).manifests[a.digest]
    meta.create_tag(NAME, "v1", a, T0 + 10)
    assert meta.get_tag(NAME, "v1") == TagRecord("v1", a.digest, a.media_type, a.size, a.body)
    assert meta.tag_times(NAME) == [("v1", a.digest, T0 + 10, 0)]
    assert meta.get_repository(NAME).updated == T0 + 10
    with pytest.raises(Conflict):
        meta.create_tag(NAME, "v1", a, T0 + 11)
    with pytest.raises(Conflict):  # a deletion that read the manifest before the tag
        meta.delete_manifests(NAME, [Doomed(read)])
    with pytest.raises(Conflict):
        meta.create_tag(NAME, "v2", record("b"), T0)
    assert meta.get_tag(NAME, "v2") is None


def test_a_proxy_cache_marks_a_tag_checked_only_while_it_names_the_digest(meta):
    a, b = record("a"), record("b")
    meta.put_manifest(NAME, a, "v1", T0)
    assert meta.get_tag(NAME, "v1").checked is None
    meta.mark_tag_checked(NAME, "v1", a.digest, T0 + 5)
    assert meta.get_tag(NAME, "v1").checked == T0 + 5
    meta.mark_tag_checked(NAME, "v1", b.digest, T0 + 9)
    meta.mark_tag_checked(NAME, "v9", a.digest, T0 + 9)
    assert meta.get_tag(NAME, "v1").checked == T0 + 5 and meta.get_tag(NAME, "v9") is None
    meta.put_manifest(NAME, b, "v1", T0 + 10)  # the tag's record is written anew
    assert meta.get_tag(NAME, "v1").checked is None


def test_tag_digests_and_times(meta):
    a, b = record("a"), record("b")
    meta.put_manifest(NAME, a, "v2", T0 + 2)
    meta.put_manifest(NAME, b, "v1", T0 + 1)
    assert meta.tag_digests(NAME) == [("v1", b.digest, T0 + 1), ("v2", a.digest, T0 + 2)]
    assert meta.tag_times("library/none") == []


# -- deletions -----------------------------------------------------------------------------------
def test_delete_manifest_holds_to_its_conditions(meta):
    a = record("a", created=T0 + 50)
    meta.put_manifest(NAME, a, "v1", T0 + 50)
    with pytest.raises(Conflict):  # put again within garbage collection's grace period
        meta.delete_manifest(NAME, a.digest, created_before=T0 + 50)
    with pytest.raises(Conflict):  # tagged since garbage collection looked
        meta.delete_manifest(NAME, a.digest, only_untagged=True)
    assert meta.get_manifest(NAME, a.digest) == a and meta.get_tag(NAME, "v1") is not None
    assert meta.delete_manifest(NAME, a.digest, created_before=T0 + 51) == a


def test_a_deletion_takes_the_labels_and_gives_the_quota_back_at_once(registry, meta, labels):
    layer = digest_of("a-layer")
    a = record("a", blobs=[layer])
    meta.link_blob(NAME, layer, 100, T0)
    _, _, usage = push_reads(registry, NAME, [layer], digest=a.digest)
    registry.commit(registry.quotas.ops(charge("library", {layer: 100, a.digest: a.size}, usage)))
    meta.put_manifest(NAME, a, "v1", T0)
    label = labels.create(Label(name="golden", scope="g"))
    labels.add_to_artifact(NAME, a.digest, label)
    assert registry.quotas.get("library").used == 100 + a.size

    def release(read: ManifestRecord) -> list:
        named = {d: 1 for d in [*read.blobs, read.digest]}
        counted = registry.quotas.blob_refs("library", named)
        return registry.quotas.ops(quotas.release("library", named, counted, registry.quotas.get("library"), T0))

    assert meta.delete_manifest(NAME, a.digest, extra=release) == a
    assert labels.artifact_label_ids(NAME) == {}
    assert registry.quotas.get("library").used == 0
    assert meta.get_link(NAME, layer) == BlobLink(100, None)  # bytes and links stay for garbage collection


def test_delete_manifests_that_do_not_fit_one_write_is_an_error(meta):
    a = record("a")
    meta.put_manifest(NAME, a, "v1", T0)
    read = meta.repository_contents(NAME).manifests[a.digest]
    doomed = Doomed(read, tuple(f"t{i}" for i in range(100)))
    assert meta.deletion_size(doomed) == 1 + 1 + 100  # with the event
    with pytest.raises(ValueError):
        meta.delete_manifests(NAME, [doomed])
    assert meta.get_manifest(NAME, a.digest) == a


def test_delete_tag_and_delete_repository(registry, meta, labels):
    a, sig = record("a"), record("sig", subject=record("a").digest)
    layer = digest_of("layer")
    meta.link_blob(NAME, layer, 1, T0)
    meta.put_manifest(NAME, a, "v1", T0)
    meta.put_manifest(NAME, sig, None, T0)
    meta.put_manifest("library/keep", a, "v1", T0)
    labels.add_to_artifact(NAME, a.digest, labels.create(Label(name="l", scope="g")))
    assert meta.delete_repository("library/none") is False
    assert meta.delete_repository(NAME) is True
    for gone in (meta.get_manifest(NAME, a.digest), meta.get_tag(NAME, "v1"), meta.get_link(NAME, layer),
                 meta.get_repository(NAME)):
        assert gone is None
    assert meta.list_referrers(NAME, a.digest) == [] and labels.artifact_label_ids(NAME) == {}
    assert meta.blob_size(layer) == 1  # the bytes stay for garbage collection
    assert meta.list_repositories(last=None, limit=10) == (["library/keep"], False)
    assert meta.delete_tag("library/keep", "v1") is True
    assert meta.delete_tag("library/keep", "v1") is False
    assert meta.get_manifest("library/keep", a.digest) == a


# -- events ---------------------------------------------------------------------------------------
def test_each_change_writes_its_event_with_it(registry, meta, clock):
    a = record("a")

    def seen() -> list[tuple]:
        return [(e.type, e.subject, e.data["repository"], e.data["reference"], e.data.get("tag"), e.data.get("tags"))
                for e in registry.emitted()]

    meta.put_manifest(NAME, a, "v1", T0)
    clock.now = T0 + 1
    meta.put_manifest(NAME, a, None, T0)
    clock.now = T0 + 2
    meta.create_tag(NAME, "v2", a, T0)
    clock.now = T0 + 3
    with pytest.raises(Conflict):
        meta.create_tag(NAME, "v2", a, T0)
    assert meta.delete_tag(NAME, "v2") is True
    clock.now = T0 + 4
    assert meta.delete_tag(NAME, "v2") is False
    meta.delete_manifest(NAME, a.digest)
    at = f"{NAME}@{a.digest}"
    assert seen() == [
        ("berth.artifact.pushed", f"{NAME}:v1", NAME, "v1", "v1", None),
        ("berth.artifact.pushed", at, NAME, a.digest, None, None),
        ("berth.tag.created", f"{NAME}:v2", NAME, "v2", "v2", None),
        ("berth.tag.deleted", f"{NAME}:v2", NAME, "v2", "v2", None),
        ("berth.artifact.deleted", at, NAME, a.digest, None, ["v1"]),
    ]
    assert registry.emitted()[0].data["digest"] == a.digest and registry.emitted()[0].data["size"] == a.size


def test_emit_writes_events_of_changes_the_store_does_not_hold(registry, meta, clock):
    event = registry.outbox.event("berth.artifact.pulled", f"{NAME}:v1", {"repository": NAME})
    meta.emit([event])
    meta.emit([])
    assert [e.id for e in registry.emitted()] == [event.id]



def test_an_event_op_is_written_with_the_write_it_joins_and_only_then(registry, meta):
    warning = registry.outbox.event("berth.quota.warning", f"{NAME}:v1", {"repository": NAME})
    a, b = record("a"), record("b")
    meta.put_manifest(NAME, a, "v1", T0, extra=[meta.event_op(warning)])
    assert warning.id in [e.id for e in registry.emitted()]
    refused = registry.outbox.event("berth.quota.warning", f"{NAME}:v1", {"repository": NAME})
    with pytest.raises(Conflict):  # v1 names another manifest: nothing written, the event neither
        meta.put_manifest(NAME, b, "v1", T0, keep_tag=True, extra=[meta.event_op(refused)])
    assert refused.id not in [e.id for e in registry.emitted()] and meta.get_manifest(NAME, b.digest) is None


# -- the health check ------------------------------------------------------------------------------
def test_ping_reads_the_store_and_writes_nothing(registry, meta):
    assert meta.ping() is None
    assert meta.list_repositories(last=None, limit=10) == ([], False) and registry.emitted() == []


@DYNAMODB
def test_ping_of_a_table_that_cannot_be_read_is_store_unavailable(registry):
    with pytest.raises(StoreUnavailable):
        DynamoRegistryMeta(Table(registry.table.client, "no-such-table")).ping()

# -- pulls and the catalog ----------------------------------------------------------------------------
def test_record_pulls_counts_what_is_there_and_creates_nothing(meta):
    a = record("a")
    meta.put_manifest(NAME, a, "v1", T0)
    meta.record_pulls({NAME: (3, T0 + 10), "library/none": (1, T0)},
                      {(NAME, a.digest): T0 + 10, (NAME, digest_of("none")): T0},
                      {(NAME, "v1"): T0 + 10, (NAME, "v9"): T0})
    meta.record_pulls({NAME: (2, T0 + 20)}, {})
    repository = meta.get_repository(NAME)
    assert (repository.pull_count, repository.pull_time, repository.created) == (5, T0 + 20, T0)
    assert meta.get_manifest(NAME, a.digest).pull_time == T0 + 10
    assert meta.tag_times(NAME) == [("v1", a.digest, T0, T0 + 10)]
    assert meta.repository_contents(NAME).tags == {a.digest: [("v1", T0, T0 + 10)]}
    assert not meta.repository_exists("library/none") and meta.get_tag(NAME, "v9") is None
    assert meta.get_manifest(NAME, digest_of("none")) is None
    meta.put_manifest(NAME, a, "v1", T0 + 30)  # written anew: not pulled since
    assert meta.get_manifest(NAME, a.digest).pull_time == 0 and meta.tag_times(NAME) == [("v1", a.digest, T0 + 30, 0)]
    assert meta.get_repository(NAME).pull_count == 5 and meta.get_repository(NAME).updated == T0 + 30


def test_a_projects_repositories_by_prefix_and_in_pages(meta):
    for name in REPOS:
        meta.put_manifest(name, record(), None, T0)
    assert meta.list_repositories(last=None, limit=10, prefix="library/") == (["library/app", "library/app-x", "library/app/x"], False)
    assert meta.list_repositories(last="library/app", limit=1, prefix="library/") == (["library/app-x"], True)
    assert meta.list_repositories(last="a", limit=10, prefix="library/") == (["library/app", "library/app-x", "library/app/x"], False)
    assert meta.list_repositories(last="m", limit=10, prefix="library/") == ([], False)
    assert meta.list_repositories(last=None, limit=10, prefix="b/") == ([], False)
    # "a0" sorts right after every name under "a/": not one of them
    assert meta.list_repositories(last=None, limit=10, prefix="a/") == (["a/b", "a/b/c"], False)
    assert meta.list_repositories(last="a/b", limit=1, prefix="a/") == (["a/b/c"], False)
    assert [r.name for r in meta.repositories("a/")] == ["a/b", "a/b/c"]
    assert meta.repositories_in_order("a").keys(None, 10) == ["a/b", "a/b/c"]
    assert [n for n, _ in meta.repositories_in_order("a").rows("a/b", 10)] == ["a/b/c"]
    assert [r.name for r in meta.repositories("library/")] == ["library/app", "library/app-x", "library/app/x"]
    listed = meta.repositories_in_order("library")
    assert listed.keys(None, 2) == ["library/app", "library/app-x"]
    assert listed.keys("library/app-x", 10) == ["library/app/x"]
    assert listed.keys(None, 0) == []
    rows = listed.rows("library/app", 10)
    assert [n for n, _ in rows] == ["library/app-x", "library/app/x"] and all(r.name == n for n, r in rows)
    assert rows[0][1] == meta.get_repository("library/app-x")
    assert meta.repositories_in_order("none").keys(None, 10) == []


def test_list_manifests_without_their_bytes(meta):
    a = record("a", annotations={"k": "v"})
    meta.put_manifest(NAME, a, None, T0)
    [full] = meta.list_manifests(NAME)
    [bare] = meta.list_manifests(NAME, with_body=False)
    assert full == a and full.version
    assert bare.body is None and bare.digest == a.digest and bare.blobs == a.blobs and bare.size == a.size
    assert meta.list_manifests("library/none") == []


def test_annotations_too_large_for_the_item_stay_in_the_manifest_bytes_alone(meta):
    from chalicelib.meta.registry import INLINE_ANNOTATIONS_LIMIT

    big = {"k": "x" * INLINE_ANNOTATIONS_LIMIT}
    subject = record("subject")
    m = record("big", body=None, subject=subject.digest, annotations=big)
    meta.put_manifest(NAME, m, None, T0)
    assert meta.get_manifest(NAME, m.digest).annotations is None
    assert meta.list_referrers(NAME, subject.digest) == [Referrer(m.digest, m.media_type, m.size)]
