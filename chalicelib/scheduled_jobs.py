"""What a schedule runs: the job a schedule carries (chalicelib/schedules.py) goes to its owner.

A job is `{"kind": ..., ...}`; each kind names the function that runs it, `module:function`,
imported only when that kind fires (a cold start loads one owner, not all). A runner gets the
services and the job and returns a small summary for the function's log. A job whose owner is
gone (its policy deleted, or no longer scheduled) is the owner's to ignore: it returns
`{"skipped": why}`; the schedule it came from is stale and the owner removes it.
"""
from __future__ import annotations

import importlib
import logging

from chalicelib.dependencies import DomainDependencies

log = logging.getLogger("berth.schedules")

RUNNERS = {
    "replication": "chalicelib.replication.scheduled:run",
    "retention": "chalicelib.retention.scheduled:run",
    "gc": "chalicelib.gc:run_scheduled",
}


class UnknownJob(ValueError):
    """A schedule's job names no runner: a schedule from a newer or older version."""


def run(svc: DomainDependencies, job: dict) -> dict:
    kind = job.get("kind") if isinstance(job, dict) else None
    target = RUNNERS.get(kind or "")
    if target is None:
        # retrying cannot help: say so in the log, and let the schedule's run end
        log.error("a schedule fired a job of unknown kind %r", kind)
        raise UnknownJob(f"no runner for a scheduled job of kind {kind!r}")
    module, function = target.split(":")
    out = getattr(importlib.import_module(module), function)(svc, job)
    log.info("scheduled %s job: %s", kind, out)
    return out
