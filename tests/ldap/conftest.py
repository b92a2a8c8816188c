"""The LDAP tests use the session-wide `slapd` fixture of tests/conftest.py (a
private slapd from tests/ldap_server.py):

    test_ldap_auth.py   chalicelib.auth.ldap against the directory
    tokens/             the token service in LDAP mode, through the handler, with
                        tests/api/auth's fixtures (a bootstrapped world per module)
    management/         LDAP set through /configurations, with tests/api/management's

They are here, not in tests/api, because slapd is a system package: `make check` (the
quick loop) installs none, `make e2e` installs slapd first.
No slapd means the tests error out, never skip: run scripts/install-system-deps.sh.
"""
