"""tests/api/management's fixtures (its package's moto, a bootstrapped world per module,
the replies checked against the OpenAPI document) for the LDAP settings of /configurations."""
from tests.api.conftest import _moto, _shared_clients
from tests.api.management.conftest import admin, api, checked_replies, wired, world

__all__ = ["_moto", "_shared_clients", "admin", "api", "checked_replies", "wired", "world"]
