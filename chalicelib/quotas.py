"""Storage quotas: what a manifest's write adds to its project's usage, and the refusal
of a push that would go over the project's limit (Harbor's `storage_limit`).

Usage counts each blob once per project — a layer shared by two repositories of a
project is counted once — together with the manifests' own bytes (the manifest is a
blob too). It grows when a manifest new to a repository names blobs new to the project,
and shrinks when the last manifest of the project naming a blob goes. The store's
operations (chalicelib/meta/quotas.py) join the manifest write's transaction.
"""
from __future__ import annotations

from chalicelib.errors import QuotaExceeded
from chalicelib.meta.quotas import Change, Counted, Quota


def _human(nbytes: int) -> str:
    size = float(nbytes)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{nbytes} B"


def charge(
    project: str, sizes: dict[str, int], counted: dict[str, int], quota: Quota, now: int,
    *, blobs: frozenset[str] = frozenset(), in_blob_count: frozenset[str] = frozenset(),
) -> Change:
    """The change a new manifest makes: `sizes` (digest -> bytes) of the blobs it names
    and of itself, `counted` (digest -> refs) of those the project counts already;
    `blobs`: which of them are blobs (not the manifest's own digest), `in_blob_count`:
    which counted ones their blob's record counts already (garbage collection's ledger).
    QuotaExceeded (DENIED) if the new bytes would take usage over the limit."""
    added = {d: n for d, n in sizes.items() if d not in counted}
    shared = {d: counted[d] for d in sizes if d in counted}
    change = Change(project, added, shared, {}, quota, now, frozenset(blobs), frozenset(in_blob_count))
    if quota.hard >= 0 and change.delta > 0 and quota.used + change.delta > quota.hard:
        # Harbor's words
        raise QuotaExceeded(
            f"quota exceeded when processing the request of adding {_human(change.delta)} of storage resource, "
            f"which when updated to current usage of {_human(quota.used + change.delta)} will exceed the configured "
            f"upper limit of {_human(quota.hard)}."
        )
    return change


def release(project: str, named: dict[str, int], counted: dict[str, Counted], quota: Quota, now: int) -> Change:
    """The change deleting manifests makes: `named` (digest -> how many of the deleted
    manifests name it, themselves included), `counted`: what the project counts of them."""
    released = {d: (counted[d].refs, count, counted[d].nbytes) for d, count in named.items() if d in counted}
    in_blob_count = frozenset(d for d in released if counted[d].in_blob_count)
    return Change(project, {}, {}, released, quota, now, in_blob_count=in_blob_count)


def warning(change: Change, percent: int) -> str | None:
    """Harbor's QUOTA_WARNING message when `change` takes usage across `percent` of the
    limit (from below it to at or above it), else None: one warning per crossing."""
    hard = change.quota.hard
    if hard <= 0 or change.delta <= 0:
        return None
    bar = hard * percent / 100
    before, after = change.quota.used, change.quota.used + change.delta
    if before >= bar or after < bar:
        return None
    return (f"quota usage reached {percent}% of the configured upper limit: storage {_human(after)} "
            f"used of {_human(hard)}")
