"""/projects/{p}/immutabletagrules: Harbor's tag immutability rules of a project.

Project admins manage them (`immutable.write`), maintainers read them. What a rule
means and how a pattern matches: chalicelib/immutability.py; where it is enforced:
chalicelib/artifacts.py, on every path that moves or deletes a tag.
"""
from __future__ import annotations

from chalicelib import immutability
from chalicelib.errors import InvalidRule
from chalicelib.management import paging
from chalicelib.management.access import project_for
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import BadRequest, NotFound
from chalicelib.management.schema import array, boolean, integer, obj, string
from chalicelib.management.spec import IS_RESOURCE_NAME, PAGING, operation
from chalicelib.web.http import Request, Response

SELECTOR = obj(
    {"kind": string(maxLength=32), "decoration": string(maxLength=32), "pattern": string(maxLength=1024), "extras": string(maxLength=1024)}
)
RULE = obj(
    {
        "id": integer(),
        "priority": integer(),
        "disabled": boolean(),
        "action": string(maxLength=64),
        "template": string(maxLength=64),
        "params": {"type": "object", "additionalProperties": {"type": "object"}},
        "tag_selectors": array(SELECTOR, maxItems=10),
        "scope_selectors": {"type": "object", "additionalProperties": array(SELECTOR, maxItems=10)},
    }
)
RULE_OUT = {**RULE, "additionalProperties": True}


@operation(
    "ListImmuRules",
    "The tag immutability rules of a project",
    "immutable",
    response={"type": "array", "items": RULE_OUT},
    params=PAGING + (IS_RESOURCE_NAME,),
    errors=(400, 403, 404),
    paged=True,
)
def list_immutable_rules(svc: ManagementDependencies, req: Request, project_name_or_id: str) -> Response:
    project = project_for(svc, req, project_name_or_id, "immutable.read")
    page = paging.page_args(req)
    rules = sorted(svc.immutable_rules.get(project.name).rules, key=lambda r: r["id"])
    return paging.paged(req, rules, lambda r: r, page)


@operation(
    "CreateImmuRule",
    "Add a tag immutability rule to a project",
    "immutable",
    ok=201,
    body=RULE,
    location=True,
    params=(IS_RESOURCE_NAME,),
    errors=(400, 403, 404, 409),
)
def create_immutable_rule(svc: ManagementDependencies, req: Request, project_name_or_id: str, body: dict) -> Response:
    project = project_for(svc, req, project_name_or_id, "immutable.write")
    current = svc.immutable_rules.get(project.name)
    if len(current.rules) >= immutability.MAX_RULES:
        raise BadRequest(f"a project has at most {immutability.MAX_RULES} immutability rules")
    rule_id = current.last_id + 1
    rule = immutability.normalize(body, rule_id)
    svc.immutable_rules.save(project.name, current, [*current.rules, rule], rule_id)
    location = f"{paging.API_BASE}/projects/{project.project_id}/immutabletagrules/{rule_id}"
    return Response.empty(201, {"Location": location})


@operation(
    "UpdateImmuRule",
    "Change a tag immutability rule (or disable it)",
    "immutable",
    body=RULE,
    params=(IS_RESOURCE_NAME,),
    errors=(400, 403, 404, 409),
)
def update_immutable_rule(svc: ManagementDependencies, req: Request, project_name_or_id: str, immutable_rule_id: int, body: dict) -> Response:
    project = project_for(svc, req, project_name_or_id, "immutable.write")
    if body.get("id") not in (None, 0, immutable_rule_id):
        raise InvalidRule("the immutable_rule_id doesn't match the id in the payload body of ImmutableRule")
    current = svc.immutable_rules.get(project.name)
    if immutable_rule_id not in [r["id"] for r in current.rules]:
        raise NotFound(f"the immutable tag rule is not found id:{immutable_rule_id}")
    old = next(r for r in current.rules if r["id"] == immutable_rule_id)
    rule = immutability.normalize({**old, **body}, immutable_rule_id)
    rules = [rule if r["id"] == immutable_rule_id else r for r in current.rules]
    svc.immutable_rules.save(project.name, current, rules, current.last_id)
    return Response.empty(200)


@operation(
    "DeleteImmuRule",
    "Remove a tag immutability rule",
    "immutable",
    params=(IS_RESOURCE_NAME,),
    errors=(400, 403, 404, 409),
)
def delete_immutable_rule(svc: ManagementDependencies, req: Request, project_name_or_id: str, immutable_rule_id: int) -> Response:
    project = project_for(svc, req, project_name_or_id, "immutable.write")
    current = svc.immutable_rules.get(project.name)
    rules = [r for r in current.rules if r["id"] != immutable_rule_id]
    if len(rules) == len(current.rules):
        raise NotFound(f"the immutable tag rule is not found id:{immutable_rule_id}")
    svc.immutable_rules.save(project.name, current, rules, current.last_id)
    return Response.empty(200)
