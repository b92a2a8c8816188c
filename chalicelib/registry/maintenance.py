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


def clean_up_uploads(blobs, meta, now: float, ttl_seconds: int) -> dict[str, int]:
    """Remove what upload sessions that ended without a blob left behind; returns counts."""
    cutoff = dt.datetime.fromtimestamp(now - ttl_seconds - CLOCK_MARGIN_SECONDS, tz=dt.UTC)
    aborted = 0
    for key, multipart_id in blobs.list_stale_multiparts(cutoff):
        blobs.abort_multipart(key, multipart_id)
        aborted += 1
    scratch = [o.key for o in blobs.list_objects(paths.UPLOADS_PREFIX) if o.modified < cutoff]
    blobs.delete_keys(scratch)
    stale = {
        o.key[len(paths.UPLOADED_PREFIX) :]: o.key
        for o in blobs.list_objects(paths.UPLOADED_PREFIX)
        if o.modified < cutoff
    }
    orphans = []
    ids = list(stale)
    for start in range(0, len(ids), 100):
        batch = ids[start : start + 100]
        claimed = meta.claimed_uploads(batch)
        orphans += [stale[i] for i in batch if i not in claimed]
    blobs.delete_keys(orphans)
    counts = {"aborted": aborted, "scratch": len(scratch), "orphans": len(orphans)}
    if any(counts.values()):
        logger.info("removed what abandoned uploads left", extra=counts)
    return counts
