"""bench/report.py's merge: re-measuring some sections rewrites those and keeps the page
otherwise as it was (no blank lines gained per merge) but for its "How to run", which says
how this version of the tool is run; a new section goes in its number's place, or before the
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


def test_a_merge_keeps_the_page_as_it_was_but_its_note_and_how_to_run():
    merged = report.merge(PAGE, PAGE, {"durations": {"total": 1.0}})
    lines = merged.splitlines()
    expected = PAGE.replace("## How to run\n\nrun it\n", report.HOW_TO_RUN.rstrip("\n") + "\n")
    assert [line for line in lines if not line.startswith("Re-measured since")] == expected.splitlines()
    assert report.merge(merged, merged, {"durations": {"total": 1.0}}).count("\n\n\n") == 0


def test_a_new_numbered_section_goes_in_its_place(monkeypatch):
    page = PAGE.replace("## What looked slow", "## 9. Garbage collection\n\ngc\n\n## What looked slow")
    fresh = "# Berth benchmarks\n\n## 6. Webhook delivery latency\n\n| w |\n"
    monkeypatch.setitem(report.RENDERERS, "webhooks", lambda result, results: "## 6. Webhook delivery latency\n\n| w |")
    merged = report.merge(page, fresh, {"durations": {"total": 1.0}, "webhooks": {}})
    assert merged.index("## 1. Throughput") < merged.index("## 6. Webhook") < merged.index("## 9. Garbage collection")
    assert "\n\n\n" not in merged


def test_a_new_section_goes_before_the_findings(monkeypatch):
    fresh = "# Berth benchmarks\n\n## 10. Tag retention run\n\n| a |\n"
    monkeypatch.setitem(report.RENDERERS, "retention", lambda result, results: "## 10. Tag retention run\n\n| a |")
    merged = report.merge(PAGE, fresh, {"durations": {"total": 1.0}, "retention": {}})
    assert merged.index("## 10. Tag retention run") < merged.index("## What looked slow")
    assert "| a |\n\n## What looked slow" in merged and "\n\n\n" not in merged
