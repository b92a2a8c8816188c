"""Replication's tests need Debian's docker-registry (a system package, installed by
scripts/install-system-deps.sh), so they live outside the quick suites; the API tests here
use the management API's fixtures (in-process app on moto, a bootstrapped `world`, every
reply checked against the OpenAPI document).

moto here executes state machines (its `execute_state_machine` setting), and hands each
Lambda task to the app's function in process (devstack/workflows.py): a run is the
Step Functions execution of infra/replication.yaml, for real."""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from tests.api.management.conftest import admin, api, checked_replies, wired, world  # noqa: F401
from tests.conftest import SharedClients, use_fake_aws


@pytest.fixture(scope="package")
def _moto():
    with pytest.MonkeyPatch.context() as mp:
        use_fake_aws(mp)
        with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
            import app as app_module
            from devstack.workflows import install

            install(app_module, one_at_a_time=True)
            yield boto3.session.Session(region_name="us-east-1")


@pytest.fixture(scope="package")
def _shared_clients(_moto):
    """The package's session making each client once, which the management and auth
    worlds are made on (tests/conftest.py: SharedClients)."""
    return SharedClients(_moto)
