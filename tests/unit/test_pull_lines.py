"""Reading pull log lines out of CloudWatch Logs subscription events
(chalicelib/pulls.py): the text format, Lambda's JSON format, and what to skip."""
from __future__ import annotations

import base64
import gzip
import json
import logging

from chalicelib.pulls import Pull, from_subscription

PULL = {"username": "alice", "repository": "library/app", "reference": "v1", "digest": "sha256:" + "a" * 64,
        "source_ip": "10.0.0.1", "time": 1700000000.5, "request_id": "r-1"}


def event(*messages) -> dict:
    batch = {"messageType": "DATA_MESSAGE", "logEvents": [{"id": str(i), "timestamp": 0, "message": m} for i, m in enumerate(messages)]}
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(batch).encode())).decode()}}


def line(**extra) -> str:
    return json.dumps({"level": "INFO", "message": "pull", "pull": PULL, **extra})


def test_a_text_format_line():
    assert from_subscription(event(line())) == [Pull(**PULL)]


def test_lambdas_json_log_format_wraps_the_line():
    wrapped = json.dumps({"time": "2026-11-27T00:00:00Z", "type": "app", "message": line()})
    already_parsed = json.dumps({"time": "2026-11-27T00:00:00Z", "message": json.loads(line())})
    assert from_subscription(event(wrapped, already_parsed)) == [Pull(**PULL), Pull(**PULL)]


def test_other_lines_are_skipped_and_broken_pull_lines_logged(caplog):
    broken = json.dumps({"message": "pull", "pull": {**PULL, "time": "soon"}})
    missing = json.dumps({"message": "pull", "pull": {"username": "x"}})
    with caplog.at_level(logging.ERROR, logger="berth.pulls"):
        pulls = from_subscription(event("START RequestId: 1", "{bad json", '{"message": "request"}', broken, missing, line(), 42))
    assert pulls == [Pull(**PULL)]


def test_long_fields_are_cut():
    long = {**PULL, "reference": "x" * 5000}
    assert len(from_subscription(event(json.dumps({"message": "pull", "pull": long})))[0].reference) == 1024
