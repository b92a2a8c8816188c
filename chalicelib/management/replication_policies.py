"""/replication/policies: Harbor's replication policies. System administrators only.

A policy copies between this Berth and one remote registry (chalicelib/management/
registries.py): push-based (`src_registry` empty or id 0, `dest_registry` a registry)
or pull-based (the other way round). Harbor's field names and defaults: a boolean left
out is false, a trigger left out is manual. The rules (filters, cron, namespaces, loops
between policies) are chalicelib/replication/rules.py's; each refusal is a 400 saying why.
"""
from __future__ import annotations

from dataclasses import replace

from chalicelib.management import paging
from chalicelib.management import registries as endpoints
from chalicelib.management.access import caller, require_admin
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import AlreadyExists, BadRequest, NotFound
from chalicelib.management.schema import DATE_TIME, array, boolean, integer, obj, string
from chalicelib.management.spec import PAGING, Param, operation
from chalicelib.management.times import iso
from chalicelib.meta.replication import LOCAL, Filter, PolicyNameTaken, ReplicationPolicy
from chalicelib.replication import rules, scheduled
from chalicelib.web.http import Request, Response

REGISTRY_REF = {  # a Registry as GET answers it; only its id is read
    "type": "object",
    "nullable": True,
    "properties": {"id": integer(nullable=True)},
}
FILTER = obj(
    {
        "type": string(enum=list(rules.FILTER_TYPES)),
        "value": {"description": "A pattern (name, tag), image|artifact (resource), or the label names (label: an array)"},
        "decoration": string(enum=["", *rules.DECORATIONS]),
    },
    required=("type",),
)
TRIGGER = obj(
    {
        "type": string(enum=list(rules.TRIGGERS)),
        "trigger_settings": obj({"cron": string(maxLength=128)}, nullable=True),
    },
    nullable=True,
)
POLICY_IN = obj(
    {
        "id": integer(),
        "name": string(minLength=1, maxLength=256),
        "description": string(maxLength=1024),
        "src_registry": REGISTRY_REF,
        "dest_registry": REGISTRY_REF,
        "dest_namespace": string(maxLength=255),
        "dest_namespace_replace_count": integer(minimum=-1, maximum=127, nullable=True),
        "trigger": TRIGGER,
        "filters": array(FILTER, maxItems=10, nullable=True),
        "replicate_deletion": boolean(),
        "deletion": boolean(description='Deprecated, use "replicate_deletion"'),
        "override": boolean(),
        "enabled": boolean(),
        "creation_time": string(),
        "update_time": string(),
        "speed": integer(minimum=-1, maximum=2**31 - 1, nullable=True),
        "copy_by_chunk": boolean(nullable=True),
        "single_active_replication": boolean(nullable=True),
    },
    required=("name",),
)
POLICY = {
    "type": "object",
    "properties": {
        "id": integer(),
        "name": string(),
        "description": string(),
        "src_registry": endpoints.REGISTRY,
        "dest_registry": endpoints.REGISTRY,
        "dest_namespace": string(),
        "dest_namespace_replace_count": integer(),
        "trigger": {"type": "object", "properties": {
            "type": string(), "trigger_settings": {"type": "object", "properties": {"cron": string()}}}},
        "filters": array({"type": "object", "properties": {"type": string(), "value": {}, "decoration": string()}}),
        "replicate_deletion": boolean(),
        "deletion": boolean(),
        "override": boolean(),
        "enabled": boolean(),
        "creation_time": DATE_TIME,
        "update_time": DATE_TIME,
        "speed": integer(),
        "copy_by_chunk": boolean(),
        "single_active_replication": boolean(),
    },
}
NAME_PARAM = Param("name", string(), 'Deprecated, use "q" instead: the policy\'s name')


# -- rendering ------------------------------------------------------------------------------------
def render(svc: ManagementDependencies, policy: ReplicationPolicy, registries: dict | None = None) -> dict:
    registries = registries if registries is not None else {r.registry_id: r for r in svc.registries.list()}
    return {
        "id": policy.policy_id,
        "name": policy.name,
        "description": policy.description,
        "src_registry": _registry(svc, policy.src_registry_id, registries),
        "dest_registry": _registry(svc, policy.dest_registry_id, registries),
        "dest_namespace": policy.dest_namespace,
        "dest_namespace_replace_count": policy.dest_namespace_replace_count,
        "trigger": {"type": policy.trigger, "trigger_settings": {"cron": policy.cron}},
        "filters": [{"type": f.type, "value": list(f.value) if isinstance(f.value, tuple) else f.value,
                     "decoration": f.decoration} for f in policy.filters],
        "replicate_deletion": policy.replicate_deletion,
        "deletion": policy.replicate_deletion,
        "override": policy.override,
        "enabled": policy.enabled,
        "creation_time": iso(policy.created),
        "update_time": iso(policy.updated),
        "speed": policy.speed,
        "copy_by_chunk": policy.copy_by_chunk,
        "single_active_replication": policy.single_active_replication,
    }


def _registry(svc: ManagementDependencies, registry_id: int, registries: dict) -> dict:
    if registry_id == LOCAL:
        # Harbor's "Local" registry: this one
        return {"id": 0, "name": "Local", "type": "harbor", "url": svc.settings.public_url, "insecure": False,
                "description": "", "status": "healthy", "creation_time": iso(0), "update_time": iso(0)}
    found = registries.get(registry_id)
    return endpoints.render(found) if found else {"id": registry_id, "name": "", "status": "unknown"}


# -- handlers ---------------------------------------------------------------------------------------
@operation(
    "ListReplicationPolicies",
    "The replication policies",
    "replication",
    response={"type": "array", "items": POLICY},
    params=(*PAGING, NAME_PARAM),
    errors=(400, 403),
    paged=True,
)
def list_replication_policies(svc: ManagementDependencies, req: Request) -> Response:
    require_admin(req)
    page = paging.page_args(req)
    conditions = paging.query_args(req, ("name", "enabled"), {"name": "name"})
    fields = {"name": lambda p: p.name, "enabled": lambda p: str(p.enabled).lower()}
    found = paging.filtered(svc.replication_policies.list(), conditions, fields)
    order = paging.sort_args(req, ("name", "id", "creation_time", "update_time"), "id")
    found = paging.sorted_by(found, order, {"name": lambda p: p.name, "id": lambda p: p.policy_id,
                                            "creation_time": lambda p: p.created, "update_time": lambda p: p.updated})
    registries = {r.registry_id: r for r in svc.registries.list()}
    return paging.paged(req, found, lambda p: render(svc, p, registries), page)


@operation(
    "CreateReplicationPolicy",
    "Create a replication policy (push-based: src_registry empty; pull-based: dest_registry empty)",
    "replication",
    ok=201,
    body=POLICY_IN,
    location=True,
    errors=(400, 403, 409),
)
def create_replication_policy(svc: ManagementDependencies, req: Request, body: dict) -> Response:
    require_admin(req)
    policy = checked(svc, from_body(body, creator=caller(req).name))
    try:
        created = svc.replication_policies.create(policy)
    except PolicyNameTaken:
        raise AlreadyExists(f"a replication policy named {policy.name} exists already") from None
    try:  # a scheduled policy's schedule; without it, no policy either
        scheduled.follow(svc.schedules, created)
    except Exception:
        svc.replication_policies.delete(created)
        raise
    return Response.empty(201, {"Location": f"{paging.API_BASE}/replication/policies/{created.policy_id}"})


@operation("GetReplicationPolicy", "One replication policy", "replication", response=POLICY, errors=(400, 403, 404))
def get_replication_policy(svc: ManagementDependencies, req: Request, policy_id: int) -> Response:
    require_admin(req)
    return Response.json(200, render(svc, find(svc, policy_id)))


@operation("UpdateReplicationPolicy", "Replace a replication policy", "replication", body=POLICY_IN,
           errors=(400, 403, 404, 409))
def update_replication_policy(svc: ManagementDependencies, req: Request, policy_id: int, body: dict) -> Response:
    require_admin(req)
    current = find(svc, policy_id)
    policy = checked(svc, replace(from_body(body, creator=current.creator), policy_id=current.policy_id))
    # the schedule first: if the policy's write fails, the schedule goes back to the policy's
    scheduled.follow(svc.schedules, policy)
    try:
        svc.replication_policies.update(current, policy)
    except KeyError:
        scheduled.forget(svc.schedules, policy_id)
        raise NotFound(f"replication policy {policy_id} not found") from None
    except PolicyNameTaken:
        scheduled.follow(svc.schedules, current)
        raise AlreadyExists(f"a replication policy named {policy.name} exists already") from None
    except Exception:
        scheduled.follow(svc.schedules, current)
        raise
    return Response.empty(200)


@operation("DeleteReplicationPolicy", "Delete a replication policy", "replication", errors=(400, 403, 404))
def delete_replication_policy(svc: ManagementDependencies, req: Request, policy_id: int) -> Response:
    require_admin(req)
    svc.replication_policies.delete(find(svc, policy_id))
    # a schedule left by a failure here removes itself when it fires (replication/scheduled.py)
    scheduled.forget(svc.schedules, policy_id)
    return Response.empty(200)


# -- helpers ------------------------------------------------------------------------------------------
def find(svc: ManagementDependencies, policy_id: int) -> ReplicationPolicy:
    policy = svc.replication_policies.get(policy_id)
    if policy is None:
        raise NotFound(f"replication policy {policy_id} not found")
    return policy


def from_body(body: dict, *, creator: str) -> ReplicationPolicy:
    trigger = body.get("trigger") or {}
    count = body.get("dest_namespace_replace_count")
    speed = body.get("speed")
    return ReplicationPolicy(
        name=body["name"].strip(),
        description=body.get("description", ""),
        src_registry_id=int((body.get("src_registry") or {}).get("id") or LOCAL),
        dest_registry_id=int((body.get("dest_registry") or {}).get("id") or LOCAL),
        dest_namespace=body.get("dest_namespace", "").strip(),
        dest_namespace_replace_count=-1 if count is None else count,
        trigger=trigger.get("type") or "manual",
        cron=((trigger.get("trigger_settings") or {}).get("cron") or "").strip(),
        filters=tuple(_filter(f) for f in body.get("filters") or []),
        replicate_deletion=bool(body.get("replicate_deletion", body.get("deletion", False))),
        override=bool(body.get("override", False)),
        enabled=bool(body.get("enabled", False)),
        speed=0 if speed is None else speed,
        copy_by_chunk=bool(body.get("copy_by_chunk") or False),
        single_active_replication=bool(body.get("single_active_replication") or False),
        creator=creator,
    )


def _filter(value: dict) -> Filter:
    raw = value.get("value", "")
    if value.get("type") == "label":  # Harbor's: the label names, an array
        if raw in ("", None):
            raw = []
        if not isinstance(raw, list) or not all(isinstance(name, str) for name in raw):
            raise BadRequest("filter label: the type of the label filter value must be string slice")
        return Filter("label", tuple(dict.fromkeys(name.strip() for name in raw)), value.get("decoration") or "")
    if not isinstance(raw, str):
        raise BadRequest(f"filter {value.get('type')}: the type of filter value isn't string")
    return Filter(value["type"], raw.strip(), value.get("decoration") or "")


def checked(svc: ManagementDependencies, policy: ReplicationPolicy) -> ReplicationPolicy:
    """The policy if Harbor's rules, its registry's existence and the absence of a loop with
    another policy allow it; a BadRequest saying why not."""
    try:
        rules.check(policy)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if svc.registries.get(policy.remote_registry_id) is None:
        side = "dest_registry" if policy.push_based else "src_registry"
        raise BadRequest(f"{side}: registry {policy.remote_registry_id} not found")
    for other in svc.replication_policies.list():
        if other.policy_id != policy.policy_id and rules.loop_between(policy, other):
            raise BadRequest(f"this policy and policy {other.name} (id {other.policy_id}) would replicate in a loop: "
                             "what one copies to the registry, the other copies back")
    return policy
