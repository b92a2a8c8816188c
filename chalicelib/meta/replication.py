"""Replication policies in DynamoDB (key layout: keys.py): one partition, listed with
one Query (a deployment has tens, not thousands), each name claimed by an item written
in the same transaction. The rules a policy must follow are chalicelib/replication/rules.py's.
Then the runs (Harbor's executions) and their tasks, one per artifact.

`ReplicationPolicyStore` and `ReplicationRunStore` are the contracts the domain and the API
are written against; `DynamoReplicationPolicies` and `DynamoReplicationRuns` keep them in
DynamoDB, `MemoryReplicationPolicies` and `MemoryReplicationRuns` in memory (for fast tests
of the code that uses them); tests/contract/test_replication_store.py runs the same suite
over both.
"""
from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Protocol

from botocore.exceptions import ClientError

from chalicelib.meta import keys, outbox_items
from chalicelib.meta.table import Table, delete_op, put_op

LOCAL = 0  # the registry id of this Berth in a policy (Harbor's: no registry)


class PolicyNameTaken(Exception):
    """another policy has this name"""


@dataclass(frozen=True)
class Filter:
    type: str  # "name" | "tag" | "resource" | "label"
    value: str | tuple[str, ...]  # a pattern, image|artifact, or (label) the label names
    decoration: str = ""  # tag and label filters: "matches" (default) | "excludes"


@dataclass(frozen=True)
class ReplicationPolicy:
    name: str
    src_registry_id: int = LOCAL
    dest_registry_id: int = LOCAL
    description: str = ""
    dest_namespace: str = ""
    dest_namespace_replace_count: int = -1  # Harbor's: -1 legacy (namespace replaces all but the last part)
    trigger: str = "manual"  # "manual" | "scheduled" | "event_based"
    cron: str = ""  # Harbor's 6-field cron, for "scheduled"
    filters: tuple[Filter, ...] = field(default_factory=tuple)
    replicate_deletion: bool = False
    override: bool = True
    enabled: bool = True
    speed: int = 0  # KiB/s per task; 0 or -1: no limit
    copy_by_chunk: bool = False
    single_active_replication: bool = False
    creator: str = ""
    created: float = 0
    updated: float = 0
    policy_id: int = 0

    @property
    def push_based(self) -> bool:
        return self.src_registry_id == LOCAL

    @property
    def remote_registry_id(self) -> int:
        return self.dest_registry_id if self.push_based else self.src_registry_id


class ReplicationPolicyStore(Protocol):
    def create(self, policy: ReplicationPolicy) -> ReplicationPolicy:
        """Store a new policy with a new id, created and updated now; PolicyNameTaken if
        another policy has its name."""
        ...

    def get(self, policy_id: int) -> ReplicationPolicy | None: ...

    def list(self) -> list[ReplicationPolicy]:
        """Every policy, by id."""
        ...

    def update(self, current: ReplicationPolicy, updated: ReplicationPolicy) -> ReplicationPolicy:
        """Replace the policy (its id, creator and creation time stay; updated now); KeyError
        if it is gone, PolicyNameTaken for a name in use."""
        ...

    def delete(self, policy: ReplicationPolicy) -> None:
        """The policy and its name (nothing if it is gone)."""
        ...


class MemoryReplicationPolicies:
    """ReplicationPolicyStore in memory: the same answers as DynamoReplicationPolicies, for fast tests."""

    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self._policies: dict[int, ReplicationPolicy] = {}
        self._names: dict[str, int] = {}
        self._last_id = 0

    def create(self, policy: ReplicationPolicy) -> ReplicationPolicy:
        self._last_id += 1  # used up even when the name is refused, as the counter is
        if policy.name in self._names:
            raise PolicyNameTaken(policy.name)
        now = _stored(self._clock())
        created = replace(policy, policy_id=self._last_id, created=now, updated=now)
        self._policies[created.policy_id] = created
        self._names[created.name] = created.policy_id
        return created

    def get(self, policy_id: int) -> ReplicationPolicy | None:
        return self._policies.get(policy_id)

    def list(self) -> list[ReplicationPolicy]:
        return [self._policies[i] for i in sorted(self._policies)]

    def update(self, current: ReplicationPolicy, updated: ReplicationPolicy) -> ReplicationPolicy:
        if current.policy_id not in self._policies:
            raise KeyError(current.policy_id)
        stored = replace(updated, policy_id=current.policy_id, created=current.created, creator=current.creator,
                         updated=_stored(self._clock()))
        if stored.name != current.name:
            if stored.name in self._names:
                raise PolicyNameTaken(updated.name)
            self._names.pop(current.name, None)
            self._names[stored.name] = stored.policy_id
        self._policies[stored.policy_id] = stored
        return stored

    def delete(self, policy: ReplicationPolicy) -> None:
        self._policies.pop(policy.policy_id, None)
        self._names.pop(policy.name, None)


class DynamoReplicationPolicies:
    def __init__(self, table: Table, clock):
        self._t = table
        self._clock = clock

    def create(self, policy: ReplicationPolicy) -> ReplicationPolicy:
        now = self._clock()
        created = replace(policy, policy_id=self._next_id(), created=now, updated=now)
        try:
            self._t.transact([put_op(_item(created), condition="attribute_not_exists(PK)"),
                              put_op(_name_item(created), condition="attribute_not_exists(PK)")])
        except ClientError as exc:
            if _cancelled(exc):
                raise PolicyNameTaken(policy.name) from None
            raise
        return created

    def get(self, policy_id: int) -> ReplicationPolicy | None:
        if policy_id <= 0:
            return None
        item = self._t.get(keys.REPLICATION_POLICIES_PK, keys.replication_policy_sk(policy_id), consistent=True)
        return _policy(item) if item else None

    def list(self) -> list[ReplicationPolicy]:
        return [_policy(i) for i in self._t.query_all(keys.REPLICATION_POLICIES_PK, low="0", high="9~")]

    def update(self, current: ReplicationPolicy, updated: ReplicationPolicy) -> ReplicationPolicy:
        """KeyError if the policy is gone, PolicyNameTaken for a name in use."""
        stored = replace(updated, policy_id=current.policy_id, created=current.created, creator=current.creator,
                         updated=self._clock())
        operations = [put_op(_item(stored), condition="attribute_exists(PK)")]
        if stored.name != current.name:
            operations += [put_op(_name_item(stored), condition="attribute_not_exists(PK)"),
                           delete_op(keys.replication_policy_name_pk(current.name), keys.REPLICATION_POLICY_NAME_SK)]
        try:
            self._t.transact(operations)
        except ClientError as exc:
            if _cancelled(exc):
                reasons = exc.response.get("CancellationReasons") or []
                if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
                    raise KeyError(current.policy_id) from None
                raise PolicyNameTaken(updated.name) from None
            raise
        return stored

    def delete(self, policy: ReplicationPolicy) -> None:
        self._t.transact([delete_op(keys.REPLICATION_POLICIES_PK, keys.replication_policy_sk(policy.policy_id)),
                          delete_op(keys.replication_policy_name_pk(policy.name), keys.REPLICATION_POLICY_NAME_SK)])

    def _next_id(self) -> int:
        return self._t.next_id("replication_policy")


def _cancelled(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "TransactionCanceledException"


_PLAIN = ("name", "src_registry_id", "dest_registry_id", "description", "dest_namespace", "dest_namespace_replace_count",
          "trigger", "cron", "replicate_deletion", "override", "enabled", "speed", "copy_by_chunk",
          "single_active_replication", "creator", "policy_id")


def _item(policy: ReplicationPolicy) -> dict[str, Any]:
    item: dict[str, Any] = {"PK": keys.REPLICATION_POLICIES_PK, "SK": keys.replication_policy_sk(policy.policy_id)}
    item.update({f: getattr(policy, f) for f in _PLAIN})
    item["filters"] = [{"type": f.type, "value": list(f.value) if isinstance(f.value, tuple) else f.value,
                        "decoration": f.decoration} for f in policy.filters]
    item["created"] = Decimal(str(round(policy.created, 6)))
    item["updated"] = Decimal(str(round(policy.updated, 6)))
    return item


def _name_item(policy: ReplicationPolicy) -> dict[str, Any]:
    return {"PK": keys.replication_policy_name_pk(policy.name), "SK": keys.REPLICATION_POLICY_NAME_SK,
            "policy_id": policy.policy_id}


def _policy(item: dict[str, Any]) -> ReplicationPolicy:
    values: dict[str, Any] = {f: item[f] for f in _PLAIN if f in item}
    for number in ("src_registry_id", "dest_registry_id", "dest_namespace_replace_count", "speed", "policy_id"):
        if number in values:
            values[number] = int(values[number])
    values["filters"] = tuple(Filter(f["type"], tuple(f["value"]) if isinstance(f["value"], list) else f["value"],
                                     f.get("decoration", "")) for f in item.get("filters") or [])
    return ReplicationPolicy(**values, created=float(item.get("created", 0)), updated=float(item.get("updated", 0)))


# -- runs (Harbor's executions) and their tasks (one per artifact) -----------------------------
RUNNING = "InProgress"
SUCCEEDED = "Succeed"
FAILED = "Failed"
STOPPED = "Stopped"
PENDING = "Pending"
MAX_LOG_LINES = 200


@dataclass(frozen=True)
class Execution:
    execution_id: int
    policy_id: int
    trigger: str  # "manual" | "scheduled" | "event_based"
    status: str = RUNNING
    status_text: str = ""
    started: float = 0
    ended: float = 0
    workflow_arn: str = ""  # the Step Functions execution
    retry_of: int = 0  # the execution whose failed tasks this one runs again
    counts: dict = field(default_factory=dict)  # tasks by status, kept once the run has ended
    scope: str = ""  # an event-based run: the one repository the event named ("" : all)


@dataclass(frozen=True)
class Task:
    execution_id: int
    task_id: int
    src_resource: str  # "<repository>:<tag>" or "<repository>@<digest>", at the source
    dst_resource: str
    src_repository: str
    dst_repository: str
    reference: str  # what names the artifact at the source: a digest, or a tag
    tags: tuple[str, ...] = ()
    resource_type: str = "artifact"
    operation: str = "copy"  # "copy" | "deletion"
    status: str = PENDING
    started: float = 0
    ended: float = 0
    bytes: int = 0
    run_count: int = 0
    error: str = ""
    log: tuple[str, ...] = ()


class ReplicationRunStore(Protocol):
    def start(self, policy_id: int, trigger: str, *, retry_of: int = 0, scope: str = "",
              after: int | None = None) -> Execution | None:
        """A new run, in progress, started now. `after`: the policy runs one at a time, and
        `after` is the run that last started of it (0: none), which the caller found ended;
        the new run takes its place, or there is none (None) if another start took it first."""
        ...

    def last_started(self, policy_id: int) -> int:
        """The run that last started of a policy that runs one at a time (0: none)."""
        ...

    def get(self, execution_id: int) -> Execution | None: ...

    def list(self, *, limit: int = 1000) -> list[Execution]:
        """The latest runs of every policy, newest first."""
        ...

    def save(self, execution: Execution) -> None: ...

    def end(self, execution: Execution, events: builtins.list[Any]) -> bool:
        """Record the run's end with its events (chalicelib/events Event) written with it, only
        while it is still in progress (False: a retried finish, or a stop that came first)."""
        ...

    def add_tasks(self, tasks: builtins.list[Task]) -> None: ...

    def tasks(self, execution_id: int) -> builtins.list[Task]:
        """A run's tasks, by id."""
        ...

    def task(self, execution_id: int, task_id: int) -> Task | None: ...

    def counts(self, execution: Execution) -> dict[str, int]:
        """Its tasks by status: kept on an ended run, counted on a running one."""
        ...

    def claim_event(self, event_id: str, policy_id: int) -> bool:
        """True once per (event, policy): a redelivered event starts no second run."""
        ...

    def save_task(self, task: Task) -> None:
        """Write a task (its log's last MAX_LOG_LINES lines)."""
        ...


class MemoryReplicationRuns:
    """ReplicationRunStore in memory: the same answers as DynamoReplicationRuns, for fast
    tests. `emitted`: the events the runs' ends wrote (the DynamoDB store's outbox items)."""

    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self._executions: dict[int, Execution] = {}
        self._active: dict[int, int] = {}  # policy -> the run that last started of it
        self._tasks: dict[int, dict[int, Task]] = {}
        self._claimed: set[tuple[str, int]] = set()
        self._last_id = 0
        self.emitted: list[Any] = []

    def start(self, policy_id: int, trigger: str, *, retry_of: int = 0, scope: str = "",
              after: int | None = None) -> Execution | None:
        self._last_id += 1
        execution = _stored_times(Execution(self._last_id, policy_id, trigger, started=self._clock(), retry_of=retry_of,
                                            scope=scope))
        if after is not None:
            if self._active.get(policy_id, 0) != after:
                return None
            self._active[policy_id] = execution.execution_id
        self._executions[execution.execution_id] = execution
        return _copy(execution)

    def last_started(self, policy_id: int) -> int:
        return self._active.get(policy_id, 0)

    def get(self, execution_id: int) -> Execution | None:
        found = self._executions.get(execution_id)
        return _copy(found) if found else None

    def list(self, *, limit: int = 1000) -> list[Execution]:
        return [_copy(self._executions[i]) for i in sorted(self._executions, reverse=True)[:limit]]

    def save(self, execution: Execution) -> None:
        self._executions[execution.execution_id] = _stored_times(_copy(execution))

    def end(self, execution: Execution, events: builtins.list[Any]) -> bool:
        current = self._executions.get(execution.execution_id)
        if current is None or current.status != RUNNING:
            return False
        self.save(execution)
        self.emitted.extend(events)
        return True

    def add_tasks(self, tasks: builtins.list[Task]) -> None:
        for task in tasks:
            self._put_task(task)

    def tasks(self, execution_id: int) -> builtins.list[Task]:
        found = self._tasks.get(execution_id, {})
        return [found[i] for i in sorted(found)]

    def task(self, execution_id: int, task_id: int) -> Task | None:
        return self._tasks.get(execution_id, {}).get(task_id)

    def counts(self, execution: Execution) -> dict[str, int]:
        if execution.counts or execution.status != RUNNING:
            return dict(execution.counts)
        return count(self.tasks(execution.execution_id))

    def claim_event(self, event_id: str, policy_id: int) -> bool:
        if (event_id, policy_id) in self._claimed:
            return False
        self._claimed.add((event_id, policy_id))
        return True

    def save_task(self, task: Task) -> None:
        self._put_task(replace(task, log=task.log[-MAX_LOG_LINES:]))

    def _put_task(self, task: Task) -> None:
        self._tasks.setdefault(task.execution_id, {})[task.task_id] = replace(
            task, started=_stored(task.started), ended=_stored(task.ended))


def _stored(value: float) -> float:
    """A time as the DynamoDB store keeps it (to the microsecond)."""
    return float(_time(value))


def _stored_times(e: Execution) -> Execution:
    return replace(e, started=_stored(e.started), ended=_stored(e.ended))


def _copy(e: Execution) -> Execution:
    return replace(e, counts=dict(e.counts))


class DynamoReplicationRuns:
    def __init__(self, table: Table, clock):
        self._t = table
        self._clock = clock

    def start(self, policy_id: int, trigger: str, *, retry_of: int = 0, scope: str = "",
              after: int | None = None) -> Execution | None:
        """A new run's record. `after`: the policy runs one at a time (Harbor's
        `single_active_replication`), and `after` is the run that last started of it (0:
        none), which the caller found ended; the new run takes its place in the same
        transaction, or there is none (None) if another start took it first."""
        execution = Execution(self._next_id(), policy_id, trigger, started=self._clock(), retry_of=retry_of, scope=scope)
        if after is None:
            self._t.put(_execution_item(execution), condition="attribute_not_exists(PK)")
            return execution
        held = {"PK": keys.REPLICATION_ACTIVE_PK, "SK": keys.replication_active_sk(policy_id),
                "execution_id": execution.execution_id}
        condition = "attribute_not_exists(PK)" if after == 0 else "execution_id = :after"
        try:
            self._t.transact([put_op(_execution_item(execution), "attribute_not_exists(PK)"),
                              put_op(held, condition, {":after": after} if after else None)])
        except ClientError as exc:
            if _cancelled(exc):
                return None
            raise
        return execution

    def last_started(self, policy_id: int) -> int:
        """The run that last started of a policy that runs one at a time (0: none)."""
        item = self._t.get(keys.REPLICATION_ACTIVE_PK, keys.replication_active_sk(policy_id), consistent=True)
        return int(item["execution_id"]) if item else 0

    def get(self, execution_id: int) -> Execution | None:
        if execution_id <= 0:
            return None
        item = self._t.get(keys.REPLICATION_EXECUTIONS_PK, keys.replication_execution_sk(execution_id), consistent=True)
        return _execution(item) if item else None

    def list(self, *, limit: int = 1000) -> list[Execution]:
        """The latest runs, newest first (one Query)."""
        out = self._t.client.query(
            TableName=self._t.name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.REPLICATION_EXECUTIONS_PK}},
            ScanIndexForward=False,
            Limit=limit,
        )
        from chalicelib.meta.table import unmarshal

        return [_execution(unmarshal(i)) for i in out.get("Items", [])]

    def save(self, execution: Execution) -> None:
        self._t.put(_execution_item(execution))

    def end(self, execution: Execution, events: builtins.list[Any]) -> bool:
        """Record the run's end with its events (outbox items), in one transaction, only
        while it is still running: a retried finish, or a stop that came first, writes nothing."""
        op = put_op(_execution_item(execution), "#s = :running", {":running": RUNNING})
        op["Put"]["ExpressionAttributeNames"] = {"#s": "status"}
        try:
            self._t.transact([op, *(outbox_items.put(e) for e in events)])
        except ClientError as exc:
            if _cancelled(exc):
                return False
            raise
        return True

    def add_tasks(self, tasks: builtins.list[Task]) -> None:
        self._t.batch_put([_task_item(t) for t in tasks])

    def tasks(self, execution_id: int) -> builtins.list[Task]:
        return [_task(i) for i in self._t.query_all(keys.replication_tasks_pk(execution_id), low="0", high="9~")]

    def task(self, execution_id: int, task_id: int) -> Task | None:
        item = self._t.get(keys.replication_tasks_pk(execution_id), keys.replication_task_sk(task_id), consistent=True)
        return _task(item) if item else None

    def counts(self, execution: Execution) -> dict[str, int]:
        """Its tasks by status: kept on an ended run, counted (one Query) on a running one."""
        if execution.counts or execution.status != RUNNING:
            return dict(execution.counts)
        return count(self.tasks(execution.execution_id))

    def claim_event(self, event_id: str, policy_id: int) -> bool:
        """True once per (event, policy): a redelivered event starts no second run."""
        item = {"PK": keys.replication_trigger_pk(event_id), "SK": keys.replication_trigger_sk(policy_id),
                keys.TTL_ATTRIBUTE: int(self._clock()) + 7 * 24 * 3600}
        try:
            self._t.put(item, condition="attribute_not_exists(PK)")
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def save_task(self, task: Task) -> None:
        self._t.put(_task_item(replace(task, log=task.log[-MAX_LOG_LINES:])))

    def _next_id(self) -> int:
        return self._t.next_id("replication_execution")


def _time(value: float) -> Decimal:
    return Decimal(str(round(value, 6)))


def _execution_item(e: Execution) -> dict[str, Any]:
    return {"PK": keys.REPLICATION_EXECUTIONS_PK, "SK": keys.replication_execution_sk(e.execution_id),
            "execution_id": e.execution_id, "policy_id": e.policy_id, "trigger": e.trigger, "status": e.status,
            "status_text": e.status_text, "started": _time(e.started), "ended": _time(e.ended),
            "workflow_arn": e.workflow_arn, "retry_of": e.retry_of, "counts": dict(e.counts),
            "scope": e.scope}


def _execution(item: dict[str, Any]) -> Execution:
    return Execution(int(item["execution_id"]), int(item["policy_id"]), item["trigger"], item["status"],
                     item.get("status_text", ""), float(item.get("started", 0)), float(item.get("ended", 0)),
                     item.get("workflow_arn", ""), int(item.get("retry_of", 0)),
                     {k: int(v) for k, v in (item.get("counts") or {}).items()}, item.get("scope", ""))


_TASK_TEXT = ("src_resource", "dst_resource", "src_repository", "dst_repository", "reference", "resource_type",
              "operation", "status", "error")


def _task_item(t: Task) -> dict[str, Any]:
    item: dict[str, Any] = {"PK": keys.replication_tasks_pk(t.execution_id), "SK": keys.replication_task_sk(t.task_id),
                            "execution_id": t.execution_id, "task_id": t.task_id, "tags": list(t.tags),
                            "started": _time(t.started), "ended": _time(t.ended), "nbytes": t.bytes,
                            "run_count": t.run_count, "log": list(t.log)}
    item.update({f: getattr(t, f) for f in _TASK_TEXT})
    return item


def _task(item: dict[str, Any]) -> Task:
    return Task(int(item["execution_id"]), int(item["task_id"]), **{f: item.get(f, "") for f in _TASK_TEXT},
                tags=tuple(item.get("tags") or ()), started=float(item.get("started", 0)), ended=float(item.get("ended", 0)),
                bytes=int(item.get("nbytes", 0)), run_count=int(item.get("run_count", 0)), log=tuple(item.get("log") or ()))


def count(tasks: list[Task]) -> dict[str, int]:
    out: dict[str, int] = {}
    for task in tasks:
        out[task.status] = out.get(task.status, 0) + 1
    return out
