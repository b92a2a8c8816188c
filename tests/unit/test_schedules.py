"""Harbor's 6-field cron as EventBridge Scheduler's cron(...) (chalicelib/schedules.py), and
back as the local stack reads it (devstack/schedules.py): both fire at the same instants."""
from __future__ import annotations

import calendar
from datetime import UTC, datetime

import pytest
from croniter import croniter

from chalicelib.schedules import MemorySchedules, eventbridge_expression
from devstack.schedules import croniter_fields, due

START = calendar.timegm((2026, 12, 2, 7, 0, 0))  # a Wednesday


@pytest.mark.parametrize(("harbor", "eventbridge"), [
    ("0 0 3 * * *", "cron(0 3 * * ? *)"),
    ("0 30 2 * * MON-FRI", "cron(30 2 ? * 2-6 *)"),
    ("0 */15 * * * *", "cron(0,15,30,45 * * * ? *)"),
    ("0 0 0 1 * *", "cron(0 0 1 * ? *)"),
    ("0 0 0 * * 0", "cron(0 0 ? * 1 *)"),  # Sunday: Harbor's 0 (or 7), EventBridge's 1
    ("0 0 0 * * 7", "cron(0 0 ? * 1 *)"),
    ("0 0 0 * * SAT,SUN", "cron(0 0 ? * 1,7 *)"),
    ("0 0 0 * JAN,jul *", "cron(0 0 * 1,7 ? *)"),
    ("0 0 0 ? * *", "cron(0 0 * * ? *)"),
    ("0 0 0 * * */1", "cron(0 0 * * ? *)"),  # every day of the week is every day
    ("0 5-10/2 1-3 * * *", "cron(5,7,9 1-3 * * ? *)"),
])
def test_harbor_cron_becomes_eventbridge_cron(harbor, eventbridge):
    assert eventbridge_expression(harbor) == eventbridge


@pytest.mark.parametrize(("harbor", "why"), [
    ("", "6 fields"),
    ("0 0 * * *", "6 fields"),
    ("0 0 0 * * * *", "6 fields"),
    ("30 0 0 * * *", "seconds"),
    ("0 61 * * * *", "invalid cron"),
    ("0 0 25 * * *", "invalid cron"),
    ("0 0 0 1 * MON", "not both"),
    ("0 0 0 * * 5#3", "invalid cron"),
    ("0 0 0 L * *", "invalid cron"),
    ("nonsense x y z a b", "invalid cron"),
])
def test_crons_eventbridge_cannot_keep_are_refused_saying_why(harbor, why):
    with pytest.raises(ValueError, match=why):
        eventbridge_expression(harbor)


def _harbor_fires(cron: str, count: int) -> list[float]:
    it = croniter(cron, START, second_at_beginning=True)
    return [it.get_next(float) for _ in range(count)]


def _eventbridge_fires(expression: str, count: int) -> list[float]:
    it = croniter(croniter_fields(expression), START)
    return [it.get_next(float) for _ in range(count)]


@pytest.mark.parametrize("harbor", [
    "0 0 3 * * *", "0 30 2 * * MON-FRI", "0 */7 * * * *", "0 0 0 1,15 * *", "0 0 12 * * 0", "0 0 12 * * 6",
    "0 0 0 * * SAT,SUN", "0 45 23 * FEB *", "0 0 */6 * * 1-3", "0 10 4 29 2 *",
])
def test_the_translation_fires_when_harbors_cron_does(harbor):
    """What the app writes, read back as the local stack reads it, fires at Harbor's instants
    (the next 40 occurrences)."""
    assert _eventbridge_fires(eventbridge_expression(harbor), 40) == _harbor_fires(harbor, 40)


def test_due_says_whether_an_occurrence_falls_in_the_window():
    expression = eventbridge_expression("0 0 3 * * *")  # 03:00 every day
    three = calendar.timegm((2026, 12, 3, 3, 0, 0))
    assert due(expression, three - 5, three)
    assert not due(expression, three - 5, three - 1)
    assert not due(expression, three, three + 3600)  # (after, until]: fired already
    assert datetime.fromtimestamp(START, UTC).weekday() == 2


def test_memory_schedules_keep_one_per_name():
    schedules = MemorySchedules()
    schedules.put("a", "0 0 3 * * *", {"kind": "x", "n": 1})
    schedules.put("a", "0 0 4 * * *", {"kind": "x", "n": 2})
    assert schedules.schedules["a"].expression == "cron(0 4 * * ? *)" and schedules.schedules["a"].job["n"] == 2
    with pytest.raises(ValueError):
        schedules.put("b", "0 0 0 1 * MON", {})
    assert "b" not in schedules.schedules
    schedules.delete("a")
    schedules.delete("a")
    assert schedules.schedules == {}
