"""Contract tests: each store against AWS on moto (in-process).

One moto backend and one stack per worker (creating them cost about a second, once per
test module before), emptied before every test (tests/conftest.py: empty_stack): every
test starts from the stack as new. Each module builds its own object graph on it.
"""
from __future__ import annotations

import boto3
import pytest
from moto import mock_aws

from chalicelib.config import Settings
from chalicelib.meta.registry import DynamoRegistryMeta
from chalicelib.meta.table import Table
from chalicelib.services import Services
from chalicelib.storage.s3 import S3BlobStore
from tests.conftest import REGION, SharedClients, create_stack, empty_stack, make_services, stack_queues, use_fake_aws
from tests.contract.helpers import Clock

STACK = "berth-test"


@pytest.fixture(scope="session")
def boto_session():
    # one botocore session for every test: loading service models is the slow part of a client
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)


@pytest.fixture(scope="package")
def _stack(boto_session):
    """(the package's clients, made once each, its stack's outputs, its queues). Package
    scope: the mock and the environment end with tests/contract."""
    with pytest.MonkeyPatch.context() as mp:
        use_fake_aws(mp)
        # moto keeps an object over 5 MiB in a file on disk (the upload service's tests at
        # production's limits write some): in memory, as an object under 5 MiB is
        mp.setenv("MOTO_S3_DEFAULT_KEY_BUFFER_SIZE", str(64 * 1024 * 1024))
        with mock_aws():
            clients = SharedClients(boto_session)
            outputs = create_stack(STACK, session=clients)
            yield clients, outputs, stack_queues(clients, STACK)


@pytest.fixture(scope="module")
def module_stack(_stack):
    """(the module's object graph, the stack's outputs)"""
    clients, outputs, _ = _stack
    settings = Settings(
        table_name=outputs["TableName"],
        bucket_name=outputs["BucketName"],
        ssm_prefix=outputs["SsmPrefix"],
        region=REGION,
    )
    # the production object graph, so clients carry the deployed configuration
    # (SigV4 and path-style addressing for presigned URLs, retries)
    return make_services(settings, session=clients), outputs


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def aws(module_stack, _stack) -> Services:
    """The module's object graph, over a stack as new (an empty bucket and table)."""
    clients, outputs, queues = _stack
    empty_stack(clients, STACK, outputs, queues)
    svc, _ = module_stack
    return svc


@pytest.fixture
def bucket(aws) -> str:
    return aws.settings.bucket_name


@pytest.fixture
def s3(aws):
    return aws.s3


@pytest.fixture
def blob_store(s3, bucket) -> S3BlobStore:
    return S3BlobStore(s3, bucket)


@pytest.fixture
def table(aws) -> Table:
    return Table(aws.dynamodb, aws.settings.table_name)


@pytest.fixture
def meta(table) -> DynamoRegistryMeta:
    return DynamoRegistryMeta(table)

