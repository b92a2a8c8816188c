"""The failed-login counters' contract (chalicelib/meta/login_attempts.py, LoginAttemptStore),
run against each implementation: DynamoDB on moto, and the in-memory one. A login's buckets
are read with its account, through the account store of the same backend (AccountStore
access_context(also=...), robot_with), as the login gate reads them."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from chalicelib.meta import keys
from chalicelib.meta.accounts import AccountStore, DynamoAccounts, MemoryAccounts, Robot, User
from chalicelib.meta.login_attempts import (
    KNOWN_GOOD_SECONDS,
    LOGIN_PREFIX,
    MAX_ACCOUNT,
    Bucket,
    DynamoLoginAttempts,
    LoginAttemptStore,
    MemoryLoginAttempts,
)
from chalicelib.meta.table import unmarshal

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z
WINDOW, KEEP = 900, 1200


@dataclass
class World:
    store: LoginAttemptStore
    accounts: AccountStore
    expiries: Any  # () -> {(PK, SK): expires_at} of the store's items
    sweep: Any  # (now) -> None: what DynamoDB's TTL does once it has run

    def buckets(self, account: str = "alice", source: str = "10.0.0.1"):
        """The login's buckets as the login gate reads them: with the account."""
        read = self.store.read(account, source)
        return read, self.store.buckets(read, self.accounts.access_context(account, (), [], also=read).also)

    def fail(self, account: str = "alice", source: str = "10.0.0.1", *, window: int = WINDOW, keep: int = KEEP):
        read, before = self.buckets(account, source)
        return self.store.record_failure(read, before, window=window, keep=keep)

    def succeed(self, account: str = "alice", source: str = "10.0.0.1") -> None:
        read, before = self.buckets(account, source)
        self.store.remember_success(read, before)


@pytest.fixture(params=["dynamodb", "memory"])
def world(request, clock) -> World:
    clock.now = NOW
    if request.param == "dynamodb":
        table = request.getfixturevalue("table")

        def dynamo_items() -> list[dict[str, Any]]:
            pages = table.client.get_paginator("scan").paginate(TableName=table.name)
            found = [unmarshal(i) for page in pages for i in page["Items"]]
            return [i for i in found if i["PK"].startswith(LOGIN_PREFIX)]

        def dynamo_expiries() -> dict[tuple[str, str], int]:
            return {(i["PK"], i["SK"]): int(i[keys.TTL_ATTRIBUTE]) for i in dynamo_items()}

        def dynamo_sweep(now: float) -> None:
            for i in dynamo_items():
                if int(i[keys.TTL_ATTRIBUTE]) <= now:
                    table.delete(i["PK"], i["SK"])

        return World(DynamoLoginAttempts(table, clock), DynamoAccounts(table, clock), dynamo_expiries, dynamo_sweep)
    store = MemoryLoginAttempts(clock)

    def memory_expiries() -> dict[tuple[str, str], int]:
        return {k: int(i[keys.TTL_ATTRIBUTE]) for k, i in store.items.items()}

    def memory_sweep(now: float) -> None:
        for k in [k for k, i in store.items.items() if i[keys.TTL_ATTRIBUTE] <= now]:
            del store.items[k]

    return World(store, MemoryAccounts(clock), memory_expiries, memory_sweep)


def counts(buckets) -> tuple[int, int, int]:
    return buckets.account_source.failures, buckets.source.failures, buckets.account.failures


# -- failures counted per bucket ------------------------------------------------------------
def test_nothing_counted_reads_as_empty_buckets(world):
    _, buckets = world.buckets()
    assert buckets.account_source == buckets.source == buckets.account == Bucket()


def test_a_failure_counts_once_in_each_of_its_three_buckets(world, clock):
    after = world.fail()
    assert counts(after) == (1, 1, 1) and after.account.last_failure == NOW
    clock.now = NOW + 5
    world.fail()
    _, buckets = world.buckets()
    assert counts(buckets) == (2, 2, 2)
    assert buckets.source.last_failure == NOW + 5 and buckets.account_source.good_until == 0


def test_buckets_are_shared_by_source_and_by_account_only(world):
    world.fail("alice", "10.0.0.1")
    world.fail("bob", "10.0.0.1")  # the same source, spraying
    world.fail("alice", "10.0.0.2")  # the same account, from elsewhere
    assert counts(world.buckets("alice", "10.0.0.1")[1]) == (1, 2, 2)
    assert counts(world.buckets("bob", "10.0.0.1")[1]) == (1, 2, 1)
    assert counts(world.buckets("alice", "10.0.0.2")[1]) == (1, 1, 2)
    assert counts(world.buckets("carol", "10.0.0.3")[1]) == (0, 0, 0)


def test_a_long_account_name_is_counted_under_its_first_characters(world):
    long = "a" * (MAX_ACCOUNT + 40)
    world.fail(long)
    assert counts(world.buckets("a" * MAX_ACCOUNT)[1]) == (1, 1, 1)


def test_failures_read_at_once_are_both_counted(world):
    """Two logins read the same buckets, then both fail: the store adds to what it holds;
    each login sees its own reading plus one."""
    world.fail()
    read, before = world.buckets()
    first = world.store.record_failure(read, before, window=WINDOW, keep=KEEP)
    second = world.store.record_failure(read, before, window=WINDOW, keep=KEEP)
    assert counts(first) == counts(second) == (2, 2, 2)
    assert counts(world.buckets()[1]) == (3, 3, 3)


def test_the_answer_is_what_the_buckets_held_when_read(world):
    read = world.store.read("alice", "10.0.0.1")
    answer = world.accounts.access_context("alice", (), [], also=read).also
    world.fail()
    assert counts(world.store.buckets(read, answer)) == (0, 0, 0)
    assert counts(world.store.buckets(read, None)) == (0, 0, 0)


# -- the window and the items' expiry -----------------------------------------------------
def test_after_the_window_a_bucket_counts_afresh(world, clock):
    for _ in range(3):
        world.fail()
    clock.now = NOW + WINDOW - 1
    assert world.buckets()[1].account.current(clock.now, WINDOW) == 3
    clock.now = NOW + WINDOW
    assert world.buckets()[1].account.current(clock.now, WINDOW) == 0
    assert counts(world.fail()) == (1, 1, 1)
    assert counts(world.buckets()[1]) == (1, 1, 1)  # set anew, not added to the old three


def test_every_item_expires_when_what_it_holds_stops_counting(world, clock):
    world.fail(keep=KEEP)
    a, s, u = world.store.read("alice", "10.0.0.1").keys
    assert world.expiries() == {a: NOW + KEEP, s: NOW + KEEP, u: NOW + KEEP}
    clock.now = NOW + 100
    world.fail(keep=KEEP)  # each failure moves the expiry
    assert set(world.expiries().values()) == {NOW + 100 + KEEP}


def test_a_known_good_source_outlives_its_failures_expiry(world, clock):
    world.succeed()
    a, s, u = world.store.read("alice", "10.0.0.1").keys
    good = NOW + KNOWN_GOOD_SECONDS
    assert world.expiries() == {a: good}
    clock.now = NOW + 10
    world.fail(keep=KEEP)
    assert world.expiries() == {a: good, s: NOW + 10 + KEEP, u: NOW + 10 + KEEP}
    assert world.buckets()[1].account_source.good_until == good


def test_the_ttl_removing_expired_items_changes_no_answer(world, clock):
    """DynamoDB's TTL removes an item some time after it expires (or not yet): what the
    buckets say at any time is the same either way."""
    world.succeed("alice", "10.0.0.1")
    for _ in range(6):
        world.fail("alice", "10.0.0.1")
        world.fail("bob", "10.0.0.1")
    world.store.take_audit_slot(5)

    def what_counts(now: float) -> list[tuple[int, int, int, bool]]:
        out = []
        for account in ("alice", "bob"):
            _, b = world.buckets(account, "10.0.0.1")
            out.append((*(x.current(now, WINDOW) for x in (b.account_source, b.source, b.account)),
                        b.account_source.good_until > now))
        return out

    for later in (NOW + WINDOW - 1, NOW + KEEP, NOW + KEEP + 1, NOW + KNOWN_GOOD_SECONDS, NOW + KNOWN_GOOD_SECONDS + 1):
        clock.now = later
        before = what_counts(later)
        world.sweep(later)
        assert what_counts(later) == before, later
    assert world.expiries() == {}


# -- known-good sources ---------------------------------------------------------------------
def test_a_success_forgives_its_own_failures_and_marks_the_source_known_good(world, clock):
    for _ in range(3):
        world.fail()
    clock.now = NOW + 10
    world.succeed()
    _, buckets = world.buckets()
    assert buckets.account_source == Bucket(good_until=NOW + 10 + KNOWN_GOOD_SECONDS)
    assert counts(buckets) == (0, 3, 3)  # the source's and the account's stay
    assert world.buckets("alice", "10.0.0.2")[1].account_source.good_until == 0  # only this source


def test_a_success_writes_nothing_while_the_source_is_known_good_for_long(world, clock):
    world.succeed()
    clock.now = NOW + KNOWN_GOOD_SECONDS / 2 - 1
    world.succeed()
    assert world.buckets()[1].account_source.good_until == NOW + KNOWN_GOOD_SECONDS
    clock.now = NOW + KNOWN_GOOD_SECONDS / 2
    world.succeed()
    assert world.buckets()[1].account_source.good_until == clock.now + KNOWN_GOOD_SECONDS


def test_a_success_after_failures_from_a_known_good_source_writes(world, clock):
    world.succeed()
    world.fail()
    clock.now = NOW + 1
    world.succeed()
    assert world.buckets()[1].account_source == Bucket(good_until=NOW + 1 + KNOWN_GOOD_SECONDS)


# -- the failed-login audit minute counters ---------------------------------------------------
def test_the_audit_slots_of_a_minute_run_out_and_come_back_the_next(world, clock):
    clock.now = NOW + 1  # 08:00:01
    assert [world.store.take_audit_slot(3) for _ in range(5)] == [True, True, True, False, False]
    clock.now = NOW + 59
    assert world.store.take_audit_slot(3) is False
    clock.now = NOW + 60  # 08:01:00
    assert world.store.take_audit_slot(3) is True
    minute = (f"{LOGIN_PREFIX}AUDIT#2027-01-15T08:01", "LOGIN")
    assert world.expiries()[minute] == NOW + 60 + 120


def test_no_audit_slot_when_none_are_allowed(world):
    assert world.store.take_audit_slot(0) is False
    assert world.store.take_audit_slot(-1) is False
    assert world.expiries() == {}


def test_audit_slots_are_not_login_buckets(world):
    for _ in range(3):
        world.store.take_audit_slot(10)
    assert counts(world.buckets()[1]) == (0, 0, 0)


# -- the read, joined to the account store's -------------------------------------------------
def test_the_buckets_come_with_a_user_a_robot_or_no_account(world):
    world.accounts.create_user(User(username="alice"))
    world.accounts.create_robot(Robot(full_name="robot$ci", secret_hash="s", level="system", project=None))
    for name in ("alice", "robot$ci", "nobody"):
        world.fail(name)
    read = world.store.read("alice", "10.0.0.1")
    context = world.accounts.access_context("alice", (), [], also=read)
    assert context.user.username == "alice" and counts(world.store.buckets(read, context.also)) == (1, 3, 1)
    read = world.store.read("robot$ci", "10.0.0.1")
    robot, answer = world.accounts.robot_with("robot$ci", read)
    assert robot.full_name == "robot$ci" and counts(world.store.buckets(read, answer)) == (1, 3, 1)
    read = world.store.read("nobody", "10.0.0.1")
    context = world.accounts.access_context("nobody", (), [], also=read)
    assert context.user is None and counts(world.store.buckets(read, context.also)) == (1, 3, 1)
    robot, answer = world.accounts.robot_with("robot$gone", world.store.read("robot$gone", "10.0.0.1"))
    assert robot is None and counts(world.store.buckets(world.store.read("robot$gone", "10.0.0.1"), answer)) == (0, 3, 0)
