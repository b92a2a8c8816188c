"""The local stand-in for the CloudWatch Logs subscription of the AWS deployment
(infra/apigw-extras.yaml, PullLogSubscription): the API's pull lines, delivered in
batches, in the event shape CloudWatch Logs uses, to the app's record_pulls
function (chalicelib/pulls.py), from a thread of their own, as Lambda would
invoke it: the pull's request has long been answered by then.
"""
from __future__ import annotations

import base64
import gzip
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

log = logging.getLogger("devstack")


def subscription_event(lines: list[str], *, log_group: str = "/aws/lambda/berth-local") -> dict[str, Any]:
    """What CloudWatch Logs hands a subscribed function: gzipped JSON, base64."""
    batch = {
        "messageType": "DATA_MESSAGE",
        "owner": "000000000000",
        "logGroup": log_group,
        "logStream": "local",
        "subscriptionFilters": ["pulls"],
        "logEvents": [
            {"id": str(i), "timestamp": int(time.time() * 1000), "message": line} for i, line in enumerate(lines)
        ],
    }
    return {"awslogs": {"data": base64.b64encode(gzip.compress(json.dumps(batch).encode())).decode()}}


class PullLineCollector(logging.Handler):
    """Keeps the JSON lines of the `berth.pulls` logger (what CloudWatch Logs would
    match with the subscription's filter pattern)."""

    def __init__(self) -> None:
        super().__init__(level=logging.INFO)
        self._lines: list[str] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        pull = getattr(record, "pull", None)
        if record.getMessage() != "pull" or pull is None:
            return
        line = json.dumps({"level": record.levelname, "message": "pull", "pull": pull})
        with self._lock:
            self._lines.append(line)

    def take(self) -> list[str]:
        with self._lock:
            lines, self._lines = self._lines, []
        return lines


class LogSubscription:
    """Delivers collected pull lines to `deliver` (the app's record_pulls) every
    `interval` seconds, and once more when stopped."""

    def __init__(self, deliver: Callable[[dict, Any], Any], *, interval: float = 0.5) -> None:
        self._deliver = deliver
        self._interval = interval
        self.collector = PullLineCollector()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-subscription", daemon=True)

    def start(self) -> LogSubscription:
        logging.getLogger("berth.pulls").addHandler(self.collector)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        logging.getLogger("berth.pulls").removeHandler(self.collector)

    def flush(self) -> None:
        lines = self.collector.take()
        if not lines:
            return
        try:
            self._deliver(subscription_event(lines), None)
        except Exception:  # Lambda would retry twice; here the lines are logged and dropped
            log.exception("recording %d pulls failed", len(lines))

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.flush()
        self.flush()
