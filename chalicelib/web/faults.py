"""Faults from below the domain — AWS, configuration, the identity provider — named
once, so that every API (OCI, token service, management, console) answers the same
fault the same way, each in its own error body.

A lost race on a DynamoDB transaction is as retryable as a throttle: both are
`THROTTLED`, so clients retry (429 with Retry-After) rather than give up on a 500; so
is a conditional write that lost to a concurrent change where the store did not expect
it. AWS's own 5xx and a call that got no answer (a timeout) are `UNAVAILABLE`: 503,
with Retry-After too. The fault matrix (docs/faults.md) holds every write to this.
"""
from __future__ import annotations

import enum
import logging

from chalicelib.config import ConfigurationError

logger = logging.getLogger("berth.faults")

_THROTTLED_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "SlowDown",
        "TransactionConflictException",
        "TransactionInProgressException",
        # a condition the store did not turn into a domain error: a concurrent change won
        "ConditionalCheckFailedException",
    }
)
# a cancelled transaction: retryable when it lost a race, a bug otherwise (a validation error)
_RETRYABLE_CANCELLATIONS = frozenset({"ConditionalCheckFailed", "TransactionConflict", "ThrottlingError"})


class Fault(enum.Enum):
    THROTTLED = "throttled"  # retry soon: 429 with Retry-After
    UNAVAILABLE = "unavailable"  # a dependency did not answer: 503
    MISCONFIGURED = "misconfigured"  # a setting is missing or malformed: the operator must act
    IDENTITY_PROVIDER = "identity provider"  # LDAP is unreachable: 503
    INTERNAL = "internal"  # a bug or an unexpected AWS answer: 500


RETRY_AFTER = {"Retry-After": "1"}
RETRYABLE = frozenset({"THROTTLED", "UNAVAILABLE", "IDENTITY_PROVIDER"})


def classify(exc: BaseException) -> Fault:
    """What kind of fault `exc` is. Imports botocore only on this (error) path."""
    if isinstance(exc, ConfigurationError):
        return Fault.MISCONFIGURED
    from chalicelib.errors import IdentityProviderUnavailable

    if isinstance(exc, IdentityProviderUnavailable):
        return Fault.IDENTITY_PROVIDER
    if type(exc).__module__.startswith("botocore"):
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(exc, ClientError):
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _THROTTLED_CODES:
                return Fault.THROTTLED
            if code == "TransactionCanceledException":
                reasons = {r.get("Code") for r in exc.response.get("CancellationReasons") or []}
                return Fault.THROTTLED if reasons & _RETRYABLE_CANCELLATIONS else Fault.INTERNAL
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
            return Fault.UNAVAILABLE if status >= 500 else Fault.INTERNAL
        if isinstance(exc, BotoCoreError):
            return Fault.UNAVAILABLE
    return Fault.INTERNAL


def log(fault: Fault, exc: BaseException, **context: str) -> None:
    """One log line per fault, with the trace where a person must look at it."""
    if fault is Fault.MISCONFIGURED:
        logger.error("configuration error", extra={"error": str(exc), **context})
    elif fault is Fault.THROTTLED:
        logger.warning("throttled", extra={"aws_error": _aws_code(exc), **context})
    else:
        logger.error("request failed: %s", fault.value, exc_info=exc, extra={"aws_error": _aws_code(exc), **context})


def _aws_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    return (response or {}).get("Error", {}).get("Code", "") if isinstance(response, dict) else ""
