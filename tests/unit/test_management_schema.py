"""The management API's body checker: the JSON Schema subset its routes declare."""
from __future__ import annotations

import io

import pytest

from chalicelib.management.errors import BadRequest, UnsupportedMediaType
from chalicelib.management.schema import array, boolean, integer, obj, read_json, string, validate
from chalicelib.web.http import Headers, Request

SCHEMA = obj(
    {
        "name": string(minLength=1, maxLength=5, pattern="^[a-z]+$"),
        "count": integer(minimum=-1, maximum=10),
        "flag": boolean(nullable=True),
        "tags": array(string(enum=["a", "b"]), maxItems=2),
        "inner": obj({"x": integer()}, required=("x",)),
    },
    required=("name",),
)


@pytest.mark.parametrize(
    "value",
    [{"name": "ok"}, {"name": "ok", "count": -1, "flag": None, "tags": ["a", "b"], "inner": {"x": 1}}, {"name": "abcde", "count": 10}],
)
def test_valid(value):
    validate(value, SCHEMA)


@pytest.mark.parametrize(
    "value, message",
    [
        ({}, "name is required"),
        ({"name": ""}, "name must be at least 1"),
        ({"name": "toolong"}, "at most 5"),
        ({"name": "AB"}, "does not match"),
        ({"name": 1}, "name must be a string"),
        ({"name": "ok", "count": True}, "count must be an integer"),
        ({"name": "ok", "count": 1.5}, "count must be an integer"),
        ({"name": "ok", "count": 11}, "at most 10"),
        ({"name": "ok", "count": -2}, "at least -1"),
        ({"name": "ok", "flag": "true"}, "flag must be a boolean"),
        ({"name": "ok", "count": None}, "count must not be null"),
        ({"name": "ok", "tags": ["c"]}, "tags[0] must be one of a, b"),
        ({"name": "ok", "tags": ["a", "a", "a"]}, "at most 2 items"),
        ({"name": "ok", "inner": {}}, "inner.x is required"),
        ({"name": "ok", "inner": {"x": 1, "y": 2}}, "unknown field inner.y"),
        ({"name": "ok", "other": 1}, "unknown field other"),
        ([], "body must be an object"),
        (None, "body must not be null"),
    ],
)
def test_invalid_names_the_field(value, message):
    with pytest.raises(BadRequest) as raised:
        validate(value, SCHEMA)
    assert message in raised.value.message


def _request(body: bytes, content_type: str | None = "application/json") -> Request:
    headers = {"Content-Type": content_type} if content_type else {}
    return Request("POST", "api/v2.0/x", headers=Headers(headers), body=io.BytesIO(body), content_length=len(body))


def test_read_json():
    assert read_json(_request(b'{"name": "ok"}'), SCHEMA) == {"name": "ok"}
    assert read_json(_request(b'{"name": "ok"}', None), SCHEMA) == {"name": "ok"}
    assert read_json(_request(b'{"name": "ok"}', "application/json; charset=utf-8"), SCHEMA) == {"name": "ok"}
    assert read_json(_request(b"", None), SCHEMA, required=False) is None
    for body in (b"", b"  ", b"{", b"\xff", b'{"name": "ok"} trailing'):
        with pytest.raises(BadRequest):
            read_json(_request(body), SCHEMA)
    with pytest.raises(UnsupportedMediaType):
        read_json(_request(b'{"name": "ok"}', "text/plain"), SCHEMA)
    with pytest.raises(BadRequest):
        read_json(_request(b" " * (64 * 1024 + 1)), SCHEMA)
