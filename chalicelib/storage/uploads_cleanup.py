"""Housekeeping that runs on a schedule, not on a request: what abandoned uploads left.

An upload session ends when its URL expires (BERTH_UPLOAD_TTL); after that nothing can
complete it, so whatever it wrote and no blob record claims is garbage:
- multipart uploads (the bucket's lifecycle aborts them after a day as well);
- scratch pieces under uploads/ (the lifecycle expires the prefix as well);
- a session's own object under blobs/uploaded/ that no blob record claims (the lifecycle
  cannot tell these from linked ones: only this clean-up removes them).
"""
from __future__ import annotations

import datetime as dt
import logging

from chalicelib.storage import paths

logger = logging.getLogger("berth.maintenance")

# S3's clock and ours may differ a little; an object is judged only well after its session ended
CLOCK_MARGIN_SECONDS = 600
# a request accepted just before its URL expired may still be writing for this long after
# (Lambda's longest run): the sessions that ended this long before the last clean-up's
# cutoff are looked at again
LATE_WRITE_SECONDS = 900


def clean_up_uploads(
    blobs, meta, now: float, ttl_seconds: int, *, dry_run: bool = False, margin: int = CLOCK_MARGIN_SECONDS,
    since: float | None = None,
) -> dict[str, int]:
    """Remove what upload sessions that ended without a blob left behind; returns counts
    (and `bytes`: what the scratch pieces and orphaned objects held; `judged_until`: every
    session started before it has been judged, the next call's `since`).

    A session is judged once its URL expired `margin` ago (`margin`: garbage collection
    passes its grace period, when shorter): started before `judged_until` = now - the URL
    lifetime - margin. Upload ids begin with their start time (paths.upload_id), so its
    objects (blobs/uploaded/<id>, and scratch under uploads/<id>/) list in the order the
    sessions started: only the sessions started between `since` (the previous call's
    `judged_until`, less LATE_WRITE_SECONDS) and `judged_until` are listed, the sessions
    whose URLs expired since the last clean-up: the cost follows the uploads of one
    interval, not every upload stored or a day of them. `since` None: every session. An
    object written less than `margin` ago is left (a request finishing late may be about to
    claim it). `dry_run`: count only."""
    judged_until = now - ttl_seconds - margin
    started = None if since is None else since - LATE_WRITE_SECONDS
    written_before = dt.datetime.fromtimestamp(now - margin, tz=dt.UTC)
    aborted = 0
    for key, multipart_id in blobs.list_stale_multiparts(dt.datetime.fromtimestamp(judged_until, tz=dt.UTC)):
        if not dry_run:
            blobs.abort_multipart(key, multipart_id)
        aborted += 1
    scratch_objects = [o for o in _sessions(blobs, paths.UPLOADS_PREFIX, started, judged_until) if o.modified < written_before]
    scratch = [o.key for o in scratch_objects]
    nbytes = sum(o.size for o in scratch_objects)
    if not dry_run:
        blobs.delete_keys(scratch)
    sizes: dict[str, int] = {}
    stale = {}
    for o in _sessions(blobs, paths.UPLOADED_PREFIX, started, judged_until):
        if o.modified < written_before:
            stale[o.key[len(paths.UPLOADED_PREFIX) :]] = o.key
            sizes[o.key] = o.size
    orphans = []
    ids = list(stale)
    for start in range(0, len(ids), 100):
        batch = ids[start : start + 100]
        claimed = meta.claimed_uploads(batch)
        orphans += [stale[i] for i in batch if i not in claimed]
    if not dry_run:
        blobs.delete_keys(orphans)
    nbytes += sum(sizes[k] for k in orphans)
    counts = {"aborted": aborted, "scratch": len(scratch), "orphans": len(orphans), "bytes": nbytes,
              "judged_until": int(judged_until)}
    if (aborted or scratch or orphans) and not dry_run:
        logger.info("removed what abandoned uploads left", extra=counts)
    return counts


def _sessions(blobs, prefix: str, started: float | None, before: float):
    """The objects under `prefix` of the sessions started from `started` (None: any time)
    to `before`, in key order: one listing that stops at the first later session."""
    if started is not None and started >= before:
        return
    end = paths.uploaded_since(before, prefix)
    start_after = paths.uploaded_since(started, prefix) if started is not None else None
    for o in blobs.list_objects(prefix, start_after=start_after):
        if o.key >= end:
            return
        yield o
