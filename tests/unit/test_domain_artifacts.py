"""chalicelib/artifacts.py's rules on the in-memory graph (tests/memory_graph.py): a push with
its tag and its quota, resolving a reference, tags, immutability, an index's children,
deletion giving the quota back, copies; and the one event each change writes (none when it
fails). tests/api/test_manifests.py and tests/api/management/test_artifacts*.py,
test_quotas.py, test_immutable.py pin the same through HTTP on moto."""
from __future__ import annotations

import pytest

from chalicelib import artifacts, projects
from chalicelib.errors import (
    ManifestBlobUnknown,
    ManifestNotFound,
    ManifestReferenced,
    QuotaExceeded,
    TagImmutable,
)
from chalicelib.events.envelope import (
    ARTIFACT_DELETED,
    ARTIFACT_PUSHED,
    QUOTA_EXCEEDED,
    QUOTA_WARNING,
    TAG_CREATED,
    TAG_DELETED,
)
from chalicelib.meta.accounts import User
from chalicelib.oci.digests import Digest
from tests.memory_graph import MemoryGraph
from tests.unit.memory_images import image_body, image_bytes, immutable, push_image, push_index, record_of, upload

APP = "library/app"
SHARED = b"a base layer shared by images " * 40


@pytest.fixture
def svc() -> MemoryGraph:
    svc = MemoryGraph()
    svc.accounts.create_user(User("alice"))
    projects.create(svc, "library", "alice")
    projects.create(svc, "other", "alice")
    svc.events.clear()
    return svc


def types(svc: MemoryGraph) -> list[str]:
    return [e.type for e in svc.events]


def used(svc: MemoryGraph, project: str = "library") -> int:
    return svc.quotas.get(project).used


def protect(svc: MemoryGraph, project: str = "library", pattern: str = "**") -> None:
    svc.immutable_rules.save(project, svc.immutable_rules.get(project), [immutable(pattern)], 1)


# -- a push, and resolving what it wrote ---------------------------------------------
def test_a_push_writes_the_manifest_its_tag_and_one_event(svc):
    record = push_image(svc, APP, "1", seed="a")
    assert svc.meta.get_manifest(APP, record.digest) == record
    assert svc.meta.get_tag(APP, "1").digest == record.digest
    assert svc.meta.repository_exists(APP)
    assert types(svc) == [ARTIFACT_PUSHED]
    assert svc.events[0].subject == f"{APP}:1"
    assert svc.events[0].data["digest"] == record.digest


def test_a_reference_resolves_by_tag_and_by_digest(svc):
    record = push_image(svc, APP, "1", seed="a")
    assert artifacts.resolve_digest(svc, APP, "1") == record.digest
    assert artifacts.resolve_digest(svc, APP, record.digest) == record.digest
    with pytest.raises(ManifestNotFound):
        artifacts.resolve_digest(svc, APP, "2")
    # a digest is answered as it is: whoever reads it finds whether it is there
    other = str(Digest.of(b"never pushed"))
    assert artifacts.resolve_digest(svc, APP, other) == other


def test_a_push_charges_its_project_with_its_blobs_and_itself(svc):
    record = push_image(svc, APP, "1", seed="a")
    assert used(svc) == image_bytes(svc, APP, record) > record.size
    assert used(svc, "other") == 0


def test_a_blob_shared_in_a_project_is_counted_once(svc):
    first = push_image(svc, APP, "1", seed="a", layers=[SHARED])
    second = push_image(svc, "library/tools", "1", seed="b", layers=[SHARED])
    assert used(svc) == image_bytes(svc, APP, first) + second.size + svc.meta.link_size("library/tools", second.blobs[0])


def test_the_same_manifest_pushed_again_is_charged_once(svc):
    record = push_image(svc, APP, "1", seed="a")
    charged = used(svc)
    artifacts.push_manifest(svc, APP, record, "latest", project="library")
    assert used(svc) == charged
    assert sorted(t for t, _, _ in svc.meta.tag_digests(APP)) == ["1", "latest"]
    assert types(svc) == [ARTIFACT_PUSHED, ARTIFACT_PUSHED]


def test_a_push_naming_a_blob_not_in_the_repository_writes_nothing(svc):
    body, config = image_body("a", [b"never uploaded"])
    upload(svc, APP, config)
    with pytest.raises(ManifestBlobUnknown):
        artifacts.push_manifest(svc, APP, record_of(svc, body, "application/vnd.oci.image.manifest.v1+json"), "1", project="library")
    assert svc.meta.get_tag(APP, "1") is None
    assert not svc.meta.repository_exists(APP)
    assert used(svc) == 0
    assert svc.events == []


def test_a_push_over_the_quota_is_refused_with_its_event_only(svc):
    svc.quotas.set_hard("library", 500)
    with pytest.raises(QuotaExceeded, match="exceed the configured upper limit"):
        push_image(svc, APP, "1", seed="a")
    assert not svc.meta.repository_exists(APP)
    assert used(svc) == 0
    assert types(svc) == [QUOTA_EXCEEDED]
    assert svc.events[0].data["hard"] == 500


def test_a_push_that_crosses_the_warning_bar_warns_once(svc):
    record = push_image(svc, APP, "1", seed="a")
    size = image_bytes(svc, APP, record)
    svc.quotas.set_hard("library", 4 * size + size // 2)  # the default bar, 85 %: at 3.8 images
    svc.events.clear()
    push_image(svc, APP, "2", seed="b")
    push_image(svc, APP, "3", seed="c")  # under the bar
    assert types(svc) == [ARTIFACT_PUSHED] * 2
    push_image(svc, APP, "4", seed="d")  # across it: the warning with the push that crossed
    assert types(svc)[2:] == [QUOTA_WARNING, ARTIFACT_PUSHED] or types(svc)[2:] == [ARTIFACT_PUSHED, QUOTA_WARNING]
    push_image(svc, APP, "5", seed="e", layers=[])  # above it: no second warning
    assert types(svc).count(QUOTA_WARNING) == 1
    assert len(types(svc)) == 5


def test_the_warning_bar_is_the_runtime_setting(svc):
    svc.runtime_config.stored["quota_warning_percent"] = "10"
    svc.quotas.set_hard("library", 100_000)
    push_image(svc, APP, "1", seed="a", layers=[b"x" * 20_000])
    assert sorted(types(svc)) == sorted([ARTIFACT_PUSHED, QUOTA_WARNING])


# -- tags ----------------------------------------------------------------------------
def test_a_tag_moves_to_the_manifest_pushed_last(svc):
    push_image(svc, APP, "latest", seed="a")
    second = push_image(svc, APP, "latest", seed="b")
    assert artifacts.resolve_digest(svc, APP, "latest") == second.digest


def test_a_tag_added_to_an_artifact_and_removed(svc):
    record = push_image(svc, APP, "1", seed="a")
    svc.events.clear()
    svc.meta.create_tag(APP, "stable", record, int(svc.clock()))
    assert artifacts.resolve_digest(svc, APP, "stable") == record.digest
    assert artifacts.delete_tag(svc, APP, "stable")
    assert not artifacts.delete_tag(svc, APP, "stable")  # not there: nothing changes
    assert svc.meta.get_manifest(APP, record.digest) is not None  # the manifest stays
    assert types(svc) == [TAG_CREATED, TAG_DELETED]


def test_an_immutable_tag_is_neither_moved_nor_deleted(svc):
    first = push_image(svc, APP, "1", seed="a")
    protect(svc, pattern="1")
    svc.events.clear()
    with pytest.raises(TagImmutable, match="configured as immutable"):
        push_image(svc, APP, "1", seed="b")
    with pytest.raises(TagImmutable):
        artifacts.delete_tag(svc, APP, "1")
    with pytest.raises(TagImmutable):
        artifacts.delete_manifest(svc, APP, first.digest)
    with pytest.raises(TagImmutable):
        artifacts.delete_repository(svc, APP)
    assert artifacts.resolve_digest(svc, APP, "1") == first.digest
    assert svc.events == []
    # the same manifest again, and tags the rule does not match, are fine
    artifacts.push_manifest(svc, APP, first, "1", project="library")
    push_image(svc, APP, "2", seed="b")
    push_image(svc, APP, "2", seed="c")
    assert types(svc) == [ARTIFACT_PUSHED] * 3


def test_immutability_is_the_projects(svc):
    protect(svc, "other")
    push_image(svc, APP, "1", seed="a")
    push_image(svc, APP, "1", seed="b")
    assert artifacts.delete_tag(svc, APP, "1")


# -- deletion --------------------------------------------------------------------------
def test_a_deleted_manifest_takes_its_tags_and_gives_its_bytes_back(svc):
    record = push_image(svc, APP, "1", seed="a")
    svc.meta.create_tag(APP, "stable", record, int(svc.clock()))
    svc.events.clear()
    deleted = artifacts.delete_manifest(svc, APP, record.digest)
    assert deleted.digest == record.digest
    assert svc.meta.get_manifest(APP, record.digest) is None
    assert svc.meta.tag_digests(APP) == []
    assert used(svc) == 0
    assert types(svc) == [ARTIFACT_DELETED]
    assert sorted(svc.events[0].data["tags"]) == ["1", "stable"]
    with pytest.raises(ManifestNotFound):
        artifacts.delete_manifest(svc, APP, record.digest)
    assert types(svc) == [ARTIFACT_DELETED]


def test_a_deletion_gives_back_only_what_no_other_manifest_names(svc):
    first = push_image(svc, APP, "1", seed="a", layers=[SHARED])
    second = push_image(svc, "library/tools", "1", seed="b", layers=[SHARED])
    artifacts.delete_manifest(svc, APP, first.digest)
    assert used(svc) == image_bytes(svc, "library/tools", second)
    artifacts.delete_manifest(svc, "library/tools", second.digest)
    assert used(svc) == 0


def test_a_deleted_repository_gives_its_bytes_back(svc):
    push_image(svc, APP, "1", seed="a", layers=[SHARED])
    kept = push_image(svc, "library/tools", "1", seed="b", layers=[SHARED])
    assert artifacts.delete_repository(svc, APP)
    assert not svc.meta.repository_exists(APP)
    assert used(svc) == image_bytes(svc, "library/tools", kept)
    assert not artifacts.delete_repository(svc, APP)


# -- an index and its children ------------------------------------------------------------
@pytest.fixture
def index(svc):
    children = [push_image(svc, APP, None, seed=arch) for arch in ("amd64", "arm64")]
    return push_index(svc, APP, "multi", children), children


def test_a_child_is_not_deleted_while_its_index_lists_it(svc, index):
    _, children = index
    svc.events.clear()
    with pytest.raises(ManifestReferenced, match="delete the index first"):
        artifacts.delete_manifest(svc, APP, children[0].digest)
    assert svc.meta.get_manifest(APP, children[0].digest) is not None
    assert svc.events == []


def test_a_child_is_not_deleted_in_a_batch_while_its_index_stays(svc, index):
    """Retention's and garbage collection's entry point keeps the rule too."""
    _, children = index
    svc.events.clear()
    deleted, refused = artifacts.delete_manifests(svc, APP, [children[0].digest], svc.meta.repository_contents(APP))
    assert deleted == []
    assert "delete the index first" in refused[children[0].digest]
    assert svc.meta.get_manifest(APP, children[0].digest) is not None
    assert svc.events == []


def test_an_index_then_its_children_go_in_one_batch(svc, index):
    parent, children = index
    svc.events.clear()
    order = [parent.digest, *(c.digest for c in children)]
    deleted, refused = artifacts.delete_manifests(svc, APP, order, svc.meta.repository_contents(APP))
    assert (deleted, refused) == (order, {})
    assert svc.meta.list_manifests(APP) == []
    assert used(svc) == 0
    assert types(svc) == [ARTIFACT_DELETED] * 3


def test_once_the_index_is_gone_its_children_may_go(svc, index):
    parent, children = index
    artifacts.delete_manifest(svc, APP, parent.digest)
    for child in children:
        artifacts.delete_manifest(svc, APP, child.digest)
    assert used(svc) == 0


def test_an_index_is_listed_without_its_untagged_children(svc, index):
    parent, children = index
    tagged = {d for _, d, _ in svc.meta.tag_digests(APP)}
    assert [m.digest for m in artifacts.top_level(svc.meta.list_manifests(APP), tagged)] == [parent.digest]
    assert artifacts.parents(svc.meta.list_manifests(APP), children[1].digest) == [parent.digest]


def test_an_index_naming_a_manifest_not_in_the_repository_is_refused(svc):
    elsewhere = push_image(svc, "library/tools", None, seed="amd64")
    svc.events.clear()
    with pytest.raises(ManifestBlobUnknown):
        push_index(svc, APP, "multi", [elsewhere])
    assert svc.events == []


# -- copies ------------------------------------------------------------------------------
def copy(svc, source: str, reference: str, target: str, tag: str | None) -> None:
    manifests = {m.digest: m for m in svc.meta.list_manifests(source)}
    record = manifests[artifacts.resolve_digest(svc, source, reference)]
    artifacts.copy(svc, source, manifests, target, record, tag)


def test_a_copy_into_another_project_links_the_blobs_and_charges_that_project(svc):
    record = push_image(svc, APP, "1", seed="a")
    charged = used(svc)
    svc.events.clear()
    copy(svc, APP, "1", "other/app", "1")
    assert artifacts.resolve_digest(svc, "other/app", "1") == record.digest
    assert all(svc.meta.link_size("other/app", d) is not None for d in record.blobs)
    assert used(svc, "other") == charged
    assert used(svc) == charged  # the source is unchanged
    assert types(svc) == [ARTIFACT_PUSHED]
    assert svc.events[0].data["repository"] == "other/app"


def test_a_copy_of_an_index_copies_its_children_first(svc, index):
    parent, children = index
    svc.events.clear()
    copy(svc, APP, "multi", "other/app", "multi")
    assert {m.digest for m in svc.meta.list_manifests("other/app")} == {parent.digest, *(c.digest for c in children)}
    assert [e.data["digest"] for e in svc.events] == [*(c.digest for c in children), parent.digest]
    assert used(svc, "other") == used(svc)


def test_a_copy_onto_an_immutable_tag_is_refused(svc):
    push_image(svc, "other/app", "1", seed="b")
    protect(svc, "other")
    push_image(svc, APP, "1", seed="a")
    svc.events.clear()
    charged = used(svc, "other")
    with pytest.raises(TagImmutable):
        copy(svc, APP, "1", "other/app", "1")
    assert used(svc, "other") == charged
    assert svc.events == []


def test_a_copy_over_the_target_quota_is_refused(svc):
    push_image(svc, APP, "1", seed="a")
    svc.quotas.set_hard("other", 10)
    svc.events.clear()
    with pytest.raises(QuotaExceeded):
        copy(svc, APP, "1", "other/app", "1")
    assert not svc.meta.repository_exists("other/app")
    assert svc.meta.link_size("other/app", svc.meta.list_manifests(APP)[0].blobs[0]) is None
    assert types(svc) == [QUOTA_EXCEEDED]
