"""Harbor-style accounts in DynamoDB: users, projects, members and robot accounts.

Key layout in chalicelib/meta/keys.py. Each member and project robot is counted
(`refs`) on the items it hangs from: its project, and for a user member the
user. A project or user is deleted in the same transaction as its last
dependent, on condition that the count is the one just read. So no grant
outlives its project or user, and a project or user created again under an old
name never inherits the old one's members or robots.

Item attributes avoid DynamoDB's reserved words (comment, source, public, owner,
project, level, permissions, name, ...), so every read can name them in a plain
projection, BatchGetItem's included.

`AccountStore` is the contract the domain and the APIs are written against;
`DynamoAccounts` keeps it in DynamoDB, `MemoryAccounts` in memory (for fast tests of the
code that uses it); tests/contract/test_account_store.py runs the same suite over both.
Other stores' removals joining a project's deletion (`Op`) and another store's read
joining a login's (`Read`) are opaque values of the same backend.
"""
from __future__ import annotations

import copy
import json
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import MISSING, dataclass, field, replace
from dataclasses import fields as dataclass_fields
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from botocore.exceptions import ClientError

from chalicelib.errors import BerthError, Conflict
from chalicelib.meta import keys, outbox_items
from chalicelib.meta.table import (
    ItemsRead,
    KeyRange,
    Table,
    count_op,
    delete_op,
    is_condition_failure,
    marshal,
    merge_count_ops,
    put_op,
    unmarshal,
    update_op,
)
from chalicelib.roles import Role, best


class AccountNotFound(BerthError):
    """no such user, project, member or robot account"""


class NameTaken(Conflict):
    """the name is another account's, or looks like it (case, confusable characters)"""


USER_SOURCES = ("db", "ldap")
ENTITY_TYPES = ("u", "g")
ROBOT_LEVELS = ("project", "system")
ROBOT_PREFIX = "robot$"
NEVER = -1  # a robot's expiry when it does not expire
# an operation of another store's removal, joining a project's deletion (opaque: the
# domain hands it on; docs/decisions/store-operations-in-other-transactions.md)
Op = Any

_NEW = "attribute_not_exists(PK)"
_EXISTS = "attribute_exists(PK)"
_REFS = "refs"
_MAX_TRANSACTION = 100
_RETRIES = 5
_SK_MAX = "\U0010ffff"
_ROLE_IDS = frozenset(r.value for r in Role)
_R = TypeVar("_R")


@dataclass
class User:
    username: str
    email: str = ""
    realname: str = ""
    comment: str = ""
    password_hash: str | None = None  # None for LDAP users
    sysadmin: bool = False
    source: str = "db"  # "db" | "ldap"
    ldap_dn: str | None = None
    groups: list[str] = field(default_factory=list)  # group DNs from LDAP
    user_id: int = 0  # 0: allocate on create
    password_version: int = 0  # bumped by every password change
    # random, replaced on every password change and demotion (and gone with a
    # deleted user): what sessions, refresh tokens and cached credentials are bound to
    epoch: str = ""
    created: int = 0
    updated: int = 0




@dataclass
class Project:
    name: str
    project_id: int = 0  # 0: allocate on create
    public: bool = False
    owner: str = ""
    metadata: dict[str, str] = field(default_factory=dict)  # Harbor's, "public" kept equal to `public`
    created: int = 0
    updated: int = 0
    registry_id: int = 0  # Harbor's proxy cache: the upstream registry (0: a normal project)




@dataclass
class Member:
    entity_type: str  # "u" (user) | "g" (LDAP group, by DN)
    entity_name: str
    role_id: int
    member_id: int = 0  # 0: allocate on add
    created: int = 0
    project: str = ""  # set by add_member


    @property
    def role(self) -> Role:
        return Role(self.role_id)


@dataclass
class Robot:
    full_name: str  # robot$<project>+<name> or robot$<name>
    secret_hash: str
    level: str = "system"  # "project" | "system"
    project: str | None = None  # project level only
    permissions: str = "[]"  # JSON: [{"kind","namespace","access":[{"resource","action"}]}]
    description: str = ""
    expiry: int = NEVER  # epoch seconds (Harbor's expires_at; that name is the table's TTL attribute)
    disabled: bool = False
    creator: str = ""
    robot_id: int = 0  # 0: allocate on create
    epoch: str = ""  # as a user's: replaced with the secret, on disable and on a change of permissions
    created: int = 0
    updated: int = 0


    def __post_init__(self) -> None:
        if not isinstance(self.permissions, str):
            self.permissions = _permissions_json(self.permissions)

    @property
    def name(self) -> str:
        """The login name, as Harbor's API shows it: the full name."""
        return self.full_name

    @property
    def short_name(self) -> str:
        """The name without prefix and project."""
        rest = self.full_name[len(ROBOT_PREFIX) :]
        return rest.split("+", 1)[1] if self.level == "project" else rest

    @property
    def access(self) -> list[dict[str, Any]]:
        return json.loads(self.permissions)

    def is_expired(self, now: float) -> bool:
        return self.expiry != NEVER and now >= self.expiry



def robot_full_name(name: str, project: str | None = None) -> str:
    return f"{ROBOT_PREFIX}{project}+{name}" if project else f"{ROBOT_PREFIX}{name}"


# -- the records as DynamoDB items (DynamoAccounts' only) ----------------------------------
# record type -> field -> item attribute
ATTRIBUTES: dict[type, dict[str, str]] = {
    User: {
            "username": "username",
            "email": "email",
            "realname": "realname",
            "comment": "user_comment",
            "password_hash": "password_hash",
            "sysadmin": "sysadmin",
            "source": "auth_source",
            "ldap_dn": "ldap_dn",
            "groups": "ldap_groups",
            "user_id": "user_id",
            "password_version": "password_version",
            "epoch": "account_epoch",
            "created": "created",
            "updated": "updated",
    },
    Project: {
            "name": "project_name",
            "project_id": "project_id",
            "public": "is_public",
            "owner": "owner_name",
            "metadata": "metadata",
            "created": "created",
            "updated": "updated",
            "registry_id": "registry_id",
    },
    Member: {
            "entity_type": "entity_type",
            "entity_name": "entity_name",
            "role_id": "role_id",
            "member_id": "member_id",
            "created": "created",
            "project": "project_name",
    },
    Robot: {
            "full_name": "robot_name",
            "secret_hash": "secret_hash",
            "level": "robot_level",
            "project": "project_name",
            "permissions": "permissions_json",
            "description": "description",
            "expiry": "expiry",
            "disabled": "disabled",
            "creator": "creator",
            "robot_id": "robot_id",
            "epoch": "account_epoch",
            "created": "created",
            "updated": "updated",
    },
}


def from_item(record: type[_R], item: dict[str, Any]) -> _R:
    """The record an item holds (an attribute it lacks: the field's default)."""
    return record(**{f: item[attr] for f, attr in ATTRIBUTES[record].items() if attr in item})


def item_of(record: User | Project | Member | Robot) -> dict[str, Any]:
    """The record's item: its key and its attributes."""
    if isinstance(record, User):
        key = keys.user_pk(record.username), keys.USER_SK
    elif isinstance(record, Project):
        key = keys.project_pk(record.name), keys.PROJECT_SK
    elif isinstance(record, Member):
        key = keys.project_pk(record.project), keys.member_sk(record.entity_type, record.entity_name)
    else:
        key = keys.robot_pk(record.full_name), keys.ROBOT_SK
    return {"PK": key[0], "SK": key[1], **{attr: getattr(record, f) for f, attr in ATTRIBUTES[type(record)].items()}}


def reverse_item(member: Member) -> dict[str, Any]:
    """The user's side of a user membership: which projects, without a scan."""
    return {
        "PK": keys.user_pk(member.entity_name),
        "SK": keys.member_of_sk(member.project),
        "project_name": member.project,
        "role_id": member.role_id,
        "member_id": member.member_id,
    }


@dataclass
class AccessContext:
    """What the token service needs to grant access, read at once (one BatchGetItem)."""

    user: User | None
    projects: dict[str, Project]  # the requested projects that exist
    roles: dict[str, list[Role]]  # project -> the user's own role and their groups' roles
    also: Any = None  # the answer to another store's read (`Read`), for that store

    def role(self, project: str) -> Role | None:
        return best(self.roles.get(project, []))


# A read of another store's items, made in the same call as this store's (a login's throttling
# counters with its account: chalicelib/auth/login_gate.py). The other store builds it for
# this store's backend (DynamoDB: a table.ItemsRead; in memory: a callable) and reads the
# answer (AccessContext.also, robot_with's second value); the caller only hands them on.
Read = Any


class Listed(Protocol):
    """A list in key order, paged by chalicelib/management/paging.py (its KeyedList): keys
    only, or (key, record) pairs, after a key."""

    def keys(self, after: str | None, limit: int) -> list[str]: ...

    def rows(self, after: str | None, limit: int) -> list[tuple[str, Any]]: ...


class AccountStore(Protocol):
    """Users, projects, members (users and LDAP groups), robot accounts and the names they
    hold. Every write is all or nothing: a failed condition is the domain error named on
    the method (Conflict, NameTaken, AccountNotFound), a lost race with another write
    Conflict. Lists are in name order (a string's code points)."""

    # -- users
    def create_user(self, user: User) -> User:
        """Store a new user with a new id and epoch; Conflict if the name is a user's,
        NameTaken if it looks like an account's (case, confusables); BadName (a ValueError)
        if it is not in normal form, ValueError for an unknown source."""
        ...

    def owner_of_name(self, name: str) -> tuple[str, str] | None:
        """("user" | "robot", stored name) of the account whose name is `name` up to case and
        confusable characters (the exact one first); None if no account's is."""
        ...

    def get_user(self, username: str) -> User | None: ...

    def get_user_by_id(self, user_id: int) -> User | None: ...

    def update_user(self, username: str, /, **fields: Any) -> User:
        """Change profile fields (email, realname, comment, sysadmin, source, ldap_dn, groups;
        ValueError for others); a field set to None goes back to its default. A demotion
        replaces the epoch. AccountNotFound if there is no such user."""
        ...

    def set_password(self, username: str, password_hash: str) -> User:
        """A new hash, password_version + 1 and a new epoch; AccountNotFound if no such user."""
        ...

    def delete_user(self, username: str) -> None:
        """Delete the user with their memberships and their name; AccountNotFound."""
        ...

    def list_users(self, last: str | None = None, limit: int = 100) -> tuple[list[User], bool]:
        """Up to `limit` users after `last`, and whether more follow (ValueError if limit < 1)."""
        ...

    def list_memberships(self, username: str) -> dict[str, int]:
        """project -> role id, of the user's own memberships (not their groups'), by project."""
        ...

    def users_named(self, names: Iterable[str]) -> list[User]:
        """These users (those that exist), by name."""
        ...

    def users_in_order(self) -> Listed: ...

    def user_count(self) -> int: ...

    # -- projects
    def create_project(self, project: Project, *, admin: str | None = None) -> Project:
        """Store a new project with a new id (public if `public` or metadata["public"] says
        so; both then agree) and its project.created event; `admin`: that user is made
        its project admin in the same write. Conflict if the project exists;
        AccountNotFound if `admin` is no user (nothing is written)."""
        ...

    def get_project(self, name: str) -> Project | None: ...

    def get_project_by_id(self, project_id: int) -> Project | None: ...

    def update_project(self, name: str, public: bool | None = None,
                       metadata: dict[str, str | None] | None = None) -> Project:
        """Merge `metadata` into the project's (None removes a key, but "public", which
        mirrors `public`); an explicit `public` wins over metadata["public"].
        AccountNotFound if there is no such project."""
        ...

    def delete_project(self, name: str, also: Iterable[Op] = ()) -> None:
        """Delete the project with its members, its robot accounts (and their names) and
        its project.deleted event, and `also` (other stores' removals of the project's own
        data, opaque operations of the same backend) in the same last write.
        AccountNotFound if there is no such project."""
        ...

    def project_names(self) -> list[str]: ...

    def public_project_names(self) -> list[str]: ...

    def list_projects(self, last: str | None = None, limit: int = 100) -> tuple[list[Project], bool]:
        """Up to `limit` projects after `last`, and whether more follow (ValueError if limit < 1)."""
        ...

    def all_projects(self) -> list[Project]: ...

    def projects_named(self, names: Iterable[str]) -> list[Project]:
        """These projects (those that exist), by name."""
        ...

    def projects_in_order(self, *, public_only: bool = False) -> Listed: ...

    def project_count(self, *, public_only: bool = False) -> int: ...

    # -- members: a user by name, an LDAP group by DN (compared without case)
    def add_member(self, project: str, member: Member) -> Member:
        """Add with a new member id; Conflict if the entity is a member already;
        AccountNotFound if the project, or a user member's user, does not exist; ValueError
        for an unknown entity type or role."""
        ...

    def get_member(self, project: str, entity_type: str, entity_name: str) -> Member | None: ...

    def get_member_by_id(self, project: str, member_id: int) -> Member | None: ...

    def update_member_role(self, project: str, entity_type: str, entity_name: str, role_id: int) -> Member:
        """AccountNotFound if no such member; ValueError for an unknown role."""
        ...

    def remove_member(self, project: str, entity_type: str, entity_name: str) -> None:
        """AccountNotFound if no such member."""
        ...

    def list_members(self, project: str) -> list[Member]:
        """Groups by DN, then users by name (the order of members_in_order)."""
        ...

    def members_in_order(self, project: str) -> Listed: ...

    def member_count(self, project: str) -> int: ...

    # -- what a login and a token need, in one read
    def access_context(self, username: str | None, groups: Iterable[str], projects: Iterable[str], *,
                       also: Read | None = None) -> AccessContext:
        """The user, the projects that exist, and every role the user holds in them, directly
        or through one of `groups`; `also`: another store's read, answered in `.also`."""
        ...

    def robot_with(self, full_name: str, also: Read) -> tuple[Robot | None, Any]:
        """The robot, and the answer to another store's read (`also`)."""
        ...

    # -- robots
    def create_robot(self, robot: Robot) -> Robot:
        """Store a new robot with a new id and epoch; Conflict if the name is a robot's,
        NameTaken if it looks like an account's; AccountNotFound if a project robot's
        project does not exist; ValueError if name, level and project disagree."""
        ...

    def get_robot(self, full_name: str) -> Robot | None: ...

    def get_robot_by_id(self, robot_id: int) -> Robot | None: ...

    def update_robot(self, full_name: str, /, **fields: Any) -> Robot:
        """Change secret_hash, permissions, description, expiry or disabled (ValueError for
        others); a new secret, new permissions or disabling replace the epoch.
        AccountNotFound if there is no such robot."""
        ...

    def delete_robot(self, full_name: str) -> None:
        """AccountNotFound if there is no such robot."""
        ...

    def list_robots(self, project: str | None = None, last: str | None = None,
                    limit: int = 100) -> tuple[list[Robot], bool]:
        """All robots, or one project's, after `last` in full-name order, and whether more follow."""
        ...

    def robots_in_order(self, project: str | None = None) -> Listed: ...

    def robot_count(self, project: str | None = None) -> int:
        """All robots, or one project's."""
        ...


# every attribute any account item carries, for reads that fetch several kinds at once
ACCOUNT_ATTRIBUTES = ", ".join(
    dict.fromkeys(
        ["PK", "SK"]
        + [a for record in (User, Project, Member, Robot) for a in ATTRIBUTES[record].values()]
    )
)


class DynamoAccounts:
    def __init__(self, table: Table, clock: Callable[[], float], events: Any = None):
        self._t = table
        self._clock = clock
        # an Outbox (chalicelib/events/outbox.py): project events join their transactions
        # as outbox items (outbox_items.py)
        self._events = events

    def _project_event(self, kind: str, project: Project) -> list[tuple[dict[str, Any], BerthError | None]]:
        if self._events is None:
            return []
        data = {"project": project.name, "project_id": project.project_id, "public": project.public}
        return [(outbox_items.put(self._events.project_event(kind, project.name, data)), None)]

    # -- users -------------------------------------------------------------------------
    def create_user(self, user: User) -> User:
        if user.source not in USER_SOURCES:
            raise ValueError(f"user source must be one of {USER_SOURCES}")
        _check_name(user.username)
        now = self._now()
        user = replace(
            user,
            user_id=user.user_id or self._next_id("user"),
            epoch=user.epoch or new_epoch(),
            created=user.created or now,
            updated=now,
        )
        self._transact(
            [
                (put_op({**item_of(user), _REFS: 0}, _NEW), Conflict(f"user {user.username} already exists")),
                (put_op({"PK": keys.USERS_PK, "SK": user.username}), None),
                (put_op(_id_item("user", user.user_id, user.username), _NEW), Conflict(f"user id {user.user_id} is taken")),
                *[(op, _name_taken(user.username)) for op in _name_items("user", user.username)],
                (count_op(keys.USERS_LIST, 1), None),
            ]
        )
        return user

    def owner_of_name(self, name: str) -> tuple[str, str] | None:
        """(kind, stored name) of the account whose name is `name` up to case and
        confusable characters; None if no account's is."""
        from chalicelib.meta.account_names import keys as name_keys

        wanted = [(keys.name_pk(k), keys.NAME_SK) for k in name_keys(name)]
        found = {(i["PK"], i["SK"]): i for i in self._t.batch_get(wanted, projection="PK, SK, target, kind")}
        owners = [found[k] for k in wanted if k in found]
        exact = [i for i in owners if i.get("target") == name]
        item = (exact or owners)[0] if owners else None
        return (item.get("kind", ""), item["target"]) if item else None

    def get_user(self, username: str) -> User | None:
        item = self._t.get(keys.user_pk(username), keys.USER_SK, consistent=True)
        return from_item(User, item) if item else None

    def get_user_by_id(self, user_id: int) -> User | None:
        name = self._name_of("user", user_id)
        return self.get_user(name) if name is not None else None

    _USER_FIELDS = ("email", "realname", "comment", "sysadmin", "source", "ldap_dn", "groups")

    def update_user(self, username: str, /, **fields: Any) -> User:
        """Change profile fields; a field set to None is removed. Passwords: set_password."""
        _check_fields(fields, self._USER_FIELDS)
        if "source" in fields and fields["source"] not in USER_SOURCES:
            raise ValueError(f"user source must be one of {USER_SOURCES}")
        sets = {ATTRIBUTES[User][f]: v for f, v in fields.items()}
        sets["updated"] = self._now()
        if "sysadmin" in fields and not fields["sysadmin"]:
            sets["account_epoch"] = new_epoch()  # a demotion ends what the administrator was issued
        item = self._update(keys.user_pk(username), keys.USER_SK, sets, missing=_no_user(username))
        return from_item(User, item)

    def set_password(self, username: str, password_hash: str) -> User:
        """Store a new hash and bump password_version, which invalidates what the old one issued."""
        item = self._update(
            keys.user_pk(username),
            keys.USER_SK,
            {"password_hash": password_hash, "account_epoch": new_epoch(), "updated": self._now()},
            adds={"password_version": 1},
            missing=_no_user(username),
        )
        return from_item(User, item)

    def delete_user(self, username: str) -> None:
        """Delete the user with all their memberships (and the reverse index)."""
        for _ in range(_RETRIES):
            user = self.get_user(username)
            if user is None:
                raise _no_user(username)
            units = [_member_removal(project, "u", username) for project in self.list_memberships(username)]
            closing = [
                delete_op(keys.USERS_PK, username),
                delete_op(keys.id_pk("user", user.user_id), keys.ID_SK),
                *self._name_removals([username]),
                count_op(keys.USERS_LIST, -1),
            ]
            if self._dismantle(keys.user_pk(username), keys.USER_SK, units, closing):
                return
        raise Conflict(f"user {username} kept changing while being deleted; retry")

    def list_users(self, last: str | None = None, limit: int = 100) -> tuple[list[User], bool]:
        names, more = self._page(keys.USERS_PK, last, limit)
        items = self._fetch((keys.user_pk(n), keys.USER_SK) for n in names)
        return [from_item(User, items[k]) for n in names if (k := (keys.user_pk(n), keys.USER_SK)) in items], more

    def list_memberships(self, username: str) -> dict[str, int]:
        """project -> role id, for the user's own memberships (not their groups')."""
        items = self._t.query_all(
            keys.user_pk(username),
            low=keys.MEMBEROF_PREFIX,
            high=_prefix_end(keys.MEMBEROF_PREFIX),
            projection="project_name, role_id",
        )
        return {i["project_name"]: int(i["role_id"]) for i in items}

    # -- projects ----------------------------------------------------------------------
    def create_project(self, project: Project, *, admin: str | None = None) -> Project:
        """Public if either `public` or metadata["public"] says so; both then agree.
        `admin`: a user made its project admin in the same transaction, so that no
        fault leaves the project without its creator; AccountNotFound if that user
        does not exist (nothing is then written)."""
        now = self._now()
        public = project.public or _text_bool(project.metadata.get("public") or "false")
        metadata = {**project.metadata, "public": _bool_text(public)}
        project = replace(
            project,
            public=public,
            project_id=project.project_id or self._next_id("project"),
            metadata=metadata,
            created=project.created or now,
            updated=now,
        )
        steps: list[tuple[dict[str, Any], BerthError | None]] = [
            (
                put_op({**item_of(project), _REFS: 1 if admin else 0}, _NEW),
                Conflict(f"project {project.name} already exists"),
            ),
            (put_op({"PK": keys.PROJECTS_PK, "SK": project.name}), None),
            *([(put_op({"PK": keys.PUBLIC_PROJECTS_PK, "SK": project.name}), None)] if project.public else []),
            (
                put_op(_id_item("project", project.project_id, project.name), _NEW),
                Conflict(f"project id {project.project_id} is taken"),
            ),
            *self._project_event("project.created", project),
            (count_op(keys.PROJECTS_LIST, 1), None),
            *([(count_op(keys.PUBLIC_PROJECTS_LIST, 1), None)] if project.public else []),
        ]
        if admin:
            member = Member(
                entity_type="u",
                entity_name=admin,
                role_id=int(Role.PROJECT_ADMIN),
                member_id=self._next_id("member"),
                created=now,
                project=project.name,
            )
            steps += [
                (put_op(item_of(member), _NEW), None),
                (put_op(reverse_item(member)), None),
                (_refs_op(keys.user_pk(admin), keys.USER_SK, 1), _no_user(admin)),
                (count_op(keys.members_list(project.name), 1), None),
            ]
        self._transact(steps)
        return project

    def get_project(self, name: str) -> Project | None:
        item = self._t.get(keys.project_pk(name), keys.PROJECT_SK, consistent=True)
        return from_item(Project, item) if item else None

    def get_project_by_id(self, project_id: int) -> Project | None:
        name = self._name_of("project", project_id)
        return self.get_project(name) if name is not None else None

    def update_project(
        self, name: str, public: bool | None = None, metadata: dict[str, str | None] | None = None
    ) -> Project:
        """Merge `metadata` into the project's (a None value removes the key), as Harbor
        does. `public` and metadata["public"] stay equal; an explicit `public` wins."""
        metadata = dict(metadata or {})
        if "public" in metadata and metadata["public"] is None:
            del metadata["public"]  # it mirrors `public`, which always has a value
        stated = metadata.get("public")
        if public is None and stated is not None:
            public = _text_bool(stated)
        if public is not None:
            metadata["public"] = _bool_text(public)
        sets: dict[Any, Any] = {("metadata", k): v for k, v in metadata.items()}
        if public is not None:
            sets["is_public"] = public
        sets["updated"] = self._now()
        if public is None:
            return from_item(Project, self._update(keys.project_pk(name), keys.PROJECT_SK, sets, missing=_no_project(name)))
        # the flag and the public listing change together or not at all (the same two
        # calls as writing them apart: this transaction, then the read of the result); the
        # listing's condition says whether it changes, and so whether the count does
        expression, names, values = _update_expression(sets, {})
        update = _when(update_op(keys.project_pk(name), keys.PROJECT_SK, expression, values, names), _EXISTS)
        if public:
            listing = put_op({"PK": keys.PUBLIC_PROJECTS_PK, "SK": name}, _NEW)
        else:
            listing = _when(delete_op(keys.PUBLIC_PROJECTS_PK, name), _EXISTS)
        try:
            self._transact(
                [
                    (update, _no_project(name)),
                    (listing, _Stale()),
                    (count_op(keys.PUBLIC_PROJECTS_LIST, 1 if public else -1), None),
                ]
            )
        except _Stale:  # listed (or not) already: the flag alone, nothing to count
            self._transact([(update, _no_project(name))])
        project = self.get_project(name)
        if project is None:
            raise _no_project(name)
        return project

    def public_project_names(self) -> list[str]:
        """The public projects' names: one Query of their listing, however many private
        projects there are."""
        return [i["SK"] for i in self._t.query_all(keys.PUBLIC_PROJECTS_PK, low="\x00", high=_SK_MAX, projection="SK")]

    def project_names(self) -> list[str]:
        """Every project's name: one Query per ~20,000 projects."""
        return [i["SK"] for i in self._t.query_all(keys.PROJECTS_PK, low="\x00", high=_SK_MAX, projection="SK")]

    def delete_project(self, name: str, also: Iterable[dict[str, Any]] = ()) -> None:
        """Delete the project with its members and its robot accounts, and `also` (other
        stores' operations deleting the project's own items: its tag rules, quota and
        retention policy) in the same last transaction, so that none outlives it. Whether it still
        holds repositories is the caller's question."""
        also = list(also)
        for _ in range(_RETRIES):
            project = self.get_project(name)
            if project is None:
                raise _no_project(name)
            units = [_member_removal(name, m.entity_type, m.entity_name) for m in self.list_members(name)]
            prefix = robot_full_name("", name)
            robots = self._t.query_all(keys.ROBOTS_PK, low=prefix, high=_prefix_end(prefix), projection="SK")
            robot_items = self._fetch((keys.robot_pk(r["SK"]), keys.ROBOT_SK) for r in robots)
            owned = self._name_removals([i["robot_name"] for i in robot_items.values()], by_name=True)
            units += [
                _robot_removal(from_item(Robot, i), owned.get(i["robot_name"], [])) for i in robot_items.values()
            ]
            # the public listing is read, not inferred from the flag: update_project writes them
            # one after the other, so they can disagree after a failure in between
            listed = self._t.get(keys.PUBLIC_PROJECTS_PK, name, consistent=True, projection="SK") is not None
            closing = [
                delete_op(keys.PROJECTS_PK, name),
                # still (or still not) listed as read, else stale: read again
                _when(delete_op(keys.PUBLIC_PROJECTS_PK, name), _EXISTS if listed else _NEW),
                delete_op(keys.id_pk("project", project.project_id), keys.ID_SK),
                *[op for op, _ in self._project_event("project.deleted", project)],
                count_op(keys.PROJECTS_LIST, -1),
                *([count_op(keys.PUBLIC_PROJECTS_LIST, -1)] if listed else []),
                # the project's own lists go with it (their ADDs in this transaction are dropped)
                delete_op(keys.count_pk(keys.members_list(name)), keys.COUNT_SK),
                delete_op(keys.count_pk(keys.robots_list(name)), keys.COUNT_SK),
                *also,
            ]
            if self._dismantle(keys.project_pk(name), keys.PROJECT_SK, units, closing):
                return
        raise Conflict(f"project {name} kept changing while being deleted; retry")

    def all_projects(self) -> list[Project]:
        """Every project, by name, a page of 100 at a time."""
        out: list[Project] = []
        last = None
        while True:
            page, more = self.list_projects(last=last, limit=100)
            out.extend(page)
            if not more or not page:
                return out
            last = page[-1].name

    def list_projects(self, last: str | None = None, limit: int = 100) -> tuple[list[Project], bool]:
        names, more = self._page(keys.PROJECTS_PK, last, limit)
        items = self._fetch((keys.project_pk(n), keys.PROJECT_SK) for n in names)
        return [
            from_item(Project, items[k]) for n in names if (k := (keys.project_pk(n), keys.PROJECT_SK)) in items
        ], more

    # -- members -----------------------------------------------------------------------
    def add_member(self, project: str, member: Member) -> Member:
        """Conflict if the entity is a member already; AccountNotFound if the
        project, or for a user member the user, does not exist."""
        if member.entity_type not in ENTITY_TYPES:
            raise ValueError(f"entity_type must be one of {ENTITY_TYPES}")
        Role(member.role_id)  # ValueError for a role Harbor does not have
        member = replace(
            member,
            project=project,
            member_id=member.member_id or self._next_id("member"),
            created=member.created or self._now(),
        )
        steps: list[tuple[dict[str, Any], BerthError | None]] = [
            (put_op(item_of(member), _NEW), Conflict(f"{member.entity_name} is already a member of {project}")),
            (_refs_op(keys.project_pk(project), keys.PROJECT_SK, 1), _no_project(project)),
            (count_op(keys.members_list(project), 1), None),
        ]
        if member.entity_type == "u":
            steps += [
                (put_op(reverse_item(member)), None),
                (_refs_op(keys.user_pk(member.entity_name), keys.USER_SK, 1), _no_user(member.entity_name)),
            ]
        self._transact(steps)
        return member

    def get_member(self, project: str, entity_type: str, entity_name: str) -> Member | None:
        item = self._t.get(keys.project_pk(project), keys.member_sk(entity_type, entity_name), consistent=True)
        return from_item(Member, item) if item else None

    def get_member_by_id(self, project: str, member_id: int) -> Member | None:
        return next((m for m in self.list_members(project) if m.member_id == member_id), None)

    def update_member_role(self, project: str, entity_type: str, entity_name: str, role_id: int) -> Member:
        Role(role_id)
        missing = _no_member(project, entity_name)
        steps = [
            (
                _when(
                    update_op(
                        keys.project_pk(project),
                        keys.member_sk(entity_type, entity_name),
                        "SET role_id = :r",
                        {":r": role_id},
                    ),
                    _EXISTS,
                ),
                missing,
            )
        ]
        if entity_type == "u":
            steps.append(
                (
                    _when(
                        update_op(keys.user_pk(entity_name), keys.member_of_sk(project), "SET role_id = :r", {":r": role_id}),
                        _EXISTS,
                    ),
                    missing,
                )
            )
        self._transact(steps)
        member = self.get_member(project, entity_type, entity_name)
        if member is None:  # removed right after the update
            raise missing
        return member

    def remove_member(self, project: str, entity_type: str, entity_name: str) -> None:
        steps = [(op, _no_member(project, entity_name)) for op in _member_removal(project, entity_type, entity_name)]
        self._transact(steps)

    def list_members(self, project: str) -> list[Member]:
        items = self._t.query_all(
            keys.project_pk(project),
            low=keys.MEMBER_PREFIX,
            high=_prefix_end(keys.MEMBER_PREFIX),
            projection=", ".join(ATTRIBUTES[Member].values()),
        )
        return [from_item(Member, i) for i in items]

    # -- the token service's read --------------------------------------------------------
    def access_context(
        self,
        username: str | None,
        groups: Iterable[str],
        projects: Iterable[str],
        *,
        also: ItemsRead | None = None,
    ) -> AccessContext:
        """The user, the projects and every role the user holds in them, directly or
        through a group, in one BatchGetItem (it takes 100 keys: 1 + projects x
        (2 + groups); past that the read takes one more call per 100 keys). `also`:
        other items to read in the same call (a login's throttling counters); they come
        back in `.also`, by key."""
        extra = list(also.keys) if also else []
        groups = list(groups)
        projects = list(dict.fromkeys(projects))
        wanted: list[tuple[str, str]] = []
        if username:
            wanted.append((keys.user_pk(username), keys.USER_SK))
        for p in projects:
            pk = keys.project_pk(p)
            wanted.append((pk, keys.PROJECT_SK))
            if username:
                wanted.append((pk, keys.member_sk("u", username)))
            wanted += [(pk, keys.member_sk("g", g)) for g in groups]
        items = self._fetch(wanted + extra, also.attributes if also else ())
        user_item = items.get((keys.user_pk(username), keys.USER_SK)) if username else None
        found: dict[str, Project] = {}
        roles: dict[str, list[Role]] = {}
        for p in projects:
            pk = keys.project_pk(p)
            project_item = items.get((pk, keys.PROJECT_SK))
            if project_item is None:
                continue  # a member item without its project is never a grant
            found[p] = from_item(Project, project_item)
            held = [items[k] for k in wanted if k[0] == pk and k[1].startswith(keys.MEMBER_PREFIX) and k in items]
            roles[p] = [Role(int(i["role_id"])) for i in held if int(i["role_id"]) in _ROLE_IDS]
        answer = {k: items[k] for k in extra if k in items} if also else None
        return AccessContext(from_item(User, user_item) if user_item else None, found, roles, answer)

    def robot_with(self, full_name: str, also: ItemsRead) -> tuple[Robot | None, dict[tuple[str, str], dict[str, Any]]]:
        """A robot and other items (a login's throttling counters) in one BatchGetItem."""
        extra = list(also.keys)
        robot_key = (keys.robot_pk(full_name), keys.ROBOT_SK)
        items = self._fetch([robot_key, *extra], also.attributes)
        robot = from_item(Robot, items[robot_key]) if robot_key in items else None
        return robot, {k: items[k] for k in extra if k in items}

    # -- robots ------------------------------------------------------------------------
    def create_robot(self, robot: Robot) -> Robot:
        """Conflict if the name is taken; AccountNotFound if a project robot's project
        does not exist."""
        _check_robot(robot)
        _check_name(robot.full_name)
        now = self._now()
        robot = replace(
            robot,
            robot_id=robot.robot_id or self._next_id("robot"),
            epoch=robot.epoch or new_epoch(),
            created=robot.created or now,
            updated=now,
        )
        steps: list[tuple[dict[str, Any], BerthError | None]] = [
            (put_op(item_of(robot), _NEW), Conflict(f"robot account {robot.full_name} already exists")),
            (put_op({"PK": keys.ROBOTS_PK, "SK": robot.full_name}), None),
            (put_op(_id_item("robot", robot.robot_id, robot.full_name), _NEW), Conflict(f"robot id {robot.robot_id} is taken")),
            *[(op, _name_taken(robot.full_name)) for op in _name_items("robot", robot.full_name)],
            (count_op(keys.ROBOTS_LIST, 1), None),
        ]
        if robot.level == "project":
            project = robot.project or ""  # _check_robot made sure there is one
            steps.append((_refs_op(keys.project_pk(project), keys.PROJECT_SK, 1), _no_project(project)))
            steps.append((count_op(keys.robots_list(project), 1), None))
        self._transact(steps)
        return robot

    def get_robot(self, full_name: str) -> Robot | None:
        item = self._t.get(keys.robot_pk(full_name), keys.ROBOT_SK, consistent=True)
        return from_item(Robot, item) if item else None

    def get_robot_by_id(self, robot_id: int) -> Robot | None:
        name = self._name_of("robot", robot_id)
        return self.get_robot(name) if name is not None else None

    _ROBOT_FIELDS = ("secret_hash", "permissions", "description", "expiry", "disabled")

    def update_robot(self, full_name: str, /, **fields: Any) -> Robot:
        """Change a robot's secret, permissions, description, expiry or disabled flag."""
        _check_fields(fields, self._ROBOT_FIELDS)
        if "permissions" in fields and not isinstance(fields["permissions"], str):
            fields["permissions"] = _permissions_json(fields["permissions"])
        sets = {ATTRIBUTES[Robot][f]: v for f, v in fields.items()}
        sets["updated"] = self._now()
        if "secret_hash" in fields or "permissions" in fields or fields.get("disabled"):
            sets["account_epoch"] = new_epoch()  # what the robot was issued before ends
        item = self._update(keys.robot_pk(full_name), keys.ROBOT_SK, sets, missing=_no_robot(full_name))
        return from_item(Robot, item)

    def delete_robot(self, full_name: str) -> None:
        robot = self.get_robot(full_name)
        if robot is None:
            raise _no_robot(full_name)
        removal = _robot_removal(robot, self._name_removals([full_name]))
        self._transact([(op, _no_robot(full_name)) for op in removal])

    def list_robots(
        self, project: str | None = None, last: str | None = None, limit: int = 100
    ) -> tuple[list[Robot], bool]:
        """All robots, or one project's, in full-name order."""
        prefix = robot_full_name("", project) if project else ""
        names, more = self._page(keys.ROBOTS_PK, last, limit, prefix=prefix)
        items = self._fetch((keys.robot_pk(n), keys.ROBOT_SK) for n in names)
        return [from_item(Robot, items[k]) for n in names if (k := (keys.robot_pk(n), keys.ROBOT_SK)) in items], more

    # -- lists read a page at a time (chalicelib/management/paging.py) ----------------
    def _count(self, name: str) -> int:
        """The size of a list (keys.*_LIST, keys.*_list(...)): one read of its counter."""
        return self._t.counts([name])[name]

    def user_count(self) -> int:
        return self._count(keys.USERS_LIST)

    def project_count(self, *, public_only: bool = False) -> int:
        return self._count(keys.PUBLIC_PROJECTS_LIST if public_only else keys.PROJECTS_LIST)

    def member_count(self, project: str) -> int:
        return self._count(keys.members_list(project))

    def robot_count(self, project: str | None = None) -> int:
        return self._count(keys.robots_list(project) if project else keys.ROBOTS_LIST)

    def users_in_order(self) -> _Listed:
        return _Listed(KeyRange(self._t, keys.USERS_PK), lambda names: self._records(User, keys.user_pk, keys.USER_SK, names))

    def projects_in_order(self, *, public_only: bool = False) -> _Listed:
        pk = keys.PUBLIC_PROJECTS_PK if public_only else keys.PROJECTS_PK
        return _Listed(KeyRange(self._t, pk), lambda names: self._records(Project, keys.project_pk, keys.PROJECT_SK, names))

    def users_named(self, names: Iterable[str]) -> list[User]:
        """These users (those that exist), in one BatchGetItem per 100."""
        return [u for _, u in self._records(User, keys.user_pk, keys.USER_SK, sorted(set(names)))]

    def projects_named(self, names: Iterable[str]) -> list[Project]:
        """These projects (those that exist), in one BatchGetItem per 100."""
        return [p for _, p in self._records(Project, keys.project_pk, keys.PROJECT_SK, sorted(set(names)))]

    def robots_in_order(self, project: str | None = None) -> _Listed:
        """All robots, or a project's, in full-name order."""
        prefix = robot_full_name("", project) if project else ""
        return _Listed(
            KeyRange(self._t, keys.ROBOTS_PK, prefix),
            lambda names: self._records(Robot, keys.robot_pk, keys.ROBOT_SK, names),
        )

    def members_in_order(self, project: str) -> _Listed:
        """A project's members: users by name, then groups by DN (the member items' keys)."""
        source = KeyRange(self._t, keys.project_pk(project), keys.MEMBER_PREFIX, projection=", ".join(ATTRIBUTES[Member].values()))
        return _Listed(source, None, lambda item: from_item(Member, item))

    def _records(self, record: Any, pk_of: Callable[[str], str], sk: str, names: list[str]) -> list[tuple[str, Any]]:
        items = self._fetch((pk_of(n), sk) for n in names)
        return [(n, from_item(record, items[k])) for n in names if (k := (pk_of(n), sk)) in items]

    # -- plumbing ----------------------------------------------------------------------
    def _now(self) -> int:
        return int(self._clock())

    def _next_id(self, kind: str) -> int:
        return self._t.next_id(kind)

    def _name_of(self, kind: str, number: int) -> str | None:
        item = self._t.get(keys.id_pk(kind, number), keys.ID_SK, consistent=True)
        return item["target"] if item else None

    def _page(self, listing_pk: str, last: str | None, limit: int, *, prefix: str = "") -> tuple[list[str], bool]:
        if limit < 1:
            raise ValueError("limit must be positive")
        low = prefix or "\x00"
        if last is not None:
            low = max(low, last + "\x00")
        high = _prefix_end(prefix) if prefix else _SK_MAX
        if low >= high:
            return [], False
        items = self._t.query_page(listing_pk, low=low, high=high, limit=limit + 1, projection="SK")
        names = [i["SK"] for i in items]
        return names[:limit], len(names) > limit

    def _name_removals(self, names: list[str], *, by_name: bool = False) -> Any:
        """Delete operations for the name items these accounts own (an account made
        before name items existed has none, and must not remove a look-alike's)."""
        from chalicelib.meta.account_names import keys as name_keys

        wanted = {(keys.name_pk(k), keys.NAME_SK): n for n in names for k in name_keys(n)}
        found = self._t.batch_get(list(wanted), projection="PK, SK, target") if wanted else []
        ops: dict[str, list[dict[str, Any]]] = {}
        for item in found:
            name = wanted.get((item["PK"], item["SK"]))
            if name is not None and item.get("target") == name:
                ops.setdefault(name, []).append(_when(delete_op(item["PK"], item["SK"]), "target = :t", {":t": name}))
        return ops if by_name else [op for n in names for op in ops.get(n, [])]

    def _fetch(self, wanted: Iterable[tuple[str, str]], attributes: Iterable[str] = ()) -> dict[tuple[str, str], dict[str, Any]]:
        wanted = list(wanted)
        if not wanted:
            return {}
        projection = ", ".join((ACCOUNT_ATTRIBUTES, *attributes))
        return {(i["PK"], i["SK"]): i for i in self._t.batch_get(wanted, projection=projection)}

    def _update(
        self,
        pk: str,
        sk: str,
        sets: dict[Any, Any],
        *,
        adds: dict[str, int] | None = None,
        missing: BerthError,
    ) -> dict[str, Any]:
        expression, names, values = _update_expression(sets, adds or {})
        try:
            out = self._t.client.update_item(
                TableName=self._t.name,
                Key=keys.key(pk, sk),
                UpdateExpression=expression,
                ConditionExpression=_EXISTS,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=marshal(values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_condition_failure(exc):
                raise missing from None
            raise
        return unmarshal(out["Attributes"])

    def _transact(self, steps: Sequence[tuple[dict[str, Any], BerthError | None]]) -> None:
        """Write the operations in one transaction; a failed condition raises the error
        paired with its operation, a lost race with another transaction Conflict."""
        try:
            self._t.transact([op for op, _ in steps])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "TransactionCanceledException":
                raise
            codes = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
            for (_, failure), code in zip(steps, codes):
                if code == "ConditionalCheckFailed" and failure is not None:
                    raise failure from None
            if {"ConditionalCheckFailed", "TransactionConflict"} & set(codes):
                raise Conflict("a concurrent change to these accounts won; retry") from None
            raise

    def _dismantle(self, pk: str, sk: str, units: list[list[dict[str, Any]]], closing: list[dict[str, Any]]) -> bool:
        """Delete the owner item (pk, sk) with its dependents. Each unit removes one
        dependent and its links; transactions of at most 100 items each lower the
        owner's refs by the units they carry, and the last one deletes the owner on
        condition that refs are what was read. False when something changed meanwhile
        (the caller reads again and continues)."""
        owner = keys.key(pk, sk)
        units = [[op for op in unit if next(iter(op.values())).get("Key") != owner] for unit in units]
        room = _MAX_TRANSACTION - 1 - len(closing)
        batches: list[list[list[dict[str, Any]]]] = [[]]
        for unit in units:
            if sum(map(len, batches[-1])) + len(unit) > room:
                batches.append([])
            batches[-1].append(unit)
        for n, batch in enumerate(batches):
            ops = [op for unit in batch for op in unit]
            count = len(batch)
            if n < len(batches) - 1:
                ops.append(_refs_op(pk, sk, -count))
            else:
                condition = f"{_REFS} = :n" if count else f"{_EXISTS} AND (attribute_not_exists({_REFS}) OR {_REFS} = :n)"
                ops.append(_when(delete_op(pk, sk), condition, {":n": count}))
                ops += closing
            ops = merge_count_ops(ops)  # many removals from one list: one ADD
            stale = _Stale()
            try:
                self._transact([(op, stale) for op in ops])
            except _Stale:
                return False
        return True


class _Listed:
    """A listing partition paged in key order (paging.KeyedList): its keys, and its entries
    either loaded by name (one BatchGetItem for the page) or read from the items themselves."""

    def __init__(self, source: KeyRange, load: Callable[[list[str]], list[tuple[str, Any]]] | None, build: Callable[[dict], Any] | None = None):
        self._source = source
        self._load = load
        self._build = build

    def keys(self, after: str | None, limit: int) -> list[str]:
        return self._source.keys(after, limit)

    def rows(self, after: str | None, limit: int) -> list[tuple[str, Any]]:
        if self._load is not None:
            return self._load(self._source.keys(after, limit))
        build = self._build
        if build is None:
            raise TypeError("a listing builds its entries by `load` or by `build`")
        return [(i["SK"], build(i)) for i in self._source.items(after, limit)]


class _Stale(BerthError):
    """what was read changed before the write"""


def _member_removal(project: str, entity_type: str, entity_name: str) -> list[dict[str, Any]]:
    """Remove one membership: the member item, the project's count, and for a user
    their reverse index entry and count."""
    ops = [
        _when(delete_op(keys.project_pk(project), keys.member_sk(entity_type, entity_name)), _EXISTS),
        _refs_op(keys.project_pk(project), keys.PROJECT_SK, -1),
        count_op(keys.members_list(project), -1),
    ]
    if entity_type == "u":
        ops += [
            delete_op(keys.user_pk(entity_name), keys.member_of_sk(project)),
            _refs_op(keys.user_pk(entity_name), keys.USER_SK, -1),
        ]
    return ops


def _robot_removal(robot: Robot, names: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`names`: the robot's name item removal, if the item is its own (_name_removals)."""
    ops = [
        _when(delete_op(keys.robot_pk(robot.full_name), keys.ROBOT_SK), _EXISTS),
        delete_op(keys.ROBOTS_PK, robot.full_name),
        delete_op(keys.id_pk("robot", robot.robot_id), keys.ID_SK),
        *names,
        count_op(keys.ROBOTS_LIST, -1),
    ]
    if robot.level == "project" and robot.project:
        ops.append(_refs_op(keys.project_pk(robot.project), keys.PROJECT_SK, -1))
        ops.append(count_op(keys.robots_list(robot.project), -1))
    return ops


def _refs_op(pk: str, sk: str, delta: int) -> dict[str, Any]:
    # conditional, so that counting never creates an item that was deleted
    return _when(update_op(pk, sk, f"ADD {_REFS} :d", {":d": delta}), _EXISTS)


def _when(op: dict[str, Any], condition: str, values: dict[str, Any] | None = None) -> dict[str, Any]:
    body = next(iter(op.values()))
    body["ConditionExpression"] = condition
    if values:
        body.setdefault("ExpressionAttributeValues", {}).update(marshal(values))
    return op


def new_epoch() -> str:
    return secrets.token_hex(8)


def _check_name(name: str) -> None:
    """The store keeps names as chalicelib/meta/account_names.py makes them (BadName, a ValueError)."""
    from chalicelib.meta.account_names import BadName, normalise

    if normalise(name) != name:
        raise BadName(f"{name!r} is not in normal form (NFKC)")


def _name_items(kind: str, name: str) -> list[dict[str, Any]]:
    """One item per account key, each new: no two accounts with look-alike names."""
    from chalicelib.meta.account_names import keys as name_keys

    return [
        put_op({"PK": keys.name_pk(k), "SK": keys.NAME_SK, "target": name, "kind": kind}, _NEW) for k in name_keys(name)
    ]


def _name_taken(name: str) -> NameTaken:
    return NameTaken(f"the name {name} is taken: it is an existing account's name or looks like one")


def _id_item(kind: str, number: int, name: str) -> dict[str, Any]:
    return {"PK": keys.id_pk(kind, number), "SK": keys.ID_SK, "target": name}


def _update_expression(sets: dict[Any, Any], adds: dict[str, int]) -> tuple[str, dict[str, str], dict[str, Any]]:
    """SET / REMOVE (value None) / ADD over attribute paths (a str, or a tuple for a
    map key), every name through a placeholder."""
    names: dict[str, str] = {}
    values: dict[str, Any] = {}
    clauses: dict[str, list[str]] = {"SET": [], "REMOVE": [], "ADD": []}

    def ref(i: int, path: str | tuple[str, ...]) -> str:
        parts = (path,) if isinstance(path, str) else path
        for j, part in enumerate(parts):
            names[f"#a{i}_{j}"] = part
        return ".".join(f"#a{i}_{j}" for j in range(len(parts)))

    for i, (path, value) in enumerate(sets.items()):
        if value is None:
            clauses["REMOVE"].append(ref(i, path))
        else:
            values[f":v{i}"] = value
            clauses["SET"].append(f"{ref(i, path)} = :v{i}")
    for i, (path, delta) in enumerate(adds.items(), start=len(sets)):
        values[f":v{i}"] = delta
        clauses["ADD"].append(f"{ref(i, path)} :v{i}")
    expression = " ".join(f"{verb} {', '.join(parts)}" for verb, parts in clauses.items() if parts)
    return expression, names, values


def _check_fields(fields: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(fields) - set(allowed))
    if unknown:
        raise ValueError(f"cannot update {', '.join(unknown)}; allowed: {', '.join(allowed)}")


def _check_robot(robot: Robot) -> None:
    if robot.level not in ROBOT_LEVELS:
        raise ValueError(f"robot level must be one of {ROBOT_LEVELS}")
    if robot.level == "project":
        if not robot.project or not robot.full_name.startswith(robot_full_name("", robot.project)):
            raise ValueError("a project robot is named robot$<project>+<name> and names its project")
    elif robot.project or "+" in robot.full_name:
        raise ValueError("a system robot is named robot$<name> and has no project")
    if not robot.full_name.startswith(ROBOT_PREFIX) or not robot.short_name:
        raise ValueError(f"a robot account's name starts with {ROBOT_PREFIX}")


def _permissions_json(permissions: Any) -> str:
    return json.dumps(permissions, separators=(",", ":"))


def _bool_text(value: bool) -> str:
    return "true" if value else "false"


def _text_bool(value: str) -> bool:
    # Harbor reads project metadata with Go's strconv.ParseBool
    return value.strip().lower() in ("1", "t", "true")


def _prefix_end(prefix: str) -> str:
    """The smallest string greater than every string starting with `prefix`."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def _no_user(username: str) -> AccountNotFound:
    return AccountNotFound(f"user {username} not found")


def _no_project(name: str) -> AccountNotFound:
    return AccountNotFound(f"project {name} not found")


def _no_member(project: str, entity_name: str) -> AccountNotFound:
    return AccountNotFound(f"{entity_name} is not a member of {project}")


def _no_robot(full_name: str) -> AccountNotFound:
    return AccountNotFound(f"robot account {full_name} not found")


class MemoryAccounts:
    """AccountStore in memory: the same answers as DynamoAccounts, for fast tests of the
    code that uses it (tests/contract/test_account_store.py runs one suite over both).

    Every write checks all its conditions before it changes anything, in the order the
    DynamoDB transaction lists them (so the same error wins), then writes all of it.
    `events`: an Outbox (chalicelib/events/outbox.py); the project events a DynamoDB
    store writes as outbox items are kept in `emitted`. A project's deletion takes other
    stores' removals (`also`) as callables, as the other in-memory stores hand them out,
    and calls them with its own write. Another store's read joined to a login's
    (`access_context(also=...)`, `robot_with`) is a callable too, answered by calling it.
    Ids come from one counter per kind, as the table's do (never reused; gaps where a
    DynamoDB write failed after taking an id may differ)."""

    def __init__(self, clock: Callable[[], float], events: Any = None):
        self._clock = clock
        self._events = events
        self.emitted: list[Any] = []
        self._users: dict[str, User] = {}
        self._projects: dict[str, Project] = {}
        self._members: dict[str, dict[str, Member]] = {}  # project -> member key -> member
        self._robots: dict[str, Robot] = {}
        self._ids: dict[tuple[str, int], str] = {}  # (kind, id) -> name
        self._names: dict[str, tuple[str, str]] = {}  # account key -> (kind, name)
        self._last_id: dict[str, int] = {}

    # -- users
    def create_user(self, user: User) -> User:
        if user.source not in USER_SOURCES:
            raise ValueError(f"user source must be one of {USER_SOURCES}")
        _check_name(user.username)
        now = self._now()
        user = replace(user, user_id=user.user_id or self._next_id("user"), epoch=user.epoch or new_epoch(),
                       created=user.created or now, updated=now)
        if user.username in self._users:
            raise Conflict(f"user {user.username} already exists")
        if ("user", user.user_id) in self._ids:
            raise Conflict(f"user id {user.user_id} is taken")
        self._check_names_free(user.username)
        self._users[user.username] = _copy(user)
        self._ids["user", user.user_id] = user.username
        self._take_names("user", user.username)
        return user

    def owner_of_name(self, name: str) -> tuple[str, str] | None:
        from chalicelib.meta.account_names import keys as name_keys

        owners = [self._names[k] for k in name_keys(name) if k in self._names]
        exact = [o for o in owners if o[1] == name]
        return (exact or owners)[0] if owners else None

    def get_user(self, username: str) -> User | None:
        return _copy(self._users.get(username))

    def get_user_by_id(self, user_id: int) -> User | None:
        return self.get_user(self._ids.get(("user", user_id), ""))

    def update_user(self, username: str, /, **fields: Any) -> User:
        _check_fields(fields, DynamoAccounts._USER_FIELDS)
        if "source" in fields and fields["source"] not in USER_SOURCES:
            raise ValueError(f"user source must be one of {USER_SOURCES}")
        user = self._users.get(username)
        if user is None:
            raise _no_user(username)
        changed = _with_fields(user, fields, updated=self._now())
        if "sysadmin" in fields and not fields["sysadmin"]:
            changed = replace(changed, epoch=new_epoch())
        self._users[username] = changed
        return _copy(changed)

    def set_password(self, username: str, password_hash: str) -> User:
        user = self._users.get(username)
        if user is None:
            raise _no_user(username)
        changed = replace(user, password_hash=password_hash, epoch=new_epoch(), updated=self._now(),
                          password_version=user.password_version + 1)
        self._users[username] = changed
        return _copy(changed)

    def delete_user(self, username: str) -> None:
        user = self._users.get(username)
        if user is None:
            raise _no_user(username)
        key = keys.member_sk("u", username)
        for members in self._members.values():
            members.pop(key, None)
        del self._users[username]
        self._ids.pop(("user", user.user_id), None)
        self._free_names(username)

    def list_users(self, last: str | None = None, limit: int = 100) -> tuple[list[User], bool]:
        return self._page(self._users, last, limit)

    def list_memberships(self, username: str) -> dict[str, int]:
        key = keys.member_sk("u", username)
        return {p: self._members[p][key].role_id for p in sorted(self._members) if key in self._members[p]}

    def users_named(self, names: Iterable[str]) -> list[User]:
        return [_copy(self._users[n]) for n in sorted(set(names)) if n in self._users]

    def users_in_order(self) -> _MemoryListed:
        return _MemoryListed(lambda: {n: _copy(u) for n, u in self._users.items()})

    def user_count(self) -> int:
        return len(self._users)

    # -- projects
    def create_project(self, project: Project, *, admin: str | None = None) -> Project:
        now = self._now()
        public = project.public or _text_bool(project.metadata.get("public") or "false")
        project = replace(project, public=public, project_id=project.project_id or self._next_id("project"),
                          metadata={**project.metadata, "public": _bool_text(public)},
                          created=project.created or now, updated=now)
        if project.name in self._projects:
            raise Conflict(f"project {project.name} already exists")
        if ("project", project.project_id) in self._ids:
            raise Conflict(f"project id {project.project_id} is taken")
        member = None
        if admin:
            member = Member("u", admin, int(Role.PROJECT_ADMIN), self._next_id("member"), now, project.name)
            if admin not in self._users:
                raise _no_user(admin)
        self._projects[project.name] = _copy(project)
        self._ids["project", project.project_id] = project.name
        self._members[project.name] = {keys.member_sk("u", admin): member} if admin and member else {}
        self._emit("project.created", project)
        return project

    def get_project(self, name: str) -> Project | None:
        return _copy(self._projects.get(name))

    def get_project_by_id(self, project_id: int) -> Project | None:
        return self.get_project(self._ids.get(("project", project_id), ""))

    def update_project(self, name: str, public: bool | None = None,
                       metadata: dict[str, str | None] | None = None) -> Project:
        metadata = dict(metadata or {})
        if "public" in metadata and metadata["public"] is None:
            del metadata["public"]
        if public is None and metadata.get("public") is not None:
            public = _text_bool(metadata["public"] or "")
        if public is not None:
            metadata["public"] = _bool_text(public)
        project = self._projects.get(name)
        if project is None:
            raise _no_project(name)
        merged = {k: v for k, v in {**project.metadata, **metadata}.items() if v is not None}
        changed = replace(project, metadata=merged, updated=self._now(),
                          public=project.public if public is None else public)
        self._projects[name] = changed
        return _copy(changed)

    def delete_project(self, name: str, also: Iterable[Op] = ()) -> None:
        project = self._projects.get(name)
        if project is None:
            raise _no_project(name)
        for op in also:
            op()  # another store's removal (it raises before it changes anything)
        for robot in [r for r in self._robots.values() if r.level == "project" and r.project == name]:
            self._drop_robot(robot)
        del self._members[name]
        del self._projects[name]
        self._ids.pop(("project", project.project_id), None)
        self._emit("project.deleted", project)

    def project_names(self) -> list[str]:
        return sorted(self._projects)

    def public_project_names(self) -> list[str]:
        return sorted(n for n, p in self._projects.items() if p.public)

    def list_projects(self, last: str | None = None, limit: int = 100) -> tuple[list[Project], bool]:
        return self._page(self._projects, last, limit)

    def all_projects(self) -> list[Project]:
        return [_copy(self._projects[n]) for n in sorted(self._projects)]

    def projects_named(self, names: Iterable[str]) -> list[Project]:
        return [_copy(self._projects[n]) for n in sorted(set(names)) if n in self._projects]

    def projects_in_order(self, *, public_only: bool = False) -> _MemoryListed:
        return _MemoryListed(lambda: {n: _copy(p) for n, p in self._projects.items() if p.public or not public_only})

    def project_count(self, *, public_only: bool = False) -> int:
        return len(self.public_project_names() if public_only else self._projects)

    # -- members
    def add_member(self, project: str, member: Member) -> Member:
        if member.entity_type not in ENTITY_TYPES:
            raise ValueError(f"entity_type must be one of {ENTITY_TYPES}")
        Role(member.role_id)
        member = replace(member, project=project, member_id=member.member_id or self._next_id("member"),
                         created=member.created or self._now())
        key = keys.member_sk(member.entity_type, member.entity_name)
        if key in self._members.get(project, {}):
            raise Conflict(f"{member.entity_name} is already a member of {project}")
        if project not in self._projects:
            raise _no_project(project)
        if member.entity_type == "u" and member.entity_name not in self._users:
            raise _no_user(member.entity_name)
        self._members[project][key] = _copy(member)
        return member

    def get_member(self, project: str, entity_type: str, entity_name: str) -> Member | None:
        return _copy(self._members.get(project, {}).get(keys.member_sk(entity_type, entity_name)))

    def get_member_by_id(self, project: str, member_id: int) -> Member | None:
        return next((m for m in self.list_members(project) if m.member_id == member_id), None)

    def update_member_role(self, project: str, entity_type: str, entity_name: str, role_id: int) -> Member:
        Role(role_id)
        members = self._members.get(project, {})
        key = keys.member_sk(entity_type, entity_name)
        if key not in members:
            raise _no_member(project, entity_name)
        members[key] = replace(members[key], role_id=role_id)
        return _copy(members[key])

    def remove_member(self, project: str, entity_type: str, entity_name: str) -> None:
        if self._members.get(project, {}).pop(keys.member_sk(entity_type, entity_name), None) is None:
            raise _no_member(project, entity_name)

    def list_members(self, project: str) -> list[Member]:
        members = self._members.get(project, {})
        return [_copy(members[k]) for k in sorted(members)]

    def members_in_order(self, project: str) -> _MemoryListed:
        return _MemoryListed(lambda: {k: _copy(m) for k, m in self._members.get(project, {}).items()})

    def member_count(self, project: str) -> int:
        return len(self._members.get(project, {}))

    # -- what a login and a token need
    def access_context(self, username: str | None, groups: Iterable[str], projects: Iterable[str], *,
                       also: Read | None = None) -> AccessContext:
        groups = list(groups)
        wanted = ([keys.member_sk("u", username)] if username else []) + [keys.member_sk("g", g) for g in groups]
        found: dict[str, Project] = {}
        roles: dict[str, list[Role]] = {}
        for p in dict.fromkeys(projects):
            if p not in self._projects:
                continue
            found[p] = _copy(self._projects[p])
            members = self._members.get(p, {})
            roles[p] = [Role(members[k].role_id) for k in wanted if k in members and members[k].role_id in _ROLE_IDS]
        user = self.get_user(username) if username else None
        return AccessContext(user, found, roles, also() if also is not None else None)

    def robot_with(self, full_name: str, also: Read) -> tuple[Robot | None, Any]:
        return self.get_robot(full_name), also()

    # -- robots
    def create_robot(self, robot: Robot) -> Robot:
        _check_robot(robot)
        _check_name(robot.full_name)
        now = self._now()
        robot = replace(robot, robot_id=robot.robot_id or self._next_id("robot"), epoch=robot.epoch or new_epoch(),
                        created=robot.created or now, updated=now)
        if robot.full_name in self._robots:
            raise Conflict(f"robot account {robot.full_name} already exists")
        if ("robot", robot.robot_id) in self._ids:
            raise Conflict(f"robot id {robot.robot_id} is taken")
        self._check_names_free(robot.full_name)
        if robot.level == "project" and robot.project not in self._projects:
            raise _no_project(robot.project or "")
        self._robots[robot.full_name] = _copy(robot)
        self._ids["robot", robot.robot_id] = robot.full_name
        self._take_names("robot", robot.full_name)
        return robot

    def get_robot(self, full_name: str) -> Robot | None:
        return _copy(self._robots.get(full_name))

    def get_robot_by_id(self, robot_id: int) -> Robot | None:
        return self.get_robot(self._ids.get(("robot", robot_id), ""))

    def update_robot(self, full_name: str, /, **fields: Any) -> Robot:
        _check_fields(fields, DynamoAccounts._ROBOT_FIELDS)
        if "permissions" in fields and not isinstance(fields["permissions"], str):
            fields["permissions"] = _permissions_json(fields["permissions"])
        robot = self._robots.get(full_name)
        if robot is None:
            raise _no_robot(full_name)
        changed = _with_fields(robot, fields, updated=self._now())
        if "secret_hash" in fields or "permissions" in fields or fields.get("disabled"):
            changed = replace(changed, epoch=new_epoch())
        self._robots[full_name] = changed
        return _copy(changed)

    def delete_robot(self, full_name: str) -> None:
        robot = self._robots.get(full_name)
        if robot is None:
            raise _no_robot(full_name)
        self._drop_robot(robot)

    def list_robots(self, project: str | None = None, last: str | None = None,
                    limit: int = 100) -> tuple[list[Robot], bool]:
        prefix = robot_full_name("", project) if project else ""
        return self._page({n: r for n, r in self._robots.items() if n.startswith(prefix)}, last, limit)

    def robots_in_order(self, project: str | None = None) -> _MemoryListed:
        prefix = robot_full_name("", project) if project else ""
        return _MemoryListed(lambda: {n: _copy(r) for n, r in self._robots.items() if n.startswith(prefix)})

    def robot_count(self, project: str | None = None) -> int:
        if project is None:
            return len(self._robots)
        return sum(1 for r in self._robots.values() if r.level == "project" and r.project == project)

    # -- plumbing
    def _now(self) -> int:
        return int(self._clock())

    def _next_id(self, kind: str) -> int:
        self._last_id[kind] = self._last_id.get(kind, 0) + 1
        return self._last_id[kind]

    def _check_names_free(self, name: str) -> None:
        from chalicelib.meta.account_names import keys as name_keys

        if any(k in self._names for k in name_keys(name)):
            raise _name_taken(name)

    def _take_names(self, kind: str, name: str) -> None:
        from chalicelib.meta.account_names import keys as name_keys

        for k in name_keys(name):
            self._names[k] = (kind, name)

    def _free_names(self, name: str) -> None:
        for k in [k for k, (_, target) in self._names.items() if target == name]:
            del self._names[k]

    def _drop_robot(self, robot: Robot) -> None:
        del self._robots[robot.full_name]
        self._ids.pop(("robot", robot.robot_id), None)
        self._free_names(robot.full_name)

    def _emit(self, kind: str, project: Project) -> None:
        if self._events is not None:
            data = {"project": project.name, "project_id": project.project_id, "public": project.public}
            self.emitted.append(self._events.project_event(kind, project.name, data))

    @staticmethod
    def _page(records: dict[str, Any], last: str | None, limit: int) -> tuple[list[Any], bool]:
        if limit < 1:
            raise ValueError("limit must be positive")
        names = sorted(n for n in records if last is None or n > last)
        return [_copy(records[n]) for n in names[:limit]], len(names) > limit


class _MemoryListed:
    """MemoryAccounts' lists, paged as DynamoAccounts' _Listed: by key, after a key."""

    def __init__(self, entries: Callable[[], dict[str, Any]]):
        self._entries = entries

    def keys(self, after: str | None, limit: int) -> list[str]:
        if limit < 1:
            return []
        return sorted(k for k in self._entries() if after is None or k > after)[:limit]

    def rows(self, after: str | None, limit: int) -> list[tuple[str, Any]]:
        entries = self._entries()
        return [(k, entries[k]) for k in self.keys(after, limit)]


def _copy(record: Any) -> Any:
    """A record the caller may change without changing the store's."""
    return copy.deepcopy(record)


def _with_fields(record: Any, fields: dict[str, Any], **more: Any) -> Any:
    """`record` with `fields` set; a field set to None goes back to its default (the
    attribute removed, as DynamoDB's store does)."""
    defaults: dict[str, Any] = {}
    for f in dataclass_fields(record):
        if f.default is not MISSING:
            defaults[f.name] = f.default
        elif callable(f.default_factory):
            defaults[f.name] = f.default_factory()
    changes = {f: (defaults.get(f) if v is None else v) for f, v in fields.items()}
    return replace(record, **changes, **more)


if TYPE_CHECKING:

    def _implementations(dynamo: DynamoAccounts, memory: MemoryAccounts) -> tuple[AccountStore, AccountStore]:
        """mypy's check that both keep the contract."""
        return dynamo, memory
