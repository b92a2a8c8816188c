"""Fixtures of the unit tests."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.conftest import REGION, use_fake_aws


@pytest.fixture
def moto_dynamodb() -> Iterator[Any]:
    """A DynamoDB client on a fresh in-process moto with no table: the moto comparison
    tests' (tests/unit/test_moto_*.py), which make their tables with create_key_table."""
    with pytest.MonkeyPatch.context() as mp:
        use_fake_aws(mp)
        with mock_aws():
            yield boto3.client("dynamodb", region_name=REGION)
