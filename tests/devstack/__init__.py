"""The local stack's processes (devstack): `python -m devstack` started as a subprocess, the
moto server under parallel requests. Servers and processes, not logic, so in `make e2e`;
devstack's logic is tested in tests/unit/test_devstack_*.py."""
