"""Structured JSON logs (Powertools Logger), one logger for the whole app."""
from __future__ import annotations

import logging
import os


def configure_logging() -> None:
    """Route the app's stdlib loggers through Powertools' JSON formatter."""
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "berth"))
    handler = logging.StreamHandler()
    handler.setFormatter(LambdaPowertoolsFormatter(service="berth"))
    root = logging.getLogger("berth")
    if not root.handlers:
        root.addHandler(handler)
        root.setLevel(os.environ.get("BERTH_LOG_LEVEL", "INFO"))
        root.propagate = False
