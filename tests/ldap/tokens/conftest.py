"""tests/api/auth's fixtures (its package's moto, a bootstrapped world with
BERTH_AUTH=token per module, the checked replies) for the token service's LDAP tests."""
from tests.api.auth.conftest import api, checked_replies, wired, world
from tests.api.conftest import _moto, _shared_clients

__all__ = ["_moto", "_shared_clients", "api", "checked_replies", "wired", "world"]
