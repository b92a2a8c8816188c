"""Scale tests: a list at 100 and at 10,000 entries on in-process moto, and a thousand
tags in pages over both registry stores (test_tag_pages.py, with the contract suite's
fixtures), and API checks that cost many requests, with tests/api's fixtures (a retention
run over twenty images, a catalog with 120 more projects, a project created on push).
Slow to set up, so they are a suite of their own: `make test` (`make e2e`)
runs them; `make check` does not."""
from __future__ import annotations

import pytest

from tests.conftest import SharedClients, in_process_moto


@pytest.fixture(scope="package")
def _moto():
    yield from in_process_moto()


@pytest.fixture(scope="package")
def _shared_clients(_moto):
    """The package's session making each client once, which the management and auth
    worlds are made on (tests/conftest.py: SharedClients)."""
    return SharedClients(_moto)
