"""The accounts' store contract (chalicelib/meta/accounts.py, AccountStore), run against
each implementation: DynamoDB on moto, and in memory. What one answers, the other must:
users, projects, members, robots, the names they hold, the token service's one-call read,
lists in order, the events of projects' changes, and the invariant that no grant outlives
its project or user.

Tests marked DYNAMODB assert how the DynamoDB store does it (calls, items, transactions of
at most 100 items, reads again after a race); elsewhere `calls` and `items` are None in
memory, which makes no calls and leaves no items."""
from __future__ import annotations

import json
import random
from pathlib import Path

import moto
import pytest

from chalicelib.errors import Conflict
from chalicelib.events.envelope import PROJECT_CREATED, PROJECT_DELETED, Event
from chalicelib.events.outbox import Outbox
from chalicelib.meta import accounts as accounts_module
from chalicelib.meta import keys, outbox_items
from chalicelib.meta.account_names import BadName
from chalicelib.meta.accounts import (
    NEVER,
    AccessContext,
    AccountNotFound,
    DynamoAccounts,
    Member,
    MemoryAccounts,
    NameTaken,
    Project,
    Robot,
    User,
    robot_full_name,
)
from chalicelib.meta.table import unmarshal
from chalicelib.roles import Role
from tests.contract.helpers import T0

DEV_DN = "cn=Developers,ou=Groups,dc=example,dc=org"
OPS_DN = "cn=Ops,ou=Groups,dc=example,dc=org"
PERMISSIONS = [
    {
        "kind": "project",
        "namespace": "library",
        "access": [{"resource": "repository", "action": "pull"}, {"resource": "repository", "action": "push"}],
    }
]
# how the DynamoDB store does it: calls, items, transactions
DYNAMODB = pytest.mark.parametrize("accounts", ["dynamodb"], indirect=True)


@pytest.fixture
def outbox(clock) -> Outbox:
    return Outbox("/berth/test", clock)


@pytest.fixture(params=["dynamodb", "memory"])
def accounts(request, clock, outbox):
    clock.now = T0
    if request.param == "memory":
        return MemoryAccounts(clock, outbox)
    return DynamoAccounts(request.getfixturevalue("table"), clock, outbox)


@pytest.fixture
def emitted(request, accounts):
    """The events the store wrote (DynamoDB: its outbox items)."""
    if isinstance(accounts, MemoryAccounts):
        return lambda: list(accounts.emitted)
    table = request.getfixturevalue("table")

    def outbox_events() -> list:
        raw = table.client.scan(TableName=table.name)["Items"]
        return [Event.from_json(j) for j in (outbox_items.event_json(unmarshal(i)) for i in raw) if j is not None]

    return outbox_events


@pytest.fixture
def calls(request, accounts):
    """Names of the DynamoDB operations sent while the test runs (None in memory)."""
    if isinstance(accounts, MemoryAccounts):
        yield None
        return
    table = request.getfixturevalue("table")
    seen: list[str] = []

    def record(model, **_):
        seen.append(model.name)

    events = table.client.meta.events
    events.register("before-call.dynamodb.*", record)
    yield seen
    events.unregister("before-call.dynamodb.*", record)


@pytest.fixture
def items(request, accounts):
    """The table's account items but the bookkeeping (None in memory, which has no items)."""
    if isinstance(accounts, MemoryAccounts):
        return lambda: None
    table = request.getfixturevalue("table")
    return lambda: account_items(table)


def clear(calls) -> None:
    if calls is not None:
        calls.clear()


def user(name: str = "alice", **fields) -> User:
    values = {"email": f"{name}@example.org", "realname": name.title(), "password_hash": f"hash-{name}"}
    values.update(fields)
    return User(username=name, **values)


def robot(name: str = "ci", project: str | None = "library", **fields) -> Robot:
    return Robot(
        full_name=robot_full_name(name, project),
        secret_hash=f"secret-{name}",
        level="project" if project else "system",
        project=project,
        permissions=json.dumps(PERMISSIONS),
        **fields,
    )


def all_items(table) -> list[tuple[str, str]]:
    out = table.client.scan(TableName=table.name, ProjectionExpression="PK, SK")
    return sorted((i["PK"]["S"], i["SK"]["S"]) for i in out["Items"])


def account_items(table) -> list[tuple[str, str]]:
    """Every item but the bookkeeping: id counters, list sizes (N#<list>, asserted apart) and events."""
    return [k for k in all_items(table) if k[0] != keys.COUNTER_PK and not k[0].startswith(("N#", keys.OUTBOX_PREFIX))]


# -- layout --------------------------------------------------------------------------------
def test_item_attributes_avoid_reserved_words():
    reserved = {
        w.strip().lower()
        for w in (Path(moto.__file__).parent / "dynamodb" / "parsing" / "reserved_keywords.txt").read_text().split()
    }
    for record in (User, Project, Member, Robot):
        clashes = {a for a in accounts_module.ATTRIBUTES[record].values() if a.lower() in reserved}
        assert not clashes, f"{record.__name__}: {clashes}"


@DYNAMODB
def test_robot_expiry_is_not_the_ttl_attribute(accounts, table):
    accounts.create_project(Project("library"))
    accounts.create_robot(robot(expiry=T0 + 60))
    item = table.get(keys.robot_pk("robot$library+ci"), keys.ROBOT_SK)
    assert keys.TTL_ATTRIBUTE not in item
    assert item["expiry"] == T0 + 60


# -- users ---------------------------------------------------------------------------------
def test_create_and_get_user(accounts, clock):
    created = accounts.create_user(user(sysadmin=True, comment="first"))
    assert created.user_id > 0
    assert created.created == created.updated == T0
    got = accounts.get_user("alice")
    assert got == created
    assert got.comment == "first" and got.sysadmin is True and got.source == "db"
    assert accounts.get_user("bob") is None


def test_ldap_user_without_password(accounts):
    accounts.create_user(
        User("carol", source="ldap", ldap_dn="uid=carol,dc=example,dc=org", groups=[DEV_DN, OPS_DN])
    )
    got = accounts.get_user("carol")
    assert got.password_hash is None
    assert got.source == "ldap"
    assert got.groups == [DEV_DN, OPS_DN]


def test_user_ids_are_distinct_and_resolvable(accounts):
    ids = [accounts.create_user(user(n)).user_id for n in ("a", "b", "c")]
    assert len(set(ids)) == 3 and ids == sorted(ids)
    assert accounts.get_user_by_id(ids[1]).username == "b"
    assert accounts.get_user_by_id(999) is None


@DYNAMODB
def test_create_user_is_one_counter_call_and_one_transaction(accounts, calls):
    accounts.create_user(user())
    assert calls == ["UpdateItem", "TransactWriteItems"]


def test_create_existing_user_conflicts(accounts):
    accounts.create_user(user())
    with pytest.raises(Conflict):
        accounts.create_user(user(email="other@example.org"))
    assert accounts.get_user("alice").email == "alice@example.org"
    users, _ = accounts.list_users()
    assert [u.username for u in users] == ["alice"]


def test_create_user_rejects_unknown_source(accounts):
    with pytest.raises(ValueError):
        accounts.create_user(user(source="oidc"))


def test_update_user(accounts, clock):
    accounts.create_user(user(ldap_dn="uid=alice"))
    clock.now = T0 + 10
    updated = accounts.update_user("alice", email="a@new.org", realname="Alice A", sysadmin=True, ldap_dn=None)
    assert updated.email == "a@new.org" and updated.realname == "Alice A" and updated.sysadmin is True
    assert updated.ldap_dn is None
    assert updated.updated == T0 + 10 and updated.created == T0
    assert updated.password_hash == "hash-alice"
    assert accounts.get_user("alice") == updated


def test_update_user_refuses_other_fields(accounts):
    accounts.create_user(user())
    for field in ("password_hash", "username", "user_id", "password_version"):
        with pytest.raises(ValueError):
            accounts.update_user("alice", **{field: "x"})


def test_update_missing_user(accounts):
    with pytest.raises(AccountNotFound):
        accounts.update_user("nobody", email="x@example.org")
    assert accounts.get_user("nobody") is None  # no item made up by the update


def test_set_password_bumps_version(accounts, clock):
    v0 = accounts.create_user(user()).password_version
    clock.now = T0 + 5
    after = accounts.set_password("alice", "hash-2")
    assert after.password_hash == "hash-2"
    assert after.password_version == v0 + 1
    assert accounts.set_password("alice", "hash-3").password_version == v0 + 2
    assert accounts.get_user("alice").updated == T0 + 5
    with pytest.raises(AccountNotFound):
        accounts.set_password("nobody", "hash")


def test_list_users_pages_in_order(accounts):
    names = [f"user{i:02d}" for i in range(11)]
    for n in random.sample(names, len(names)):
        accounts.create_user(user(n))
    seen, last, pages = [], None, 0
    while True:
        page, more = accounts.list_users(last=last, limit=4)
        pages += 1
        seen += [u.username for u in page]
        assert all(isinstance(u, User) and u.email == f"{u.username}@example.org" for u in page)
        if not more:
            break
        last = page[-1].username
    assert seen == names
    assert pages == 3
    assert accounts.list_users(last="user10") == ([], False)
    assert [u.username for u in accounts.list_users(last="user0", limit=2)[0]] == ["user00", "user01"]


def test_delete_user_removes_memberships_and_index(accounts, items):
    for p in ("p1", "p2"):
        accounts.create_project(Project(p))
    before = items()
    accounts.create_user(user())
    accounts.create_user(user("bob"))
    accounts.add_member("p1", Member("u", "alice", Role.DEVELOPER))
    accounts.add_member("p2", Member("u", "alice", Role.GUEST))
    accounts.add_member("p1", Member("u", "bob", Role.MAINTAINER))
    alice_id = accounts.get_user("alice").user_id

    accounts.delete_user("alice")
    assert accounts.get_user("alice") is None
    assert accounts.get_user_by_id(alice_id) is None
    assert accounts.get_member("p1", "u", "alice") is None
    assert accounts.list_memberships("alice") == {}
    assert [m.entity_name for m in accounts.list_members("p1")] == ["bob"]
    assert [u.username for u in accounts.list_users()[0]] == ["bob"]
    # nothing of alice's is left, and the projects can go with their remaining members
    assert not [k for k in items() or () if "alice" in k[0] or "alice" in k[1]]
    assert accounts.owner_of_name("alice") is None
    assert (accounts.user_count(), accounts.member_count("p1"), accounts.member_count("p2")) == (1, 1, 0)
    accounts.delete_user("bob")
    assert items() == before
    accounts.delete_project("p1")
    accounts.delete_project("p2")
    assert not items()
    # the lists are empty, and the projects' own counters went with them
    assert (accounts.user_count(), accounts.project_count()) == (0, 0)
    assert (accounts.member_count("p1"), accounts.robot_count("p1")) == (0, 0)


def test_delete_missing_user(accounts):
    with pytest.raises(AccountNotFound):
        accounts.delete_user("nobody")


@pytest.fixture
def small_transactions(monkeypatch):
    """Transactions of 10 items instead of DynamoDB's 100, so that a few dependents
    take several (the batching is the same code at any size)."""
    monkeypatch.setattr(accounts_module, "_MAX_TRANSACTION", 10)


@DYNAMODB
def test_delete_user_with_more_memberships_than_one_transaction_holds(accounts, table, small_transactions, calls):
    projects = [f"p{i:02d}" for i in range(8)]  # 3 items each
    accounts.create_user(user())
    for p in projects:
        accounts.create_project(Project(p))
        accounts.add_member(p, Member("u", "alice", Role.DEVELOPER))
    assert len(accounts.list_memberships("alice")) == 8
    calls.clear()
    accounts.delete_user("alice")
    # 5 items a membership (with the project's members counter), and room kept for the
    # user's own 3 and the delete: one membership a transaction
    assert calls.count("TransactWriteItems") == 8
    assert accounts.get_user("alice") is None
    assert not [k for k in all_items(table) if "alice" in k[0] + k[1]]
    for p in projects[:3]:
        accounts.delete_project(p)  # project counts came down with the memberships


@DYNAMODB
def test_delete_user_reads_again_when_memberships_changed(accounts, table, monkeypatch):
    for p in ("p1", "p2"):
        accounts.create_project(Project(p))
    accounts.create_user(user())
    accounts.add_member("p1", Member("u", "alice", Role.GUEST))
    accounts.add_member("p2", Member("u", "alice", Role.GUEST))
    real = accounts.list_memberships
    reads = []

    def stale_then_fresh(username):
        # the first read misses p2, as a read racing an add_member would
        out = real(username)
        reads.append(dict(out))
        return {k: v for k, v in out.items() if k != "p2"} if len(reads) == 1 else out

    monkeypatch.setattr(accounts, "list_memberships", stale_then_fresh)
    accounts.delete_user("alice")
    assert len(reads) == 2
    assert not [k for k in all_items(table) if "alice" in k[0] + k[1]]


@DYNAMODB
def test_delete_project_reads_again_when_members_changed(accounts, table, monkeypatch):
    accounts.create_user(user())
    accounts.create_project(Project("library"))
    accounts.add_member("library", Member("u", "alice", Role.GUEST))
    real = accounts.list_members
    reads = []

    def phantom_then_fresh(project):
        # the first read still shows a member that has since been removed
        reads.append(project)
        out = real(project)
        return out + [Member("g", "cn=gone", Role.GUEST, project=project)] if len(reads) == 1 else out

    monkeypatch.setattr(accounts, "list_members", phantom_then_fresh)
    accounts.delete_project("library")
    assert len(reads) == 2
    assert accounts.get_project("library") is None
    assert accounts.list_memberships("alice") == {}


def test_recreated_user_inherits_nothing(accounts):
    accounts.create_project(Project("library"))
    accounts.create_user(user())
    accounts.add_member("library", Member("u", "alice", Role.PROJECT_ADMIN))
    accounts.delete_user("alice")
    accounts.create_user(user())
    assert accounts.access_context("alice", [], ["library"]).roles == {"library": []}


# -- projects ------------------------------------------------------------------------------
def test_create_and_get_project(accounts):
    created = accounts.create_project(Project("library", public=True, owner="admin", metadata={"auto_scan": "true"}))
    assert created.project_id > 0
    assert created.metadata == {"auto_scan": "true", "public": "true"}
    got = accounts.get_project("library")
    assert got == created
    assert accounts.get_project_by_id(created.project_id) == created
    assert accounts.get_project("other") is None
    assert accounts.get_project_by_id(12345) is None


def test_project_public_and_metadata_public_agree(accounts):
    assert accounts.create_project(Project("private")).metadata == {"public": "false"}
    # Harbor's clients say it in metadata; the `public` field is the older way
    made = accounts.create_project(Project("open", metadata={"public": "true"}))
    assert made.public is True and accounts.get_project("open").public is True


def test_create_existing_project_conflicts(accounts):
    accounts.create_project(Project("library", owner="admin"))
    with pytest.raises(Conflict):
        accounts.create_project(Project("library", owner="mallory"))
    assert accounts.get_project("library").owner == "admin"


def test_update_project(accounts, clock):
    accounts.create_project(Project("library", metadata={"auto_scan": "true", "severity": "high"}))
    clock.now = T0 + 7
    out = accounts.update_project("library", public=True)
    assert out.public is True and out.metadata["public"] == "true"
    assert out.updated == T0 + 7

    # metadata merges, a None value removes a key, metadata["public"] moves `public`
    out = accounts.update_project("library", metadata={"public": "false", "prevent_vul": "true", "severity": None})
    assert out.public is False
    assert out.metadata == {"auto_scan": "true", "public": "false", "prevent_vul": "true"}

    # an explicit `public` wins over metadata["public"]
    out = accounts.update_project("library", public=True, metadata={"public": "false"})
    assert out.public is True and out.metadata["public"] == "true"
    assert accounts.get_project("library") == out

    # "public" mirrors `public` and cannot be removed
    out = accounts.update_project("library", metadata={"public": None})
    assert out.metadata["public"] == "true"


def test_update_missing_project(accounts):
    with pytest.raises(AccountNotFound):
        accounts.update_project("nope", public=True)
    assert accounts.get_project("nope") is None


def test_public_projects_are_listed_apart_in_one_query(accounts, calls):
    accounts.create_project(Project("open", public=True))
    accounts.create_project(Project("closed"))
    accounts.create_project(Project("meta", metadata={"public": "true"}))
    clear(calls)
    assert accounts.public_project_names() == ["meta", "open"]
    assert calls is None or calls == ["Query"]
    assert accounts.project_names() == ["closed", "meta", "open"]
    accounts.update_project("open", public=False)
    accounts.update_project("closed", metadata={"public": "true"})
    accounts.update_project("meta", metadata={"owner": "x"})  # the flag is left alone
    assert accounts.public_project_names() == ["closed", "meta"]
    with pytest.raises(AccountNotFound):
        accounts.update_project("nope", public=True)
    with pytest.raises(AccountNotFound):
        accounts.update_project("nope", public=False)
    accounts.delete_project("meta")
    assert accounts.public_project_names() == ["closed"]
    assert "nope" not in accounts.public_project_names()


def test_list_projects_pages_in_order(accounts):
    names = [f"proj-{c}" for c in "abcdefg"]
    for n in random.sample(names, len(names)):
        accounts.create_project(Project(n))
    first, more = accounts.list_projects(limit=5)
    assert [p.name for p in first] == names[:5] and more is True
    rest, more = accounts.list_projects(last=first[-1].name, limit=5)
    assert [p.name for p in rest] == names[5:] and more is False
    exact, more = accounts.list_projects(limit=7)
    assert len(exact) == 7 and more is False
    with pytest.raises(ValueError):
        accounts.list_projects(limit=0)


def test_delete_project_removes_members_and_its_robots(accounts, items):
    accounts.create_user(user())
    accounts.create_project(Project("other"))
    accounts.add_member("other", Member("u", "alice", Role.GUEST))
    accounts.create_robot(robot("sys", project=None))
    accounts.create_robot(robot("ci", project="other"))
    before = items()

    accounts.create_project(Project("library"))
    accounts.add_member("library", Member("u", "alice", Role.DEVELOPER))
    accounts.add_member("library", Member("g", DEV_DN, Role.MAINTAINER))
    accounts.create_robot(robot("ci"))
    accounts.create_robot(robot("deploy"))
    project_id = accounts.get_project("library").project_id

    accounts.delete_project("library")
    assert accounts.get_project("library") is None
    assert accounts.get_project_by_id(project_id) is None
    assert accounts.list_members("library") == []
    assert accounts.list_memberships("alice") == {"other": Role.GUEST}
    assert accounts.get_robot("robot$library+ci") is None
    assert [r.full_name for r in accounts.list_robots()[0]] == ["robot$other+ci", "robot$sys"]
    assert items() == before


def test_delete_missing_project(accounts):
    with pytest.raises(AccountNotFound):
        accounts.delete_project("nope")


@DYNAMODB
def test_delete_project_with_more_members_than_one_transaction_holds(accounts, table, small_transactions, calls):
    accounts.create_project(Project("big"))
    for i in range(6):  # a user member is 3 items to remove, a group member 1, a robot 3
        accounts.create_user(user(f"u{i:02d}"))
        accounts.add_member("big", Member("u", f"u{i:02d}", Role.GUEST))
    for i in range(5):
        accounts.add_member("big", Member("g", f"cn=g{i},dc=example", Role.GUEST))
    accounts.create_robot(robot(project="big"))
    calls.clear()
    accounts.delete_project("big")
    assert calls.count("TransactWriteItems") > 1
    assert not [k for k in all_items(table) if "big" in k[0] + k[1]]
    accounts.delete_user("u00")  # user counts came down with the memberships
    assert accounts.list_memberships("u01") == {}


def test_recreated_project_inherits_no_members_or_robots(accounts):
    accounts.create_user(user())
    accounts.create_project(Project("library"))
    accounts.add_member("library", Member("u", "alice", Role.PROJECT_ADMIN))
    accounts.add_member("library", Member("g", DEV_DN, Role.DEVELOPER))
    accounts.create_robot(robot())
    accounts.delete_project("library")
    accounts.create_project(Project("library"))
    assert accounts.list_members("library") == []
    assert accounts.list_robots(project="library") == ([], False)
    assert accounts.access_context("alice", [DEV_DN], ["library"]).roles == {"library": []}


# -- members -------------------------------------------------------------------------------
@pytest.fixture
def library(accounts):
    accounts.create_user(user())
    accounts.create_user(user("bob"))
    return accounts.create_project(Project("library"))


def test_add_and_get_members(accounts, library, clock):
    m = accounts.add_member("library", Member("u", "alice", Role.DEVELOPER))
    g = accounts.add_member("library", Member("g", DEV_DN, Role.GUEST))
    assert m.member_id > 0 and g.member_id > 0 and m.member_id != g.member_id
    assert m.project == "library" and m.created == T0
    assert accounts.get_member("library", "u", "alice") == m
    assert accounts.get_member("library", "g", DEV_DN) == g
    assert accounts.get_member("library", "u", "bob") is None
    assert accounts.get_member("library", "g", DEV_DN).role is Role.GUEST
    assert accounts.get_member_by_id("library", g.member_id) == g
    assert accounts.get_member_by_id("library", 424242) is None
    assert accounts.list_memberships("alice") == {"library": Role.DEVELOPER}


def test_group_members_match_without_case(accounts, library):
    accounts.add_member("library", Member("g", DEV_DN, Role.GUEST))
    assert accounts.get_member("library", "g", DEV_DN.upper()).entity_name == DEV_DN
    with pytest.raises(Conflict):
        accounts.add_member("library", Member("g", DEV_DN.lower(), Role.DEVELOPER))


def test_add_existing_member_conflicts(accounts, library):
    accounts.add_member("library", Member("u", "alice", Role.DEVELOPER))
    with pytest.raises(Conflict):
        accounts.add_member("library", Member("u", "alice", Role.PROJECT_ADMIN))
    assert accounts.get_member("library", "u", "alice").role is Role.DEVELOPER
    assert len(accounts.list_members("library")) == 1


def test_add_member_needs_project_and_user(accounts, library, items):
    before = items()
    with pytest.raises(AccountNotFound, match="project"):
        accounts.add_member("nope", Member("u", "alice", Role.GUEST))
    with pytest.raises(AccountNotFound, match="user"):
        accounts.add_member("library", Member("u", "nobody", Role.GUEST))
    with pytest.raises(AccountNotFound, match="project"):
        accounts.add_member("nope", Member("g", DEV_DN, Role.GUEST))
    assert items() == before
    assert accounts.list_members("library") == [] and accounts.list_memberships("nobody") == {}


def test_add_member_validates(accounts, library):
    with pytest.raises(ValueError):
        accounts.add_member("library", Member("x", "alice", Role.GUEST))
    with pytest.raises(ValueError):
        accounts.add_member("library", Member("u", "alice", 99))


def test_update_member_role(accounts, library):
    accounts.add_member("library", Member("u", "alice", Role.GUEST))
    accounts.add_member("library", Member("g", DEV_DN, Role.GUEST))
    out = accounts.update_member_role("library", "u", "alice", Role.MAINTAINER)
    assert out.role is Role.MAINTAINER
    assert accounts.list_memberships("alice") == {"library": Role.MAINTAINER}
    assert accounts.update_member_role("library", "g", DEV_DN.upper(), Role.DEVELOPER).role is Role.DEVELOPER
    with pytest.raises(AccountNotFound):
        accounts.update_member_role("library", "u", "bob", Role.GUEST)
    with pytest.raises(ValueError):
        accounts.update_member_role("library", "u", "alice", 0)
    assert accounts.get_member("library", "u", "bob") is None


def test_remove_member(accounts, library):
    accounts.add_member("library", Member("u", "alice", Role.GUEST))
    accounts.add_member("library", Member("u", "bob", Role.GUEST))
    accounts.add_member("library", Member("g", DEV_DN, Role.GUEST))
    accounts.remove_member("library", "u", "alice")
    accounts.remove_member("library", "g", DEV_DN)
    assert [m.entity_name for m in accounts.list_members("library")] == ["bob"]
    assert accounts.list_memberships("alice") == {}
    with pytest.raises(AccountNotFound):
        accounts.remove_member("library", "u", "alice")
    with pytest.raises(AccountNotFound):
        accounts.remove_member("nope", "g", DEV_DN)
    # the counts are right: user and project can be deleted
    accounts.delete_user("alice")
    accounts.remove_member("library", "u", "bob")
    accounts.delete_project("library")


def test_list_members(accounts, library):
    accounts.add_member("library", Member("u", "bob", Role.GUEST))
    accounts.add_member("library", Member("u", "alice", Role.PROJECT_ADMIN))
    accounts.add_member("library", Member("g", OPS_DN, Role.DEVELOPER))
    members = accounts.list_members("library")
    assert [(m.entity_type, m.entity_name, m.role_id) for m in members] == [
        ("g", OPS_DN, Role.DEVELOPER),
        ("u", "alice", Role.PROJECT_ADMIN),
        ("u", "bob", Role.GUEST),
    ]
    assert all(m.project == "library" and m.member_id for m in members)
    assert accounts.list_members("nope") == []


# -- the token service's read --------------------------------------------------------------
def test_access_context_is_one_call(accounts, calls):
    accounts.create_user(user(groups=[DEV_DN]))
    accounts.create_project(Project("library", public=True))
    accounts.create_project(Project("team"))
    accounts.create_project(Project("secret"))
    accounts.add_member("library", Member("u", "alice", Role.GUEST))
    accounts.add_member("library", Member("g", DEV_DN, Role.DEVELOPER))
    accounts.add_member("team", Member("g", OPS_DN, Role.MAINTAINER))
    accounts.add_member("secret", Member("g", "cn=other,dc=example", Role.PROJECT_ADMIN))
    clear(calls)

    ctx = accounts.access_context("alice", [DEV_DN.upper(), OPS_DN], ["library", "team", "secret", "missing"])
    assert calls is None or calls == ["BatchGetItem"]
    assert isinstance(ctx, AccessContext)
    assert ctx.user.username == "alice" and ctx.user.groups == [DEV_DN]
    assert set(ctx.projects) == {"library", "team", "secret"}
    assert ctx.projects["library"].public is True and ctx.projects["team"].public is False
    assert sorted(ctx.roles["library"]) == [Role.DEVELOPER, Role.GUEST]
    assert ctx.roles["team"] == [Role.MAINTAINER]
    assert ctx.roles["secret"] == []
    assert "missing" not in ctx.roles
    assert ctx.role("library") is Role.DEVELOPER
    assert ctx.role("secret") is None and ctx.role("missing") is None


def test_access_context_past_100_keys_takes_more_calls(accounts, calls):
    groups = [f"cn=g{i:02d},dc=example" for i in range(60)]
    accounts.create_project(Project("a"))
    accounts.create_project(Project("b"))
    accounts.add_member("a", Member("g", groups[59], Role.DEVELOPER))
    accounts.add_member("b", Member("g", groups[0], Role.GUEST))
    clear(calls)
    ctx = accounts.access_context("alice", groups, ["a", "b"])  # 1 + 2 x (2 + 60) = 125 keys
    assert calls is None or calls == ["BatchGetItem", "BatchGetItem"]
    assert ctx.roles == {"a": [Role.DEVELOPER], "b": [Role.GUEST]}


def test_access_context_for_anonymous(accounts, calls):
    accounts.create_project(Project("library", public=True))
    clear(calls)
    ctx = accounts.access_context(None, [], ["library", "missing"])
    assert calls is None or calls == ["BatchGetItem"]
    assert ctx.user is None
    assert list(ctx.projects) == ["library"] and ctx.roles == {"library": []}


def test_access_context_for_unknown_user_keeps_group_roles(accounts):
    accounts.create_project(Project("library"))
    accounts.add_member("library", Member("g", DEV_DN, Role.DEVELOPER))
    ctx = accounts.access_context("ldap-newcomer", [DEV_DN], ["library"])
    assert ctx.user is None
    assert ctx.roles == {"library": [Role.DEVELOPER]}


def test_access_context_with_nothing_to_read_calls_nothing(accounts, calls):
    ctx = accounts.access_context(None, [DEV_DN], [])
    assert calls is None or calls == []
    assert ctx == AccessContext(None, {}, {})


def test_access_context_user_only(accounts, calls):
    accounts.create_user(user())
    clear(calls)
    ctx = accounts.access_context("alice", [], [])
    assert calls is None or calls == ["BatchGetItem"]
    assert ctx.user.username == "alice" and ctx.projects == {} and ctx.roles == {}


# -- robots --------------------------------------------------------------------------------
def test_create_and_get_robots(accounts, clock):
    accounts.create_project(Project("library"))
    created = accounts.create_robot(robot(description="CI", creator="admin"))
    system = accounts.create_robot(robot("scanner", project=None))
    assert created.robot_id > 0 and system.robot_id > created.robot_id
    got = accounts.get_robot("robot$library+ci")
    assert got == created
    assert got.name == "robot$library+ci" and got.short_name == "ci"
    assert system.name == "robot$scanner" and system.short_name == "scanner"
    assert got.level == "project" and got.project == "library"
    assert got.access == PERMISSIONS
    assert got.expiry == NEVER and not got.is_expired(T0 + 10**9)
    assert got.disabled is False and got.creator == "admin" and got.created == T0
    assert accounts.get_robot("robot$scanner").project is None
    assert accounts.get_robot_by_id(system.robot_id) == system
    assert accounts.get_robot("robot$nope") is None
    assert accounts.get_robot_by_id(31337) is None


def test_robot_permissions_may_be_given_as_a_list(accounts):
    accounts.create_project(Project("library"))
    r = accounts.create_robot(Robot("robot$library+x", "s", level="project", project="library", permissions=PERMISSIONS))
    assert json.loads(r.permissions) == PERMISSIONS
    assert accounts.get_robot("robot$library+x").access == PERMISSIONS


def test_create_existing_robot_conflicts(accounts):
    accounts.create_project(Project("library"))
    accounts.create_robot(robot())
    with pytest.raises(Conflict):
        accounts.create_robot(robot(description="again"))
    assert accounts.get_robot("robot$library+ci").description == ""


def test_project_robot_needs_its_project(accounts, items):
    with pytest.raises(AccountNotFound):
        accounts.create_robot(robot(project="nope"))
    assert not items()
    assert accounts.robot_count() == 0 and accounts.owner_of_name("robot$nope+ci") is None


@pytest.mark.parametrize(
    "bad",
    [
        Robot("robot$other+ci", "s", level="project", project="library"),
        Robot("robot$ci", "s", level="project", project="library"),
        Robot("robot$library+ci", "s", level="system"),
        Robot("robot$ci", "s", level="system", project="library"),
        Robot("ci", "s", level="system"),
        Robot("robot$", "s", level="system"),
        Robot("robot$ci", "s", level="global"),
    ],
)
def test_robot_names_follow_the_level(accounts, bad):
    accounts.create_project(Project("library"))
    with pytest.raises(ValueError):
        accounts.create_robot(bad)


def test_update_robot(accounts, clock):
    accounts.create_project(Project("library"))
    accounts.create_robot(robot())
    clock.now = T0 + 3
    pull_only = [{"kind": "project", "namespace": "library", "access": [{"resource": "repository", "action": "pull"}]}]
    out = accounts.update_robot(
        "robot$library+ci", secret_hash="new", disabled=True, expiry=T0 + 100, permissions=pull_only, description="d"
    )
    assert out.secret_hash == "new" and out.disabled is True and out.description == "d"
    assert out.access == pull_only
    assert out.expiry == T0 + 100 and out.is_expired(T0 + 100) and not out.is_expired(T0 + 99)
    assert out.updated == T0 + 3 and out.created == T0
    assert accounts.get_robot("robot$library+ci") == out
    with pytest.raises(ValueError):
        accounts.update_robot("robot$library+ci", project="other")
    with pytest.raises(AccountNotFound):
        accounts.update_robot("robot$library+gone", disabled=True)
    assert accounts.get_robot("robot$library+gone") is None


def test_delete_robot(accounts, items):
    accounts.create_project(Project("library"))
    before = items()
    r = accounts.create_robot(robot())
    s = accounts.create_robot(robot("sys", project=None))
    accounts.delete_robot(r.full_name)
    accounts.delete_robot(s.full_name)
    assert accounts.get_robot(r.full_name) is None
    assert accounts.get_robot_by_id(r.robot_id) is None
    assert items() == before
    with pytest.raises(AccountNotFound):
        accounts.delete_robot(r.full_name)
    accounts.delete_project("library")  # its count came down


def test_list_robots(accounts):
    for p in ("library", "lib", "team"):
        accounts.create_project(Project(p))
    names = []
    for p, n in [("library", "b"), ("library", "a"), ("lib", "x"), ("team", "c"), (None, "zz"), (None, "aa")]:
        names.append(accounts.create_robot(robot(n, project=p)).full_name)
    ordered = sorted(names)

    everything, last, more = [], None, True
    while more:
        page, more = accounts.list_robots(last=last, limit=4)
        everything += [r.full_name for r in page]
        last = page[-1].full_name
    assert everything == ordered

    library, more = accounts.list_robots(project="library")
    assert [r.full_name for r in library] == ["robot$library+a", "robot$library+b"] and not more
    page, more = accounts.list_robots(project="library", limit=1)
    assert [r.full_name for r in page] == ["robot$library+a"] and more
    page, more = accounts.list_robots(project="library", last="robot$library+a", limit=1)
    assert [r.full_name for r in page] == ["robot$library+b"] and not more
    assert accounts.list_robots(project="library", last="robot$library+b") == ([], False)
    assert accounts.list_robots(project="lib", last="robot$library+z") == ([], False)
    assert [r.full_name for r in accounts.list_robots(project="lib")[0]] == ["robot$lib+x"]


# -- names: unique up to case and confusable characters, for users and robots alike -------
@pytest.mark.parametrize("other", ["Alice", "ALICE", "\u0430lice", "\u0391LICE", "a1ice"])
def test_a_name_taken_up_to_case_or_confusables_is_refused(accounts, other):
    accounts.create_user(user("alice"))
    with pytest.raises(NameTaken):
        accounts.create_user(user(other))
    assert accounts.get_user(other) is None
    assert accounts.user_count() == 1


def test_an_existing_users_name_is_a_conflict_before_a_look_alike(accounts):
    accounts.create_user(user("alice"))
    with pytest.raises(Conflict) as raised:
        accounts.create_user(user("alice"))
    assert not isinstance(raised.value, NameTaken)


def test_robots_and_users_share_no_look_alike_names(accounts):
    accounts.create_robot(robot("app1", project=None))
    with pytest.raises(NameTaken):
        accounts.create_robot(robot("appl", project=None))
    accounts.create_project(Project(name="team"))
    accounts.create_robot(robot("build", "team"))
    with pytest.raises(NameTaken):
        accounts.create_robot(robot("bui1d", "team"))
    assert accounts.robot_count() == 2 and accounts.robot_count("team") == 1


def test_a_deleted_accounts_name_is_free_again(accounts):
    accounts.create_user(user("bob"))
    accounts.delete_user("bob")
    assert accounts.owner_of_name("bob") is None
    assert accounts.create_user(user("Bob")).username == "Bob"
    accounts.create_robot(robot("ci", project=None))
    accounts.delete_robot("robot$ci")
    accounts.create_robot(robot("c1", project=None))


def test_a_project_deleted_with_its_robots_frees_their_names(accounts):
    accounts.create_project(Project(name="team"))
    accounts.create_robot(robot("ci", "team"))
    accounts.delete_project("team")
    assert accounts.owner_of_name("robot$team+ci") is None
    accounts.create_project(Project(name="team"))
    accounts.create_robot(robot("ci", "team"))


def test_names_must_be_stored_normalised(accounts):
    with pytest.raises(BadName):
        accounts.create_user(user("ｂｏｂ"))
    with pytest.raises(BadName):
        accounts.create_user(user("bo\u200bb"))
    assert accounts.user_count() == 0


def test_uniqueness_rests_on_conditions_inside_the_accounts_transaction(table, clock):
    """Concurrent creates of look-alike names cannot both succeed on DynamoDB: no
    read decides it; the account's own transaction puts one NAME item per key on
    condition that none exists (moto does not make transactions atomic across
    threads, so this asserts the mechanism rather than racing threads)."""
    sent: list[tuple[str, dict]] = []

    def record(model, params, **_):
        sent.append((model.name, params))

    events = table.client.meta.events
    events.register("before-parameter-build.dynamodb.*", record)
    try:
        DynamoAccounts(table, clock).create_user(user("Carol"))
    finally:
        events.unregister("before-parameter-build.dynamodb.*", record)
    assert [name for name, _ in sent] == ["UpdateItem", "TransactWriteItems"]  # the id counter, then one transaction
    written = sent[1][1]["TransactItems"]
    names = [i["Put"] for i in written if "Put" in i and i["Put"]["Item"]["PK"]["S"].startswith("NAME#")]
    assert {n["Item"]["PK"]["S"] for n in names} == {"NAME#carol"}
    assert all(n["ConditionExpression"] == "attribute_not_exists(PK)" for n in names)
    with pytest.raises(NameTaken):
        DynamoAccounts(table, clock).create_user(user("car\u043el"))  # Cyrillic о


def test_owner_of_name_finds_the_account_up_to_case(accounts):
    accounts.create_user(user("grace"))
    accounts.create_robot(robot("scan", project=None))
    assert accounts.owner_of_name("GRACE") == ("user", "grace")
    assert accounts.owner_of_name("grace") == ("user", "grace")
    assert accounts.owner_of_name("ROBOT$SCAN") == ("robot", "robot$scan")
    assert accounts.owner_of_name("nobody") is None


# -- epochs: what sessions, refresh tokens and cached credentials are bound to -----------
def test_the_epoch_is_random_and_changes_with_password_and_demotion(accounts):
    first = accounts.create_user(user("dave", sysadmin=True))
    other = accounts.create_user(user("erin"))
    assert first.epoch and other.epoch and first.epoch != other.epoch
    assert accounts.get_user("dave").epoch == first.epoch
    changed = accounts.set_password("dave", "hash-2")
    assert changed.epoch != first.epoch
    profile = accounts.update_user("dave", realname="Dave")
    assert profile.epoch == changed.epoch  # a profile edit is not a reason
    demoted = accounts.update_user("dave", sysadmin=False)
    assert demoted.epoch != changed.epoch


def test_a_recreated_user_is_another_account(accounts):
    before = accounts.create_user(user("frank"))
    accounts.delete_user("frank")
    after = accounts.create_user(user("frank"))
    assert after.user_id != before.user_id and after.epoch != before.epoch


def test_a_robots_epoch_changes_with_secret_permissions_and_disable(accounts):
    made = accounts.create_robot(robot("deploy", project=None))
    epochs = [made.epoch]
    epochs.append(accounts.update_robot("robot$deploy", description="x").epoch)
    epochs.append(accounts.update_robot("robot$deploy", secret_hash="other").epoch)
    epochs.append(accounts.update_robot("robot$deploy", permissions=[]).epoch)
    epochs.append(accounts.update_robot("robot$deploy", disabled=True).epoch)
    assert epochs[0] == epochs[1]
    assert len(set(epochs[1:])) == 4


def test_a_field_set_to_none_goes_back_to_its_default(accounts):
    accounts.create_user(user(comment="c", groups=[DEV_DN]))
    out = accounts.update_user("alice", email=None, comment=None, groups=None)
    assert (out.email, out.comment, out.groups) == ("", "", [])
    assert accounts.get_user("alice") == out
    accounts.create_robot(robot("ci", project=None, description="d", expiry=T0 + 5))
    out = accounts.update_robot("robot$ci", description=None, expiry=None)
    assert (out.description, out.expiry) == ("", NEVER)
    assert accounts.get_robot("robot$ci") == out


def test_records_handed_out_are_copies(accounts):
    made = accounts.create_user(user(groups=[DEV_DN]))
    made.groups.append(OPS_DN)
    accounts.get_user("alice").groups.append(OPS_DN)
    assert accounts.get_user("alice").groups == [DEV_DN]


# -- what the lists' pages read: sizes, keys and rows in order ------------------------------
def test_list_sizes_follow_every_change(accounts):
    assert (accounts.user_count(), accounts.project_count(), accounts.project_count(public_only=True)) == (0, 0, 0)
    accounts.create_user(user())
    accounts.create_project(Project("open", public=True), admin="alice")
    accounts.create_project(Project("closed"))
    accounts.add_member("closed", Member("g", DEV_DN, Role.GUEST))
    accounts.create_robot(robot("ci", "closed"))
    accounts.create_robot(robot("sys", project=None))
    assert (accounts.user_count(), accounts.project_count(), accounts.project_count(public_only=True)) == (1, 2, 1)
    assert (accounts.member_count("open"), accounts.member_count("closed")) == (1, 1)
    assert (accounts.robot_count(), accounts.robot_count("closed"), accounts.robot_count("open")) == (2, 1, 0)
    accounts.update_project("closed", public=True)
    accounts.update_project("closed", public=True)  # listed already: counted once
    assert accounts.project_count(public_only=True) == 2
    accounts.update_project("open", metadata={"public": "false"})
    assert accounts.project_count(public_only=True) == 1
    with pytest.raises(Conflict):
        accounts.create_project(Project("closed"))  # a failed write counts nothing
    accounts.delete_project("closed")
    accounts.delete_user("alice")
    assert (accounts.user_count(), accounts.project_count(), accounts.project_count(public_only=True)) == (0, 1, 0)
    assert (accounts.member_count("open"), accounts.member_count("closed")) == (0, 0)
    assert (accounts.robot_count(), accounts.robot_count("closed")) == (1, 0)


def test_lists_in_key_order_page_by_key(accounts):
    for n in ("carol", "alice", "bob"):
        accounts.create_user(user(n))
    users = accounts.users_in_order()
    assert users.keys(None, 2) == ["alice", "bob"]
    assert users.keys("alice", 5) == ["bob", "carol"]
    assert users.keys("carol", 5) == [] and users.keys(None, 0) == []
    assert [(k, u.username, u.email) for k, u in users.rows("alice", 1)] == [("bob", "bob", "bob@example.org")]

    for name, public in (("b-open", True), ("a-closed", False), ("c-open", True)):
        accounts.create_project(Project(name, public=public))
    assert accounts.projects_in_order().keys(None, 10) == ["a-closed", "b-open", "c-open"]
    assert [(k, p.public) for k, p in accounts.projects_in_order(public_only=True).rows(None, 10)] == [
        ("b-open", True), ("c-open", True),
    ]
    assert accounts.projects_in_order(public_only=True).keys("b-open", 10) == ["c-open"]

    accounts.add_member("a-closed", Member("u", "bob", Role.GUEST))
    accounts.add_member("a-closed", Member("g", OPS_DN, Role.DEVELOPER))
    accounts.add_member("a-closed", Member("u", "alice", Role.MAINTAINER))
    members = accounts.members_in_order("a-closed")
    rows = members.rows(None, 10)
    assert [(m.entity_type, m.entity_name) for _, m in rows] == [("g", OPS_DN), ("u", "alice"), ("u", "bob")]
    assert [m.entity_name for _, m in members.rows(rows[0][0], 10)] == ["alice", "bob"]
    assert members.keys(rows[1][0], 10) == [rows[2][0]]
    assert accounts.members_in_order("b-open").rows(None, 10) == []

    for name, project in (("z", None), ("y", "b-open"), ("x", "a-closed"), ("w", "b-open")):
        accounts.create_robot(robot(name, project))
    assert accounts.robots_in_order().keys(None, 10) == [
        "robot$a-closed+x", "robot$b-open+w", "robot$b-open+y", "robot$z",
    ]
    assert [(k, r.short_name) for k, r in accounts.robots_in_order("b-open").rows("robot$b-open+w", 10)] == [
        ("robot$b-open+y", "y"),
    ]


def test_named_records_are_those_that_exist_by_name(accounts):
    for n in ("bob", "alice"):
        accounts.create_user(user(n))
        accounts.create_project(Project(f"p-{n}"))
    assert [u.username for u in accounts.users_named(["bob", "nobody", "alice", "bob"])] == ["alice", "bob"]
    assert [p.name for p in accounts.projects_named(["p-bob", "p-alice", "gone"])] == ["p-alice", "p-bob"]
    assert accounts.users_named([]) == [] and accounts.projects_named([]) == []
    assert [p.name for p in accounts.all_projects()] == ["p-alice", "p-bob"]


# -- a project's changes are events, written with the change ------------------------------
def test_a_projects_creation_and_deletion_are_events(accounts, emitted):
    accounts.create_user(user())
    made = accounts.create_project(Project("library", public=True), admin="alice")
    with pytest.raises(Conflict):
        accounts.create_project(Project("library"))  # no event for a failed write
    with pytest.raises(AccountNotFound):
        accounts.create_project(Project("orphan"), admin="nobody")
    accounts.update_project("library", public=False)  # not an event
    accounts.delete_project("library")
    with pytest.raises(AccountNotFound):
        accounts.delete_project("library")
    events = sorted(emitted(), key=lambda e: e.type)
    assert [(e.type, e.subject) for e in events] == [(PROJECT_CREATED, "library"), (PROJECT_DELETED, "library")]
    created, deleted = events
    assert {k: created.data[k] for k in ("project", "project_id", "public")} == {
        "project": "library", "project_id": made.project_id, "public": True,
    }
    assert deleted.data["public"] is False and deleted.data["project_id"] == made.project_id
    assert created.source == "/berth/test" and created.id != deleted.id


def test_the_creators_admin_membership_comes_with_the_project(accounts):
    accounts.create_user(user())
    accounts.create_project(Project("library"), admin="alice")
    assert accounts.get_member("library", "u", "alice").role is Role.PROJECT_ADMIN
    assert accounts.list_memberships("alice") == {"library": Role.PROJECT_ADMIN}
    with pytest.raises(AccountNotFound):
        accounts.create_project(Project("orphan"), admin="nobody")
    assert accounts.get_project("orphan") is None and accounts.project_names() == ["library"]


def test_a_projects_deletion_takes_other_stores_removals_with_it(accounts, request, clock):
    """`also`: another store's removal of the project's own data, of the same backend."""
    from chalicelib.meta.quotas import DynamoQuotas, MemoryQuotas

    quotas = MemoryQuotas(clock) if isinstance(accounts, MemoryAccounts) else DynamoQuotas(request.getfixturevalue("table"), clock)
    accounts.create_project(Project("library"))
    quotas.set_hard("library", 1000)
    quotas.set_hard("other", 2000)
    accounts.delete_project("library", also=[quotas.removal("library")])
    assert accounts.get_project("library") is None
    assert quotas.get("library").hard == -1 and quotas.get("other").hard == 2000


# -- another store's read, joined to a login's ----------------------------------------------
def test_another_stores_read_is_answered_with_the_account(accounts, request, clock):
    """The login's throttling counters, read with the account (meta/login_attempts.py, built
    by the attempts store of the same backend): the answer comes back untouched, for the
    store that asked (tests/contract/test_login_attempt_store.py has the rest)."""
    from chalicelib.meta.login_attempts import DynamoLoginAttempts, LoginAttemptStore, MemoryLoginAttempts

    accounts.create_user(user())
    accounts.create_robot(robot("ci", project=None))
    if isinstance(accounts, MemoryAccounts):
        attempts: LoginAttemptStore = MemoryLoginAttempts(clock)
    else:
        attempts = DynamoLoginAttempts(request.getfixturevalue("table"), clock)
    read = attempts.read("alice", "10.0.0.1")
    attempts.record_failure(read, attempts.buckets(read, {}), window=60, keep=120)

    def check(got) -> bool:
        return attempts.buckets(read, got).account.failures == 1

    context = accounts.access_context("alice", (), ["nope"], also=read)
    assert context.user.username == "alice" and check(context.also)
    found, also = accounts.robot_with("robot$ci", read)
    assert found.full_name == "robot$ci" and check(also)
    assert accounts.robot_with("robot$gone", read)[0] is None
    assert accounts.access_context("alice", (), []).also is None
