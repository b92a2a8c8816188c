"""Structured JSON logs and CloudWatch metrics (Powertools), wired as Chalice middleware.

One access-log line per request (method, path, status, operation, wire error code,
latency, source IP, the API Gateway request id as correlation id; never credentials
or tokens) and EMF metrics: Requests, Latency, 4xx/5xx, and a count per operation
(pushes are put_manifest, pulls get_manifest, token issues get_token/post_token,
upload sessions start_upload...). Set POWERTOOLS_METRICS_DISABLED=true to keep EMF
off stdout (the local stack and tests do).
"""
from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

_logger: Any = None
_metrics: Any = None


def configure_logging() -> None:
    """The `berth` logger (and its children, `berth.registry` ...) writes JSON lines
    through Powertools' Logger, which also carries the correlation id."""
    _tools()


def _service() -> str:
    return os.environ.get("POWERTOOLS_SERVICE_NAME", "berth")


class _StdoutHandler(logging.StreamHandler):
    """Writes to whatever sys.stdout is now (Lambda's, or a test runner's capture)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        pass


def _tools() -> tuple[Any, Any]:
    global _logger, _metrics
    if _logger is None:
        from aws_lambda_powertools import Logger, Metrics

        _logger = Logger(
            service=_service(), level=os.environ.get("BERTH_LOG_LEVEL"), logger_handler=_StdoutHandler()
        )
        _metrics = Metrics(namespace=os.environ.get("BERTH_METRICS_NAMESPACE", "Berth"), service=_service())
    return _logger, _metrics


def http_middleware(event: Any, get_response: Any) -> Any:
    """Chalice 'http' middleware: correlation id, access log, metrics."""
    logger, metrics = _tools()
    context = getattr(event, "context", None) or {}
    logger.set_correlation_id(context.get("requestId"))
    started = time.perf_counter()
    response = get_response(event)
    elapsed_ms = (time.perf_counter() - started) * 1000
    status = int(getattr(response, "status_code", 0) or 0)
    headers = getattr(response, "headers", {}) or {}
    operation = headers.pop("X-Berth-Operation", "") if isinstance(headers, dict) else ""
    error = headers.pop("X-Berth-Error", "") if isinstance(headers, dict) else ""
    logger.info(
        "request",
        extra={
            "method": getattr(event, "method", ""),
            "path": context.get("path", ""),
            "status": status,
            "operation": operation,
            "error_code": error or None,
            "latency_ms": round(elapsed_ms, 1),
            "source_ip": (context.get("identity") or {}).get("sourceIp"),
        },
    )
    if _metrics_disabled():
        # Powertools keeps the values of a disabled Metrics and prints them as one EMF
        # document every 100: nothing is added at all instead.
        return response
    from aws_lambda_powertools.metrics import MetricUnit

    metrics.add_metric(name="Requests", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="Latency", unit=MetricUnit.Milliseconds, value=elapsed_ms)
    if status >= 500:
        metrics.add_metric(name="Errors5xx", unit=MetricUnit.Count, value=1)
    elif status >= 400:
        metrics.add_metric(name="Errors4xx", unit=MetricUnit.Count, value=1)
    if operation:
        metrics.add_metric(name=f"op.{operation}", unit=MetricUnit.Count, value=1)
    if error:
        metrics.add_metric(name=f"error.{error}", unit=MetricUnit.Count, value=1)
    metrics.flush_metrics()
    return response


def count(name: str) -> None:
    """One more of a domain's own metric (a proxy cache's stale serve, ...): flushed with the
    request's metrics by http_middleware."""
    if _metrics_disabled():
        return
    from aws_lambda_powertools.metrics import MetricUnit

    _tools()[1].add_metric(name=name, unit=MetricUnit.Count, value=1)


def _metrics_disabled() -> bool:
    from aws_lambda_powertools.metrics.functions import is_metrics_disabled

    return is_metrics_disabled()
