"""The schema-driven fuzz run over the management API's OpenAPI document (schemathesis,
in process), with tests/api/management's fixtures: its package's moto, a bootstrapped
world per module, every reply checked against the document.

Here, in the e2e tier (`make e2e`, so `make test`), not in `make check`: the two halves
are about 40 s of CPU each, a third of the quick loop's budget on a 2-core machine.
"""
from tests.api.conftest import _moto, _shared_clients
from tests.api.management.conftest import admin, api, checked_replies, wired, world

__all__ = ["_moto", "_shared_clients", "admin", "api", "checked_replies", "wired", "world"]
