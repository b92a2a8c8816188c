"""infra/berth.yaml deployed into a real moto server, the bootstrap step, presigned URLs."""

from __future__ import annotations

import os
import re

import boto3
import pytest
import requests
from botocore.config import Config

from devstack import resources
from devstack.motoserver import MotoServer, http_url


@pytest.fixture(scope="module")
def moto_url() -> str:
    with MotoServer("127.0.0.1", 0) as server:
        yield server.url


@pytest.fixture(scope="module")
def env(moto_url: str) -> dict[str, str]:
    return resources.provision(moto_url, "dev")


def test_provision_returns_the_apps_environment(env):
    assert set(env) == {"BERTH_TABLE", "BERTH_BUCKET", "BERTH_SSM_PREFIX", "BERTH_EVENT_BUS", "BERTH_WEBHOOK_QUEUE"}
    assert env["BERTH_SSM_PREFIX"] == "/berth/dev"


def test_table_is_keyed_pk_sk_on_demand_with_ttl_and_pitr(moto_url, env):
    ddb = resources.client("dynamodb", moto_url)
    table = ddb.describe_table(TableName=env["BERTH_TABLE"])["Table"]
    assert table["KeySchema"] == [
        {"AttributeName": "PK", "KeyType": "HASH"},
        {"AttributeName": "SK", "KeyType": "RANGE"},
    ]
    assert {
        a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]
    } == {
        "PK": "S",
        "SK": "S",
    }
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert not table.get("GlobalSecondaryIndexes")
    ttl = ddb.describe_time_to_live(TableName=env["BERTH_TABLE"])[
        "TimeToLiveDescription"
    ]
    assert ttl == {"TimeToLiveStatus": "ENABLED", "AttributeName": "expires_at"}
    backups = ddb.describe_continuous_backups(TableName=env["BERTH_TABLE"])
    pitr = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert pitr["PointInTimeRecoveryStatus"] == "ENABLED"


def test_bucket_is_encrypted_private_and_cleans_up_uploads(moto_url, env):
    s3 = resources.client("s3", moto_url)
    bucket = env["BERTH_BUCKET"]
    rules = s3.get_bucket_encryption(Bucket=bucket)[
        "ServerSideEncryptionConfiguration"
    ]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert block == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": True,
        "BlockPublicPolicy": True,
        "RestrictPublicBuckets": True,
    }
    lifecycle = {
        r["ID"]: r
        for r in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    }
    abort = lifecycle["abort-incomplete-multipart-uploads"]
    assert abort["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 1}
    assert abort["Status"] == "Enabled"
    staging = lifecycle["expire-upload-staging"]
    assert staging["Filter"] == {"Prefix": "uploads/"}
    assert staging["Expiration"] == {"Days": 2}


def test_upload_token_key_is_a_secure_string_of_32_random_bytes(moto_url, env):
    ssm = resources.client("ssm", moto_url)
    name = f"{env['BERTH_SSM_PREFIX']}/upload-token-key"
    parameter = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert parameter["Type"] == "SecureString"
    assert re.fullmatch(r"[0-9a-f]{64}", parameter["Value"])


def test_provision_again_reuses_the_stack_and_keeps_the_key(moto_url, env):
    ssm = resources.client("ssm", moto_url)
    name = f"{env['BERTH_SSM_PREFIX']}/upload-token-key"
    before = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert resources.provision(moto_url, "dev") == env
    after = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert (after["Value"], after["Version"]) == (before["Value"], before["Version"])


def test_stage_parameter_names_the_stack_and_the_ssm_prefix(moto_url, env):
    outputs = resources.deploy_stack(moto_url, "qa")
    assert outputs["SsmPrefix"] == "/berth/qa"
    assert outputs["BucketName"] != env["BERTH_BUCKET"]
    assert outputs["TableName"] != env["BERTH_TABLE"]


def test_template_declares_what_the_app_relies_on():
    template = resources.load_template()
    assert template["Parameters"]["Stage"]["Default"] == "dev"
    assert set(template["Outputs"]) >= {"BucketName", "TableName", "SsmPrefix"}
    assert template["Outputs"]["SsmPrefix"]["Value"] == {"Fn::Sub": "/berth/${Stage}"}


@pytest.fixture(params=["s3v4", None], ids=["sigv4", "botocore-default"])
def app_like_s3(request, moto_url, monkeypatch):
    """An S3 client made the way the app makes one: endpoint from AWS_ENDPOINT_URL.

    botocore's default presigner in us-east-1 still writes SigV2 URLs (AWSAccessKeyId=,
    Signature=); SigV4 (X-Amz-Signature=) needs Config(signature_version="s3v4"). moto
    accepts both; the app should ask for SigV4.
    """
    for name in list(os.environ):
        if name.startswith("AWS_ENDPOINT_URL_") or name in (
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
        ):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    config = Config(signature_version=request.param) if request.param else None
    return boto3.session.Session().client("s3", config=config), request.param


def test_presigned_get_and_head_urls_resolve_on_moto(moto_url, env, app_like_s3):
    s3, signature_version = app_like_s3
    bucket = env["BERTH_BUCKET"]
    key = "blobs/sha256/ab/abcdef"
    data = os.urandom(70_000)
    s3.put_object(Bucket=bucket, Key=key, Body=data)

    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300
    )
    assert get_url.startswith(f"{moto_url}/{bucket}/{key}?")  # path-style, on moto
    if signature_version == "s3v4":
        assert "X-Amz-Signature=" in get_url
    response = requests.get(get_url, timeout=10)
    assert response.status_code == 200
    assert response.content == data

    head_url = s3.generate_presigned_url(
        "head_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300
    )
    head = requests.head(head_url, timeout=10)
    assert head.status_code == 200
    assert head.headers["Content-Length"] == str(len(data))
    assert head.content == b""


def test_http_url_is_what_a_client_dials():
    assert http_url("127.0.0.1", 5000) == "http://127.0.0.1:5000"
    assert http_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"
    assert http_url("::", 8000) == "http://[::1]:8000"
