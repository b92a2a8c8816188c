"""Webhook policies and their delivery log in DynamoDB (key layout: keys.py).

A project's policies share a partition, so the delivery function finds every
policy of an event's project with one Query. The delivery log holds one
execution per (event, policy), its tasks (one per target) inline in a map, so
a delivery attempt updates one item and the list of executions is one Query.

Secrets (a target's auth header and signing secret) are stored here because
the delivery function needs them; only this store and the delivery read them:
the API renders policies without them (chalicelib/management/webhooks.py).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

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
        return max(ends)


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
        self._t.client.update_item(
            TableName=self._t.name,
            Key=keys.key(keys.hook_run_pk(project, policy_id), keys.hook_run_sk(execution_id)),
            UpdateExpression="SET " + ", ".join(f"tasks.#task.#f{n} = :v{n}" for n in range(len(fields))),
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=marshal(values),
        )

    def executions(self, project: str, policy_id: int, *, limit: int = 100) -> list[Execution]:
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
