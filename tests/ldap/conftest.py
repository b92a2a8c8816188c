"""The LDAP tests use the session-wide `slapd` fixture of tests/conftest.py (a
private slapd from tests/ldap_server.py, shared with tests/api/auth).

No slapd means the tests error out, never skip: run scripts/install-system-deps.sh.
"""
