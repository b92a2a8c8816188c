"""The Step Functions tasks of a replication run (infra/replication.yaml), one Lambda
function of the app (`replication_task` in app.py) that does the step its input names:

- `plan`: list what the policy selects at the source (or, for a retry, what failed in the
  run retried) and write one task per artifact; writes the pending task ids to the
  registry's bucket (replication/<execution id>/items.json) and answers where, for the
  Distributed Map's ItemReader: Step Functions passes at most 256 KB between states, about
  35,000 ids, so a run's items never travel in the state's input.
- `copy`: copy one artifact (copier.py), or, for a replicated deletion (the task's
  operation `deletion`), delete it or its tag at the destination. A failure another try could help (no answer, a
  5xx, a connection broken mid-blob) raises TransientReplicationError, which the state
  machine retries with backoff; any other raises ReplicationTaskFailed at once.
- `record_failure`: the Map's Catch: the task reads Failed with the error's text.
- `finish`: the run's status from its tasks; the item list is deleted.

Every step is idempotent: a retried `plan` finds its tasks written, a retried `copy`
copies only what is not there yet (a copy never leaves a manifest without its blobs).
"""
from __future__ import annotations

import json
from dataclasses import replace

from chalicelib.errors import BerthError, RemoteRegistryError
from chalicelib.events.envelope import Event
from chalicelib.meta.replication import (
    FAILED,
    PENDING,
    RUNNING,
    STOPPED,
    SUCCEEDED,
    Execution,
    ReplicationPolicy,
    Task,
    count,
)
from chalicelib.oci.digests import looks_like_digest
from chalicelib.replication import rules
from chalicelib.replication.remotes import adapter_of
from chalicelib.replicator.copier import Copier
from chalicelib.replicator.endpoints import LocalEndpoint, RemoteEndpoint
from chalicelib.services import Services
from chalicelib.storage import paths

IMAGE_CONFIGS = ("application/vnd.oci.image.config.v1+json", "application/vnd.docker.container.image.v1+json")


class TransientReplicationError(Exception):
    """Another try may succeed (the state machine's Retry names this class)."""


class ReplicationTaskFailed(Exception):
    """The artifact cannot be copied as things are: no retry."""


def handle(svc: Services, event: dict) -> dict:
    step = event.get("step")
    execution_id = int(event["execution_id"])
    if step == "plan":
        return plan(svc, execution_id)
    if step == "copy":
        return copy(svc, execution_id, int(event["task_id"]))
    if step == "record_failure":
        return record_failure(svc, execution_id, int(event["task_id"]), event.get("error") or {})
    if step == "plan_failed":
        return plan_failed(svc, execution_id, event.get("error") or {})
    if step == "finish":
        return finish(svc, execution_id)
    raise ValueError(f"unknown replication step {step!r}")


# -- plan -------------------------------------------------------------------------------------
def plan(svc: Services, execution_id: int) -> dict:
    execution, policy = _run(svc, execution_id)
    if execution.status == STOPPED:  # stopped before it began
        return _items(svc, execution_id, [])
    tasks = svc.replication_runs.tasks(execution_id)
    if not tasks:  # a retried plan finds them written
        try:
            tasks = _retried(svc, execution) if execution.retry_of else _selected(svc, execution, policy)
        except RemoteRegistryError as exc:
            if exc.retryable:
                raise TransientReplicationError(exc.message) from None
            raise ReplicationTaskFailed(exc.message) from None
        svc.replication_runs.add_tasks(tasks)
    return _items(svc, execution_id, [t.task_id for t in tasks if t.status == PENDING])


def _items(svc: Services, execution_id: int, task_ids: list[int]) -> dict:
    """The Map's items written to S3 (a JSON array of task ids, what its ItemReader reads:
    infra/replication.yaml), and where they are: the state's output stays a few hundred
    bytes whatever the run's size. A retried plan writes the same list again."""
    key = paths.replication_items_key(execution_id)
    svc.blobs.put_object(key, json.dumps(task_ids, separators=(",", ":")).encode())
    return {"execution_id": execution_id, "items": {"bucket": svc.settings.bucket_name, "key": key},
            "count": len(task_ids)}


def _selected(svc: Services, execution: Execution, policy: ReplicationPolicy) -> list[Task]:
    """One task per artifact the policy selects at the source, with its selected tags."""
    found: list[tuple[str, str, list[str]]] = []  # (repository, reference, tags)
    if policy.push_based:
        repositories = [execution.scope] if execution.scope else _local_repositories(svc)
        for repository in repositories:
            if not rules.name_selected(policy, repository):
                continue
            by_digest: dict[str, list[str]] = {}
            for tag, digest, _ in svc.meta.tag_digests(repository):
                by_digest.setdefault(digest, []).append(tag)
            # labels: one Query and one BatchGetItem per repository, only when a filter needs them
            labels = svc.labels.artifact_labels(repository) if rules.has_label_filter(policy) else {}
            for digest, tags in by_digest.items():
                selected = rules.tags_selected(policy, tags)
                if selected and rules.labels_selected(policy, (label.name for label in labels.get(digest, []))):
                    found.append((repository, digest, selected))
    else:
        adapter = _adapter(svc, policy)
        for repository in adapter.repositories():
            if not rules.name_selected(policy, repository):
                continue
            for artifact in adapter.artifacts(repository):
                selected = rules.tags_selected(policy, artifact.tags)
                if selected and rules.labels_selected(policy, artifact.labels):
                    found.append((repository, artifact.digest or selected[0], selected))
    tasks = []
    for number, (repository, reference, tags) in enumerate(found, 1):
        try:
            target, error, status = rules.destination(repository, policy.dest_namespace,
                                                      policy.dest_namespace_replace_count), "", PENDING
        except ValueError as exc:
            target, error, status = repository, str(exc), FAILED
        where = "@" if looks_like_digest(reference) else ":"
        tasks.append(Task(
            execution.execution_id, number, f"{repository}{where}{reference}", f"{target}:{','.join(tags)}",
            repository, target, reference, tuple(tags), rules.resource_type(policy), "copy", status,
            error=error, ended=svc.clock() if error else 0,
        ))
    return tasks


def _retried(svc: Services, execution: Execution) -> list[Task]:
    """The failed (and stopped) tasks of the run retried, as new pending tasks."""
    old = [t for t in svc.replication_runs.tasks(execution.retry_of) if t.status in (FAILED, STOPPED)]
    return [replace(t, execution_id=execution.execution_id, task_id=n, status=PENDING, started=0, ended=0, bytes=0,
                    run_count=0, error="", log=(f"retry of task {t.task_id} of execution {execution.retry_of}",))
            for n, t in enumerate(old, 1)]


def _local_repositories(svc: Services):
    last = None
    while True:
        names, more = svc.meta.list_repositories(last=last, limit=500)
        yield from names
        if not more or not names:
            return
        last = names[-1]


# -- copy ---------------------------------------------------------------------------------------
def copy(svc: Services, execution_id: int, task_id: int) -> dict:
    execution, policy = _run(svc, execution_id)
    task = svc.replication_runs.task(execution_id, task_id)
    if task is None:
        raise ReplicationTaskFailed(f"task {task_id} of execution {execution_id} is not recorded")
    if task.status in (SUCCEEDED, STOPPED) or execution.status == STOPPED:
        return {"task_id": task_id, "status": task.status}
    now = svc.clock()
    log = list(task.log)
    task = replace(task, status=RUNNING, run_count=task.run_count + 1, started=task.started or now)
    svc.replication_runs.save_task(task)
    log.append(f"attempt {task.run_count}")
    local, remote = LocalEndpoint(svc), RemoteEndpoint(_adapter(svc, policy).client, "remote")
    src, dst = (local, remote) if policy.push_based else (remote, local)
    if task.operation == "deletion":
        return _delete(svc, dst, task, log)
    try:
        if task.resource_type == "image" and not _is_image(src, task):
            log.append("not an image: left out (the policy's resource filter is image)")
            svc.replication_runs.save_task(replace(task, status=SUCCEEDED, ended=svc.clock(), log=tuple(log)))
            return {"task_id": task_id, "status": SUCCEEDED}
        digest, stats = Copier(src, dst, override=policy.override, log=log.append, speed=policy.speed,
                               by_chunk=policy.copy_by_chunk).copy(
            task.src_repository, task.dst_repository, task.reference, list(task.tags))
    except RemoteRegistryError as exc:
        log.append(f"error: {exc.message}")
        svc.replication_runs.save_task(replace(task, error=exc.message, log=tuple(log)))
        if exc.retryable:
            raise TransientReplicationError(exc.message) from None
        raise ReplicationTaskFailed(exc.message) from None
    except (BerthError, ValueError) as exc:
        message = getattr(exc, "message", "") or str(exc)
        log.append(f"error: {message}")
        svc.replication_runs.save_task(replace(task, error=message, log=tuple(log)))
        raise ReplicationTaskFailed(message) from None
    done = replace(task, status=SUCCEEDED, ended=svc.clock(), bytes=task.bytes + stats.bytes, error="", log=tuple(log),
                   src_resource=f"{task.src_repository}@{digest}")
    svc.replication_runs.save_task(done)
    return {"task_id": task_id, "status": SUCCEEDED, "bytes": stats.bytes}


def _delete(svc: Services, dst, task: Task, log: list[str]) -> dict:
    """A replicated deletion: the artifact (by digest) or the tag deleted at the
    destination; one that is not there is already what the source says."""
    what = "artifact" if looks_like_digest(task.reference) else "tag"
    try:
        gone = dst.delete(task.dst_repository, task.reference)
    except RemoteRegistryError as exc:
        log.append(f"error: {exc.message}")
        svc.replication_runs.save_task(replace(task, error=exc.message, log=tuple(log)))
        if exc.retryable:
            raise TransientReplicationError(exc.message) from None
        raise ReplicationTaskFailed(exc.message) from None
    log.append(f"{what} {task.dst_repository}{'@' if what == 'artifact' else ':'}{task.reference} "
               + ("deleted" if gone else "was not at the destination: nothing to delete"))
    svc.replication_runs.save_task(replace(task, status=SUCCEEDED, ended=svc.clock(), error="", log=tuple(log)))
    return {"task_id": task.task_id, "status": SUCCEEDED}


def _is_image(src, task: Task) -> bool:
    manifest = src.manifest(task.src_repository, task.reference)
    if manifest is None:
        return True  # the copy says it is gone
    document = json.loads(manifest.data)
    if "manifests" in document:
        return True  # an index of images
    return (document.get("config") or {}).get("mediaType") in IMAGE_CONFIGS


# -- failures and the end ---------------------------------------------------------------------------
def record_failure(svc: Services, execution_id: int, task_id: int, error: dict) -> dict:
    task = svc.replication_runs.task(execution_id, task_id)
    if task is None:
        return {"task_id": task_id, "status": FAILED}
    message = _cause(error) or task.error or "failed"
    log = (*task.log, f"failed: {error.get('Error', '')}: {message}")
    svc.replication_runs.save_task(replace(task, status=FAILED, ended=svc.clock(), error=message, log=log))
    return {"task_id": task_id, "status": FAILED}


def plan_failed(svc: Services, execution_id: int, error: dict) -> dict:
    execution = svc.replication_runs.get(execution_id)
    if execution is not None and execution.status == RUNNING:
        text = f"listing the source failed: {_cause(error) or error.get('Error', '')}"
        svc.replication_runs.save(replace(execution, status=FAILED, ended=svc.clock(), status_text=text[:1000]))
    return {"execution_id": execution_id, "status": FAILED}


def finish(svc: Services, execution_id: int) -> dict:
    execution = svc.replication_runs.get(execution_id)
    if execution is None or execution.status == STOPPED:
        return {"execution_id": execution_id, "status": STOPPED}
    tasks = svc.replication_runs.tasks(execution_id)
    failed = [t for t in tasks if t.status != SUCCEEDED]
    status = FAILED if failed else SUCCEEDED
    text = f"{len(failed)} of {len(tasks)} tasks failed" if failed else ""
    ended = replace(execution, status=status, ended=svc.clock(), status_text=text, counts=count(tasks))
    svc.replication_runs.end(ended, _completed_events(svc, ended, tasks))
    svc.blobs.delete_keys([paths.replication_items_key(execution_id)])  # read by the Map, no longer needed
    return {"execution_id": execution_id, "status": status, "failed": len(failed), "total": len(tasks)}


def _completed_events(svc: Services, execution: Execution, tasks: list[Task]) -> list[Event]:
    """`berth.replication.completed`, once per project of this Berth the run read or wrote
    (webhooks of those projects hear of it: Harbor's REPLICATION event)."""
    from chalicelib.events.envelope import REPLICATION_COMPLETED

    policy = svc.replication_policies.get(execution.policy_id)
    if policy is None:
        return []
    local = [t.src_repository if policy.push_based else t.dst_repository for t in tasks]
    counts = count(tasks)
    data = {"policy_id": policy.policy_id, "policy_name": policy.name, "execution_id": execution.execution_id,
            "status": execution.status, "trigger": execution.trigger, "total": len(tasks),
            "succeed": counts.get(SUCCEEDED, 0), "failed": len(tasks) - counts.get(SUCCEEDED, 0)}
    return [svc.outbox.event(REPLICATION_COMPLETED, f"replication/{execution.execution_id}", {**data, "project": project})
            for project in sorted({r.split("/", 1)[0] for r in local if r})]


# -- helpers --------------------------------------------------------------------------------------
def _run(svc: Services, execution_id: int) -> tuple[Execution, ReplicationPolicy]:
    execution = svc.replication_runs.get(execution_id)
    if execution is None:
        raise ReplicationTaskFailed(f"execution {execution_id} is not recorded")
    policy = svc.replication_policies.get(execution.policy_id)
    if policy is None:
        raise ReplicationTaskFailed(f"policy {execution.policy_id} was deleted")
    return execution, policy


def _adapter(svc: Services, policy: ReplicationPolicy):
    registry = svc.registries.get(policy.remote_registry_id)
    if registry is None:
        raise ReplicationTaskFailed(f"registry {policy.remote_registry_id} was deleted")
    return adapter_of(svc, registry)


def _cause(error: dict) -> str:
    """The message in a Step Functions error's Cause (a Lambda error's JSON, or text)."""
    cause = error.get("Cause") or ""
    try:
        parsed = json.loads(cause)
    except ValueError:
        return cause[:2000]
    return str(parsed.get("errorMessage") or cause)[:2000] if isinstance(parsed, dict) else cause[:2000]
