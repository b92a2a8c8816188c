"""Harbor's timestamps: RFC 3339 in UTC with milliseconds."""
from __future__ import annotations

import datetime as dt

NEVER = "0001-01-01T00:00:00.000Z"  # Harbor's zero time, e.g. an artifact never pulled


def iso(epoch: float | None) -> str:
    if not epoch:
        return NEVER
    moment = dt.datetime.fromtimestamp(float(epoch), tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
