"""Lists answered a page at a time (docs/decisions/lists-read-one-page.md): X-Total-Count
comes from counters kept in the transactions that add and remove entries, and walking a
list through its Link headers (with their cursors) sees every entry once, in key order."""
from __future__ import annotations

import pytest

from chalicelib.errors import Conflict
from chalicelib.meta import keys
from tests.api.management.conftest import PASSWORD


def walk(client, path: str, page_size: int = 2, *, keyed: bool = True) -> tuple[list[dict], int]:
    """Every entry of a list, following rel="next" (the cursor it carries when the list is
    served in key order) to the end."""
    sep = "&" if "?" in path else "?"
    url, seen, total = f"{path}{sep}page_size={page_size}", [], None
    for _ in range(200):
        reply = client.get(url)
        assert reply.status == 200, reply.body
        page = reply.json()
        assert len(page) <= page_size
        seen += page
        total = int(reply.headers["x-total-count"])
        nxt = [p for p in reply.headers.get("link", "").split(" , ") if 'rel="next"' in p]
        if not nxt:
            return seen, total
        url = nxt[0].split(";")[0].strip(" <>")[len("/api/v2.0"):]
        assert ("cursor=" in url) == keyed
    pytest.fail("the list does not end")


def size(world, name: str) -> int:
    return world.svc.table.counts([name])[name]


def test_users_are_counted_on_create_and_delete_and_listed_by_name(world, admin):
    before = size(world, keys.USERS_LIST)
    names = sorted(world.name("cu") for _ in range(3))
    for name in names:
        body = {"username": name, "email": f"{name}@example.com", "realname": name, "password": PASSWORD}
        assert admin.post("/users", body).status == 201
    again = {"username": names[0], "email": "other@example.com", "realname": "x", "password": PASSWORD}
    assert admin.post("/users", again).status == 409  # a refused add counts nothing
    assert size(world, keys.USERS_LIST) == before + 3
    users, total = walk(admin, "/users")
    listed = [u["username"] for u in users]
    assert listed == sorted(listed) and len(listed) == total == before + 3
    assert set(names) <= set(listed)
    victim = next(u for u in users if u["username"] == names[1])
    assert admin.delete(f"/users/{victim['user_id']}").status == 200
    assert admin.delete(f"/users/{victim['user_id']}").status == 404
    assert int(admin.get("/users").headers["x-total-count"]) == before + 2


def test_projects_public_and_own_private_ones_are_counted(world, admin):
    user = world.user()
    mine, hidden, shown = world.name("cpa"), world.name("cpb"), world.name("cpc")
    world.project(mine)
    world.project(hidden)
    world.project(shown, public=True)
    world.member(mine, user.username, 3)
    as_user = world.as_(user.username)
    projects, total = walk(as_user, "/projects")
    names = [p["name"] for p in projects]
    assert names == sorted(names) and len(names) == total
    assert mine in names and shown in names and hidden not in names
    public_before = int(admin.get("/projects?public=true").headers["x-total-count"])
    # making a project public or private moves it in and out of the public count, once
    assert admin.put(f"/projects/{hidden}", {"metadata": {"public": "true"}}).status == 200
    assert admin.put(f"/projects/{hidden}", {"metadata": {"public": "true"}}).status == 200
    assert int(admin.get("/projects?public=true").headers["x-total-count"]) == public_before + 1
    assert int(as_user.get("/projects").headers["x-total-count"]) == total + 1
    assert admin.put(f"/projects/{shown}", {"metadata": {"public": "false"}}).status == 200
    assert int(admin.get("/projects?public=true").headers["x-total-count"]) == public_before
    everything, all_total = walk(admin, "/projects", page_size=3)
    assert len(everything) == all_total == size(world, keys.PROJECTS_LIST)
    assert admin.delete(f"/projects/{hidden}").status == 200
    assert size(world, keys.PROJECTS_LIST) == all_total - 1
    assert int(admin.get("/projects?public=true").headers["x-total-count"]) == public_before - 1


def test_members_and_robots_are_counted_and_go_with_their_project(world, admin):
    project = world.name("cm")
    world.project(project)
    users = [world.user() for _ in range(3)]
    for user in users:
        world.member(project, user.username, 2)
    robots_before = size(world, keys.ROBOTS_LIST)
    for n in range(3):
        world.robot(f"bot{n}", [{"kind": "project", "namespace": project, "access": [{"resource": "repository", "action": "pull"}]}], project=project)
    members, total = walk(admin, f"/projects/{project}/members")
    assert total == len(members) == 3
    assert [m["entity_name"] for m in members] == sorted(m["entity_name"] for m in members)
    world.svc.accounts.delete_user(users[0].username)  # their membership goes with them
    assert int(admin.get(f"/projects/{project}/members").headers["x-total-count"]) == 2
    project_id = world.svc.accounts.get_project(project).project_id
    robots, robot_total = walk(admin, f"/robots?q=ProjectID%3D{project_id}")
    assert robot_total == len(robots) == 3
    assert size(world, keys.ROBOTS_LIST) == robots_before + 3
    assert admin.delete(f"/projects/{project}").status == 200
    assert size(world, keys.members_list(project)) == 0
    assert size(world, keys.robots_list(project)) == 0
    assert size(world, keys.ROBOTS_LIST) == robots_before


def test_repositories_are_counted_once_per_repository(world, admin):
    project = world.name("cr")
    world.project(project)
    world.push(f"{project}/a", "1")
    world.push(f"{project}/a", "2")  # the same repository again: not counted again
    world.push(f"{project}/b/c")
    world.push(f"{project}/d")
    repositories, total = walk(admin, f"/projects/{project}/repositories")
    assert [r["name"] for r in repositories] == [f"{project}/a", f"{project}/b/c", f"{project}/d"]
    assert total == 3
    assert admin.get(f"/projects/{project}").json()["repo_count"] == 3
    assert admin.delete(f"/projects/{project}/repositories/d").status == 200
    assert admin.delete(f"/projects/{project}/repositories/d").status == 404
    assert int(admin.get(f"/projects/{project}/repositories").headers["x-total-count"]) == 2


def test_a_wrong_guess_about_the_repository_is_a_conflict_and_counts_nothing(world):
    from chalicelib.meta.registry import ManifestRecord

    project = world.name("cg")
    world.project(project)
    world.push(f"{project}/here")
    record = world.svc.meta.get_manifest(f"{project}/here", world.push(f"{project}/here", "x"))
    now = int(world.svc.clock())
    with pytest.raises(Conflict):  # a concurrent first push won
        world.svc.meta.put_manifest(f"{project}/here", record, "y", now, new_repository=True)
    missing = ManifestRecord(record.digest, record.media_type, record.size, record.body, created=now)
    with pytest.raises(Conflict):  # deleted meanwhile
        world.svc.meta.put_manifest(f"{project}/gone", missing, "y", now, new_repository=False)
    assert world.svc.meta.repository_counts([project]) == {project: 1}


def test_sorts_and_filters_key_order_cannot_serve_still_work(world, admin):
    users, total = walk(admin, "/users?sort=-username", keyed=False)
    names = [u["username"] for u in users]
    assert names == sorted(names, reverse=True) and len(names) == total
    by_id, _ = walk(admin, "/users?sort=user_id", keyed=False)
    assert [u["user_id"] for u in by_id] == sorted(u["user_id"] for u in by_id)
    assert admin.get("/users?cursor=not-a-cursor!").status == 400


def test_audit_logs_page_across_days_newest_first_and_count_once(world, admin):
    from chalicelib.meta.audit import AuditEntry, entry_id

    project = world.name("ca")
    world.project(project)
    now = world.svc.clock()
    times = [now - 86400 * days - seconds for days, seconds in ((0, 5), (0, 9), (1, 1), (2, 3), (2, 7))]
    entries = [
        AuditEntry("admin", "pull", "artifact", f"{project}/app:{i}", project=project, op_time=t, id=entry_id(t, i))
        for i, t in enumerate(times)
    ]
    world.svc.audit.record_many(entries)
    world.svc.audit.record_many(entries)  # a redelivered batch: written and counted once
    assert world.svc.audit.total(project=project, since=min(times), until=max(times), with_failed=False) == 5
    logs, total = walk(admin, f"/projects/{project}/logs")
    assert total == 5 and [e["resource"] for e in logs] == [f"{project}/app:{i}" for i in range(5)]
    everything, all_total = walk(admin, "/audit-logs", page_size=7)
    assert len(everything) == all_total
    stamps = [e["op_time"] for e in everything]
    assert stamps == sorted(stamps, reverse=True)
    assert {f"{project}/app:{i}" for i in range(5)} <= {e["resource"] for e in everything}
    # page 3 asked by number (a keys-only skip) is page 3 reached through the Links
    by_number = admin.get("/audit-logs?page=3&page_size=7").json()
    assert [e["id"] for e in by_number] == [e["id"] for e in everything[14:21]]
    assert world.svc.audit.total(project=None, since=times[0], until=times[0], with_failed=False) >= 2


def test_audit_log_filters_still_read_and_answer(world, admin):
    reply = admin.get("/audit-logs?q=operation%3Dpull&page_size=3")
    assert reply.status == 200 and "cursor=" not in reply.headers.get("link", "")
    assert all(e["operation"] == "pull" for e in reply.json())


def test_counters_set_from_the_table_equal_the_counters_kept(world, admin):
    """Data saved before the counters (bootstrap's backfill) gets the counts the
    transactions would have kept: both are compared on this module's world."""
    from chalicelib.meta.list_sizes import backfill

    project = world.name("cb")
    assert admin.post("/projects", {"project_name": project, "metadata": {"public": "true"}}).status == 201
    world.push(f"{project}/app")
    world.robot("b", [{"kind": "project", "namespace": project, "access": [{"resource": "repository", "action": "pull"}]}], project=project)
    table, client = world.svc.table, world.svc.dynamodb
    counters = {}
    for page in client.get_paginator("scan").paginate(TableName=table.name):
        for raw in page["Items"]:
            if raw["PK"]["S"].startswith("N#"):
                counters[raw["PK"]["S"]] = int(raw[keys.COUNT_ATTRIBUTE]["N"])
    assert backfill(table, retention_days=90) is False  # counted already: nothing to do
    for pk in counters:
        client.delete_item(TableName=table.name, Key={"PK": {"S": pk}, "SK": {"S": keys.COUNT_SK}})
    assert backfill(table, retention_days=90) is True
    # a deleted project's log entries stay (until they expire) but no view shows them
    kept = {
        pk[len("N#"):]: n
        for pk, n in counters.items()
        if not pk.startswith("N#LOGS#P#") or world.svc.accounts.get_project(pk.split("#")[3]) is not None
    }
    names = list(kept)
    assert {k: v for k, v in world.svc.table.counts(names).items() if v or kept[k]} == {k: v for k, v in kept.items() if v}
    assert world.svc.meta.repository_counts([project]) == {project: 1}
    assert world.svc.table.counts([keys.robots_list(project)]) == {keys.robots_list(project): 1}
