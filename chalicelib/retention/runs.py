"""A tag retention run (Harbor's execution): each repository of the project that a rule
applies to is one task, which reads the repository once, decides with policy.evaluate
what to keep, and (unless it is a dry run) deletes the rest through
chalicelib/artifacts.py, the path an API delete takes: immutable tags are kept, the
quota gets the bytes back, each deletion is a domain event.

Deleting an artifact takes along what hangs on it and nothing else names: an index's
untagged children and an artifact's referrers (signatures, SBOMs), as Harbor does. A dry
run makes the same plan and stops before deleting, so its deletions are the real run's
on the same content.

A run is safe to run again: the plan is made from what is stored when each repository's
task starts, so a run that died part-way (a Lambda timeout, a fault) leaves some of its
deletions done, and the next run deletes the rest and no more. A run left `Running` that
cannot be running any more (older than STALE_AFTER) is marked `Error` when the policy
runs next.
"""
from __future__ import annotations

import logging
import time
from dataclasses import replace
from typing import Any

from chalicelib import artifacts, immutability
from chalicelib.errors import ManifestNotFound, ManifestReferenced, TagImmutable
from chalicelib.meta.retention import ERROR, RUNNING, STOPPED, SUCCESS, Execution, StoredPolicy, Task
from chalicelib.retention import policy as rules

logger = logging.getLogger("berth.retention")

STALE_AFTER = 15 * 60  # a Lambda runs at most 15 minutes
MANUAL = "MANUAL"
SCHEDULE = "SCHEDULE"
# how long a run may delete within its function: a manual run answers its API request
# (API Gateway waits 29 s), a scheduled one runs in run_schedule (60 s); what is left when
# the time is up is the next run's (each run plans from what is stored)
TIME_LIMITS = {MANUAL: 20.0, SCHEDULE: 50.0}
OUT_OF_TIME = "the run's time was up; the next run continues where it stopped"
monotonic = time.monotonic  # the run's own clock for its time limit (a test hands in another)


def start(svc, stored: StoredPolicy, trigger: str, *, dry_run: bool, seconds: float | None = None) -> Execution:
    """Record a run, then run it (in this call: docs/lifecycle.md says why), deleting for at
    most `seconds` (TIME_LIMITS by trigger)."""
    now = svc.clock()
    for running in svc.retention.executions(stored.policy_id, limit=20):
        if running.status == RUNNING and now - running.started > STALE_AFTER:
            svc.retention.finish(replace(running, status=ERROR, ended=now, status_text="the run did not finish"))
    execution = svc.retention.start(stored.policy_id, trigger, dry_run)
    limit = TIME_LIMITS.get(trigger, TIME_LIMITS[MANUAL]) if seconds is None else seconds
    return run(svc, stored, execution, deadline=monotonic() + limit)


def stop(svc, execution: Execution) -> Execution:
    if execution.status != RUNNING:
        return execution
    stopped = replace(execution, status=STOPPED, ended=svc.clock(), status_text="stopped")
    svc.retention.finish(stopped)
    return stopped


def run(svc, stored: StoredPolicy, execution: Execution, *, deadline: float | None = None) -> Execution:
    failed = 0
    task_id = 0
    out_of_time = False
    for repository in sorted(r.name for r in svc.meta.repositories(stored.project + "/")):
        below = repository.split("/", 1)[1]
        applying = rules.applicable(stored.policy, below)
        if not applying:
            continue
        current = svc.retention.execution(execution.policy_id, execution.execution_id)
        if current is not None and current.status == STOPPED:
            return current
        if deadline is not None and monotonic() > deadline:
            out_of_time = True
            break
        task_id += 1
        task = Task(execution.execution_id, task_id, below, status=RUNNING, started=svc.clock())
        svc.retention.save_task(task)
        try:
            task = _run_repository(svc, repository, applying, task, dry_run=execution.dry_run, deadline=deadline)
            out_of_time = out_of_time or task.status == STOPPED
        except Exception as exc:  # the task records why; the next repository still runs
            logger.exception("retention task failed", extra={"repository": repository, "execution_id": execution.execution_id})
            failed += 1
            task = replace(task, status=ERROR, ended=svc.clock(), log=(*task.log, f"error: {type(exc).__name__}: {exc}"[:500]))
        svc.retention.save_task(task)
    if out_of_time:
        ended = replace(execution, status=STOPPED, ended=svc.clock(), status_text=OUT_OF_TIME)
    else:
        ended = replace(execution, status=ERROR if failed else SUCCESS, ended=svc.clock(),
                        status_text=f"{failed} repositories failed" if failed else "")
    svc.retention.finish(ended)
    return svc.retention.execution(execution.policy_id, execution.execution_id) or ended


def candidates(svc, repository: str) -> tuple[list[rules.Candidate], dict[str, Any]]:
    """The repository's artifacts as retention sees them (top-level: not an index's untagged
    child, not a referrer of an artifact it holds), and every manifest by digest."""
    manifests = {m.digest: m for m in svc.meta.list_manifests(repository, with_body=False)}
    tags: dict[str, list[tuple[str, int, int]]] = {}
    for tag, digest, updated, pulled in svc.meta.tag_times(repository):
        tags.setdefault(digest, []).append((tag, updated, pulled))
    labels = svc.labels.artifact_labels(repository)
    top = artifacts.top_level(manifests.values(), set(tags))
    out = []
    for m in top:
        if m.subject and m.subject in manifests and m.digest not in tags:
            continue  # an accessory: it goes with its subject
        named = tags.get(m.digest, [])
        out.append(rules.Candidate(
            digest=m.digest,
            tags=tuple(sorted(t for t, _, _ in named)),
            labels=tuple(label.name for label in labels.get(m.digest, [])),
            pushed=max([m.created, *(u for _, u, _ in named)]),
            pulled=max([m.pull_time, *(p for _, _, p in named)]),
            created=m.created,
            kind="index" if m.children else "image",
        ))
    return out, manifests


def plan(svc, repository: str, applying: list[dict[str, Any]]) -> tuple[list[tuple[rules.Candidate, str]], list[str]]:
    """(every candidate with its mark, the digests to delete in an order the deletes allow:
    an index before its children, the cascaded children and referrers included)."""
    found, manifests = candidates(svc, repository)
    project_rules = svc.immutable_rules.get(repository.split("/", 1)[0]).rules

    def protected(c: rules.Candidate) -> bool:
        return any(immutability.protects(project_rules, repository, t) for t in c.tags)

    marks = rules.evaluate(applying, found, int(svc.clock()), protected)
    doomed = {c.digest for c, mark in marks if mark == rules.DELETE}
    tagged = {d for c, _ in marks for d in [c.digest] if c.tags}
    # what hangs on the doomed and nothing else names goes with them
    grew = True
    while grew:
        grew = False
        for m in manifests.values():
            if m.digest in doomed or m.digest in tagged or any(c.digest == m.digest for c, _ in marks):
                continue
            parents = [p for p in manifests.values() if m.digest in p.children]
            orphan = parents and all(p.digest in doomed for p in parents)
            if orphan or (m.subject in doomed and not parents):
                doomed.add(m.digest)
                grew = True
    # an index before what it lists
    order: list[str] = []
    left = set(doomed)
    while left:
        ready = sorted(d for d in left if not any(d in manifests[p].children for p in left if p in manifests))
        if not ready:  # a cycle cannot be pushed; whatever is left, in digest order
            ready = sorted(left)
        order.extend(ready)
        left.difference_update(ready)
    return marks, order


def _run_repository(svc, repository: str, applying: list[dict[str, Any]], task: Task, *, dry_run: bool,
                    deadline: float | None = None) -> Task:
    marks, order = plan(svc, repository, applying)
    deleted: list[str] = []
    errors: dict[str, str] = {}
    stopped = False
    if not dry_run:
        listing = svc.meta.list_manifests(repository, with_body=False)
        for digest in order:
            if deadline is not None and monotonic() > deadline:
                stopped = True
                break
            try:
                artifacts.delete_manifest(svc, repository, digest, manifests=listing)
            except ManifestNotFound:
                pass  # gone meanwhile (a delete, or a run that died after deleting it): done either way
            except (TagImmutable, ManifestReferenced) as exc:  # a rule or an index came meanwhile
                errors[digest] = exc.message
                continue
            listing = [m for m in listing if m.digest != digest]
            deleted.append(digest)
    else:
        deleted = list(order)
    total = len(marks)
    gone_top = sum(1 for c, mark in marks if mark == rules.DELETE and c.digest not in errors)
    log = _log(repository, marks, order, errors, dry_run)
    if stopped:
        log.append(f"{OUT_OF_TIME}: {len(deleted)} of {len(order)} deleted")
        gone_top = sum(1 for c, _ in marks if c.digest in deleted)
    return replace(task, status=STOPPED if stopped else SUCCESS, ended=svc.clock(), total=total,
                   retained=total - gone_top, deleted=tuple(deleted), log=tuple(log))


def _when(epoch: int) -> str:
    return time.strftime("%Y/%m/%d %H:%M:%S", time.gmtime(epoch)) if epoch > 0 else ""


def _log(repository: str, marks, order: list[str], errors: dict[str, str], dry_run: bool) -> list[str]:
    """Harbor's task log: a table of every artifact and what became of it."""
    lines = [f"Run retention process. Repository: {repository} Rule Algorithm: or Dry Run: {str(dry_run).lower()}",
             f"Load {len(marks)} candidates from repository {repository}",
             "| Digest | Tag | Kind | Labels | PushedTime | PulledTime | CreatedTime | Retention |"]
    for c, mark in marks:
        shown = "ERR" if c.digest in errors else mark
        lines.append(f"| {c.digest} | {','.join(c.tags)} | {c.kind} | {','.join(c.labels)} | {_when(c.pushed)} | "
                     f"{_when(c.pulled)} | {_when(c.created)} | {shown} |")
    top = {c.digest for c, _ in marks}
    for digest in order:
        if digest not in top:
            lines.append(f"| {digest} |  | attached |  |  |  |  | {'ERR' if digest in errors else rules.DELETE} |")
    for digest, why in errors.items():
        lines.append(f"Retention error for artifact {repository}@{digest} : {why}")
    return lines
