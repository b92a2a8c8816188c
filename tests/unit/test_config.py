"""Settings.from_env: the environment is read once, and a bad value names itself."""
from __future__ import annotations

import pytest

from chalicelib.config import ConfigurationError, Settings

BASE = {"BERTH_TABLE": "berth-meta", "BERTH_BUCKET": "berth-blobs"}


def test_minimal_environment_gets_defaults():
    settings = Settings.from_env(BASE)
    assert settings == Settings(
        table_name="berth-meta",
        bucket_name="berth-blobs",
        ssm_prefix="/berth/dev",
        region="us-east-1",
        oci_prefix="",
        upload_url="",
        presign_ttl_seconds=900,
        upload_ttl_seconds=24 * 3600,
        max_request_body=10 * 1024 * 1024,
    )


def test_every_variable_is_read():
    settings = Settings.from_env(
        {
            **BASE,
            "BERTH_SSM_PREFIX": "/berth/prod/",
            "AWS_REGION": "eu-west-1",
            "AWS_DEFAULT_REGION": "us-west-2",
            "BERTH_OCI_PREFIX": "/v2/",
            "BERTH_UPLOAD_URL": "https://uploads.example.com/",
            "BERTH_PRESIGN_TTL": "60",
            "BERTH_UPLOAD_TTL": " 7200 ",
            "BERTH_MAX_REQUEST_BODY": "1048576",
            "BERTH_AUTH": "none",
            "BERTH_TOKEN_SERVICE": "registry.example.com",
            "BERTH_TOKEN_ISSUER": "issuer.example.com",
            "BERTH_PUBLIC_URL": "https://registry.example.com/",
            "BERTH_ADMIN_PASSWORD": "s3cret",
        }
    )
    assert settings.ssm_prefix == "/berth/prod"
    assert settings.region == "eu-west-1"
    assert settings.oci_prefix == "/v2"
    assert settings.upload_url == "https://uploads.example.com"
    assert settings.presign_ttl_seconds == 60
    assert settings.upload_ttl_seconds == 7200
    assert settings.max_request_body == 1048576
    assert settings.auth == "none"
    assert settings.token_service == "registry.example.com"
    assert settings.token_issuer == "issuer.example.com"
    assert settings.public_url == "https://registry.example.com"
    assert settings.admin_password == "s3cret"


def test_region_falls_back_to_default_region():
    assert Settings.from_env({**BASE, "AWS_DEFAULT_REGION": "ap-south-1"}).region == "ap-south-1"


def test_reads_os_environ_by_default(monkeypatch):
    monkeypatch.setenv("BERTH_TABLE", "from-os")
    monkeypatch.setenv("BERTH_BUCKET", "bucket-from-os")
    for name in ("BERTH_OCI_PREFIX", "BERTH_PRESIGN_TTL", "BERTH_UPLOAD_TTL", "BERTH_MAX_REQUEST_BODY", "BERTH_AUTH"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings.from_env()
    assert (settings.table_name, settings.bucket_name) == ("from-os", "bucket-from-os")


@pytest.mark.parametrize("variable", ["BERTH_TABLE", "BERTH_BUCKET"])
@pytest.mark.parametrize("value", [None, "", "   "])
def test_missing_required_variable_is_named(variable, value):
    env = dict(BASE)
    if value is None:
        del env[variable]
    else:
        env[variable] = value
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_env(env)


@pytest.mark.parametrize("variable", ["BERTH_PRESIGN_TTL", "BERTH_UPLOAD_TTL", "BERTH_MAX_REQUEST_BODY"])
@pytest.mark.parametrize("value", ["abc", "1.5", "10s", "0", "-5", "1e3", "0x10"])
def test_malformed_number_is_named(variable, value):
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_env({**BASE, variable: value})


@pytest.mark.parametrize("variable", ["BERTH_PRESIGN_TTL", "BERTH_UPLOAD_TTL", "BERTH_MAX_REQUEST_BODY"])
def test_empty_number_means_default(variable):
    assert Settings.from_env({**BASE, variable: ""}) == Settings.from_env(BASE)


@pytest.mark.parametrize("value", ["tokens", "None", "off", "open"])
def test_unknown_auth_mode_is_named(value):
    with pytest.raises(ConfigurationError, match="BERTH_AUTH"):
        Settings.from_env({**BASE, "BERTH_AUTH": value})


@pytest.mark.parametrize("value, auth", [("", "token"), ("token", "token"), (" none ", "none")])
def test_auth_modes(value, auth):
    assert Settings.from_env({**BASE, "BERTH_AUTH": value}).auth == auth


@pytest.mark.parametrize("value", ["v2", "v2/", "api/v2"])
def test_prefix_without_leading_slash_is_named(value):
    with pytest.raises(ConfigurationError, match="BERTH_OCI_PREFIX"):
        Settings.from_env({**BASE, "BERTH_OCI_PREFIX": value})


@pytest.mark.parametrize("value, prefix", [("", ""), ("/", ""), ("/v2", "/v2"), ("/v2/", "/v2"), (" /v2 ", "/v2")])
def test_prefix_is_normalised(value, prefix):
    assert Settings.from_env({**BASE, "BERTH_OCI_PREFIX": value}).oci_prefix == prefix


def test_configuration_error_is_not_a_domain_error():
    # a misconfigured deployment must fail loudly, not become an OCI error body
    from chalicelib.errors import BerthError

    assert not issubclass(ConfigurationError, BerthError)
