"""Contract tests: each store against AWS on moto (in-process).

One moto backend and one stack per test module (creating them is most of a
test's cost); every test starts from the stack as new (tests/conftest.py: empty_stack).
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
from tests.conftest import REGION, create_stack, empty_stack, make_services, use_fake_aws
from tests.contract.helpers import Clock

STACK = "berth-test"


@pytest.fixture(scope="session")
def boto_session():
    # one botocore session for every test: loading service models is the slow part of a client
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)


@pytest.fixture(scope="module")
def module_stack(boto_session):
    """(the module's clients, its stack's outputs)"""
    with pytest.MonkeyPatch.context() as mp:
        use_fake_aws(mp)
        with mock_aws():
            outputs = create_stack(STACK)
            settings = Settings(
                table_name=outputs["TableName"],
                bucket_name=outputs["BucketName"],
                ssm_prefix=outputs["SsmPrefix"],
                region=REGION,
            )
            # the production object graph, so clients carry the deployed configuration
            # (SigV4 and path-style addressing for presigned URLs, retries)
            yield make_services(settings, session=boto_session), outputs


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def aws(module_stack, boto_session) -> Services:
    """The module's clients, over a stack as new (an empty bucket and table)."""
    svc, outputs = module_stack
    empty_stack(boto_session, STACK, outputs)
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

