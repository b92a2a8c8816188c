"""Replication policies' rules: patterns, tag decorations, namespace rewriting (Harbor's
table of cases), cron, and loops between two policies."""
from __future__ import annotations

from dataclasses import replace

import pytest

from chalicelib.meta.replication import Filter, ReplicationPolicy
from chalicelib.replication import rules


def policy(**fields) -> ReplicationPolicy:
    return ReplicationPolicy(**{"name": "p", "dest_registry_id": 1, **fields})


@pytest.mark.parametrize(("name", "pattern", "hit"), [
    ("library/hello", "library/**", True),
    ("library/a/b", "library/**", True),
    ("library/a/b", "library/*", False),
    ("library/hello", "library/*", True),
    ("other/hello", "library/**", False),
    ("library/app", "{library,team}/app", True),
    ("team/app", "{library,team}/app", True),
    ("x/app", "{library,team}/app", False),
    ("library/app1", "library/app?", True),
    ("library/app", "", True),
])
def test_name_patterns_are_harbors_doublestar(name, pattern, hit):
    assert rules.name_selected(policy(filters=(Filter("name", pattern),)), name) is hit


def test_tag_filters_match_and_exclude():
    p = policy(filters=(Filter("tag", "v*"), Filter("tag", "*-rc*", "excludes")))
    assert rules.tags_selected(p, ["v1", "v2-rc1", "latest", "v3"]) == ["v1", "v3"]
    assert rules.tags_selected(policy(), ["a", "b"]) == ["a", "b"]
    assert rules.tags_selected(policy(filters=(Filter("tag", "{1.0,2.0}"),)), ["1.0", "2.0", "3.0"]) == ["1.0", "2.0"]


@pytest.mark.parametrize(("repository", "namespace", "count", "expected"), [
    ("library/hello", "", -1, "library/hello"),
    ("library/hello", "mirror", -1, "mirror/hello"),
    ("a/b/c/hello", "mirror", -1, "mirror/hello"),
    ("a/b/c/hello", "mirror", 0, "mirror/a/b/c/hello"),
    ("a/b/c/hello", "mirror", 1, "mirror/b/c/hello"),
    ("a/b/c/hello", "mirror", 3, "mirror/hello"),
    ("a/b/c/hello", "m/n", 2, "m/n/c/hello"),
])
def test_namespace_rewriting(repository, namespace, count, expected):
    assert rules.destination(repository, namespace, count) == expected


def test_too_high_a_replace_count_says_so():
    with pytest.raises(ValueError, match="contains only 1 path components"):
        rules.destination("library/hello", "mirror", 2)


@pytest.mark.parametrize(("cron", "says"), [
    ("", "cannot be empty"),
    ("0 0 * * *", "6 fields"),
    ("0 0 0 * * * *", "6 fields"),
    ("0 0 25 * * *", "invalid cron"),
    ("0 0 0 * * FUNDAY", "invalid cron"),
    ("5 0 0 * * *", "Seconds"),
    ("0 * 0 * * *", "Minutes"),
])
def test_bad_crons(cron, says):
    with pytest.raises(ValueError, match=says):
        rules.check(policy(trigger="scheduled", cron=cron))


def test_good_policies_pass():
    rules.check(policy(trigger="scheduled", cron="0 30 2 * * MON-FRI"))
    rules.check(policy(trigger="event_based", filters=(Filter("name", "library/**"), Filter("resource", "image"))))
    rules.check(ReplicationPolicy(name="pull", src_registry_id=3, trigger="manual", dest_namespace="mirror"))


@pytest.mark.parametrize(("fields", "says"), [
    ({"dest_registry_id": 0}, "either src_registry or dest_registry"),
    ({"src_registry_id": 2}, "either src_registry or dest_registry"),
    ({"filters": (Filter("name", "a", "excludes"),)}, "only tag and label filter support decoration"),
    ({"filters": (Filter("resource", "chart"),)}, "invalid resource filter"),
    ({"filters": (Filter("tag", "a", "maybe"),)}, "invalid filter decoration"),
    ({"filters": (Filter("label", "x"),)}, "must be string slice"),
    ({"filters": (Filter("label", ("ok", " ")),)}, "a label name of 1 to 128"),
    ({"filters": (Filter("label", ("ok",), "maybe"),)}, "invalid filter decoration"),
    ({"filters": (Filter("tag", ("a",)),)}, "isn't string"),
    ({"filters": (Filter("name", "a"), Filter("name", "b"))}, "at most one name filter"),
    ({"dest_namespace": "Bad Namespace"}, "invalid destination namespace"),
    ({"dest_namespace_replace_count": -2}, "dest_namespace_replace_count"),
    ({"trigger": "sometimes"}, "invalid trigger type"),
    ({"src_registry_id": 2, "dest_registry_id": 0, "trigger": "event_based"}, "event_based"),
    ({"name": " "}, "empty name"),
])
def test_bad_policies_say_why(fields, says):
    with pytest.raises(ValueError, match=says):
        rules.check(policy(**fields))


def test_a_push_and_a_pull_that_feed_each_other_are_a_loop():
    out = ReplicationPolicy(name="out", dest_registry_id=1, filters=(Filter("name", "library/**"),), dest_namespace="mirror")
    back = ReplicationPolicy(name="back", src_registry_id=1, filters=(Filter("name", "mirror/**"),), dest_namespace="library")
    assert rules.loop_between(out, back) and rules.loop_between(back, out)
    # pulling back into another project is no loop
    elsewhere = ReplicationPolicy(name="b2", src_registry_id=1, filters=(Filter("name", "mirror/**"),), dest_namespace="copies")
    assert not rules.loop_between(out, elsewhere)
    # nor is pulling what the push does not write
    other = ReplicationPolicy(name="b3", src_registry_id=1, filters=(Filter("name", "upstream/**"),), dest_namespace="library")
    assert not rules.loop_between(out, other)
    # another registry: no loop
    assert not rules.loop_between(out, ReplicationPolicy(name="b4", src_registry_id=2, dest_namespace="library"))
    # no filters and no namespaces at all: everything goes out and comes back
    assert rules.loop_between(ReplicationPolicy(name="a", dest_registry_id=1), ReplicationPolicy(name="b", src_registry_id=1))
    # two pushes never loop
    assert not rules.loop_between(out, ReplicationPolicy(name="c", dest_registry_id=1))


def test_label_filters_as_harbor_matches_wants_all_excludes_wants_one_missing():
    both = policy(filters=(Filter("label", ("prod", "signed")),))
    assert rules.labels_selected(both, ["prod", "signed", "other"])
    assert not rules.labels_selected(both, ["prod"])
    assert not rules.labels_selected(both, [])
    excluded = policy(filters=(Filter("label", ("prod", "signed"), "excludes"),))
    assert not rules.labels_selected(excluded, ["signed", "prod"])
    assert rules.labels_selected(excluded, ["prod"]) and rules.labels_selected(excluded, [])
    # two filters: both must hold; an empty one selects everything
    two = policy(filters=(Filter("label", ("prod",)), Filter("label", ("wip",), "excludes"), Filter("label", ())))
    assert rules.labels_selected(two, ["prod"]) and not rules.labels_selected(two, ["prod", "wip"])
    assert rules.has_label_filter(two) and not rules.has_label_filter(policy(filters=(Filter("label", ()),)))
    rules.check(two)


def test_deletion_events_select_only_policies_that_replicate_deletions():
    from chalicelib.events.envelope import Event
    from chalicelib.replication import triggers

    deleted = Event("e1", "berth.artifact.deleted", "/berth/x", "library/app@sha256:" + "a" * 64, "2026-01-01T00:00:00Z",
                    {"repository": "library/app", "digest": "sha256:" + "a" * 64, "tag": None, "tags": ["v1", "latest"]})
    untagged = Event("e2", "berth.tag.deleted", "/berth/x", "library/app:dev", "2026-01-01T00:00:00Z",
                     {"repository": "library/app", "tag": "dev"})
    on_push = policy(trigger="event_based", dest_namespace="mirror", filters=(Filter("name", "library/**"),))
    deleting = replace(on_push, replicate_deletion=True)
    assert not triggers.selected(on_push, deleted)
    assert triggers.selected(deleting, deleted) and triggers.selected(deleting, untagged)
    # tag filters see the deleted artifact's tags, or the deleted tag
    only_v = replace(deleting, filters=(*deleting.filters, Filter("tag", "v*")))
    assert triggers.selected(only_v, deleted) and not triggers.selected(only_v, untagged)
    task = triggers.deletion(deleting, deleted)
    assert (task.operation, task.src_resource, task.dst_repository, task.reference, task.tags) == (
        "deletion", "library/app@sha256:" + "a" * 64, "mirror/app", "sha256:" + "a" * 64, ("v1", "latest"))
    task = triggers.deletion(deleting, untagged)
    assert (task.dst_resource, task.reference, task.tags) == ("mirror/app:dev", "dev", ("dev",))
