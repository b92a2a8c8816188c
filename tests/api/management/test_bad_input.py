"""Bad input on the management API (issue 10): Harbor's BAD_REQUEST, never a 500."""
from __future__ import annotations

import pytest

from tests.api.management.conftest import codes

DEEP = 20_000  # past Python's recursion limit, inside the 64 KiB body limit


@pytest.mark.parametrize(
    "raw",
    [b"[" * DEEP + b"]" * DEEP, b'{"a":' * DEEP + b"1" + b"}" * DEEP, b'{"metadata": ' + b"[" * DEEP + b"]" * DEEP + b"}"],
    ids=["array", "object", "inside-a-field"],
)
def test_deeply_nested_body_is_bad_request(admin, raw):
    reply = admin.post("/projects", raw=raw, headers={"Content-Type": "application/json"})
    assert reply.status == 400
    assert codes(reply) == ["BAD_REQUEST"]


def test_duplicate_keys_are_bad_request(admin, world):
    name = world.name("dup")
    raw = b'{"project_name": "%s", "project_name": "other", "metadata": {"public": "false"}}' % name.encode()
    reply = admin.post("/projects", raw=raw, headers={"Content-Type": "application/json"})
    assert reply.status == 400
    assert codes(reply) == ["BAD_REQUEST"]
    assert admin.head(f"/projects?project_name={name}").status == 404


def test_login_with_a_deep_json_body_is_bad_request(api):
    raw = b'{"principal": ' + b"[" * DEEP + b"]" * DEEP + b"}"
    reply = api.post("/v2/c/login", raw, headers={"Content-Type": "application/json"})
    assert reply.status == 400
