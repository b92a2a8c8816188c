"""Jobs on a cron: Harbor's 6-field cron kept as an EventBridge Scheduler schedule that calls
the app's `run_schedule` function with the job to do (app.py; chalicelib/scheduled_jobs.py).

Harbor writes a schedule as `second minute hour day-of-month month day-of-week`, Sunday 0,
in UTC. EventBridge Scheduler takes `cron(minute hour day-of-month month day-of-week year)`,
Sunday 1, at one-minute resolution, with `?` in one of the two day fields (*Schedule types
on EventBridge Scheduler*, "Cron-based schedules"). `eventbridge_expression` translates one
into the other, or says why it cannot (seconds other than 0; both day fields restricted).
Every field is expanded by croniter, so names (MON, JAN), steps and ranges all arrive as
plain numbers that EventBridge reads the same way.

Schedules live in the account's `default` group, named `<prefix><name>` (the prefix is the
stage's, `berth-<stage>-`, so IAM can scope the app to its own schedules). The local stack
fires them from moto's Scheduler (devstack/schedules.py).
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

TIMEZONE = "UTC"  # Harbor's schedules are in the server's time, UTC in its images
# a failed run of a job is retried twice within the hour, then dropped: the next
# occurrence catches up (a replication compares source and destination; a GC starts over)
RETRY_POLICY = {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600}
_FIELDS = ("second", "minute", "hour", "day of month", "month", "day of week")


# -- Harbor's cron -> EventBridge's ------------------------------------------------------------------
def eventbridge_expression(cron: str) -> str:
    """`cron(...)` for EventBridge Scheduler that fires when Harbor's 6-field `cron` does.
    ValueError saying why when it is not a cron, or not one EventBridge can keep."""
    fields = cron.split()
    if len(fields) != 6:
        raise ValueError(f"invalid cron {cron[:64]!r}: 6 fields (second minute hour day-of-month month day-of-week)")
    from croniter import croniter

    if not croniter.is_valid(cron, second_at_beginning=True):
        raise ValueError(f"invalid cron {cron[:64]!r}")
    if fields[0] != "0":
        raise ValueError("schedules run at minute resolution: the 1st field (seconds) of the cron must be 0")
    try:
        expanded, nth = croniter.expand(" ".join(fields[1:]))
    except Exception as exc:  # noqa: BLE001 - croniter says why
        raise ValueError(f"invalid cron {cron[:64]!r}: {exc}") from None
    if nth or any(not isinstance(v, int) for field in expanded for v in field if v != "*"):
        raise ValueError(f"invalid cron {cron[:64]!r}: L, W and # are not Harbor's cron")
    minute, hour, dom, month, dow = (_compact(field, low) for field, low in zip(expanded, (0, 0, 1, 1, 0)))
    if dow != "*" and len(set(expanded[4])) >= 7:
        dow = "*"
    if dom != "*" and dow != "*":
        raise ValueError("a schedule restricts the day of the month or the day of the week, not both: set one to *")
    if dow == "*":
        dom_out, dow_out = dom, "?"
    else:  # EventBridge counts Sunday as 1
        dom_out, dow_out = "?", _compact([d % 7 + 1 for d in expanded[4]], 1)
    return f"cron({minute} {hour} {dom_out} {month} {dow_out} *)"


def _compact(values: Iterable[Any], low: int) -> str:
    """`*`, or the numbers as comma-separated runs (`1-5,7`)."""
    values = list(values)
    if values == ["*"]:
        return "*"
    numbers = sorted(set(values))
    runs: list[list[int]] = []
    for n in numbers:
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    return ",".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


# -- the store of schedules ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Schedule:
    name: str  # without the stage's prefix
    expression: str  # EventBridge's cron(...)
    job: dict  # what run_schedule is given


class Schedules(Protocol):
    """Create or replace, and remove, a named job on a cron (Harbor's 6 fields)."""

    def put(self, name: str, cron: str, job: dict) -> Schedule: ...

    def delete(self, name: str) -> None: ...


class EventBridgeSchedules:
    """EventBridge Scheduler: one schedule per job, its target the app's run_schedule
    function, invoked with the role the schedules stack made for it (infra/schedules.yaml)."""

    def __init__(self, client: Any, *, prefix: str, target_arn: str, role_arn: str, group: str = "default"):
        self._client, self._prefix, self._group = client, prefix, group
        self._target_arn, self._role_arn = target_arn, role_arn

    def put(self, name: str, cron: str, job: dict) -> Schedule:
        schedule = Schedule(name, eventbridge_expression(cron), job)
        if not (self._target_arn and self._role_arn):
            from chalicelib.config import ConfigurationError

            raise ConfigurationError("BERTH_SCHEDULE_TARGET_ARN and BERTH_SCHEDULE_ROLE_ARN are not set: "
                                     "deploy infra/schedules.yaml (make infra)")
        params = {
            "Name": self._prefix + name, "GroupName": self._group,
            "ScheduleExpression": schedule.expression, "ScheduleExpressionTimezone": TIMEZONE,
            "FlexibleTimeWindow": {"Mode": "OFF"}, "State": "ENABLED",
            "Description": f"Berth: {cron}",
            "Target": {"Arn": self._target_arn, "RoleArn": self._role_arn,
                       "Input": json.dumps(job, sort_keys=True), "RetryPolicy": RETRY_POLICY},
        }
        try:
            self._client.create_schedule(**params)
        except self._client.exceptions.ConflictException:
            self._client.update_schedule(**params)
        return schedule

    def delete(self, name: str) -> None:
        try:
            self._client.delete_schedule(Name=self._prefix + name, GroupName=self._group)
        except self._client.exceptions.ResourceNotFoundException:
            pass


class MemorySchedules:
    """The same contract in memory, for tests of the jobs' owners."""

    def __init__(self) -> None:
        self.schedules: dict[str, Schedule] = {}

    def put(self, name: str, cron: str, job: dict) -> Schedule:
        schedule = self.schedules[name] = Schedule(name, eventbridge_expression(cron), dict(job))
        return schedule

    def delete(self, name: str) -> None:
        self.schedules.pop(name, None)
