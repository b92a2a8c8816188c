"""/users: local accounts, as Harbor's user API. Password hashes never leave
the store; a user sees and edits their own profile, a system administrator
everyone's."""
from __future__ import annotations

import re

from chalicelib.auth.passwords import validate_password_strength, verify_password
from chalicelib.errors import Unauthorized
from chalicelib.management import paging
from chalicelib.management.access import caller, is_admin, require_admin, require_user
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import BadRequest, Forbidden, NotFound
from chalicelib.management.schema import DATE_TIME, boolean, integer, obj, string
from chalicelib.management.spec import PAGE, PAGE_SIZE, PAGING, Param, operation
from chalicelib.management.times import iso
from chalicelib.meta.accounts import User
from chalicelib.web.http import Request, Response

# Harbor's rules (src/server/v2.0/handler/user.go)
_ILLEGAL = set(',~#$%')
_EMAIL = re.compile(
    r'^(([^<>()\[\]\\.,;:\s@"]+(\.[^<>()\[\]\\.,;:\s@"]+)*)|(".+"))@'
    r"((\[[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\])|(([a-zA-Z\-0-9]+\.)+[a-zA-Z]{2,}))$"
)
MAX_COMMENT = 30

USER = {
    "type": "object",
    "properties": {
        "user_id": integer(),
        "username": string(),
        "email": string(),
        "realname": string(),
        "comment": string(),
        "sysadmin_flag": boolean(),
        "admin_role_in_auth": boolean(),
        "creation_time": DATE_TIME,
        "update_time": DATE_TIME,
    },
    "required": ["user_id", "username", "sysadmin_flag"],
}
USER_SEARCH_ITEM = {"type": "object", "properties": {"user_id": integer(), "username": string()}, "required": ["user_id", "username"]}
USER_CREATE = obj(
    {
        "username": string(minLength=1, maxLength=255),
        "password": string(minLength=1, maxLength=1024),
        "email": string(maxLength=255),
        "realname": string(maxLength=255),
        "comment": string(maxLength=MAX_COMMENT),
    },
    required=("username", "password"),
)
USER_PROFILE = obj(
    {"email": string(maxLength=255), "realname": string(maxLength=255), "comment": string(maxLength=MAX_COMMENT)}
)
PASSWORD_REQ = obj(
    {"old_password": string(maxLength=1024), "new_password": string(minLength=1, maxLength=1024)},
    required=("new_password",),
)
SYSADMIN_FLAG = obj({"sysadmin_flag": boolean()}, required=("sysadmin_flag",))


def render(user: User) -> dict:
    return {
        "user_id": user.user_id,
        "username": user.username,
        "email": user.email or "",
        "realname": user.realname or "",
        "comment": user.comment or "",
        "sysadmin_flag": bool(user.sysadmin),
        "admin_role_in_auth": False,
        "creation_time": iso(user.created),
        "update_time": iso(user.updated),
    }


# -- handlers -------------------------------------------------------------------------------
@operation("getCurrentUserInfo", "The caller's own profile", "user", response=USER, errors=(403,))
def get_current_user(svc: ManagementDependencies, req: Request) -> Response:
    principal = require_user(req)
    user = svc.accounts.get_user(principal.name)
    if user is None:  # deleted between login and here
        raise NotFound("the current user no longer exists")
    return Response.json(200, render(user))


@operation(
    "searchUsers",
    "Find users by a part of their name (any logged-in user; not robots)",
    "user",
    response={"type": "array", "items": USER_SEARCH_ITEM},
    params=(PAGE, PAGE_SIZE, Param("username", string(), "Part of the username", required=True)),
    errors=(400, 403),
    paged=True,
)
def search_users(svc: ManagementDependencies, req: Request) -> Response:
    require_user(req)  # robots may not learn who the users are
    page = paging.page_args(req)
    needle = req.arg("username")
    if not needle:
        raise BadRequest("username is required")
    found = [u for u in _all_users(svc) if needle in u.username]
    return paging.paged(req, found, lambda u: {"user_id": u.user_id, "username": u.username}, page)


_FIELDS = {
    "username": lambda u: u.username,
    "email": lambda u: u.email or "",
    "user_id": lambda u: u.user_id,
    "creation_time": lambda u: u.created,
    "update_time": lambda u: u.updated,
}


@operation(
    "listUsers",
    "List users (system administrators)",
    "user",
    response={"type": "array", "items": USER},
    params=PAGING,
    errors=(400, 403),
    paged=True,
)
def list_users(svc: ManagementDependencies, req: Request) -> Response:
    require_admin(req)
    page = paging.page_args(req)
    conditions = paging.query_args(req, ("username", "email", "user_id"))
    order = paging.sort_args(req, _FIELDS, "username")
    if paging.by_key_order(req, "username"):  # Harbor's default order: a page, a counter
        total = svc.accounts.user_count()
        return paging.keyed(req, svc.accounts.users_in_order(), total, lambda users: [render(u) for u in users], page)
    users = paging.sorted_by(paging.filtered(_all_users(svc), conditions, _FIELDS), order, _FIELDS)
    return paging.paged(req, users, render, page)


@operation(
    "createUser",
    "Create a local user: system administrators, or anyone when self-registration is on",
    "user",
    ok=201,
    body=USER_CREATE,
    location=True,
    errors=(400, 403, 409),
)
def create_user(svc: ManagementDependencies, req: Request, body: dict) -> Response:
    config = svc.runtime_config
    if not is_admin(req) and not config.typed("self_registration"):
        if req.identity is None:
            raise Unauthorized("log in as a system administrator to create users")
        raise Forbidden("only a system administrator may create users (self-registration is off)")
    if config.auth_mode != "db_auth":
        raise Forbidden(f"users are created by the identity provider in {config.auth_mode} mode")
    username = _check_username(body["username"])
    email = _check_email(body.get("email", ""))
    realname = _check_text("realname", body.get("realname", ""))
    problem = validate_password_strength(body["password"])
    if problem:
        raise BadRequest(problem)
    user = svc.accounts.create_user(
        User(
            username=username,
            email=email,
            realname=realname,
            comment=body.get("comment", ""),
            password_hash=svc.passwords.hash(body["password"]),
            source="db",
        )
    )
    return Response.empty(201, {"Location": f"{paging.API_BASE}/users/{user.user_id}"})



@operation("getUser", "A user's profile (the user or a system administrator)", "user", response=USER, errors=(400, 403, 404))
def get_user(svc: ManagementDependencies, req: Request, user_id: int) -> Response:
    return Response.json(200, render(_user_for(svc, req, user_id)))


@operation(
    "updateUserProfile",
    "Change a user's email, realname or comment",
    "user",
    body=USER_PROFILE,
    errors=(400, 403, 404),
)
def update_user_profile(svc: ManagementDependencies, req: Request, user_id: int, body: dict) -> Response:
    user = _user_for(svc, req, user_id)
    changes = {}
    if "email" in body:
        changes["email"] = _check_email(body["email"])
    if "realname" in body:
        changes["realname"] = _check_text("realname", body["realname"])
    if "comment" in body:
        changes["comment"] = body["comment"]
    if changes:
        svc.accounts.update_user(user.username, **changes)
    return Response.empty(200)


@operation("deleteUser", "Delete a user with their memberships (system administrators)", "user", errors=(400, 403, 404))
def delete_user(svc: ManagementDependencies, req: Request, user_id: int) -> Response:
    principal = require_admin(req)
    user = _user_by_id(svc, user_id)
    if user.username == principal.name:
        raise Forbidden("you cannot delete yourself")
    svc.accounts.delete_user(user.username)
    return Response.empty(200)


@operation(
    "updateUserPassword",
    "Change a password: users their own (with the old one), system administrators anyone's",
    "user",
    body=PASSWORD_REQ,
    errors=(400, 403, 404),
)
def update_user_password(svc: ManagementDependencies, req: Request, user_id: int, body: dict) -> Response:
    user = _user_for(svc, req, user_id)
    own = user.username == caller(req).name
    if user.source != "db" or not user.password_hash:
        raise Forbidden(f"{user.username}'s password is kept by the identity provider")
    new = body["new_password"]
    if own or not is_admin(req):
        old = body.get("old_password")
        if not old:
            raise BadRequest("old_password is required")
        if not verify_password(old, user.password_hash):
            raise Forbidden("the old password is not correct")
    problem = validate_password_strength(new)
    if problem:
        raise BadRequest(problem)
    if verify_password(new, user.password_hash):
        raise BadRequest("the new password must differ from the old one")
    svc.accounts.set_password(user.username, svc.passwords.hash(new))
    return Response.empty(200)


@operation(
    "setUserSysAdmin",
    "Make a user a system administrator, or not (system administrators)",
    "user",
    body=SYSADMIN_FLAG,
    errors=(400, 403, 404),
)
def set_user_sysadmin(svc: ManagementDependencies, req: Request, user_id: int, body: dict) -> Response:
    principal = require_admin(req)
    user = _user_by_id(svc, user_id)
    if user.username == principal.name:
        raise Forbidden("you cannot change your own administrator flag")
    svc.accounts.update_user(user.username, sysadmin=bool(body["sysadmin_flag"]))
    return Response.empty(200)


# -- helpers ----------------------------------------------------------------------------------
def _all_users(svc: ManagementDependencies) -> list[User]:
    out: list[User] = []
    last = None
    while True:
        page, more = svc.accounts.list_users(last=last, limit=100)
        out.extend(page)
        if not more or not page:
            return out
        last = page[-1].username


def _user_by_id(svc: ManagementDependencies, user_id: int) -> User:
    user = svc.accounts.get_user_by_id(user_id) if 0 < user_id < 2**63 else None
    if user is None:
        raise NotFound(f"user {user_id} not found")
    return user


def _user_for(svc: ManagementDependencies, req: Request, user_id: int) -> User:
    """The user, if the caller is that user or a system administrator."""
    principal = require_user(req)
    if is_admin(req):
        return _user_by_id(svc, user_id)
    user = svc.accounts.get_user(principal.name)
    if user is None or user.user_id != user_id:
        raise Forbidden("you may only see and change your own account")
    return user


def _check_username(name: str) -> str:
    """Harbor's rules on the name as stored: NFKC, with no invisible, control or
    bidirectional-control character (chalicelib/meta/account_names.py). Uniqueness, up to
    case and confusable characters, is the store's (a 409)."""
    from chalicelib.meta.account_names import BadName, normalise

    try:
        name = normalise(name)
    except BadName as exc:
        raise BadRequest(f"username: {exc}") from None
    if not name.strip() or name != name.strip():
        raise BadRequest("username must not be blank or start or end with spaces")
    bad = _ILLEGAL.intersection(name) | {c for c in name if ord(c) < 32 or c == ":"}
    if bad:
        raise BadRequest(f"username must not contain {' '.join(sorted(repr(c) for c in bad))}")
    if name.startswith("robot$"):
        raise BadRequest("usernames starting with robot$ are robot accounts")
    return name


def _check_email(email: str) -> str:
    if email and not _EMAIL.match(email):
        raise BadRequest("email is not a valid address")
    return email


def _check_text(field: str, value: str) -> str:
    bad = _ILLEGAL.intersection(value) | {c for c in value if ord(c) < 32}
    if bad:
        raise BadRequest(f"{field} must not contain {' '.join(sorted(repr(c) for c in bad))}")
    return value
