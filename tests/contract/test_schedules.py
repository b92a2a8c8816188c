"""The schedules' contract (chalicelib/schedules.py, Schedules), on EventBridge Scheduler (moto)
and in memory; and the local stack's part (devstack/schedules.py): a schedule the app wrote
fires its job into run_schedule when its time comes, once."""
from __future__ import annotations

import calendar
import json

import pytest

from chalicelib.schedules import EventBridgeSchedules, MemorySchedules
from devstack.schedules import ScheduleFiring, environment

PREFIX = "berth-ct-"


@pytest.fixture
def scheduler(aws):
    client = aws.client("scheduler")
    yield client
    for page in client.get_paginator("list_schedules").paginate(NamePrefix=PREFIX):
        for item in page["Schedules"]:
            client.delete_schedule(Name=item["Name"])


def eventbridge(client) -> EventBridgeSchedules:
    env = environment("ct")
    return EventBridgeSchedules(client, prefix=env["BERTH_SCHEDULE_PREFIX"],
                                target_arn=env["BERTH_SCHEDULE_TARGET_ARN"], role_arn=env["BERTH_SCHEDULE_ROLE_ARN"])


@pytest.fixture(params=["eventbridge", "memory"])
def store(request):
    if request.param == "memory":
        memory = MemorySchedules()

        def read_memory(name):
            found = memory.schedules.get(name)
            return found and (found.expression, found.job)

        return memory, read_memory
    client = request.getfixturevalue("scheduler")

    def read(name):
        try:
            found = client.get_schedule(Name=PREFIX + name)
        except client.exceptions.ResourceNotFoundException:
            return None
        return found["ScheduleExpression"], json.loads(found["Target"]["Input"])

    return eventbridge(client), read


def test_put_writes_replaces_and_delete_removes(store):
    schedules, read = store
    put = schedules.put("gc", "0 0 3 * * *", {"kind": "gc"})
    assert put.expression == "cron(0 3 * * ? *)"
    assert read("gc") == ("cron(0 3 * * ? *)", {"kind": "gc"})
    schedules.put("gc", "0 30 1 * * SUN", {"kind": "gc", "dry_run": True})
    assert read("gc") == ("cron(30 1 ? * 1 *)", {"kind": "gc", "dry_run": True})
    schedules.delete("gc")
    assert read("gc") is None
    schedules.delete("gc")  # gone already: nothing to do


def test_a_cron_that_cannot_be_kept_writes_nothing(store):
    schedules, read = store
    with pytest.raises(ValueError, match="seconds"):
        schedules.put("bad", "15 0 3 * * *", {"kind": "gc"})
    assert read("bad") is None


def test_an_eventbridge_schedule_calls_the_function_with_its_role_in_utc(scheduler):
    eventbridge(scheduler).put("replication-7", "0 0 3 * * *", {"kind": "replication", "policy_id": 7})
    found = scheduler.get_schedule(Name=PREFIX + "replication-7")
    env = environment("ct")
    assert found["GroupName"] == "default" and found["State"] == "ENABLED"
    assert found["ScheduleExpressionTimezone"] == "UTC" and found["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert (found["Target"]["Arn"], found["Target"]["RoleArn"]) == (env["BERTH_SCHEDULE_TARGET_ARN"], env["BERTH_SCHEDULE_ROLE_ARN"])
    assert found["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 2


def test_unconfigured_schedules_say_what_to_deploy(scheduler):
    from chalicelib.config import ConfigurationError

    with pytest.raises(ConfigurationError, match="infra/schedules.yaml"):
        EventBridgeSchedules(scheduler, prefix=PREFIX, target_arn="", role_arn="").put("x", "0 0 3 * * *", {})


def test_the_local_stack_fires_a_due_schedule_once_with_its_job(scheduler):
    before_three = calendar.timegm((2026, 12, 3, 2, 59, 58))
    fired: list[dict] = []
    firing = ScheduleFiring(scheduler, PREFIX, lambda job, context: fired.append(job), clock=lambda: before_three)
    eventbridge(scheduler).put("replication-7", "0 0 3 * * *", {"kind": "replication", "policy_id": 7})
    eventbridge(scheduler).put("gc", "0 0 4 * * *", {"kind": "gc"})
    scheduler.create_schedule(Name="berth-other-gc", ScheduleExpression="cron(0 3 * * ? *)", FlexibleTimeWindow={"Mode": "OFF"},
                              Target={"Arn": "arn:aws:lambda:us-east-1:123456789012:function:x", "RoleArn": "arn:aws:iam::123456789012:role/x"})
    try:
        assert firing.tick(before_three + 1) == []
        assert firing.tick(before_three + 3) == [PREFIX + "replication-7"]  # 03:00:00 passed; another stage's is not ours
        assert firing.tick(before_three + 30) == []  # once
        firing.stop()
        assert fired == [{"kind": "replication", "policy_id": 7}]
    finally:
        scheduler.delete_schedule(Name="berth-other-gc")
