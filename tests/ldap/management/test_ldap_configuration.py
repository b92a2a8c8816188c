"""/configurations switched to LDAP against a real slapd (the `slapd` fixture): a
directory login works at once in this container, the search password is stored as a
SecureString and never answered (tests/api/management/test_configurations.py has the rest)."""
from __future__ import annotations

from urllib.parse import urlencode

from tests.api.management.test_configurations import restored, stored, token_reply
from tests.ldap_server import GROUPS, PASSWORDS, READER_DN, READER_PASSWORD, SUFFIX

__all__ = ["restored"]  # the fixture that puts the settings back


def test_ldap_auth_through_the_api_logs_directory_users_in(world, admin, slapd, restored):
    assert token_reply(world, "alice", PASSWORDS["alice"]).status == 401  # db_auth: no such user
    settings = {
        "auth_mode": "ldap_auth",
        "ldap_url": slapd.url,
        "ldap_base_dn": SUFFIX,
        "ldap_search_dn": READER_DN,
        "ldap_search_password": READER_PASSWORD,
        "ldap_uid": "uid",
        "ldap_scope": 2,
        "ldap_timeout": 3,
        "ldap_verify_cert": False,
        "ldap_group_base_dn": GROUPS,
    }
    reply = admin.put("/configurations", settings)
    assert reply.status == 200, reply.body
    assert READER_PASSWORD.encode() not in reply.body

    # the directory login works at once in this container
    reply = token_reply(world, "alice", PASSWORDS["alice"])
    assert reply.status == 200, reply.body
    assert world.svc.accounts.get_user("alice").source == "ldap"
    assert token_reply(world, "alice", "wrong").status == 401
    assert token_reply(world, "admin", "Admin-Passw0rd").status == 200  # admin stays in the database

    # what was written: strings, the secret as a SecureString
    parameters = stored(world)
    assert parameters["ldap_search_password"] == {"Type": "SecureString", "Value": READER_PASSWORD}
    assert parameters["auth_mode"] == {"Type": "String", "Value": "ldap_auth"}
    assert parameters["ldap_scope"]["Value"] == "2" and parameters["ldap_verify_cert"]["Value"] == "false"

    # answered typed, the secret never
    reply = admin.get("/configurations")
    assert READER_PASSWORD.encode() not in reply.body
    body = reply.json()
    assert "ldap_search_password" not in body
    assert body["auth_mode"]["value"] == "ldap_auth"
    assert body["ldap_url"]["value"] == slapd.url
    assert body["ldap_timeout"]["value"] == 3 and body["ldap_verify_cert"]["value"] is False
    assert admin.get("/systeminfo").json()["auth_mode"] == "ldap_auth"

    # one audit entry per change, naming the keys and no values
    entries = admin.get("/audit-logs?" + urlencode({"q": "resource_type=configuration"})).json()
    mine = [e for e in entries if "ldap_search_password" in e["resource"]]
    assert len(mine) == 1
    assert (mine[0]["operation"], mine[0]["username"]) == ("update", "admin")
    assert READER_PASSWORD not in mine[0]["resource"] and slapd.url not in mine[0]["resource"]

    # an empty string clears a key; a bad change leaves the working settings alone
    assert admin.put("/configurations", {"ldap_url": "ldap://"}).status == 400
    assert admin.put("/configurations", {"ldap_search_dn": "", "ldap_search_password": ""}).status == 200
    assert "ldap_search_password" not in stored(world) and "ldap_search_dn" not in stored(world)
    assert token_reply(world, "bob", PASSWORDS["bob"]).status == 200  # anonymous search finds bob
