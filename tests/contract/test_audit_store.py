"""The audit log's store contract (chalicelib/meta/audit.py, AuditLog), run against each
implementation: DynamoDB on moto, and in memory. What one answers, the other must."""
from __future__ import annotations

import pytest

from chalicelib.meta import audit as audit_module
from chalicelib.meta.audit import AuditEntry, DynamoAuditLog, MemoryAuditLog, entry_id
from tests.contract.helpers import T0

DAY = 86400
NOON = T0 - T0 % DAY + DAY // 2  # the middle of a UTC day: "today" for these tests


@pytest.fixture(params=["dynamodb", "memory"])
def log(request, clock):
    clock.now = NOON
    if request.param == "memory":
        return MemoryAuditLog(clock, lambda: 30)
    return DynamoAuditLog(request.getfixturevalue("table"), clock, lambda: 30)


def entry(user: str = "alice", operation: str = "create", resource: str = "team/app", project: str | None = "team",
          at: float = 0.0, n: int = 0, succeeded: bool = True) -> AuditEntry:
    return AuditEntry(user, operation, "artifact", resource, project=project, source_ip="203.0.113.9",
                      op_time=at, id=entry_id(at, n) if at else 0, succeeded=succeeded)


def everything(log) -> list[AuditEntry]:
    listed = log.newest_first(project=None, since=NOON - 40 * DAY, until=NOON, with_failed=True)
    return [e for _, e in listed.rows(None, 1000)]


def test_record_stamps_now_and_a_new_id_and_reads_back_whole(log, clock):
    first = log.record(entry())
    clock.now = NOON + 0.5
    second = log.record(entry(resource="team/other"))
    assert first.op_time == NOON and second.op_time == NOON + 0.5 and first.id != second.id
    assert second.id > first.id  # ids follow time
    assert log.matching(since=NOON - 1, until=NOON + 1) == [second, first]
    assert log.matching(project="team", since=NOON - 1, until=NOON + 1)[1] == first


def test_two_entries_of_one_millisecond_that_draw_the_same_bits_both_stay(log, monkeypatch):
    draws = iter([7, 7, 8])
    monkeypatch.setattr(audit_module, "_random_bits", lambda: next(draws))
    a = log.record(entry(resource="a", at=NOON))
    b = log.record(entry(resource="b", at=NOON))
    assert a.id != b.id and {e.resource for e in log.matching(since=NOON - 1, until=NOON + 1)} == {"a", "b"}


def test_record_many_writes_and_counts_each_entry_once(log):
    batch = [entry(resource=f"r{i}", at=NOON - i, n=i) for i in range(20)]
    log.record_many(batch)
    log.record_many(batch[:5] + batch[:5])  # a redelivered batch, and an entry twice in one
    assert len(everything(log)) == 20
    assert log.total(project="team", since=NOON - 60, until=NOON, with_failed=False) == 20


def test_matching_reads_by_any_field_with_the_others_as_filters(log):
    log.record_many([
        entry("alice", "create", "p/a", "p", NOON - 30, 1),
        entry("bob", "delete", "p/b", "p", NOON - 20, 2),
        entry("alice", "delete", "q/c", "q", NOON - 10, 3),
        entry("carol", "login", "carol", None, NOON - 5, 4, succeeded=False),
    ])
    window = {"since": NOON - DAY, "until": NOON}
    assert [e.resource for e in log.matching(project="p", **window)] == ["p/b", "p/a"]
    assert [e.resource for e in log.matching(username="alice", **window)] == ["q/c", "p/a"]
    assert [e.resource for e in log.matching(operation="delete", **window)] == ["q/c", "p/b"]
    assert [e.resource for e in log.matching(username="alice", operation="delete", **window)] == ["q/c"]
    assert [e.resource for e in log.matching(project="p", username="alice", **window)] == ["p/a"]
    assert [e.resource for e in log.matching(**window)] == ["carol", "q/c", "p/b", "p/a"]  # failed logins too
    assert [e.succeeded for e in log.matching(operation="login", **window)] == [False]
    assert log.matching(project="nobody", **window) == []
    # a window: only what falls inside it
    assert [e.resource for e in log.matching(since=NOON - 25, until=NOON - 8)] == ["q/c", "p/b"]


def test_matching_defaults_to_the_retention_period(log, clock):
    log.record_many([entry(resource="old", at=NOON - 31 * DAY, n=1), entry(resource="kept", at=NOON - 29 * DAY, n=2)])
    assert [e.resource for e in log.matching(project="team")] == ["kept"]


def test_newest_first_pages_across_days_by_sort_key(log):
    times = [NOON - 5, NOON - 9, NOON - DAY - 1, NOON - 2 * DAY - 3, NOON - 2 * DAY - 7]
    log.record_many([entry(resource=f"r{i}", at=t, n=i) for i, t in enumerate(times)])
    log.record_many([entry(resource="elsewhere", project="other", at=NOON - 4, n=9)])
    listed = log.newest_first(project="team", since=NOON - 3 * DAY, until=NOON, with_failed=False)
    first = listed.rows(None, 2)
    assert [e.resource for _, e in first] == ["r0", "r1"]
    rest = listed.rows(first[-1][0], 10)
    assert [e.resource for _, e in rest] == ["r2", "r3", "r4"]
    assert listed.keys(first[-1][0], 2) == [k for k, _ in rest[:2]]
    assert listed.rows(rest[-1][0], 10) == []
    everyone = log.newest_first(project=None, since=NOON - 3 * DAY, until=NOON, with_failed=False)
    keys = everyone.keys(None, 10)
    assert keys == sorted(keys, reverse=True) and len(keys) == 6
    # a narrower window leaves out what is outside it, on every page
    recent = log.newest_first(project="team", since=NOON - DAY - 2, until=NOON, with_failed=False)
    assert [e.resource for _, e in recent.rows(None, 10)] == ["r0", "r1", "r2"]


def test_failed_logins_are_listed_and_counted_only_when_asked(log):
    log.record_many([
        entry("alice", "create", at=NOON - 3, n=1),
        entry("mallory", "login", "mallory", None, NOON - 2, 2, succeeded=False),
        entry("alice", "login", "alice", None, NOON - 1, 3),
    ])
    day = {"since": NOON - 10, "until": NOON}
    classic = log.newest_first(project=None, with_failed=False, **day)
    extended = log.newest_first(project=None, with_failed=True, **day)
    assert [e.username for _, e in classic.rows(None, 10)] == ["alice", "alice"]
    assert [e.username for _, e in extended.rows(None, 10)] == ["alice", "mallory", "alice"]
    assert log.total(project=None, with_failed=False, **day) == 2
    assert log.total(project=None, with_failed=True, **day) == 3
    assert log.total(project="team", with_failed=True, **day) == 1


def test_totals_count_whole_days(log):
    today_start = NOON - DAY // 2
    log.record_many([
        entry(resource="early", at=today_start + 10, n=1),
        entry(resource="late", at=NOON + 100, n=2),
        entry(resource="yesterday", at=today_start - 10, n=3),
    ])
    # [NOON - 1, NOON] touches today only: both of today's entries are counted, not yesterday's
    assert log.total(project="team", since=NOON - 1, until=NOON, with_failed=False) == 2
    assert log.total(project=None, since=NOON - 1, until=NOON, with_failed=False) == 2
    assert log.total(project="team", since=today_start - 20, until=NOON, with_failed=False) == 3
    assert log.total(project="other", since=today_start - 20, until=NOON, with_failed=False) == 0


def test_retention_seconds_follow_the_setting(log):
    assert log.retention_seconds() == 30 * DAY
