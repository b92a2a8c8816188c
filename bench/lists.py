"""Section 6: does a management list's page cost the same at 100 and at 10,000 entries?

One deployment on in-process moto grows from the small size to the large one; after
each, page 1 of every list of Harbor's /api/v2.0 that Berth keeps in key order is
requested through the Chalice handler (Basic auth, warm) and its AWS calls and DynamoDB
items read are counted; page 2 is requested through the cursor that page 1's Link
header carries. The lists: users, projects (as an administrator, and as a user who
sees the public ones and their own private one), robots (all, and one project's),
a project's members and a project's repositories, all in the project ``big``.

Entries are written with BatchWriteItem in the shapes the stores write (the record's
``to_item`` and its listing entry), and each list's counter is raised by the number
written: creating 50,000 entries through the API would take many minutes. The cost
of keeping the counters (one more item in the transaction that adds or removes an
entry) is in the ``calls`` section's numbers, which go through the API.
tests/scale/test_list_pages.py runs the same measure as a test.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

BIG = "big"  # the project that holds the long per-project lists
READER = "reader"  # a user: member of `big` (private), sees the public projects
PASSWORD = "Reader-Passw0rd"
BASE = "/v2/api/v2.0"


@dataclass
class Measure:
    size: int
    page: str
    calls: int
    items_read: int
    described: str
    total: str  # X-Total-Count
    returned: int


def setup(svc: Any) -> None:
    """The project `big` and the user `reader`, through the stores (counted)."""
    from chalicelib.auth.passwords import hash_password
    from chalicelib.meta.accounts import Member, Project, User
    from chalicelib.roles import Role

    svc.accounts.create_project(Project(name=BIG, public=False, owner="admin"))
    svc.accounts.create_user(User(username=READER, password_hash=hash_password(PASSWORD)))
    svc.accounts.add_member(BIG, Member("u", READER, int(Role.DEVELOPER)))


LISTS = ("users", "projects", "robots", "members", "repositories", "audit")


def grow(svc: Any, kind: str, start: int, stop: int) -> None:
    """Entries number start..stop-1 of one kind of list, and its counters raised to match."""
    from chalicelib.meta import keys
    from chalicelib.meta.accounts import Member, Project, Robot, User, item_of, reverse_item, robot_full_name
    from chalicelib.meta.audit import AuditEntry, day_list, day_of, entry_id, project_day_list
    from chalicelib.meta.table import marshal

    now = int(time.time())
    items: list[dict] = []
    added: dict[str, int] = {}

    def count(name: str) -> None:
        added[name] = added.get(name, 0) + 1

    for i in range(start, stop):
        if kind == "users":
            user = User(username=f"u{i:06d}", password_hash="x", user_id=1000 + i, created=now, updated=now)
            items += [item_of(user), {"PK": keys.USERS_PK, "SK": user.username}]
            count(keys.USERS_LIST)
        elif kind == "projects":
            public = i % 2 == 0
            project = Project(name=f"p{i:06d}", project_id=1000 + i, public=public, owner="admin",
                              metadata={"public": "true" if public else "false"}, created=now, updated=now)
            items += [item_of(project), {"PK": keys.PROJECTS_PK, "SK": project.name}]
            count(keys.PROJECTS_LIST)
            if public:
                items.append({"PK": keys.PUBLIC_PROJECTS_PK, "SK": project.name})
                count(keys.PUBLIC_PROJECTS_LIST)
        elif kind == "robots":
            robot = Robot(full_name=robot_full_name(f"r{i:06d}", BIG), secret_hash="x", level="project", project=BIG,
                          robot_id=1000 + i, created=now, updated=now)
            items += [item_of(robot), {"PK": keys.ROBOTS_PK, "SK": robot.full_name}]
            count(keys.ROBOTS_LIST)
            count(keys.robots_list(BIG))
        elif kind == "members":
            member = Member("u", f"u{i:06d}", 3, member_id=1000 + i, created=now, project=BIG)
            items += [item_of(member), reverse_item(member)]
            count(keys.members_list(BIG))
        elif kind == "repositories":
            items.append({"PK": keys.CATALOG_PK, "SK": f"{BIG}/r{i:06d}", "created": now, "updated": now})
            count(keys.repositories_list(BIG))
        elif kind == "audit":
            # pulls in `big`, spread over the last week at any size: the total reads one counter
            # per day that has entries (at most the retention period's days), so both sizes
            # cover the same days and differ only in entries per day
            at = now - 1 - (i * 6007) % (7 * 86400)
            entry = AuditEntry("admin", "pull", "artifact", f"{BIG}/app:{i}", project=BIG, op_time=at, id=entry_id(at, i))
            items += svc.audit.items(entry)
            count(day_list(day_of(at)))
            count(project_day_list(BIG, day_of(at)))
        else:
            raise ValueError(kind)
    client, table = svc.dynamodb, svc.settings.table_name
    for at in range(0, len(items), 25):
        request = {table: [{"PutRequest": {"Item": marshal(item)}} for item in items[at:at + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
    for name, n in added.items():
        client.update_item(TableName=table, Key={"PK": {"S": keys.count_pk(name)}, "SK": {"S": keys.COUNT_SK}},
                           UpdateExpression=f"ADD {keys.COUNT_ATTRIBUTE} :d", ExpressionAttributeValues={":d": {"N": str(n)}})


def pages(kind: str, admin_password: str) -> list[tuple[str, str, tuple[str, str]]]:
    """(label, path below /api/v2.0, (user, password)) of the first pages of one kind of list."""
    admin = ("admin", admin_password)
    return {
        "users": [("users", "/users?page_size=10", admin)],
        "projects": [
            ("projects, administrator", "/projects?page_size=10", admin),
            ("projects, a user (public + own)", "/projects?page_size=10", (READER, PASSWORD)),
        ],
        "robots": [
            ("robots, all", "/robots?page_size=10", admin),
            ("robots, one project", "/robots?page_size=10&q=ProjectID%3D{big_id}", admin),
        ],
        "members": [("members of a project", f"/projects/{BIG}/members?page_size=10", admin)],
        "repositories": [("repositories of a project", f"/projects/{BIG}/repositories?page_size=10", admin)],
        "audit": [
            ("audit log", "/audit-logs?page_size=10", admin),
            ("a project's audit log", f"/projects/{BIG}/logs?page_size=10", admin),
        ],
    }[kind]


def measure(api: Any, counter: Any, svc: Any, kind: str, size: int, admin_password: str) -> list[Measure]:
    """Page 1 of each list of `kind` (and page 2 through page 1's Link), warm: each is asked
    once before it is counted, so credentials and configuration are cached as in a warm container."""
    import base64

    big_id = svc.accounts.get_project(BIG).project_id
    out = []
    for label, path, (user, password) in pages(kind, admin_password):
        path = path.format(big_id=big_id)
        headers = {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}
        api.request("GET", BASE + path, b"", headers)  # warm
        _fresh_configuration(svc)
        with counter.measure() as tally:
            reply = api.request("GET", BASE + path, b"", headers)
        _check(reply, path)
        out.append(_measure(size, f"{label}: page 1", tally, reply))
        link = reply.headers.get("link", "")
        if 'rel="next"' in link:
            next_path = link.split(";")[0].strip(" <>")[len("/api/v2.0"):]
            _fresh_configuration(svc)
            with counter.measure() as tally:
                reply = api.request("GET", BASE + next_path, b"", headers)
            _check(reply, next_path)
            out.append(_measure(size, f"{label}: page 2 (Link)", tally, reply))
    return out


def _fresh_configuration(svc: Any) -> None:
    """Read the runtime configuration again now, so that its once-a-minute refresh
    (chalicelib/runtime_config.py) does not fall inside a measured request on a slow machine."""
    svc.runtime_config.forget()
    svc.runtime_config.values()


def grow_and_measure(api: Any, counter: Any, svc: Any, kind: str, small: int, large: int, admin_password: str) -> tuple[list[Measure], list[Measure]]:
    """One kind of list in a deployment of its own (moto's Query reads its whole table, so
    each list gets a table of its own to keep the run short): measured at `small`
    entries, then grown to `large` and measured again."""
    setup(svc)
    grow(svc, kind, 0, small)
    first = measure(api, counter, svc, kind, small, admin_password)
    grow(svc, kind, small, large)
    return first, measure(api, counter, svc, kind, large, admin_password)


def _check(reply: Any, path: str) -> None:
    if reply.status != 200:
        raise RuntimeError(f"{path}: {reply.status} {reply.body[:200]!r}")


def _measure(size: int, page: str, tally: Any, reply: Any) -> Measure:
    return Measure(size, page, tally.total, tally.items_read, tally.describe(),
                   reply.headers.get("x-total-count", ""), len(reply.json()))


def same_cost(small: list[Measure], large: list[Measure]) -> dict[str, bool]:
    """page -> whether the large list's page costs no more calls and items than the small one's."""
    by = {m.page: m for m in small}
    return {m.page: m.calls <= by[m.page].calls and m.items_read <= by[m.page].items_read for m in large if m.page in by}


def sizes(quick: bool) -> tuple[int, int]:
    return (100, 1_000 if quick else 10_000)


def run(quick: bool = False) -> dict:
    from bench.inproc import ADMIN_PASSWORD, InProcessRegistry
    from bench.util import log

    small, large = sizes(quick)
    first: list[Measure] = []
    second: list[Measure] = []
    for kind in LISTS:
        started = time.perf_counter()
        with InProcessRegistry(stage=f"lists{kind}") as reg:
            a, b = grow_and_measure(reg, reg.counter, reg.setup_services(), kind, small, large, ADMIN_PASSWORD)
        first += a
        second += b
        log(f"lists: {kind} at {small:,} and {large:,} in {time.perf_counter() - started:.0f} s")
    return {"small": first, "large": second, "sizes": (small, large)}


def render(result: dict) -> str:
    small_n, large_n = result["sizes"]
    large = {m.page: m for m in result["large"]}
    ok = same_cost(result["small"], result["large"])
    lines = [
        (f"| page | X-Total-Count | calls at {small_n:,} | calls at {large_n:,} | items read at {small_n:,} "
         f"| items read at {large_n:,} | same cost | AWS calls at {large_n:,} |"),
        "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for a in result["small"]:
        b = large.get(a.page)
        if b is None:
            continue
        lines.append(f"| {a.page} | {a.total} / {b.total} | {a.calls} | {b.calls} | {a.items_read} | {b.items_read} "
                     f"| {'yes' if ok[a.page] else '**no**'} | {b.described} |")
    return "\n".join(lines)
