"""Schedules, locally: what EventBridge Scheduler does in AWS, done against moto's Scheduler.

The app keeps its jobs on a cron as schedules (chalicelib/schedules.py); moto stores them but
never fires them. `ScheduleFiring` reads the stage's schedules from moto every few seconds and,
when one's cron expression has come due since the last look, hands its input to the app's
`run_schedule` function in process, as the Scheduler invokes the function in AWS. It reads the
EventBridge expression the app wrote (Sunday 1, `?` for the unused day field), not the
Harbor cron it came from, so the translation itself is what is tested end to end.

`environment(stage)` is the app's configuration of schedules for a local stage: the values
infra/schedules.yaml's outputs give a deployed one.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

log = logging.getLogger("berth.schedules")
ACCOUNT = "123456789012"  # moto's default account
REGION = "us-east-1"
_CRON = re.compile(r"^cron\((?P<fields>[^)]*)\)$")


def environment(stage: str, region: str = REGION, account: str = ACCOUNT) -> dict[str, str]:
    """BERTH_SCHEDULE_* for a local stage, named as infra/schedules.yaml names them."""
    return {
        "BERTH_SCHEDULE_PREFIX": f"berth-{stage}-",
        "BERTH_SCHEDULE_TARGET_ARN": f"arn:aws:lambda:{region}:{account}:function:berth-{stage}-run_schedule",
        "BERTH_SCHEDULE_ROLE_ARN": f"arn:aws:iam::{account}:role/berth-{stage}-schedules",
    }


def croniter_fields(expression: str) -> str:
    """EventBridge's `cron(min hour dom month dow year)` as croniter's 5 fields: `?` is `*`,
    Sunday is 0. The year must be `*` (the app writes no other)."""
    found = _CRON.match(expression.strip())
    if not found:
        raise ValueError(f"not a cron expression: {expression!r}")
    minute, hour, dom, month, dow, year = found["fields"].split()
    if year != "*":
        raise ValueError(f"a year other than * is not supported here: {expression!r}")
    dom = "*" if dom == "?" else dom
    dow = "*" if dow == "?" else re.sub(r"\d+", lambda m: str(int(m.group()) - 1), dow)
    return f"{minute} {hour} {dom} {month} {dow}"


def due(expression: str, after: float, until: float) -> bool:
    """Whether the schedule fires in (after, until]."""
    from croniter import croniter

    return croniter(croniter_fields(expression), after).get_next(float) <= until


class ScheduleFiring:
    """Polls moto's schedules of one stage and fires the due ones into `run_schedule(job, context)`."""

    def __init__(self, scheduler: Any, prefix: str, run_schedule: Callable[[dict, Any], Any], *,
                 clock: Callable[[], float] = time.time, interval: float = 2.0) -> None:
        self._scheduler, self._prefix, self._run = scheduler, prefix, run_schedule
        self._clock, self._interval = clock, interval
        self._last = clock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="schedules", daemon=True)
        self._jobs: list[threading.Thread] = []

    def start(self) -> ScheduleFiring:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        for job in self._jobs:
            job.join(timeout=30)

    def tick(self, now: float | None = None) -> list[str]:
        """Fire what came due since the last tick; the names fired. Each job runs in a thread
        of its own, so a long one holds up no other schedule."""
        now = self._clock() if now is None else now
        after, self._last = self._last, now
        fired = []
        for schedule in self._schedules():
            if schedule.get("State") != "ENABLED":
                continue
            try:
                if not due(schedule["ScheduleExpression"], after, now):
                    continue
            except ValueError as exc:
                log.warning("schedule %s: %s", schedule["Name"], exc)
                continue
            job = json.loads(schedule["Target"].get("Input") or "{}")
            thread = threading.Thread(target=self._fire, args=(schedule["Name"], job), daemon=True,
                                      name=f"schedule-{schedule['Name']}")
            thread.start()
            self._jobs = [j for j in self._jobs if j.is_alive()] + [thread]
            fired.append(schedule["Name"])
        return fired

    def _schedules(self) -> list[dict]:
        out, token = [], None
        while True:
            page = self._scheduler.list_schedules(NamePrefix=self._prefix, **({"NextToken": token} if token else {}))
            for item in page.get("Schedules", []):
                out.append(self._scheduler.get_schedule(Name=item["Name"], GroupName=item.get("GroupName", "default")))
            token = page.get("NextToken")
            if not token:
                return out

    def _fire(self, name: str, job: dict) -> None:
        context = SimpleNamespace(function_name=f"{self._prefix}run_schedule", aws_request_id=str(uuid.uuid4()),
                                  get_remaining_time_in_millis=lambda: 60_000)
        try:
            log.info("schedule %s fired: %s", name, self._run(job, context))
        except Exception:  # as the Scheduler: the failure is the function's log line
            log.exception("schedule %s: the job failed", name)

    def _loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.tick()
            except Exception:  # moto restarting, a schedule deleted mid-read: next tick
                log.exception("reading the schedules failed")
