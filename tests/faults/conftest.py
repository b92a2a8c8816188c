"""The fault matrix's harness: a fresh registry per cell (a table and a bucket of its
own on one in-process moto), requests through the real Chalice handler as in
tests/api, a fault injector on the cell's DynamoDB and S3 clients, and a snapshot
of the stored state to compare before, during and after."""
from __future__ import annotations

import itertools
import os

import boto3
import pytest
from moto import mock_aws

from tests.api.conftest import ApiClient

REGION = "us-east-1"
SSM_PREFIX = "/berth/faults"
NOW = 1_767_225_600  # the cells' fixed clock: states of two runs compare equal


@pytest.fixture(scope="package")
def aws_session():
    """One in-process moto for the package (as tests/api does); every cell makes a
    table and a bucket of its own in it."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }.items():
            mp.setenv(name, value)
        for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
            mp.delenv(name, raising=False)
        _answer_no_such_upload(mp)
        with mock_aws():
            session = boto3.session.Session(region_name=REGION)
            _secrets(session)
            yield session


def _answer_no_such_upload(mp: pytest.MonkeyPatch) -> None:
    """moto's in-process S3 raises KeyError (a 500) for a multipart upload id it no longer
    knows, where S3 answers NoSuchUpload (404): make it answer as S3 does, so a retry
    after a completed multipart upload meets what it would meet in AWS."""
    from moto.s3.exceptions import NoSuchUpload
    from moto.s3.models import S3Backend

    def known(method):
        def call(self, bucket_name, multipart_id, *args, **kwargs):
            if multipart_id not in self.get_bucket(bucket_name).multiparts:
                raise NoSuchUpload(upload_id=multipart_id)
            return method(self, bucket_name, multipart_id, *args, **kwargs)

        return call

    for name in ("complete_multipart_upload", "upload_part"):
        mp.setattr(S3Backend, name, known(getattr(S3Backend, name)))


def _secrets(session) -> None:
    from chalicelib.bootstrap import _signing_key_pem
    from chalicelib.secrets import TOKEN_SIGNING_KEY, UPLOAD_TOKEN_KEY

    ssm = session.client("ssm")
    ssm.put_parameter(Name=f"{SSM_PREFIX}/{UPLOAD_TOKEN_KEY}", Value=os.urandom(32).hex(), Type="SecureString")
    ssm.put_parameter(Name=f"{SSM_PREFIX}/{TOKEN_SIGNING_KEY}", Value=_signing_key_pem(), Type="SecureString")


_cells = itertools.count()


class CellClient(ApiClient):
    """Points the app at its cell's services for each request."""

    def __init__(self, svc):
        import app as app_module

        super().__init__(app_module.app)
        self.svc = svc

    def request(self, method, url, body=b"", headers=None):
        import app as app_module

        with app_module.serving(self.svc):
            return super().request(method, url, body, headers)


@pytest.fixture(scope="package")
def new_cell(aws_session):
    """A function that makes a fresh cell: (services, api client, fault injector)."""
    from chalicelib.auth.passwords import CredentialCache
    from chalicelib.config import Settings
    from chalicelib.services import Services
    from tests.faults.injector import FaultInjector

    credentials = CredentialCache(ttl_seconds=3600)  # one scrypt check per password for the whole run
    dynamodb, s3 = aws_session.client("dynamodb"), aws_session.client("s3")

    def make(auth: str):
        n = next(_cells)
        table, bucket = f"faults-{n}", f"faults-{n}"
        dynamodb.create_table(
            TableName=table,
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in ("PK", "SK")],
            KeySchema=[{"AttributeName": "PK", "KeyType": "HASH"}, {"AttributeName": "SK", "KeyType": "RANGE"}],
        )
        s3.create_bucket(Bucket=bucket)
        env = {"BERTH_TABLE": table, "BERTH_BUCKET": bucket, "BERTH_SSM_PREFIX": SSM_PREFIX, "BERTH_AUTH": auth}
        svc = Services(Settings.from_env(env), session=aws_session, clock=lambda: NOW)
        svc.authenticator._cache = credentials
        injector = FaultInjector()
        injector.attach(svc.dynamodb)
        injector.attach(svc.s3)
        return svc, CellClient(svc), injector

    return make
