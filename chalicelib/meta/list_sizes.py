"""Set the lists' counters (keys.count_pk) from what a table holds, once, for data written
before the counters existed (docs/decisions/lists-read-one-page.md). `bootstrap` runs it
before anything else writes: the local stack's saved data (.berth-data) and a deployment
that predates the counters get their totals back.

It runs only when the table has projects but no projects counter, and reads every
listing once (keys only, `Select=COUNT`), then puts each counter. Nothing else writes
meanwhile (bootstrap runs before the stack serves, or before the new code is deployed).
"""
from __future__ import annotations

import datetime as dt
import time
from collections import Counter
from typing import Any

from chalicelib.meta import audit, keys
from chalicelib.meta.accounts import robot_full_name
from chalicelib.meta.table import Table


def backfill(table: Table, *, retention_days: int) -> bool:
    """True if counters were written (the table predates them)."""
    if table.get(keys.count_pk(keys.PROJECTS_LIST), keys.COUNT_SK, consistent=True) is not None:
        return False
    projects = _sort_keys(table, keys.PROJECTS_PK)
    if not projects:
        return False  # a new table: the counters come with the first entries
    sizes: Counter = Counter()
    sizes[keys.PROJECTS_LIST] = len(projects)
    sizes[keys.USERS_LIST] = _count(table, keys.USERS_PK)
    sizes[keys.PUBLIC_PROJECTS_LIST] = _count(table, keys.PUBLIC_PROJECTS_PK)
    sizes[keys.ROBOTS_LIST] = _count(table, keys.ROBOTS_PK)
    for project in projects:
        sizes[keys.members_list(project)] = _count(table, keys.project_pk(project), keys.MEMBER_PREFIX)
        sizes[keys.robots_list(project)] = _count(table, keys.ROBOTS_PK, robot_full_name("", project))
        sizes[keys.repositories_list(project)] = _count(table, keys.CATALOG_PK, f"{project}/")
    expiry = _audit_days(table, projects, sizes, retention_days)
    for name, n in sizes.items():
        item: dict[str, Any] = {"PK": keys.count_pk(name), "SK": keys.COUNT_SK, keys.COUNT_ATTRIBUTE: n}
        if name in expiry:
            item[keys.TTL_ATTRIBUTE] = expiry[name]
        table.put(item)
    return True


def _audit_days(table: Table, projects: list[str], sizes: Counter, retention_days: int) -> dict[str, int]:
    """The audit log's day counters, from the entries still kept; their expiry, the latest entry's."""
    expiry: dict[str, int] = {}
    partitions = [audit.project_pk(p) for p in projects]
    today = dt.datetime.now(tz=dt.UTC).date()
    partitions += [audit.day_pk((today - dt.timedelta(days=n)).isoformat()) for n in range(retention_days + 2)]
    for pk in partitions:
        found = table.query_all(pk, low="0", high="9~", projection="SK, #failed, #expires", names={"#failed": "failed", "#expires": keys.TTL_ATTRIBUTE})
        for item in found:
            day = item["SK"][:10]
            if pk.startswith("LOG#P#"):
                name = audit.project_day_list(pk[len("LOG#P#") :], day)
            else:
                name = audit.day_list(day, failed=bool(item.get("failed")))
            sizes[name] += 1
            expiry[name] = max(expiry.get(name, 0), int(item.get(keys.TTL_ATTRIBUTE) or time.time()))
    return expiry


def _sort_keys(table: Table, pk: str) -> list[str]:
    return [i["SK"] for i in table.query_all(pk, low="\x00", high="\U0010ffff", projection="SK")]


def _count(table: Table, pk: str, prefix: str = "") -> int:
    low = prefix or "\x00"
    high = prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else "\U0010ffff"
    total, start = 0, None
    while True:
        kwargs: dict[str, Any] = {
            "TableName": table.name,
            "KeyConditionExpression": "PK = :pk AND SK BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": {":pk": {"S": pk}, ":lo": {"S": low}, ":hi": {"S": high}},
            "Select": "COUNT",
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        out = table.client.query(**kwargs)
        total += int(out.get("Count", 0))
        start = out.get("LastEvaluatedKey")
        if not start:
            return total
