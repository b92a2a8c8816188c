"""Garbage collection (Harbor's /system/gc): what a run does, step by step, for every way
it is started (the management API, the schedule, the tests and the benchmark).

A run is a Step Functions execution of the state machine in infra/gc.yaml, named
`workflow_name(run)`, whose tasks are `step()` (the app's `gc_task`): `begin` takes the one-run-at-a-time lease; `untagged` (with
`delete_untagged`) deletes the manifests no tag, index or subject reaches, in the
repositories changed since the last run (their change marks); `sweep` walks
the candidates (blobs that may have become garbage since they were written: the cost of a
run is what changed since the last one) and deletes each blob nothing names, with one
conditional write first (meta/gc.py mark_gone); `uploads` removes what abandoned uploads
left; `finish` corrects the usage of the projects whose blobs went and releases the lease.
Every step can run again: a run that died is finished by the next one. A run whose
execution ended without its last step (`settle`) takes the execution's end when it is next
looked at, and gives up its lease.
Why no blob a concurrent push names is ever deleted: docs/decisions/garbage-collection.md.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from chalicelib.dependencies import DomainDependencies
from chalicelib.errors import Conflict
from chalicelib.meta.gc import ERROR, FINISHED, RUNNING, SHARDS, STOPPED, SUCCESS, BlobState, Candidate, Run
from chalicelib.storage import paths

logger = logging.getLogger("berth.gc")

MANUAL, SCHEDULE = "Manual", "Schedule"
MAX_WORKERS = 10  # Harbor's bound
LEASE_SECONDS = 20 * 60  # longer than a step (15 min at most): a dead run's lease expires
PAGE = 100  # candidates read per Query
STEP_ITEMS = 2000  # candidates (or repositories) one step handles before the workflow calls it again
REPOSITORY_PAGE = 50
# the untagged step's `shard` while it visits every repository (in name order, `after`)
EVERY_REPOSITORY = -1
# Step Functions' statuses of an execution that ended, and what the run's record then says
ENDED_EXECUTIONS = {"FAILED": ERROR, "TIMED_OUT": ERROR, "ABORTED": STOPPED}


class GCRunning(Conflict):
    """another garbage collection holds the lease (409)"""


def parameters_of(raw: dict[str, Any] | None) -> dict[str, Any]:
    """Harbor's job parameters, checked: delete_untagged and dry_run (booleans), workers (1-10)."""
    raw = raw or {}
    out: dict[str, Any] = {}
    for flag in ("delete_untagged", "dry_run"):
        value = raw.get(flag, False)
        if not isinstance(value, bool):
            raise ValueError(f"{flag} must be true or false")  # noqa: TRY004 - the API answers it as a 400
        out[flag] = value
    workers = raw.get("workers", 1)
    if isinstance(workers, bool) or not isinstance(workers, int):
        raise ValueError("workers should be integer format")  # noqa: TRY004 - the API answers it as a 400
    if not 0 < workers <= MAX_WORKERS:
        raise ValueError(f"Error: Invalid number of workers:{workers}. Workers must be greater than 0 and less than or equal to 10.")
    out["workers"] = workers
    return out


# -- starting and stopping ------------------------------------------------------------------------
def start(svc: DomainDependencies, trigger: str, parameters: dict[str, Any]) -> Run:
    """Record a run and start its workflow; GCRunning if another run holds the lease."""
    machine = svc.settings.gc_state_machine
    if not machine:
        from chalicelib.config import ConfigurationError

        raise ConfigurationError("environment variable BERTH_GC_STATE_MACHINE is not set")
    holder = svc.gc.holder()
    if holder is not None:
        held = svc.gc.get(holder)
        if held is None or settle(svc, held).status not in FINISHED:
            raise GCRunning(f"garbage collection {holder} is running")
    run = svc.gc.create_run(trigger, parameters)
    if svc.gc.acquire(run.run_id, LEASE_SECONDS) is None:
        svc.gc.save(replace(run, status=ERROR, ended=svc.clock()))
        raise GCRunning("another garbage collection started first")
    try:
        out = svc.stepfunctions.start_execution(
            stateMachineArn=machine, name=workflow_name(run), input=json.dumps({"run_id": run.run_id})
        )
    except Exception:
        svc.gc.release(run.run_id)
        svc.gc.save(replace(run, status=ERROR, ended=svc.clock()))
        raise
    return svc.gc.save(replace(run, status=RUNNING, workflow_arn=out["executionArn"]))


def workflow_name(run: Run) -> str:
    """The execution's name, as the Step Functions console lists it: gc-<run id>-<manual or
    schedule>, and -dry-run for a dry run (unique: run ids are)."""
    return f"gc-{run.run_id}-{run.trigger.lower()}" + ("-dry-run" if run.dry_run else "")


def settle(svc: DomainDependencies, run: Run) -> Run:
    """A run recorded as running whose execution has ended without the run's last step
    (the task function could not be invoked or was cut off, so neither `finish` nor `fail`
    wrote the record; or an operator stopped the execution in the Step Functions console)
    takes the execution's end: Error (failed, timed out, gone) or Stopped (aborted), and
    releases its lease, so the next run need not wait for the lease to expire. One
    DescribeExecution, for a run not finished only."""
    if run.status in FINISHED or not run.workflow_arn:
        return run
    sfn = svc.stepfunctions
    try:
        execution = sfn.describe_execution(executionArn=run.workflow_arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        execution = {"status": "FAILED", "error": "ExecutionDoesNotExist", "cause": "the execution is gone"}
    status = ENDED_EXECUTIONS.get(execution["status"])
    if status is None:  # running (or it succeeded and its last step is writing the record)
        return run
    why = ": ".join(str(execution[k])[:300] for k in ("error", "cause") if execution.get(k))
    svc.gc.log(run.run_id, [_line("ERROR" if status == ERROR else "INFO",
                                  f"the run's workflow ended {execution['status']} before the run did" + (f" ({why})" if why else ""))])
    settled = svc.gc.save(replace(run, status=status, ended=svc.clock()))
    svc.gc.release(run.run_id)
    return settled


def stop(svc: DomainDependencies, run: Run) -> Run:
    """Stop the run's workflow; what it deleted stays deleted, a blob it had committed to
    deleting is finished by the next run."""
    if run.status in FINISHED:
        return run
    if run.workflow_arn:
        try:
            svc.stepfunctions.stop_execution(executionArn=run.workflow_arn, cause="stopped through the API")
        except Exception:
            logger.warning("gc: stopping the workflow failed", extra={"run": run.run_id}, exc_info=True)
    svc.gc.log(run.run_id, [_line("INFO", "garbage collection stopped through the API")])
    stopped = svc.gc.save(replace(run, status=STOPPED, ended=svc.clock()))
    svc.gc.release(run.run_id)
    return stopped


# -- the schedule (chalicelib/schedules.py) ----------------------------------------------------------
SCHEDULE_NAME = "gc"


def follow_schedule(schedules, cron: str | None) -> None:
    """Make the one garbage collection schedule what the stored one says (None: none).
    ValueError for a cron EventBridge Scheduler cannot keep."""
    if cron:
        schedules.put(SCHEDULE_NAME, cron, {"kind": "gc"})
    else:
        schedules.delete(SCHEDULE_NAME)


def run_scheduled(svc: DomainDependencies, job: dict) -> dict:
    """The schedule fired (chalicelib/scheduled_jobs.py): a run with the stored parameters,
    unless one is running (never two at once: this occurrence is skipped)."""
    schedule = svc.gc.schedule()
    if schedule is None:
        follow_schedule(svc.schedules, None)
        return {"skipped": "garbage collection is no longer scheduled"}
    try:
        run = start(svc, SCHEDULE, parameters_of(schedule.parameters))
    except GCRunning as exc:
        return {"skipped": exc.message}
    return {"gc_id": run.run_id}


# -- the steps (the workflow's tasks) ---------------------------------------------------------------
def step(svc: DomainDependencies, event: dict[str, Any], remaining_ms: Callable[[], int] = lambda: 900_000) -> dict[str, Any]:
    """One task of a run: `event` is the workflow's state, the answer its next state."""
    name = event.get("step")
    run = svc.gc.get(int(event["run_id"]))
    if run is None:
        raise ValueError(f"no garbage collection {event.get('run_id')}")
    state = {k: v for k, v in event.items() if k != "step"}
    if name == "fail":
        return fail(svc, run, event.get("error") or {})
    if run.status in FINISHED:  # stopped meanwhile: every later step does nothing
        return {**state, "done": True, "stopped": True}
    if svc.gc.acquire(run.run_id, LEASE_SECONDS) is None:
        raise GCRunning(f"garbage collection {run.run_id} lost its lease")
    if name == "begin":
        return begin(svc, run, state)
    if name == "untagged":
        return untagged(svc, run, state, remaining_ms)
    if name == "sweep":
        return sweep(svc, run, state, remaining_ms)
    if name == "uploads":
        return uploads(svc, run, state)
    if name == "finish":
        return finish(svc, run, state)
    raise ValueError(f"unknown step {name!r}")


def begin(svc: DomainDependencies, run: Run, state: dict[str, Any]) -> dict[str, Any]:
    cutoff = run.cutoff or int(svc.clock()) - svc.settings.gc_grace_seconds
    run = svc.gc.save(replace(run, status=RUNNING, cutoff=cutoff))
    p = run.parameters
    svc.gc.log(run.run_id, [_line("INFO", f"start to run gc in job, delete_untagged: {p.get('delete_untagged', False)}, "
                                          f"dry_run: {p.get('dry_run', False)}, workers: {p.get('workers', 1)}; "
                                          f"blobs nothing named since {_iso(cutoff)} may go")])
    untagged_from = 0
    if p.get("delete_untagged") and not svc.gc.every_repository_visited():
        untagged_from = EVERY_REPOSITORY  # the untagged step visits every repository first
    return {"run_id": run.run_id, "after": "", "shard": untagged_from, "done": not p.get("delete_untagged")}


def untagged(svc: DomainDependencies, run: Run, state: dict[str, Any], remaining_ms: Callable[[], int]) -> dict[str, Any]:
    """Delete (dry run: count) the manifests no tag reaches, through an index's children or a
    subject's referrers, pushed before the cutoff, in the repositories that changed since
    the last run: those with a change mark (meta/gc_ledger.py changed_op, written in every
    transaction after which a manifest may be untagged), shard by shard from where the last
    call stopped. A repository's mark is dropped once it holds no such manifest, unless it
    was written again meanwhile; one holding an untagged manifest younger than the grace
    period keeps it for a later run. Until a run has visited every repository once (the
    first run after an upgrade: changes made before the marks existed have none), the
    step visits every repository first (`shard` EVERY_REPOSITORY, set by `begin`), then
    the marks (a dry run stops after the first pass: it counted every repository once)."""
    shard, after = int(state.get("shard", 0)), state.get("after") or None
    handled = 0
    while handled < STEP_ITEMS and remaining_ms() > 60_000:
        if shard == EVERY_REPOSITORY:
            names, more = svc.meta.list_repositories(last=after, limit=REPOSITORY_PAGE)
            for name in names:
                _visit(svc, run, name)
            handled += len(names)
            after = names[-1] if names else after
            if not more:
                if run.dry_run:  # it counted every repository's once: the marks would count some twice
                    return {**state, "shard": 0, "after": "", "done": True}
                svc.gc.set_every_repository_visited()
                svc.gc.log(run.run_id, [_line("INFO", "visited every repository once; from now on only those changed since the last run")])
                shard, after = 0, None  # then the marks (a visit drops them; a change since the visit is found again)
            continue
        if shard >= len(SHARDS):
            return {**state, "shard": 0, "after": "", "done": True}
        marks = svc.gc.changed(SHARDS[shard], after, REPOSITORY_PAGE)
        for mark in marks:
            if _visit(svc, run, mark.repository) and not run.dry_run:
                svc.gc.drop_changed(mark)
        handled += len(marks)
        if len(marks) < REPOSITORY_PAGE:
            shard, after = shard + 1, None
        else:
            after = marks[-1].repository
    return {**state, "shard": shard, "after": after or "", "done": False}


def _visit(svc: DomainDependencies, run: Run, name: str) -> bool:
    """Delete (dry run: count) the untagged manifests of one repository pushed before the
    cutoff, from one read of it (repository_contents) through artifacts.delete_manifests
    (as retention deletes: several to a transaction, each conditional on what was read);
    whether nothing untagged is left for a later run (none younger than the grace period,
    none kept by a change since the read)."""
    from chalicelib import artifacts

    contents = svc.meta.repository_contents(name)
    unreached = unreachable(list(contents.manifests.values()), set(contents.tags), None)
    garbage = [m for m in unreached if m.created < run.cutoff]
    deleted: list[str] = []
    refused: dict[str, str] = {}
    if run.dry_run:
        deleted = [m.digest for m in garbage]
    elif garbage:
        deleted, refused = artifacts.delete_manifests(svc, name, [m.digest for m in garbage], contents,
                                                      untagged_before=run.cutoff)
    gone = set(deleted)
    counts = {"manifests": len(gone), "manifest_bytes": sum(m.size for m in garbage if m.digest in gone)}
    verb = "would delete" if run.dry_run else "deleted"
    lines = [_line("INFO", f"{verb} untagged manifest {name}@{m.digest}") for m in garbage if m.digest in gone]
    lines += [_line("INFO", f"kept untagged manifest {name}@{d}: {why}") for d, why in refused.items()]
    svc.gc.add_counts(run.run_id, counts)
    svc.gc.log(run.run_id, lines)
    return len(garbage) == len(unreached) and not refused


def unreachable(manifests: list, tagged: set[str], cutoff: int | None) -> list:
    """The manifests of one repository no tag reaches (through an index's children or a
    subject's referrers) pushed before `cutoff` (None: whenever), each listing index before
    what it lists."""
    by_digest = {m.digest: m for m in manifests}
    referrers: dict[str, list[str]] = {}
    for m in manifests:
        if m.subject:
            referrers.setdefault(m.subject, []).append(m.digest)
    reached: set[str] = set()
    stack = [d for d in tagged if d in by_digest]
    while stack:
        digest = stack.pop()
        if digest in reached:
            continue
        reached.add(digest)
        record = by_digest.get(digest)
        stack += [c for c in (record.children if record else []) if c in by_digest]
        stack += referrers.get(digest, [])
    garbage = [m for m in manifests if m.digest not in reached and (cutoff is None or m.created < cutoff)]
    # an index before its children (a manifest an index lists is not deleted while it is there)
    listed = {c for m in garbage for c in m.children}
    return sorted(garbage, key=lambda m: (m.digest in listed, -len(m.children), m.digest))


def sweep(svc: DomainDependencies, run: Run, state: dict[str, Any], remaining_ms: Callable[[], int]) -> dict[str, Any]:
    """Walk the candidates, shard by shard, from where the last call stopped."""
    shard, after = int(state.get("shard", 0)), state.get("after") or None
    handled = 0
    workers = int(run.parameters.get("workers", 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        while handled < STEP_ITEMS and remaining_ms() > 60_000:
            if shard >= len(SHARDS):
                return {**state, "shard": shard, "after": "", "done": True}
            page = svc.gc.candidates(SHARDS[shard], after, PAGE)
            results = list(pool.map(lambda c: sweep_one(svc, run, c), page))
            counts: dict[str, int] = {}
            lines: list[str] = []
            projects: set[str] = set()
            for candidate, (outcome, line) in zip(page, results, strict=True):
                for k, v in outcome.items():
                    counts[k] = counts.get(k, 0) + v
                if line:
                    lines.append(line)
                if outcome.get("blobs"):
                    projects |= candidate.projects
            svc.gc.add_counts(run.run_id, counts, projects if not run.dry_run else ())
            svc.gc.log(run.run_id, lines)
            handled += len(page)
            if len(page) < PAGE:
                shard, after = shard + 1, None
            else:
                after = page[-1].digest
    return {**state, "shard": shard, "after": after or "", "done": shard >= len(SHARDS)}


def sweep_one(svc: DomainDependencies, run: Run, candidate: Candidate) -> tuple[dict[str, int], str]:
    """Decide one candidate: (counts, a log line or "")."""
    blob = svc.gc.blob(candidate.digest)
    if blob is None:
        svc.gc.drop_candidate(candidate)
        return {"checked": 1}, ""
    if blob.gone:
        # a run committed to deleting it and died before the end: finish the job
        if run.dry_run:
            return {"checked": 1, "blobs": 1, "bytes": blob.nbytes}, _line("INFO", f"would delete blob {blob.digest}")
        _delete(svc, blob, candidate)
        return {"checked": 1, "blobs": 1, "bytes": blob.nbytes}, _line("INFO", f"deleted blob {blob.digest} ({blob.nbytes} bytes)")
    if not blob.tracked or (blob.projects or 0) > 0:
        svc.gc.drop_candidate(candidate)  # named again (a new candidate appears when it is not)
        return {"checked": 1, "referenced": 1}, ""
    if blob.last_ref >= run.cutoff:
        return {"checked": 1, "recent": 1}, ""  # linked or named within the grace period: next run
    if run.dry_run:
        return {"checked": 1, "blobs": 1, "bytes": blob.nbytes}, _line("INFO", f"would delete blob {blob.digest} ({blob.nbytes} bytes)")
    marked = svc.gc.mark_gone(blob.digest, run.cutoff, run.run_id)
    if marked is None:
        return {"checked": 1, "kept": 1}, _line("INFO", f"kept blob {blob.digest}: named or linked again meanwhile")
    _delete(svc, marked, candidate)
    return {"checked": 1, "blobs": 1, "bytes": marked.nbytes}, _line("INFO", f"deleted blob {blob.digest} ({marked.nbytes} bytes)")


def _delete(svc: DomainDependencies, blob: BlobState, candidate: Candidate) -> None:
    """The rest of a blob committed to go: its links, its bytes, its upload claim, its
    record, its candidate. In this order, a run that dies part-way leaves the record `gone`
    (or, once the record went, the candidate) for the next run, and nothing after either."""
    svc.gc.unlink_everywhere(blob)
    key = blob.key or paths.blob_key(blob.digest)
    svc.blobs.delete_keys([key])
    claim = key[len(paths.UPLOADED_PREFIX) :] if key.startswith(paths.UPLOADED_PREFIX) else None
    if svc.gc.forget_blob(blob, claim):
        svc.gc.drop_candidate(candidate)


def uploads(svc: DomainDependencies, run: Run, state: dict[str, Any]) -> dict[str, Any]:
    """What abandoned uploads left, once their URLs expired (chalicelib/storage/uploads_cleanup.py)."""
    from chalicelib.storage.uploads_cleanup import CLOCK_MARGIN_SECONDS, clean_up_uploads

    margin = min(CLOCK_MARGIN_SECONDS, svc.settings.gc_grace_seconds)
    since = svc.gc.uploads_judged_until(svc.settings.upload_ttl_seconds)
    counts = clean_up_uploads(
        svc.blobs, svc.meta, svc.clock(), svc.settings.upload_ttl_seconds, dry_run=run.dry_run, margin=margin,
        since=since,
    )
    if not run.dry_run:
        svc.gc.set_uploads_judged_until(counts["judged_until"])
    found = counts["aborted"] + counts["scratch"] + counts["orphans"]
    svc.gc.add_counts(run.run_id, {"uploads": found, "upload_bytes": counts["bytes"]})
    verb = "would remove" if run.dry_run else "removed"
    svc.gc.log(run.run_id, [_line("INFO", f"{verb} what abandoned uploads left: {counts['aborted']} multipart uploads, "
                                          f"{counts['scratch']} pieces, {counts['orphans']} objects ({counts['bytes']} bytes)")])
    return {**state, "done": True}


def finish(svc: DomainDependencies, run: Run, state: dict[str, Any]) -> dict[str, Any]:
    lines = []
    if not run.dry_run:
        for project in sorted(run.projects):
            corrected = svc.quotas.recount(project)
            if corrected and corrected[0] != corrected[1]:
                lines.append(_line("INFO", f"corrected the storage usage of project {project}: {corrected[0]} -> {corrected[1]} bytes"))
    c = run.counts
    verb = "would free" if run.dry_run else "freed"
    lines.append(_line("INFO", f"{c.get('blobs', 0)} blob(s) and {c.get('manifests', 0)} manifest(s) {verb}, "
                               f"{c.get('bytes', 0) + c.get('upload_bytes', 0)} bytes in all; "
                               f"{c.get('recent', 0)} kept for the grace period"))
    lines.append(_line("INFO", "success to run gc in job."))
    svc.gc.log(run.run_id, lines)
    svc.gc.save(replace(run, status=SUCCESS, ended=svc.clock()))
    svc.gc.release(run.run_id)
    return {**state, "done": True}


def fail(svc: DomainDependencies, run: Run, error: dict[str, Any]) -> dict[str, Any]:
    cause = error.get("Cause") or error.get("Error") or "the run failed"
    try:
        cause = json.loads(cause).get("errorMessage", cause)
    except (TypeError, ValueError, AttributeError):
        pass
    svc.gc.log(run.run_id, [_line("ERROR", f"garbage collection failed: {str(cause)[:500]}")])
    if run.status not in FINISHED:
        svc.gc.save(replace(run, status=ERROR, ended=svc.clock()))
    svc.gc.release(run.run_id)
    return {"run_id": run.run_id, "done": True}


def run_all(svc: DomainDependencies, run: Run) -> Run:
    """Every step of a run in this process, in the workflow's order (what the workflow does,
    without it: the benchmark's measured run, and unit tests of the steps)."""
    state = step(svc, {"step": "begin", "run_id": run.run_id})
    while not state.get("done"):
        state = step(svc, {**state, "step": "untagged"})
    state = {**state, "done": False, "shard": 0, "after": ""}
    while not state.get("done"):
        state = step(svc, {**state, "step": "sweep"})
    state = step(svc, {**state, "step": "uploads"})
    step(svc, {**state, "step": "finish"})
    return svc.gc.get(run.run_id) or run


def _line(level: str, text: str) -> str:
    return f"{datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%SZ')} [{level}] {text}"


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


