"""Scale tests: a list at 100 and at 10,000 entries on in-process moto. Slow to set up
(moto's Query reads its whole table), so they are a suite of their own: `make test`
runs them; the quick suites do not."""
from __future__ import annotations

import pytest

from tests.conftest import in_process_moto


@pytest.fixture(scope="package")
def _moto():
    yield from in_process_moto()
