"""/projects/{p}/members: users and LDAP groups with a role in a project.
Reading needs `member.read`, changing `member.write` (chalicelib/roles.py)."""
from __future__ import annotations

from chalicelib.management import paging
from chalicelib.management.access import project_for
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import AlreadyExists, BadRequest, NotFound
from chalicelib.management.schema import integer, obj, string
from chalicelib.management.spec import CURSOR, IS_RESOURCE_NAME, PAGE, PAGE_SIZE, Param, operation
from chalicelib.meta.accounts import Member
from chalicelib.roles import Role
from chalicelib.web.http import Request, Response

ROLE_ID = integer(enum=[int(r) for r in Role])
MEMBER_REQ = obj(
    {
        "role_id": ROLE_ID,
        "member_user": obj({"user_id": integer(minimum=1), "username": string(maxLength=255)}),
        "member_group": obj(
            {
                "id": integer(),
                "group_name": string(maxLength=255),
                "group_type": integer(enum=[1]),
                "ldap_group_dn": string(maxLength=1024),
            }
        ),
    },
    required=("role_id",),
)
ROLE_REQ = obj({"role_id": ROLE_ID}, required=("role_id",))
MEMBER = {
    "type": "object",
    "properties": {
        "id": integer(),
        "project_id": integer(),
        "entity_name": string(),
        "role_name": string(),
        "role_id": integer(),
        "entity_id": integer(),
        "entity_type": string(enum=["u", "g"]),
    },
    "required": ["id", "project_id", "entity_name", "role_id", "entity_type"],
}


def render(member: Member, project_id: int, user_ids: dict[str, int]) -> dict:
    return {
        "id": member.member_id,
        "project_id": project_id,
        "entity_name": member.entity_name,
        "role_name": Role(member.role_id).harbor_name if member.role_id in set(Role) else "",
        "role_id": member.role_id,
        "entity_id": user_ids.get(member.entity_name, 0) if member.entity_type == "u" else 0,
        "entity_type": member.entity_type,
    }


def _user_ids(svc: ManagementDependencies, members: list[Member]) -> dict[str, int]:
    """The user members' ids: one BatchGetItem for the page."""
    names = [m.entity_name for m in members if m.entity_type == "u"]
    return {u.username: u.user_id for u in svc.accounts.users_named(names)} if names else {}


@operation(
    "listProjectMembers",
    "A project's members (users and groups)",
    "member",
    response={"type": "array", "items": MEMBER},
    params=(IS_RESOURCE_NAME, PAGE, PAGE_SIZE, CURSOR, Param("entityname", string(), "Part of the member's name")),
    errors=(400, 403, 404),
    paged=True,
)
def list_project_members(svc: ManagementDependencies, req: Request, project_name_or_id: str) -> Response:
    project = project_for(svc, req, project_name_or_id, "member.read")
    page = paging.page_args(req)
    needle = (req.arg("entityname") or "").lower()
    if not needle:  # Harbor's order (users by name, then groups): a page, and the project's counter
        total = svc.accounts.member_count(project.name)
        source = svc.accounts.members_in_order(project.name)
        return paging.keyed(req, source, total, lambda shown: _render_page(svc, project, shown), page)
    members = [m for m in svc.accounts.list_members(project.name) if needle in m.entity_name.lower()]
    shown = list(page.window(members))
    rendered = {m.member_id: body for m, body in zip(shown, _render_page(svc, project, shown))}
    return paging.paged(req, members, lambda m: rendered[m.member_id], page)


def _render_page(svc: ManagementDependencies, project, members: list[Member]) -> list[dict]:
    ids = _user_ids(svc, members)
    return [render(m, project.project_id, ids) for m in members]


@operation(
    "createProjectMember",
    "Give a user (member_user) or an LDAP group (member_group) a role in a project",
    "member",
    ok=201,
    body=MEMBER_REQ,
    location=True,
    params=(IS_RESOURCE_NAME,),
    errors=(400, 403, 404, 409),
)
def create_project_member(svc: ManagementDependencies, req: Request, project_name_or_id: str, body: dict) -> Response:
    project = project_for(svc, req, project_name_or_id, "member.write")
    user, group = body.get("member_user"), body.get("member_group")
    if (user is None) == (group is None):
        raise BadRequest("give exactly one of member_user and member_group")
    if user is not None:
        entity_type, name = "u", _username(svc, user)
    elif group is not None:
        entity_type, name = "g", _group_dn(group)
    if svc.accounts.get_member(project.name, entity_type, name) is not None:
        raise AlreadyExists(f"{name} is already a member of {project.name}")
    member = svc.accounts.add_member(project.name, Member(entity_type=entity_type, entity_name=name, role_id=body["role_id"]))
    return Response.empty(
        201, {"Location": f"{paging.API_BASE}/projects/{project.project_id}/members/{member.member_id}"}
    )


@operation(
    "getProjectMember",
    "One member of a project",
    "member",
    response=MEMBER,
    params=(IS_RESOURCE_NAME,),
    errors=(400, 403, 404),
)
def get_project_member(svc: ManagementDependencies, req: Request, project_name_or_id: str, mid: int) -> Response:
    project = project_for(svc, req, project_name_or_id, "member.read")
    member = _member(svc, project.name, mid)
    return Response.json(200, render(member, project.project_id, _user_ids(svc, [member])))


@operation(
    "updateProjectMember",
    "Change a member's role",
    "member",
    body=ROLE_REQ,
    params=(IS_RESOURCE_NAME,),
    errors=(400, 403, 404),
)
def update_project_member(svc: ManagementDependencies, req: Request, project_name_or_id: str, mid: int, body: dict) -> Response:
    project = project_for(svc, req, project_name_or_id, "member.write")
    member = _member(svc, project.name, mid)
    svc.accounts.update_member_role(project.name, member.entity_type, member.entity_name, body["role_id"])
    return Response.empty(200)


@operation(
    "deleteProjectMember",
    "Take a member's role away",
    "member",
    params=(IS_RESOURCE_NAME,),
    errors=(400, 403, 404),
)
def delete_project_member(svc: ManagementDependencies, req: Request, project_name_or_id: str, mid: int) -> Response:
    project = project_for(svc, req, project_name_or_id, "member.write")
    member = _member(svc, project.name, mid)
    svc.accounts.remove_member(project.name, member.entity_type, member.entity_name)
    return Response.empty(200)


def _member(svc: ManagementDependencies, project: str, mid: int) -> Member:
    member = svc.accounts.get_member_by_id(project, mid)
    if member is None:
        raise NotFound(f"member {mid} not found in project {project}")
    return member


def _username(svc: ManagementDependencies, user: dict) -> str:
    if user.get("user_id") is not None:
        found = svc.accounts.get_user_by_id(user["user_id"])
        if found is None or (user.get("username") not in (None, "", found.username)):
            raise NotFound(f"user {user['user_id']} not found")
        return found.username
    name = user.get("username") or ""
    if not name:
        raise BadRequest("member_user needs user_id or username")
    if svc.accounts.get_user(name) is None:
        raise NotFound(f"user {name[:100]} not found")
    return name


def _group_dn(group: dict) -> str:
    dn = (group.get("ldap_group_dn") or "").strip()
    if not dn:
        raise BadRequest("member_group needs ldap_group_dn (LDAP groups are the only groups)")
    if any(ord(c) < 32 for c in dn):
        raise BadRequest("ldap_group_dn must not contain control characters")
    return dn
