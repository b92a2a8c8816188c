"""Faults from below the domain are named once (chalicelib/web/faults.py) and each API
answers them the same way, in its own body: a lost transaction race is as retryable
as a throttle everywhere (it was a 429 on /v2 and a 500 on the management API)."""
from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from chalicelib.config import ConfigurationError
from chalicelib.errors import IdentityProviderUnavailable
from chalicelib.web.faults import Fault, classify


def aws(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"}}, "TransactWriteItems")


@pytest.mark.parametrize(
    "exc, fault",
    [
        (aws("ThrottlingException"), Fault.THROTTLED),
        (aws("ProvisionedThroughputExceededException"), Fault.THROTTLED),
        (aws("SlowDown"), Fault.THROTTLED),
        (aws("TransactionConflictException"), Fault.THROTTLED),
        (aws("AccessDeniedException"), Fault.INTERNAL),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), Fault.UNAVAILABLE),
        (ConfigurationError("BERTH_TABLE is not set"), Fault.MISCONFIGURED),
        (IdentityProviderUnavailable("ldap down"), Fault.IDENTITY_PROVIDER),
        (ValueError("a bug"), Fault.INTERNAL),
    ],
)
def test_classify(exc, fault):
    assert classify(exc) is fault


@pytest.mark.parametrize(
    "exc, oci, harbor",
    [
        (aws("TransactionConflictException"), (429, "TOOMANYREQUESTS"), (429, "TOO_MANY_REQUESTS")),
        (aws("ThrottlingException"), (429, "TOOMANYREQUESTS"), (429, "TOO_MANY_REQUESTS")),
        (EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), (503, "UNKNOWN"), (503, "SERVICE_UNAVAILABLE")),
        (IdentityProviderUnavailable("ldap down"), (503, "UNKNOWN"), (503, "SERVICE_UNAVAILABLE")),
        (aws("AccessDeniedException"), (500, "UNKNOWN"), (500, "INTERNAL_SERVER_ERROR")),
    ],
)
def test_both_apis_answer_a_fault_alike(exc, oci, harbor):
    from chalicelib.management.dispatch import fault_response as harbor_fault
    from chalicelib.oci.errcodes import fault_response as oci_fault

    for answer, (status, code) in ((oci_fault(exc), oci), (harbor_fault(exc), harbor)):
        assert answer.status == status
        assert json.loads(answer.body)["errors"][0]["code"] == code
        assert ("Retry-After" in answer.headers) == (status in (429, 503))  # both retryable (web/faults.py)
