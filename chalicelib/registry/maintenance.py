"""Housekeeping that runs on a schedule, not on a request."""
from __future__ import annotations

import datetime as dt
import logging

logger = logging.getLogger("berth.maintenance")


def abort_stale_uploads(blobs, now: float, ttl_seconds: int) -> int:
    """Abort S3 multipart uploads of sessions older than their TTL.

    DynamoDB's TTL removes expired session items and the bucket's lifecycle
    rules catch up within a day or two; this makes the cut-off exact and also
    covers endpoints with no lifecycle support (moto). Returns how many were
    aborted.
    """
    cutoff = dt.datetime.fromtimestamp(now - ttl_seconds, tz=dt.UTC)
    aborted = 0
    for key, multipart_id in blobs.list_stale_multiparts(cutoff):
        upload_id = key.split("/")[1]
        blobs.abort_multipart(upload_id, multipart_id)
        aborted += 1
    if aborted:
        logger.info("aborted stale uploads", extra={"count": aborted})
    return aborted
