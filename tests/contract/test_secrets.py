"""The secrets' contract (chalicelib/secrets.py, Secrets), on SSM (moto) and in memory:
what is stored is read, once; a missing secret names its parameter."""
from __future__ import annotations

import pytest

from chalicelib.config import ConfigurationError
from chalicelib.secrets import TOKEN_SIGNING_KEY, UPLOAD_TOKEN_KEY, MemorySecrets, SsmSecrets


@pytest.fixture(params=["ssm", "memory"])
def store(request):
    """(the secrets, a function that stores a parameter as an operator or bootstrap would,
    the parameters' prefix)"""
    if request.param == "memory":
        memory = MemorySecrets("/berth/test")

        def put_memory(name: str, value: str) -> None:
            memory.parameters[name] = value

        return memory, put_memory, "/berth/test"
    aws = request.getfixturevalue("aws")
    prefix = aws.settings.ssm_prefix

    def put(name: str, value: str) -> None:
        aws.ssm.put_parameter(Name=f"{prefix}/{name}", Value=value, Type="SecureString", Overwrite=True)

    return SsmSecrets(aws.ssm, prefix), put, prefix


def test_a_stored_secret_is_read(store):
    secrets, put, _ = store
    put(UPLOAD_TOKEN_KEY, "ab" * 32)
    assert secrets.get(UPLOAD_TOKEN_KEY) == "ab" * 32


def test_a_missing_secret_names_its_parameter_and_is_found_once_stored(store):
    secrets, put, prefix = store
    with pytest.raises(ConfigurationError) as raised:
        secrets.get(TOKEN_SIGNING_KEY)
    assert f"{prefix}/{TOKEN_SIGNING_KEY} is missing" in str(raised.value)
    put(TOKEN_SIGNING_KEY, "pem")  # the bootstrap step ran: a miss is not remembered
    assert secrets.get(TOKEN_SIGNING_KEY) == "pem"


def test_a_value_read_is_kept_until_forget(store):
    secrets, put, _ = store
    put(UPLOAD_TOKEN_KEY, "old")
    assert secrets.get(UPLOAD_TOKEN_KEY) == "old"
    put(UPLOAD_TOKEN_KEY, "new")
    assert secrets.get(UPLOAD_TOKEN_KEY) == "old"
    secrets.forget()
    assert secrets.get(UPLOAD_TOKEN_KEY) == "new"


def test_reading_one_secret_reads_the_others_too(store):
    """One read fetches every secret the store knows: a secret stored later, and not yet
    read, is read again with the next miss (SsmSecrets' one GetParameters)."""
    secrets, put, _ = store
    put(UPLOAD_TOKEN_KEY, "upload-old")
    assert secrets.get(UPLOAD_TOKEN_KEY) == "upload-old"
    put(UPLOAD_TOKEN_KEY, "upload-new")
    put("other", "x")
    assert secrets.get("other") == "x"
    assert secrets.get(UPLOAD_TOKEN_KEY) == "upload-new"
