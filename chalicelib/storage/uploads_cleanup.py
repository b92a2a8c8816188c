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


def clean_up_uploads(
    blobs, meta, now: float, ttl_seconds: int, *, dry_run: bool = False, margin: int = CLOCK_MARGIN_SECONDS,
    since: float | None = None,
) -> dict[str, int]:
    """Remove what upload sessions that ended without a blob left behind; returns counts
    (and `bytes`: what the scratch pieces and orphaned objects held; `judged_until`: the
    cutoff, the next call's `since`). `dry_run`: count only; `margin`: how long after its
    URL expired an object is judged (garbage collection passes its grace period, when
    shorter); `since`: the previous call's cutoff: every object of a session started more
    than one URL lifetime before it was judged then (its bytes were written before its URL
    expired), so only the sessions started after that are listed (ids begin with their
    start time, paths.upload_id): the cost follows the recent uploads, not all blobs."""
    judged_until = now - ttl_seconds - margin
    cutoff = dt.datetime.fromtimestamp(judged_until, tz=dt.UTC)
    aborted = 0
    for key, multipart_id in blobs.list_stale_multiparts(cutoff):
        if not dry_run:
            blobs.abort_multipart(key, multipart_id)
        aborted += 1
    scratch_objects = [o for o in blobs.list_objects(paths.UPLOADS_PREFIX) if o.modified < cutoff]
    scratch = [o.key for o in scratch_objects]
    nbytes = sum(o.size for o in scratch_objects)
    if not dry_run:
        blobs.delete_keys(scratch)
    sizes: dict[str, int] = {}
    stale = {}
    start_after = paths.uploaded_since(since - ttl_seconds) if since is not None else None
    for o in blobs.list_objects(paths.UPLOADED_PREFIX, start_after=start_after):
        if o.modified < cutoff:
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
