"""Webhook policies and their delivery log in DynamoDB (key layout: keys.py).

A project's policies share a partition, so the delivery function finds every
policy of an event's project with one Query. The delivery log holds one
execution per (event, policy), its tasks (one per target) inline in a map, so
a delivery attempt updates one item and the list of executions is one Query.

Secrets (a target's auth header and signing secret) are stored here because
the delivery function needs them; only this store and the delivery read them:
the API renders policies without them (chalicelib/management/webhooks.py).

`WebhookStore` is the contract the domain and the API are written against; `DynamoWebhooks`
keeps it in DynamoDB, `MemoryWebhooks` in memory (for fast tests of the code that uses it);
tests/contract/test_webhook_store.py runs the same suite over both.
"""
from __future__ import annotations

import builtins
import copy
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

from botocore.exceptions import ClientError

from chalicelib.meta import keys
from chalicelib.meta.table import Table, is_condition_failure, marshal, unmarshal

LOG_RETENTION_SECONDS = 30 * 24 * 3600


@dataclass(frozen=True)
class Target:
    type: str  # "http" | "slack"
    address: str
    auth_header: str = ""  # the Authorization header's value (a secret)
    skip_cert_verify: bool = False
    payload_format: str = "Default"  # "Default" | "CloudEvents" (http only)
    signing_secret: str = ""  # Berth's: HMAC-SHA256 key of X-Berth-Signature (a secret)


@dataclass(frozen=True)
class Policy:
    project: str
    name: str
    targets: tuple[Target, ...]
    event_types: tuple[str, ...]  # Harbor's: PUSH_ARTIFACT, ...
    enabled: bool = True
    description: str = ""
    creator: str = ""
    created: float = 0
    updated: float = 0
    policy_id: int = 0


@dataclass
class Execution:
    """One event sent to one policy's targets; `tasks` by target number (1, 2, ...)."""

    project: str
    policy_id: int
    execution_id: int
    event_id: str
    event_type: str  # Harbor's
    started: float
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """Harbor's execution status: Running while any task is, then Error if any failed."""
        states = [t.get("status") for t in self.tasks.values()]
        if any(s in ("Pending", "Running") for s in states):
            return "Running"
        if any(s == "Error" for s in states):
            return "Error"
        return "Success"

    @property
    def ended(self) -> float | None:
        ends = [t.get("end_time") for t in self.tasks.values()]
        if not ends or any(e is None for e in ends):
            return None
        return max(e for e in ends if e is not None)


class WebhookStore(Protocol):
    def create(self, policy: Policy) -> Policy:
        """Store a new policy with a new id, its creation and update times now."""
        ...

    def get(self, project: str, policy_id: int) -> Policy | None: ...

    def list(self, project: str) -> list[Policy]:
        """A project's policies, by id."""
        ...

    def update(self, policy: Policy) -> Policy:
        """Replace an existing policy (its id, creator and creation time stay); KeyError if gone."""
        ...

    def delete(self, project: str, policy_id: int) -> bool:
        """False if it was not there."""
        ...

    def delete_project(self, project: str) -> int:
        """Every policy of a deleted project; how many."""
        ...

    def start_execution(self, execution: Execution) -> bool:
        """Write a new execution; False if it exists (the same event delivered again)."""
        ...

    def record_task(self, project: str, policy_id: int, execution_id: int, task: int, state: dict[str, Any]) -> None:
        """Set fields of one task's state (None values left out); KeyError if the execution is not there."""
        ...

    def executions(self, project: str, policy_id: int, *, limit: int = 100) -> builtins.list[Execution]:
        """The latest executions of a policy, newest first."""
        ...

    def execution(self, project: str, policy_id: int, execution_id: int) -> Execution | None: ...


class DynamoWebhooks:
    def __init__(self, table: Table, clock):
        self._t = table
        self._clock = clock

    # -- policies ------------------------------------------------------------------------
    def create(self, policy: Policy) -> Policy:
        now = self._clock()
        created = Policy(**{**_fields(policy), "policy_id": self._next_id(), "created": now, "updated": now})
        self._t.put(_policy_item(created), condition="attribute_not_exists(PK)")
        return created

    def get(self, project: str, policy_id: int) -> Policy | None:
        item = self._t.get(keys.hook_pk(project), keys.hook_policy_sk(policy_id), consistent=True)
        return _policy(item) if item else None

    def list(self, project: str) -> list[Policy]:
        """A project's policies, by id (one Query)."""
        prefix = keys.HOOK_POLICY_PREFIX
        return [_policy(i) for i in self._t.query_all(keys.hook_pk(project), low=prefix, high=prefix + "~")]

    def update(self, policy: Policy) -> Policy:
        """Replace an existing policy (its id, creator and creation time stay); KeyError if gone."""
        updated = Policy(**{**_fields(policy), "updated": self._clock()})
        try:
            self._t.put(_policy_item(updated), condition="attribute_exists(PK)")
        except ClientError as exc:
            if is_condition_failure(exc):
                raise KeyError(policy.policy_id) from None
            raise
        return updated

    def delete(self, project: str, policy_id: int) -> bool:
        return self._t.delete(keys.hook_pk(project), keys.hook_policy_sk(policy_id), return_old=True) is not None

    def delete_project(self, project: str) -> int:
        """Every policy of a deleted project (a project made again later starts with none)."""
        policies = self.list(project)
        for policy in policies:
            self.delete(project, policy.policy_id)
        return len(policies)

    # -- the delivery log ------------------------------------------------------------------
    def start_execution(self, execution: Execution) -> bool:
        """Write a new execution; False if it exists (the same event delivered again)."""
        item = {
            "PK": keys.hook_run_pk(execution.project, execution.policy_id),
            "SK": keys.hook_run_sk(execution.execution_id),
            "event_id": execution.event_id,
            "event_type": execution.event_type,
            "started": _decimal(execution.started),
            "tasks": {k: _clean(v) for k, v in execution.tasks.items()},
            keys.TTL_ATTRIBUTE: int(execution.started) + LOG_RETENTION_SECONDS,
        }
        try:
            self._t.put(item, condition="attribute_not_exists(PK)")
        except ClientError as exc:
            if is_condition_failure(exc):
                return False
            raise
        return True

    def record_task(self, project: str, policy_id: int, execution_id: int, task: int, state: dict[str, Any]) -> None:
        """Set fields of one task's state (status, run_count, status_code, duration_ms, ...);
        the others (its target's address and type) stay."""
        fields = _clean(state)
        names = {"#task": str(task), **{f"#f{n}": name for n, name in enumerate(fields)}}
        values = {f":v{n}": value for n, value in enumerate(fields.values())}
        try:
            self._t.client.update_item(
                TableName=self._t.name,
                Key=keys.key(keys.hook_run_pk(project, policy_id), keys.hook_run_sk(execution_id)),
                UpdateExpression="SET " + ", ".join(f"tasks.#task.#f{n} = :v{n}" for n in range(len(fields))),
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=marshal(values),
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                raise KeyError(execution_id) from None
            raise

    def executions(self, project: str, policy_id: int, *, limit: int = 100) -> builtins.list[Execution]:
        """The latest executions of a policy, newest first (one Query)."""
        out = self._t.client.query(
            TableName=self._t.name,
            KeyConditionExpression="PK = :pk",
            ExpressionAttributeValues={":pk": {"S": keys.hook_run_pk(project, policy_id)}},
            ScanIndexForward=False,
            Limit=limit,
        )
        return [_execution(project, policy_id, unmarshal(i)) for i in out.get("Items", [])]

    def execution(self, project: str, policy_id: int, execution_id: int) -> Execution | None:
        item = self._t.get(keys.hook_run_pk(project, policy_id), keys.hook_run_sk(execution_id), consistent=True)
        return _execution(project, policy_id, item) if item else None

    def _next_id(self) -> int:
        return self._t.next_id("webhook")


class MemoryWebhooks:
    """WebhookStore in memory: the same answers as DynamoWebhooks, for fast tests. (Its
    executions do not expire: the table's TTL is DynamoDB's.)"""

    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self._policies: dict[tuple[str, int], Policy] = {}
        self._executions: dict[tuple[str, int, int], Execution] = {}
        self._last_id = 0

    def create(self, policy: Policy) -> Policy:
        self._last_id += 1
        now = self._clock()
        created = replace(policy, policy_id=self._last_id, created=now, updated=now)
        self._policies[(policy.project, created.policy_id)] = created
        return created

    def get(self, project: str, policy_id: int) -> Policy | None:
        return self._policies.get((project, policy_id))

    def list(self, project: str) -> list[Policy]:
        return [p for (owner, _), p in sorted(self._policies.items()) if owner == project]

    def update(self, policy: Policy) -> Policy:
        if (policy.project, policy.policy_id) not in self._policies:
            raise KeyError(policy.policy_id)
        updated = replace(policy, updated=self._clock())
        self._policies[(policy.project, policy.policy_id)] = updated
        return updated

    def delete(self, project: str, policy_id: int) -> bool:
        return self._policies.pop((project, policy_id), None) is not None

    def delete_project(self, project: str) -> int:
        doomed = [key for key in self._policies if key[0] == project]
        for key in doomed:
            del self._policies[key]
        return len(doomed)

    def start_execution(self, execution: Execution) -> bool:
        key = (execution.project, execution.policy_id, execution.execution_id)
        if key in self._executions:
            return False
        tasks = {k: {n: x for n, x in v.items() if x is not None} for k, v in execution.tasks.items()}
        self._executions[key] = replace(execution, tasks=tasks)
        return True

    def record_task(self, project: str, policy_id: int, execution_id: int, task: int, state: dict[str, Any]) -> None:
        execution = self._executions.get((project, policy_id, execution_id))
        if execution is None:
            raise KeyError(execution_id)
        execution.tasks.setdefault(str(task), {}).update({k: v for k, v in state.items() if v is not None})

    def executions(self, project: str, policy_id: int, *, limit: int = 100) -> builtins.list[Execution]:
        found = [copy.deepcopy(e) for (p, i, _), e in self._executions.items() if (p, i) == (project, policy_id)]
        return sorted(found, key=lambda e: e.execution_id, reverse=True)[:limit]

    def execution(self, project: str, policy_id: int, execution_id: int) -> Execution | None:
        found = self._executions.get((project, policy_id, execution_id))
        return copy.deepcopy(found) if found is not None else None


def _fields(policy: Policy) -> dict[str, Any]:
    return {k: getattr(policy, k) for k in Policy.__dataclass_fields__}


def _policy_item(policy: Policy) -> dict[str, Any]:
    return {
        "PK": keys.hook_pk(policy.project),
        "SK": keys.hook_policy_sk(policy.policy_id),
        "policy_id": policy.policy_id,
        "name": policy.name,
        "description": policy.description,
        "targets": [asdict(t) for t in policy.targets],
        "event_types": list(policy.event_types),
        "enabled": policy.enabled,
        "creator": policy.creator,
        "created": _decimal(policy.created),
        "updated": _decimal(policy.updated),
    }


def _policy(item: dict[str, Any]) -> Policy:
    return Policy(
        project=item["PK"].split("#", 1)[1],
        name=item["name"],
        targets=tuple(Target(**{k: v for k, v in t.items() if k in Target.__dataclass_fields__}) for t in item.get("targets", [])),
        event_types=tuple(item.get("event_types", [])),
        enabled=bool(item.get("enabled", True)),
        description=item.get("description", ""),
        creator=item.get("creator", ""),
        created=float(item.get("created", 0)),
        updated=float(item.get("updated", 0)),
        policy_id=int(item["policy_id"]),
    )


def _execution(project: str, policy_id: int, item: dict[str, Any]) -> Execution:
    return Execution(
        project=project,
        policy_id=policy_id,
        execution_id=int(item["SK"]),
        event_id=item.get("event_id", ""),
        event_type=item.get("event_type", ""),
        started=float(item.get("started", 0)),
        tasks={k: {n: _plain(x) for n, x in v.items()} for k, v in (item.get("tasks") or {}).items()},
    )


def _plain(value: Any) -> Any:
    """A nested Decimal (unmarshal converts top-level numbers only) as an int or float."""
    if type(value).__name__ == "Decimal":
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _decimal(value: float):
    from decimal import Decimal

    return Decimal(str(round(float(value), 6)))


def _clean(state: dict[str, Any]) -> dict[str, Any]:
    """DynamoDB takes no floats: times and durations as Decimals; None left out."""
    out = {}
    for k, v in state.items():
        if v is None:
            continue
        out[k] = _decimal(v) if isinstance(v, float) else v
    return out
