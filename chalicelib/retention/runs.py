"""A tag retention run (Harbor's execution): each repository of the project that a rule
applies to is one task, which reads the repository once, decides with policy.evaluate
what to keep, and (unless it is a dry run) deletes the rest through
chalicelib/artifacts.py, the path an API delete takes: immutable tags are kept, the
quota gets the bytes back, each deletion is a domain event.

Deleting an artifact takes along what hangs on it and nothing else names: an index's
untagged children and an artifact's referrers (signatures, SBOMs), as Harbor does. A dry
run makes the same plan and stops before deleting, so its deletions are the real run's
on the same content.

A run happens off the request path (docs/decisions/retention-runs-in-the-background.md):
`start` records it (`Running`) and hands it to the app's `run_schedule` function by an
asynchronous invocation; `resume` works on it for SLICE_SECONDS and, if work is left, hands
the rest to the next invocation. So a run's size is not bounded by a request's time nor
by one function's.

A run is safe to run again: each step plans from what is stored when it starts, and a
repository whose task finished is not done twice. A step that died (a Lambda timeout, a
fault) is retried by Lambda (an asynchronous invocation is retried twice) and continues
the run; a run left `Running` that nobody works on any more (its record not touched for
STALE_AFTER) is marked `Error` when the policy runs next, and that run does what was left.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib import artifacts, immutability
from chalicelib.dependencies import DomainDependencies
from chalicelib.meta.registry import RepositoryContents
from chalicelib.meta.retention import ERROR, RUNNING, STOPPED, SUCCESS, Execution, StoredPolicy, Task
from chalicelib.retention import policy as rules

logger = logging.getLogger("berth.retention")

KIND = "retention"  # the job's kind (chalicelib/scheduled_jobs.py)
WORKER = "run_schedule"  # the app's function that runs jobs off the request path (app.py)
MANUAL = "MANUAL"
SCHEDULE = "SCHEDULE"
# how long one invocation of the worker (60 s at most: .chalice/config.json) works on a
# run before it hands the rest to the next
SLICE_SECONDS = 40.0
STALE_AFTER = 15 * 60  # a run's record untouched this long: nobody works on it
# deletions between two looks at the clock and at a stop
CHUNK = 50
monotonic = time.monotonic  # the run's own clock for its time limit (a test hands in another)


def start(svc: DomainDependencies, stored: StoredPolicy, trigger: str, *, dry_run: bool) -> Execution:
    """Record a run and hand it to the background; the run as recorded (`Running`, or
    `Error` when it could not be handed on)."""
    end_stale(svc, stored.policy_id)
    execution = svc.retention.start(stored.policy_id, trigger, dry_run)
    return hand_on(svc, execution)


def end_stale(svc: DomainDependencies, policy_id: int) -> None:
    now = svc.clock()
    for running in svc.retention.executions(policy_id, limit=20):
        if running.status == RUNNING and now - max(running.started, running.updated) > STALE_AFTER:
            svc.retention.finish(replace(running, status=ERROR, ended=now, status_text="the run did not finish"))


def job_of(execution: Execution) -> dict[str, Any]:
    return {"kind": KIND, "policy_id": execution.policy_id, "execution_id": execution.execution_id}


def hand_on(svc: DomainDependencies, execution: Execution) -> Execution:
    """Invoke the worker asynchronously with the run (Lambda queues the event and answers
    at once); if that fails, the run ends as `Error` saying why."""
    try:
        svc.functions.invoke(FunctionName=svc.settings.function_name(WORKER), InvocationType="Event",
                             Payload=json.dumps(job_of(execution)).encode())
    except (ClientError, BotoCoreError) as exc:
        logger.exception("a retention run could not be handed to its function", extra={"execution_id": execution.execution_id})
        failed = replace(execution, status=ERROR, ended=svc.clock(), status_text=f"the run could not start: {type(exc).__name__}")
        svc.retention.finish(failed)
        return svc.retention.execution(execution.policy_id, execution.execution_id) or failed
    return execution


def resume(svc: DomainDependencies, policy_id: int, execution_id: int, *, seconds: float = SLICE_SECONDS) -> Execution | None:
    """The worker's step: work on the run for `seconds`, then hand on what is left. A run
    that is not running any more (finished, stopped; a second delivery of the same event)
    is left as it is."""
    execution = svc.retention.execution(policy_id, execution_id)
    if execution is None or execution.status != RUNNING:
        return execution
    stored = svc.retention.get(policy_id)
    if stored is None:
        svc.retention.finish(replace(execution, status=ERROR, ended=svc.clock(), status_text="the policy was deleted"))
        return svc.retention.execution(policy_id, execution_id)
    if not svc.retention.beat(execution.policy_id, execution.execution_id, svc.clock()):
        return svc.retention.execution(policy_id, execution_id)  # stopped meanwhile
    done = run(svc, stored, execution, deadline=monotonic() + seconds)
    if done.status == RUNNING:
        return hand_on(svc, done)
    return done


def stop(svc: DomainDependencies, execution: Execution) -> Execution:
    if execution.status != RUNNING:
        return execution
    stopped = replace(execution, status=STOPPED, ended=svc.clock(), status_text="stopped")
    svc.retention.finish(stopped)
    return stopped


def run(svc: DomainDependencies, stored: StoredPolicy, execution: Execution, *, deadline: float | None = None) -> Execution:
    """Run the execution's tasks that are not done yet, until `deadline`; the execution as
    it ended, or still `Running` when time was up with work left."""
    tasks = {t.repository: t for t in svc.retention.tasks(execution.execution_id)}
    next_id = max((t.task_id for t in tasks.values()), default=0) + 1
    for repository in sorted(r.name for r in svc.meta.repositories(stored.project + "/")):
        below = repository.split("/", 1)[1]
        applying = rules.applicable(stored.policy, below)
        task = tasks.get(below)
        if not applying or (task is not None and task.status in (SUCCESS, ERROR)):
            continue
        current = svc.retention.execution(execution.policy_id, execution.execution_id)
        if current is not None and current.status != RUNNING:
            return current
        if deadline is not None and monotonic() > deadline:
            return execution
        if task is None:
            task = Task(execution.execution_id, next_id, below, status=RUNNING, started=svc.clock())
            next_id += 1
            svc.retention.save_task(task)
        def stopped() -> bool:
            now = svc.retention.execution(execution.policy_id, execution.execution_id)
            return now is not None and now.status != RUNNING

        try:
            task = _run_repository(svc, repository, applying, task, dry_run=execution.dry_run, deadline=deadline,
                                   stopped=stopped)
        except Exception as exc:  # the task records why; the next repository still runs
            logger.exception("retention task failed", extra={"repository": repository, "execution_id": execution.execution_id})
            task = replace(task, status=ERROR, ended=svc.clock(), log=(*task.log, f"error: {type(exc).__name__}: {exc}"[:500]))
        svc.retention.save_task(task)
        tasks[below] = task
        if task.status == RUNNING:  # out of time part-way: the next step goes on with it
            return execution
    failed = sum(1 for t in tasks.values() if t.status == ERROR)
    ended = replace(execution, status=ERROR if failed else SUCCESS, ended=svc.clock(),
                    status_text=f"{failed} repositories failed" if failed else "")
    svc.retention.finish(ended)
    return svc.retention.execution(execution.policy_id, execution.execution_id) or ended


def candidates(contents: RepositoryContents, labels: dict[str, list]) -> list[rules.Candidate]:
    """The repository's artifacts as retention sees them: top-level (not an index's untagged
    child), not a referrer of an artifact it holds."""
    manifests, tags = contents.manifests, contents.tags
    out = []
    for m in artifacts.top_level(manifests.values(), set(tags)):
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
    return out


def plan(svc: DomainDependencies, repository: str, applying: list[dict[str, Any]]
         ) -> tuple[list[tuple[rules.Candidate, str]], list[str], RepositoryContents]:
    """(every candidate with its mark, the digests to delete in an order the deletes allow:
    an index before its children, the cascaded children and referrers included; what was
    read of the repository, once)."""
    contents = svc.meta.repository_contents(repository)
    manifests = contents.manifests
    names = svc.labels.get_many({i for ids in contents.labels.values() for i in ids}) if contents.labels else {}
    labels = {d: sorted((names[i] for i in ids if i in names), key=lambda label: label.name)
              for d, ids in contents.labels.items()}
    found = candidates(contents, labels)
    project_rules = svc.immutable_rules.get(repository.split("/", 1)[0]).rules

    def protected(c: rules.Candidate) -> bool:
        return any(immutability.protects(project_rules, repository, t) for t in c.tags)

    marks = rules.evaluate(applying, found, int(svc.clock()), protected)
    doomed = {c.digest for c, mark in marks if mark == rules.DELETE}
    marked = {c.digest for c, _ in marks}
    tagged = {c.digest for c, _ in marks if c.tags}
    parents_of: dict[str, list[str]] = {}
    for m in manifests.values():
        for child in m.children:
            parents_of.setdefault(child, []).append(m.digest)
    # what hangs on the doomed and nothing else names goes with them
    grew = True
    while grew:
        grew = False
        for m in manifests.values():
            if m.digest in doomed or m.digest in tagged or m.digest in marked:
                continue
            parents = parents_of.get(m.digest, [])
            orphan = parents and all(p in doomed for p in parents)
            if orphan or (m.subject in doomed and not parents):
                doomed.add(m.digest)
                grew = True
    # an index before what it lists
    order: list[str] = []
    left = set(doomed)
    while left:
        ready = sorted(d for d in left if not any(p in left for p in parents_of.get(d, ())))
        if not ready:  # a cycle cannot be pushed; whatever is left, in digest order
            ready = sorted(left)
        order.extend(ready)
        left.difference_update(ready)
    return marks, order, contents


def _run_repository(svc: DomainDependencies, repository: str, applying: list[dict[str, Any]], task: Task, *, dry_run: bool,
                    deadline: float | None = None, stopped: Callable[[], bool] = lambda: False) -> Task:
    """Plan the repository and delete the plan, in chunks, until `deadline` or a stop (looked
    at between chunks): the task `Success` (`Stopped`), or still `Running` with what it
    deleted so far (a task that goes on in a later step plans again from what is left)."""
    marks, order, contents = plan(svc, repository, applying)
    if not task.total:  # the task's size is its first plan's, whatever a later step finds
        task = replace(task, total=len(marks), retained=len(marks))
        svc.retention.save_task(task)
    deleted: list[str] = []
    errors: dict[str, str] = {}
    out_of_time = halted = False
    if dry_run:
        deleted = list(order)
    else:
        for start in range(0, len(order), CHUNK):
            if deadline is not None and monotonic() > deadline:
                out_of_time = True
                break
            if start and stopped():
                halted = True
                break
            gone, refused = artifacts.delete_manifests(svc, repository, order[start : start + CHUNK], contents)
            deleted += gone
            errors.update(refused)
            # what the next chunk's rules see: the repository without what went
            went = set(gone)
            contents = replace(contents, manifests={d: m for d, m in contents.manifests.items() if d not in went})
    went = set(deleted)
    log = _log(repository, marks, order, errors, dry_run)
    if task.log:  # a later step of the task
        log = [*task.log, *log[1:]]
    if out_of_time:
        log.append(f"the step's time was up after {len(deleted)} of {len(order)} deletions; the next step goes on")
    if halted:
        log.append(f"the run was stopped after {len(deleted)} of {len(order)} deletions")
    status = RUNNING if out_of_time else STOPPED if halted else SUCCESS
    return replace(task, status=status, ended=0 if out_of_time else svc.clock(),
                   retained=sum(1 for c, _ in marks if c.digest not in went), deleted=(*task.deleted, *deleted),
                   log=tuple(log))


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
