"""The fault matrix (issue 10): every write operation, failed at every AWS call it
makes, with every kind of fault.

For an operation, a reference run (no faults) records its AWS calls, the state
before and the state after. Then, for each call position and each fault kind that
can happen there, a fresh cell is set up the same way and the operation is sent
with that call failing. The client must get a retryable error in its API's error
body (or, where the fault hit a best-effort step, the full success), the stored
state must be exactly the state before or the state after (tests/faults/state.py
says what "exactly" leaves out), no invariant may break, and the same request sent
again must succeed and leave the state after.

BERTH_FAULTS_REPORT=<file> appends one JSON line per operation (positions, cells,
outcomes) for docs/faults.md.
"""
from __future__ import annotations

import json
import os
from collections import Counter

import pytest

from tests.faults import state
from tests.faults.injector import KINDS, applies
from tests.faults.operations import OPERATIONS, Cell, Operation

RETRYABLE = {429, 503}
# what a lost conditional write may honestly answer: the race was lost (409, 429),
# or what it depended on is gone (404), or a precondition failed (412)
RACE_LOST = {404, 409, 412, 416, 429}


def _send(new_cell, op: Operation, fault: tuple[int, str] | None = None):
    svc, api, injector = new_cell(op.auth)
    cell = Cell(svc, api)
    ctx = op.setup(cell)
    before = state.snapshot(svc)
    injector.arm(*(fault or (None, None)))
    reply = op.request(cell, ctx)
    calls = injector.disarm()
    return cell, ctx, before, reply, calls, injector.fired


def _error_body_problem(op: Operation, reply) -> str | None:
    try:
        entries = json.loads(reply.body)["errors"]
        assert entries and all(isinstance(e["code"], str) and isinstance(e["message"], str) for e in entries)
    except (ValueError, KeyError, TypeError, AssertionError):
        return f"error body is not the {op.api} error body: {reply.body[:200]!r}"
    if not reply.headers.get("content-type", "").startswith("application/json"):
        return f"error body without a JSON Content-Type ({reply.headers.get('content-type')})"
    return None


@pytest.mark.parametrize("op", OPERATIONS, ids=str)
def test_every_fault_at_every_call_leaves_before_or_after(new_cell, op: Operation):
    cell, ctx, before, reference, calls, _ = _send(new_cell, op)
    assert reference.status < 300, f"{op}: the unfaulted request failed: {reference.status} {reference.body[:300]!r}"
    after = state.snapshot(cell.svc)
    assert not state.violations(cell.svc, after), state.violations(cell.svc, after)
    if op.writes_objects_only:
        assert set(after["objects"]) - set(before["objects"]), f"{op} wrote nothing"
    else:
        assert not state.same(before, after), f"{op} changed nothing"

    problems: list[str] = []
    outcomes: Counter[str] = Counter()
    cells = 0
    for position, call in enumerate(calls, 1):
        for kind in KINDS:
            if not applies(kind, call):
                continue
            cells += 1
            where = f"{op} / call {position} ({call}) / {kind}"
            cell, ctx, start, reply, _, fired = _send(new_cell, op, (position, kind))
            if not state.same(start, before):
                problems.append(f"{where}: the setup is not deterministic:\n{state.diff(before, start)}")
                continue
            if fired is None or str(fired) != str(call):
                problems.append(f"{where}: the calls differ from the reference run (fired at {fired})")
                continue
            during = state.snapshot(cell.svc)
            broken = state.violations(cell.svc, during)
            if broken:
                problems.append(f"{where}: invariants broken: {broken}")
            if reply.status == reference.status:
                outcomes["absorbed"] += 1
                if not state.same(during, after):
                    problems.append(f"{where}: answered {reply.status} but the state is not the state after:\n{state.diff(after, during)}")
                continue
            wanted = RACE_LOST | set(op.race_fallback) if kind == "condition" else RETRYABLE
            if kind == "condition" and reply.status in op.race_fallback:
                if not reply.headers.get("location"):
                    problems.append(f"{where}: a {reply.status} fallback without a Location")
            elif reply.status not in wanted:
                problems.append(f"{where}: answered {reply.status}, wanted one of {sorted(wanted)}: {reply.body[:200]!r}")
            elif kind != "condition" and "retry-after" not in reply.headers:
                problems.append(f"{where}: {reply.status} without Retry-After")
            body_problem = _error_body_problem(op, reply) if reply.status >= 400 else None
            if body_problem:
                problems.append(f"{where}: {body_problem}")
            if state.same(during, before):
                outcomes["refused, state before"] += 1
            elif state.same(during, after):
                outcomes["refused, state after"] += 1
            else:
                problems.append(f"{where}: half-written (neither before nor after):\n{state.diff(before, during)}")
                outcomes["half-written"] += 1
            retry = op.request(cell, ctx)
            if retry.status != reference.status:
                problems.append(f"{where}: the retry answered {retry.status}, not {reference.status}: {retry.body[:200]!r}")
                continue
            final = state.snapshot(cell.svc)
            if not state.same(final, after):
                problems.append(f"{where}: after the retry the state is not the state after:\n{state.diff(after, final)}")
            broken = state.violations(cell.svc, final)
            if broken:
                problems.append(f"{where}: after the retry, invariants broken: {broken}")

    _report(op, calls, cells, outcomes, problems)
    assert not problems, f"{len(problems)} of {cells} cells failed:\n" + "\n".join(problems[:40])


def _report(op: Operation, calls, cells: int, outcomes: Counter, problems: list[str]) -> None:
    path = os.environ.get("BERTH_FAULTS_REPORT")
    if not path:
        return
    with open(path, "a") as out:
        out.write(
            json.dumps(
                {
                    "operation": op.name,
                    "calls": [str(c) for c in calls],
                    "cells": cells,
                    "outcomes": dict(outcomes),
                    "problems": len(problems),
                    "first_problems": [p.splitlines()[0] for p in problems[:10]],
                }
            )
            + "\n"
        )
