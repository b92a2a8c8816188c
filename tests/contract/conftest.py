"""Contract tests: each store against AWS on moto (in-process).

One moto backend and one stack per test module (creating them is most of a
test's cost); every test starts from an empty bucket and an empty table.
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
from tests.conftest import REGION, create_stack, make_services, use_fake_aws
from tests.contract.helpers import Clock


@pytest.fixture(scope="session")
def boto_session():
    # one botocore session for every test: loading service models is the slow part of a client
    return boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION)


@pytest.fixture(scope="module")
def module_services(boto_session):
    with pytest.MonkeyPatch.context() as mp:
        use_fake_aws(mp)
        with mock_aws():
            outputs = create_stack()
            settings = Settings(
                table_name=outputs["TableName"],
                bucket_name=outputs["BucketName"],
                ssm_prefix=outputs["SsmPrefix"],
                region=REGION,
            )
            # the production object graph, so clients carry the deployed configuration
            # (SigV4 and path-style addressing for presigned URLs, retries)
            yield make_services(settings, session=boto_session)


def _empty(svc: Services) -> None:
    s3, bucket = svc.s3, svc.settings.bucket_name
    for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if objects:
            s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
    ddb, table = svc.dynamodb, svc.settings.table_name
    for page in ddb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="PK, SK"):
        for start in range(0, len(page["Items"]), 25):
            batch = page["Items"][start : start + 25]
            ddb.batch_write_item(RequestItems={table: [{"DeleteRequest": {"Key": k}} for k in batch]})


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def aws(module_services) -> Services:
    """The module's clients, over an empty bucket and table."""
    _empty(module_services)
    return module_services


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

