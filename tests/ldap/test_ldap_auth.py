"""chalicelib.auth.ldap against a real OpenLDAP (the `slapd` fixture; see tests/ldap_server.py)."""
from __future__ import annotations

import socket
import time
from typing import Any

import pytest

from chalicelib.auth.ldap import LdapAuthenticator, LdapSettings, LdapUnavailable, LdapUser
from tests.ldap_server import (
    DEVS,
    DNS,
    GROUPS,
    OPS,
    PASSWORDS,
    PEOPLE,
    READER_DN,
    READER_PASSWORD,
    SUFFIX,
    Slapd,
    free_port,
    slapd_binary,
)

DEVS_DN = DEVS.lower()
OPS_DN = OPS.lower()


def settings(server: Slapd, **overrides: Any) -> LdapSettings:
    values: dict[str, Any] = {
        "url": server.url,
        "search_dn": READER_DN,
        "search_password": READER_PASSWORD,
        "base_dn": SUFFIX,
        "group_base_dn": GROUPS,
        "timeout": 3,
    }
    values.update(overrides)
    return LdapSettings(**values)


def auth(server: Slapd, username: str, password: str, **overrides: Any) -> LdapUser | None:
    return LdapAuthenticator(settings(server, **overrides)).authenticate(username, password)


class CountingFactory:
    """Wraps the default connection factory, recording every (bind DN, password) asked for."""

    def __init__(self, s: LdapSettings):
        self.calls: list[tuple[str | None, str | None]] = []
        self._default = LdapAuthenticator(s)._connection

    def __call__(self, user: str | None, password: str | None) -> Any:
        self.calls.append((user, password))
        return self._default(user, password)


def counting(server: Slapd, **overrides: Any) -> tuple[LdapAuthenticator, CountingFactory]:
    s = settings(server, **overrides)
    factory = CountingFactory(s)
    return LdapAuthenticator(s, connection_factory=factory), factory


def test_slapd_is_installed():
    assert slapd_binary()  # raises with install instructions otherwise


# --- the search-bind flow ------------------------------------------------------------


def test_search_dn_then_user_bind(slapd):
    authenticator, factory = counting(slapd)
    user = authenticator.authenticate("alice", PASSWORDS["alice"])
    assert user == LdapUser(
        username="alice",
        dn=DNS["alice"],
        email="alice@example.org",
        realname="Alice L.",  # displayName first
        groups=(DEVS_DN,),
    )
    # one connection bound as the search account, one as the user
    assert factory.calls == [(READER_DN, READER_PASSWORD), (DNS["alice"], PASSWORDS["alice"])]


def test_realname_falls_back_to_cn_and_no_groups(slapd):
    user = auth(slapd, "carol", PASSWORDS["carol"])
    assert user is not None
    assert (user.realname, user.email, user.groups) == ("Carol Danvers", "", ())


def test_username_is_the_directorys_spelling(slapd):
    user = auth(slapd, "ALICE", PASSWORDS["alice"])
    assert user is not None and user.username == "alice"


def test_anonymous_search(slapd):
    authenticator, factory = counting(slapd, search_dn="", search_password="")
    user = authenticator.authenticate("bob", PASSWORDS["bob"])
    assert user is not None and user.groups == (OPS_DN,)
    assert factory.calls[0] == (None, None)


def test_search_account_sees_what_anonymous_does_not(slapd):
    # ou=hidden is readable only by the search account
    assert auth(slapd, "hank", PASSWORDS["hank"]) is not None
    assert auth(slapd, "hank", PASSWORDS["hank"], search_dn="", search_password="") is None


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alice", "wrong"),
        ("alice", PASSWORDS["bob"]),  # another user's password
        ("alice", "alice-pw "),
        ("nobody", "whatever"),
        ("nobody", PASSWORDS["alice"]),
    ],
)
def test_wrong_password_or_unknown_user_is_none(slapd, username, password):
    assert auth(slapd, username, password) is None


def test_empty_password_is_refused_before_any_bind(slapd):
    authenticator, factory = counting(slapd)
    assert authenticator.authenticate("alice", "") is None
    assert factory.calls == []  # not even the search bind


def test_ambiguous_login_is_refused(slapd):
    assert auth(slapd, "twin", PASSWORDS["twin"]) is None  # ou=people and ou=others
    user = auth(slapd, "twin", PASSWORDS["twin"], base_dn=PEOPLE)
    assert user is not None and user.dn == DNS["twin"]


# --- hostile usernames ----------------------------------------------------------------


@pytest.mark.parametrize(
    "username",
    [
        "*",
        "al*",  # unescaped, this would match alice alone and log her in
        "*ice",
        "alice)(uid=*",  # unescaped: (&(uid=alice)(uid=*)) -> alice
        "alice)(|(uid=*)",
        "*)(uid=*))(|(uid=*",
        "admin)(uid=*",
        "\\2a",
        "al\\2a",
        "alice\\",
        "alice)",
        "(alice",
    ],
)
def test_filter_metacharacters_never_widen_the_search(slapd, username):
    for password in set(PASSWORDS.values()):
        assert auth(slapd, username, password) is None, (username, password)


def test_metacharacters_match_literally(slapd):
    user = auth(slapd, "star*", PASSWORDS["star*"])  # a uid that really is "star*"
    assert user is not None and user.username == "star*"
    assert auth(slapd, "sta*", PASSWORDS["star*"]) is None
    assert auth(slapd, "star\\2a", PASSWORDS["star*"]) is None


@pytest.mark.parametrize(
    "username",
    ["alice\x00", "alice\x00)(uid=*", "alice\n", "ali\tce", "alice\x7f", "alice\x85", "", "   ", "a" * 256, "\ud800"],
)
def test_unacceptable_usernames_are_refused_before_any_connection(slapd, username):
    authenticator, factory = counting(slapd)
    assert authenticator.authenticate(username, PASSWORDS["alice"]) is None
    assert factory.calls == []


def test_longest_acceptable_username_is_searched(slapd):
    authenticator, factory = counting(slapd)
    assert authenticator.authenticate("a" * 255, "x") is None
    assert len(factory.calls) == 1  # searched (as the reader), found nothing


# --- where and how users are searched -----------------------------------------------


@pytest.mark.parametrize("user_filter", ["(employeeType=staff)", "employeeType=staff"])
def test_user_filter_restricts(slapd, user_filter):
    assert auth(slapd, "alice", PASSWORDS["alice"], user_filter=user_filter) is not None
    assert auth(slapd, "bob", PASSWORDS["bob"], user_filter=user_filter) is None


def test_compound_user_filter(slapd):
    f = "(|(employeeType=contractor)(uid=carol))"
    assert auth(slapd, "alice", PASSWORDS["alice"], user_filter=f) is None
    assert auth(slapd, "bob", PASSWORDS["bob"], user_filter=f) is not None
    assert auth(slapd, "carol", PASSWORDS["carol"], user_filter=f) is not None


@pytest.mark.parametrize(
    ("base_dn", "scope", "found"),
    [
        (SUFFIX, "subtree", True),
        (SUFFIX, "2", True),
        (SUFFIX, "onelevel", False),  # alice is two levels down
        (PEOPLE, "onelevel", True),
        (PEOPLE, 1, True),
        (PEOPLE, "base", False),
        (DNS["alice"], "base", True),
        (DNS["alice"], "0", True),
    ],
)
def test_scope(slapd, base_dn, scope, found):
    user = auth(slapd, "alice", PASSWORDS["alice"], base_dn=base_dn, scope=scope)
    assert (user is not None) is found


def test_uid_attribute(slapd):
    user = auth(slapd, "Bob Builder", PASSWORDS["bob"], uid_attribute="cn")
    assert user is not None and user.dn == DNS["bob"] and user.username == "Bob Builder"
    assert auth(slapd, "bob", PASSWORDS["bob"], uid_attribute="cn") is None


# --- groups -------------------------------------------------------------------------


def test_groups_from_member_of(slapd):
    # no group base DN: memberOf (kept by slapd's memberof overlay) is the only source
    for name, groups in [("alice", (DEVS_DN,)), ("bob", (OPS_DN,)), ("dan", (OPS_DN,)), ("carol", ())]:
        user = auth(slapd, name, PASSWORDS[name], group_base_dn="")
        assert user is not None and user.groups == groups, name


def test_groups_from_group_search(slapd):
    # memberOf not read: groups come from searching ou=groups for member=<user DN>
    for name, groups in [("alice", (DEVS_DN,)), ("bob", (OPS_DN,)), ("dan", (OPS_DN,)), ("carol", ())]:
        user = auth(slapd, name, PASSWORDS[name], group_membership_attribute="")
        assert user is not None and user.groups == groups, name
    # dan's DN holds "(", ")" and an escaped comma: escaped in the group filter, it still matches


def test_group_search_when_membership_attribute_absent(slapd):
    user = auth(slapd, "alice", PASSWORDS["alice"], group_membership_attribute="departmentNumber")
    assert user is not None and user.groups == (DEVS_DN,)


def test_group_filter_restricts(slapd):
    s = {"group_membership_attribute": "", "group_filter": "(cn=ops)"}
    assert auth(slapd, "alice", PASSWORDS["alice"], **s).groups == ()
    assert auth(slapd, "bob", PASSWORDS["bob"], **s).groups == (OPS_DN,)


def test_group_member_attribute(slapd):
    # groupOfNames lists members in "member"; asking for another attribute finds nothing
    user = auth(slapd, "alice", PASSWORDS["alice"], group_membership_attribute="", group_member_attribute="owner")
    assert user is not None and user.groups == ()


def test_no_groups_without_either_source(slapd):
    user = auth(slapd, "alice", PASSWORDS["alice"], group_membership_attribute="", group_base_dn="")
    assert user is not None and user.groups == ()


# --- TLS ------------------------------------------------------------------------------


def test_ldaps_without_verification(slapd):
    user = auth(slapd, "alice", PASSWORDS["alice"], url=slapd.ldaps_url, verify_cert=False)
    assert user is not None and user.groups == (DEVS_DN,)


def test_ldaps_verification_rejects_an_untrusted_certificate(slapd):
    with pytest.raises(LdapUnavailable):
        auth(slapd, "alice", PASSWORDS["alice"], url=slapd.ldaps_url, verify_cert=True)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_ldaps_verification_accepts_a_trusted_certificate(slapd, monkeypatch, host):
    monkeypatch.setenv("SSL_CERT_FILE", str(slapd.ca_file))  # OpenSSL's default trust store
    url = f"ldaps://{host}:{slapd.ldaps_port}"
    assert auth(slapd, "alice", PASSWORDS["alice"], url=url, verify_cert=True) is not None
    assert auth(slapd, "alice", "wrong", url=url, verify_cert=True) is None


def test_ldaps_verification_checks_the_name(slapd, monkeypatch):
    # "127.1" reaches 127.0.0.1, but is a name the certificate (localhost, 127.0.0.1) lacks
    monkeypatch.setenv("SSL_CERT_FILE", str(slapd.ca_file))
    url = f"ldaps://127.1:{slapd.ldaps_port}"
    with pytest.raises(LdapUnavailable, match="mismatch"):
        auth(slapd, "alice", PASSWORDS["alice"], url=url, verify_cert=True)
    assert auth(slapd, "alice", PASSWORDS["alice"], url=url, verify_cert=False) is not None


def test_start_tls(slapd, monkeypatch):
    assert auth(slapd, "alice", PASSWORDS["alice"], start_tls=True, verify_cert=False) is not None
    with pytest.raises(LdapUnavailable):
        auth(slapd, "alice", PASSWORDS["alice"], start_tls=True, verify_cert=True)
    monkeypatch.setenv("SSL_CERT_FILE", str(slapd.ca_file))
    assert auth(slapd, "alice", PASSWORDS["alice"], start_tls=True, verify_cert=True) is not None


def test_ldaps_against_the_plain_port_is_unavailable(slapd):
    with pytest.raises(LdapUnavailable):
        auth(slapd, "alice", PASSWORDS["alice"], url=f"ldaps://127.0.0.1:{slapd.port}", verify_cert=False)


# --- the directory failing ----------------------------------------------------------


def test_unreachable_server_is_unavailable(slapd):
    with pytest.raises(LdapUnavailable):
        auth(slapd, "alice", PASSWORDS["alice"], url=f"ldap://127.0.0.1:{free_port()}")


def test_silent_server_times_out_as_unavailable(slapd):
    with socket.socket() as listener:  # accepts TCP connections (backlog), never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"ldap://127.0.0.1:{listener.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(LdapUnavailable):
            auth(slapd, "alice", PASSWORDS["alice"], url=url, timeout=1)
        assert time.monotonic() - started < 5


def test_wrong_search_password_is_unavailable_not_none(slapd):
    with pytest.raises(LdapUnavailable, match="search bind"):
        auth(slapd, "alice", PASSWORDS["alice"], search_password="wrong")


def test_missing_base_dn_is_unavailable(slapd):
    with pytest.raises(LdapUnavailable):
        auth(slapd, "alice", PASSWORDS["alice"], base_dn=f"ou=nowhere,{SUFFIX}")


def test_missing_group_base_dn_is_unavailable(slapd):
    with pytest.raises(LdapUnavailable):
        auth(slapd, "alice", PASSWORDS["alice"], group_membership_attribute="", group_base_dn=f"ou=nowhere,{SUFFIX}")


# --- settings -------------------------------------------------------------------------


def harbor_config(server: Slapd, **overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "auth_mode": "ldap_auth",  # not ours: ignored
        "token_expiration": "30",
        "ldap_url": server.url,
        "ldap_search_dn": READER_DN,
        "ldap_search_password": READER_PASSWORD,
        "ldap_base_dn": SUFFIX,
        "ldap_uid": "uid",
        "ldap_filter": "(objectClass=inetOrgPerson)",
        "ldap_scope": "2",
        "ldap_timeout": "5",
        "ldap_verify_cert": "true",
        "ldap_group_base_dn": GROUPS,
        "ldap_group_search_filter": "(objectClass=groupOfNames)",
        "ldap_group_membership_attribute": "memberof",
        "ldap_group_admin_dn": f"cn=admins,{GROUPS}",  # Harbor's, not used here: ignored
        "ldap_group_attribute_name": "cn",
        "ldap_group_search_scope": "2",
    }
    config.update(overrides)
    return config


def test_from_mapping_with_harbor_keys(slapd):
    s = LdapSettings.from_mapping(harbor_config(slapd))
    assert s == LdapSettings(
        url=slapd.url,
        search_dn=READER_DN,
        search_password=READER_PASSWORD,
        base_dn=SUFFIX,
        uid_attribute="uid",
        user_filter="(objectClass=inetOrgPerson)",
        scope="subtree",
        verify_cert=True,
        timeout=5,
        group_base_dn=GROUPS,
        group_filter="(objectClass=groupOfNames)",
        group_membership_attribute="memberof",
    )
    user = LdapAuthenticator(s).authenticate("alice", PASSWORDS["alice"])
    assert user is not None and user.groups == (DEVS_DN,)


def test_from_mapping_types_and_defaults(slapd):
    s = LdapSettings.from_mapping({
        "ldap_url": "ldap.example.org",  # a bare host, as Harbor accepts
        "ldap_scope": 1,
        "ldap_verify_cert": False,
        "ldap_timeout": 9,
        "ldap_uid": "",  # empty: the default
        "ldap_filter": "objectClass=person",
        "ldap_start_tls": "yes",
        "ldap_group_member_attribute": "uniqueMember",
    })
    assert (s.url, s.scope, s.verify_cert, s.timeout, s.uid_attribute) == (
        "ldap://ldap.example.org", "onelevel", False, 9, "uid"
    )
    assert (s.user_filter, s.start_tls, s.group_member_attribute) == ("(objectClass=person)", True, "uniqueMember")
    assert (s.search_dn, s.group_base_dn, s.group_filter) == ("", "", "(objectClass=groupOfNames)")


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("ldap_url", "http://ldap.example.org"),
        ("ldap_url", "ldap://"),
        ("ldap_url", "ldap://host:notaport"),
        ("ldap_url", "ldap://host/dc=example"),
        ("ldap_scope", "3"),
        ("ldap_scope", "everything"),
        ("ldap_verify_cert", "maybe"),
        ("ldap_timeout", "soon"),
        ("ldap_timeout", "0"),
        ("ldap_uid", "u id"),
        ("ldap_uid", "uid)(x"),
        ("ldap_filter", "(uid=a"),
        ("ldap_filter", "(a=b))(|(c=d)"),
        ("ldap_filter", "(&(uid=a)(objectClass))"),
        ("ldap_base_dn", "not a dn"),
        ("ldap_search_dn", "cn=,dc=x"),
        ("ldap_group_base_dn", "nope"),
        ("ldap_group_search_filter", "objectClass=groupOfNames)"),
        ("ldap_group_membership_attribute", "member of"),
        ("ldap_group_member_attribute", "*"),
        ("ldap_start_tls", "perhaps"),
    ],
)
def test_from_mapping_names_the_bad_key(slapd, key, value):
    with pytest.raises(ValueError, match=f"^{key}: "):
        LdapSettings.from_mapping(harbor_config(slapd, **{key: value}))


def test_from_mapping_cross_field_checks(slapd):
    with pytest.raises(ValueError, match="^ldap_url: required"):
        LdapSettings.from_mapping({"ldap_base_dn": SUFFIX})
    with pytest.raises(ValueError, match="^ldap_search_password: "):
        LdapSettings.from_mapping(harbor_config(slapd, ldap_search_password=""))
    with pytest.raises(ValueError, match="^ldap_start_tls: "):
        LdapSettings.from_mapping(harbor_config(slapd, ldap_url=slapd.ldaps_url, ldap_start_tls="true"))


def test_settings_validate_on_construction_and_hide_the_password(slapd):
    with pytest.raises(ValueError, match="^scope: "):
        LdapSettings(url=slapd.url, scope="deep")
    s = settings(slapd)
    assert READER_PASSWORD not in repr(s)
    assert LdapSettings(url="LDAPS://Example.org:636").url == "ldaps://example.org:636"


@pytest.mark.parametrize(
    ("dn", "normal"),
    [
        ("CN=Devs, OU=Groups ,dc=Example,dc=org", "cn=devs,ou=groups,dc=example,dc=org"),
        (r"cn=Dan\2C Jr. (ops),o=x", r"cn=dan\, jr. (ops),o=x"),  # one spelling per escape
        (r"cn=Dan\, Jr. (ops),o=x", r"cn=dan\, jr. (ops),o=x"),
        (r"cn=caf\C3\A9,o=x", "cn=café,o=x"),
        ("cn=a+uid=B,o=x", "cn=a+uid=b,o=x"),
    ],
)
def test_group_dn_normalisation(dn, normal):
    from chalicelib.auth.ldap import _normalise_dn

    assert _normalise_dn(dn) == normal
