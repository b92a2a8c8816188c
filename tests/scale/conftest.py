"""Scale tests: a list at 100 and at 10,000 entries on in-process moto. Slow to set up
(moto's Query reads its whole table), so they are a suite of their own: `make test`
runs them; the quick suites do not."""
from __future__ import annotations

import pytest
from moto import mock_aws


@pytest.fixture(scope="package")
def _moto():
    with pytest.MonkeyPatch.context() as mp:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }.items():
            mp.setenv(name, value)
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        mp.delenv("AWS_PROFILE", raising=False)
        with mock_aws():
            yield
