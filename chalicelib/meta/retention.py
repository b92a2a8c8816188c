"""Tag retention in DynamoDB (key layout: keys.py): a project's policy (Harbor's
RetentionPolicy, kept as its JSON), its runs (Harbor's executions) and their tasks, one
per repository, each with what it kept and deleted and its log.

A policy belongs to one project, whose metadata names it (`retention_id`, as Harbor):
the policy and that metadata are written and removed in one transaction, conditional
on the project having no other policy, so a project never names a missing policy nor
holds two. What a policy may say is chalicelib/retention/policy.py's business.

`RetentionStore` is the contract the domain and the API are written against;
`DynamoRetention` keeps it in DynamoDB, `MemoryRetention` in memory (for fast tests of the
code that uses it); tests/contract/test_retention_store.py runs the same suite over both.
"""
from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Protocol

from botocore.exceptions import ClientError

from chalicelib.errors import Conflict
from chalicelib.meta import keys
from chalicelib.meta.table import Table, delete_op, is_condition_failure, put_op, unmarshal, update_op

# Harbor's task statuses (src/pkg/task): what executions and tasks report
RUNNING = "Running"
SUCCESS = "Success"
ERROR = "Error"
STOPPED = "Stopped"
PENDING = "Pending"
MAX_LOG_LINES = 2000
METADATA_KEY = "retention_id"


@dataclass(frozen=True)
class StoredPolicy:
    policy_id: int
    project: str
    policy: dict[str, Any]  # Harbor's RetentionPolicy, checked (chalicelib/retention/policy.py)
    version: str = ""


@dataclass(frozen=True)
class Execution:
    execution_id: int
    policy_id: int
    trigger: str  # Harbor's: "MANUAL" | "SCHEDULE"
    dry_run: bool
    status: str = RUNNING
    started: float = 0
    ended: float = 0
    status_text: str = ""
    updated: float = 0  # when a step last took it up (chalicelib/retention/runs.py resume)


@dataclass(frozen=True)
class Task:
    execution_id: int
    task_id: int
    repository: str  # below the project, as Harbor reports it
    status: str = PENDING
    started: float = 0
    ended: float = 0
    total: int = 0
    retained: int = 0
    deleted: tuple[str, ...] = ()  # digests deleted (or, in a dry run, that would be)
    log: tuple[str, ...] = field(default=(), compare=False)
    status_revision: int = 0


def _time(value: float) -> Decimal:
    return Decimal(str(round(value, 6)))


class RetentionStore(Protocol):
    # -- policies
    def create(self, project: str, policy: dict[str, Any]) -> StoredPolicy:
        """Store the project's policy with a new id, and name it in the project's metadata;
        Conflict when the project has a policy already or is gone."""
        ...

    def get(self, policy_id: int) -> StoredPolicy | None: ...

    def update(self, current: StoredPolicy, policy: dict[str, Any]) -> StoredPolicy:
        """Replace the policy if nobody changed it since `current` was read (Conflict)."""
        ...

    def delete(self, current: StoredPolicy) -> None:
        """The policy, and its project's naming of it (the project may be gone)."""
        ...

    def removal(self, policy_id: int) -> Any:
        """The operation deleting the policy, to join its project's deletion (opaque)."""
        ...

    # -- runs and their tasks
    def start(self, policy_id: int, trigger: str, dry_run: bool) -> Execution:
        """A new run, Running, started now."""
        ...

    def execution(self, policy_id: int, execution_id: int) -> Execution | None: ...

    def executions(self, policy_id: int, *, limit: int = 1000) -> list[Execution]:
        """The policy's latest runs, newest first."""
        ...

    def save(self, execution: Execution) -> None: ...

    def beat(self, policy_id: int, execution_id: int, now: float) -> bool:
        """Say that a step took the run up now, if it is still running (False: it is not)."""
        ...

    def finish(self, execution: Execution) -> bool:
        """Record the end of a run that is still running (False: a stop came first)."""
        ...

    def save_task(self, task: Task) -> None:
        """Write a task (its log's last MAX_LOG_LINES lines)."""
        ...

    def tasks(self, execution_id: int) -> list[Task]:
        """A run's tasks, by id."""
        ...

    def task(self, execution_id: int, task_id: int) -> Task | None: ...


def _stored_times(e: Execution) -> Execution:
    """The times as the DynamoDB store keeps them (to the microsecond)."""
    return replace(e, started=float(_time(e.started)), ended=float(_time(e.ended)), updated=float(_time(e.updated)))


class MemoryRetention:
    """RetentionStore in memory: the same answers as DynamoRetention, for fast tests.
    `project_exists(project)`: whether the project is there (the DynamoDB store names the
    policy in the project's item, conditional on it)."""

    def __init__(self, clock: Callable[[], float], project_exists: Callable[[str], bool] = lambda project: True):
        self._clock = clock
        self._project_exists = project_exists
        self._policies: dict[int, StoredPolicy] = {}
        self._named: dict[str, int] = {}  # project -> the policy its metadata names
        self._executions: dict[int, dict[int, Execution]] = {}  # policy -> execution id -> run
        self._tasks: dict[int, dict[int, Task]] = {}  # execution -> task id -> task
        self._last = {"retention": 0, "retention_execution": 0}

    def _next_id(self, kind: str) -> int:
        self._last[kind] += 1
        return self._last[kind]

    def create(self, project: str, policy: dict[str, Any]) -> StoredPolicy:
        policy_id = self._next_id("retention")  # used up even when refused, as the counter is
        if project in self._named or not self._project_exists(project):
            raise Conflict(f"project {project} already has a retention policy")
        stored = StoredPolicy(policy_id, project, copy.deepcopy({**policy, "id": policy_id}), uuid.uuid4().hex)
        self._policies[policy_id] = stored
        self._named[project] = policy_id
        return copy.deepcopy(stored)

    def get(self, policy_id: int) -> StoredPolicy | None:
        return copy.deepcopy(self._policies.get(policy_id))

    def update(self, current: StoredPolicy, policy: dict[str, Any]) -> StoredPolicy:
        now = self._policies.get(current.policy_id)
        if now is None or now.version != current.version:
            raise Conflict("the retention policy changed meanwhile; retry")
        stored = replace(current, policy=copy.deepcopy({**policy, "id": current.policy_id}), version=uuid.uuid4().hex)
        self._policies[current.policy_id] = stored
        return copy.deepcopy(stored)

    def delete(self, current: StoredPolicy) -> None:
        self._policies.pop(current.policy_id, None)
        if self._named.get(current.project) == current.policy_id:
            del self._named[current.project]

    def removal(self, policy_id: int) -> Any:
        return lambda: self._policies.pop(policy_id, None)

    def start(self, policy_id: int, trigger: str, dry_run: bool) -> Execution:
        execution = _stored_times(Execution(self._next_id("retention_execution"), policy_id, trigger, dry_run,
                                            started=self._clock()))
        self._executions.setdefault(policy_id, {})[execution.execution_id] = execution
        return execution

    def execution(self, policy_id: int, execution_id: int) -> Execution | None:
        return self._executions.get(policy_id, {}).get(execution_id)

    def executions(self, policy_id: int, *, limit: int = 1000) -> list[Execution]:
        runs = self._executions.get(policy_id, {})
        return [runs[i] for i in sorted(runs, reverse=True)[:limit]]

    def save(self, execution: Execution) -> None:
        self._executions.setdefault(execution.policy_id, {})[execution.execution_id] = _stored_times(execution)

    def beat(self, policy_id: int, execution_id: int, now: float) -> bool:
        current = self.execution(policy_id, execution_id)
        if current is None or current.status != RUNNING:
            return False
        self.save(replace(current, updated=now))
        return True

    def finish(self, execution: Execution) -> bool:
        current = self.execution(execution.policy_id, execution.execution_id)
        if current is None or current.status != RUNNING:
            return False
        self.save(execution)
        return True

    def save_task(self, task: Task) -> None:
        kept = replace(task, log=task.log[-MAX_LOG_LINES:], started=float(_time(task.started)), ended=float(_time(task.ended)))
        self._tasks.setdefault(task.execution_id, {})[task.task_id] = kept

    def tasks(self, execution_id: int) -> list[Task]:
        tasks = self._tasks.get(execution_id, {})
        return [tasks[i] for i in sorted(tasks)]

    def task(self, execution_id: int, task_id: int) -> Task | None:
        return self._tasks.get(execution_id, {}).get(task_id)


class DynamoRetention:
    def __init__(self, table: Table, clock):
        self._t = table
        self._clock = clock

    # -- policies ------------------------------------------------------------------------------
    def create(self, project: str, policy: dict[str, Any]) -> StoredPolicy:
        """Conflict when the project has a policy already or is gone."""
        policy_id = self._t.next_id("retention")
        stored = StoredPolicy(policy_id, project, {**policy, "id": policy_id}, uuid.uuid4().hex)
        metadata = update_op(
            keys.project_pk(project), keys.PROJECT_SK, "SET #m.#r = :id", {":id": str(policy_id)}, {"#m": "metadata", "#r": METADATA_KEY}
        )
        metadata["Update"]["ConditionExpression"] = "attribute_exists(PK) AND attribute_not_exists(#m.#r)"
        try:
            self._t.transact([put_op(_policy_item(stored), "attribute_not_exists(PK)"), metadata])
        except ClientError as exc:
            if is_condition_failure(exc):
                raise Conflict(f"project {project} already has a retention policy") from None
            raise
        return stored

    def get(self, policy_id: int) -> StoredPolicy | None:
        if policy_id <= 0:
            return None
        item = self._t.get(keys.retention_pk(policy_id), keys.RETENTION_POLICY_SK, consistent=True)
        if not item:
            return None
        return StoredPolicy(policy_id, item["project"], json.loads(item["policy"]), item.get("version", ""))

    def update(self, current: StoredPolicy, policy: dict[str, Any]) -> StoredPolicy:
        """Replace the policy if nobody changed it since `current` was read (Conflict)."""
        stored = replace(current, policy={**policy, "id": current.policy_id}, version=uuid.uuid4().hex)
        try:
            self._t.put(_policy_item(stored), condition="#v = :v", values={":v": current.version}, names={"#v": "version"})
        except ClientError as exc:
            if is_condition_failure(exc):
                raise Conflict("the retention policy changed meanwhile; retry") from None
            raise
        return stored

    def delete(self, current: StoredPolicy) -> None:
        """The policy and the project's `retention_id` together (the project may be gone)."""
        ops = [delete_op(keys.retention_pk(current.policy_id), keys.RETENTION_POLICY_SK)]
        unlink = update_op(keys.project_pk(current.project), keys.PROJECT_SK, "REMOVE #m.#r", {":id": str(current.policy_id)},
                           {"#m": "metadata", "#r": METADATA_KEY})
        unlink["Update"]["ConditionExpression"] = "#m.#r = :id"
        try:
            self._t.transact([*ops, unlink])
        except ClientError as exc:
            if not is_condition_failure(exc):
                raise
            self._t.transact(ops)  # the project no longer names it

    def removal(self, policy_id: int) -> Any:
        """The operation deleting the policy, to join its project's deletion."""
        return delete_op(keys.retention_pk(policy_id), keys.RETENTION_POLICY_SK)

    # -- runs --------------------------------------------------------------------------------------
    def start(self, policy_id: int, trigger: str, dry_run: bool) -> Execution:
        execution = Execution(self._t.next_id("retention_execution"), policy_id, trigger, dry_run, started=self._clock())
        self._t.put(_execution_item(execution), condition="attribute_not_exists(PK)")
        return execution

    def execution(self, policy_id: int, execution_id: int) -> Execution | None:
        if execution_id <= 0:
            return None
        item = self._t.get(keys.retention_executions_pk(policy_id), keys.retention_execution_sk(execution_id), consistent=True)
        return _execution(item) if item else None

    def executions(self, policy_id: int, *, limit: int = 1000) -> list[Execution]:
        """The policy's latest runs, newest first (one Query)."""
        out = self._t.client.query(
            TableName=self._t.name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.retention_executions_pk(policy_id)}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [_execution(unmarshal(i)) for i in out.get("Items", [])]

    def save(self, execution: Execution) -> None:
        self._t.put(_execution_item(execution))

    def beat(self, policy_id: int, execution_id: int, now: float) -> bool:
        """Say that a step took the run up now, if it is still running (False: it is not)."""
        try:
            self._t.client.update_item(
                TableName=self._t.name,
                Key=keys.key(keys.retention_executions_pk(policy_id), keys.retention_execution_sk(execution_id)),
                UpdateExpression="SET updated = :now",
                ConditionExpression="#s = :running",
                ExpressionAttributeValues={":now": {"N": str(_time(now))}, ":running": {"S": RUNNING}},
                ExpressionAttributeNames={"#s": "status"},
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def finish(self, execution: Execution) -> bool:
        """Record the end of a run that is still running (a stop that came first wins)."""
        try:
            self._t.put(_execution_item(execution), condition="#s = :running", values={":running": RUNNING}, names={"#s": "status"})
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def save_task(self, task: Task) -> None:
        self._t.put(_task_item(replace(task, log=task.log[-MAX_LOG_LINES:])))

    def tasks(self, execution_id: int) -> list[Task]:
        return [_task(i) for i in self._t.query_all(keys.retention_tasks_pk(execution_id), low="0", high="9~")]

    def task(self, execution_id: int, task_id: int) -> Task | None:
        item = self._t.get(keys.retention_tasks_pk(execution_id), keys.retention_task_sk(task_id), consistent=True)
        return _task(item) if item else None


def _policy_item(p: StoredPolicy) -> dict[str, Any]:
    return {"PK": keys.retention_pk(p.policy_id), "SK": keys.RETENTION_POLICY_SK, "project": p.project,
            "policy": json.dumps(p.policy, separators=(",", ":")), "version": p.version}


def _execution_item(e: Execution) -> dict[str, Any]:
    return {"PK": keys.retention_executions_pk(e.policy_id), "SK": keys.retention_execution_sk(e.execution_id),
            "execution_id": e.execution_id, "policy_id": e.policy_id, "trigger": e.trigger, "dry_run": e.dry_run,
            "status": e.status, "started": _time(e.started), "ended": _time(e.ended), "status_text": e.status_text,
            "updated": _time(e.updated)}


def _execution(item: dict[str, Any]) -> Execution:
    return Execution(int(item["execution_id"]), int(item["policy_id"]), item["trigger"], bool(item.get("dry_run")),
                     item["status"], float(item.get("started", 0)), float(item.get("ended", 0)), item.get("status_text", ""),
                     float(item.get("updated", 0)))


def _task_item(t: Task) -> dict[str, Any]:
    return {"PK": keys.retention_tasks_pk(t.execution_id), "SK": keys.retention_task_sk(t.task_id),
            "execution_id": t.execution_id, "task_id": t.task_id, "repository": t.repository, "status": t.status,
            "started": _time(t.started), "ended": _time(t.ended), "total": t.total, "retained": t.retained,
            "deleted": list(t.deleted), "log": list(t.log), "status_revision": t.status_revision}


def _task(item: dict[str, Any]) -> Task:
    return Task(int(item["execution_id"]), int(item["task_id"]), item["repository"], item["status"],
                float(item.get("started", 0)), float(item.get("ended", 0)), int(item.get("total", 0)),
                int(item.get("retained", 0)), tuple(item.get("deleted") or ()), tuple(item.get("log") or ()),
                int(item.get("status_revision", 0)))


