"""bench/report.py's merge: re-measuring some sections rewrites those and keeps the page
otherwise as it was (no blank lines gained per merge), a new section going before the
findings."""
from __future__ import annotations

from bench import report

PAGE = """# Berth benchmarks

Written by `python -m bench` (full run).
`make bench` rewrites this page; do not edit it by hand.

## How to run

run it

## 1. Throughput

fast

## What looked slow or wasteful

- nothing
"""


def test_a_merge_keeps_the_page_as_it_was_but_its_note():
    merged = report.merge(PAGE, PAGE, {"durations": {"total": 1.0}})
    lines = merged.splitlines()
    assert [line for line in lines if not line.startswith("Re-measured since")] == PAGE.splitlines()
    assert report.merge(merged, merged, {"durations": {"total": 1.0}}).count("\n\n\n") == 0


def test_a_new_section_goes_before_the_findings(monkeypatch):
    fresh = "# Berth benchmarks\n\n## 10. Tag retention run\n\n| a |\n"
    monkeypatch.setitem(report.RENDERERS, "retention", lambda result, results: "## 10. Tag retention run\n\n| a |")
    merged = report.merge(PAGE, fresh, {"durations": {"total": 1.0}, "retention": {}})
    assert merged.index("## 10. Tag retention run") < merged.index("## What looked slow")
    assert "| a |\n\n## What looked slow" in merged and "\n\n\n" not in merged
