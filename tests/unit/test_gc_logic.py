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


class _Listing:
    """A bucket's objects for the uploads' clean-up: what it lists (and from where) is kept."""

    def __init__(self, objects):
        from chalicelib.storage.blobs import StoredObject

        self.objects = sorted((StoredObject(k, s, m) for k, s, m in objects), key=lambda o: o.key)
        self.read: list[str] = []  # every key a listing returned
        self.deleted: list[str] = []

    def list_stale_multiparts(self, older_than):
        return []

    def list_objects(self, prefix, *, start_after=None):
        for o in self.objects:
            if o.key.startswith(prefix) and (start_after is None or o.key > start_after):
                self.read.append(o.key)
                yield o

    def delete_keys(self, keys):
        self.deleted += keys


class _Claims:
    def __init__(self, claimed):
        self.claimed = set(claimed)

    def claimed_uploads(self, ids):
        return {i for i in ids if i in self.claimed}


def test_the_uploads_clean_up_lists_only_the_sessions_whose_urls_expired_since_the_last():
    import datetime as dt

    from chalicelib.storage.uploads_cleanup import LATE_WRITE_SECONDS, clean_up_uploads

    ttl, margin, hour = 24 * 3600, 600, 3600
    now = 1_800_000_000.0
    last = now - ttl - margin - hour  # the last clean-up's cutoff, an hour ago

    def session(started):
        upload = paths.upload_id(started, uuid.uuid4().hex)
        return upload, paths.uploaded_key(upload), dt.datetime.fromtimestamp(started + 60, dt.UTC)

    judged_before = session(last - LATE_WRITE_SECONDS - 60)  # judged by the last clean-up
    overlap = session(last - 60)  # expired just before it: looked at again (a late write)
    orphan = session(last + 60)  # expired since: no claim
    kept = session(last + 120)  # expired since, claimed by its blob
    live = session(now - hour)  # its URL has not expired
    bucket = _Listing([(key, 10, modified) for _, key, modified in (judged_before, overlap, orphan, kept, live)]
                      + [(paths.piece_key(orphan[0], 0), 5, orphan[2]), (paths.piece_key(live[0], 0), 5, live[2])])
    counts = clean_up_uploads(bucket, _Claims({kept[0], overlap[0]}), now, ttl, margin=margin, since=last)
    assert bucket.deleted == [paths.piece_key(orphan[0], 0), orphan[1]]
    assert counts["orphans"] == 1 and counts["scratch"] == 1 and counts["bytes"] == 15
    assert counts["judged_until"] == int(now - ttl - margin)
    # listed: the window, and the first key after it (where a listing stops)
    assert judged_before[1] not in bucket.read and overlap[1] in bucket.read
    assert bucket.read.count(live[1]) == 1 and paths.piece_key(live[0], 0) in bucket.read
    # the next clean-up, right after: nothing expired since, nothing to judge
    bucket.read.clear()
    again = clean_up_uploads(bucket, _Claims({kept[0], overlap[0]}), now + 1, ttl, margin=margin, since=counts["judged_until"])
    assert again["orphans"] == again["scratch"] == 0


def test_an_object_written_within_the_margin_waits():
    """A request that outlived its URL may be about to claim what it just wrote."""
    import datetime as dt

    from chalicelib.storage.uploads_cleanup import clean_up_uploads

    ttl, now = 3600, 1_800_000_000.0
    upload = paths.upload_id(now - 2 * ttl, uuid.uuid4().hex)
    bucket = _Listing([(paths.uploaded_key(upload), 10, dt.datetime.fromtimestamp(now - 60, dt.UTC))])
    assert clean_up_uploads(bucket, _Claims(()), now, ttl, margin=600, since=None)["orphans"] == 0
    assert bucket.deleted == []
