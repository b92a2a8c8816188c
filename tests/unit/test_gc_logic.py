"""Garbage collection's pure parts: Harbor's job parameters, which manifests of a
repository no tag reaches (and the order they go in), upload ids that list in time order."""
from __future__ import annotations

import uuid

import pytest

from chalicelib import gc
from chalicelib.meta.registry import ManifestRecord
from chalicelib.storage import paths


def record(digest: str, *, children=(), subject=None, created=0) -> ManifestRecord:
    return ManifestRecord(digest=digest, media_type="m", size=10, body=b"", subject=subject,
                          children=list(children), created=created)


def test_parameters_are_harbors():
    assert gc.parameters_of(None) == {"delete_untagged": False, "dry_run": False, "workers": 1}
    assert gc.parameters_of({"delete_untagged": True, "workers": 10}) == {"delete_untagged": True, "dry_run": False, "workers": 10}
    for bad in ({"workers": 0}, {"workers": 11}, {"workers": "3"}, {"workers": True}, {"dry_run": 1}, {"delete_untagged": "yes"}):
        with pytest.raises(ValueError):
            gc.parameters_of(bad)


def test_what_no_tag_reaches():
    manifests = [
        record("tagged", created=1),
        record("index", children=["child-a", "child-b"], created=1),
        record("child-a", created=1),
        record("child-b", created=1),
        record("signature", subject="tagged", created=1),
        record("signature-of-signature", subject="signature", created=1),
        record("orphan-index", children=["orphan-child"], created=1),
        record("orphan-child", created=1),
        record("dangling-referrer", subject="gone", created=1),
        record("too-new", created=100),
    ]
    garbage = gc.unreachable(manifests, {"tagged", "index"}, cutoff=50)
    assert {m.digest for m in garbage} == {"orphan-index", "orphan-child", "dangling-referrer"}
    order = [m.digest for m in garbage]
    assert order.index("orphan-index") < order.index("orphan-child")  # an index before what it lists


def test_an_untagged_child_of_an_untagged_index_of_a_tagged_index_stays():
    manifests = [record("top", children=["mid"]), record("mid", children=["leaf"]), record("leaf")]
    assert gc.unreachable(manifests, {"top"}, cutoff=10) == []


def test_upload_ids_list_in_the_order_their_sessions_started():
    ids = [paths.upload_id(t, uuid.uuid4().hex) for t in (1_700_000_000.0, 1_700_000_000.5, 1_800_000_000.0)]
    assert ids == sorted(ids)
    assert all(str(uuid.UUID(i)) == i for i in ids)  # still a UUID (Docker-Upload-UUID)
    keys = [paths.uploaded_key(i) for i in ids]
    assert paths.uploaded_since(1_700_000_000.2) < keys[1] and keys[0] < paths.uploaded_since(1_700_000_000.2)
    assert paths.uploaded_since(1_700_000_000.0) < keys[0]
