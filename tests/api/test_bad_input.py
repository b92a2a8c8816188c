"""Bad input on the registry (issue 10): refused with the spec's error body, never a 500."""
from __future__ import annotations

import pytest

from tests.api.helpers import OCI_MANIFEST, assert_error, image_manifest, put_manifest

DEEP = 100_000  # past Python's recursion limit, well inside the manifest size limit


@pytest.mark.parametrize(
    "body",
    [
        b'{"schemaVersion": 2, "annotations": ' + b"[" * DEEP + b"]" * DEEP + b"}",
        b"[" * DEEP + b"]" * DEEP,
        b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    ],
    ids=["deep-annotations", "deep-array", "deep-object"],
)
def test_deeply_nested_manifest_is_manifest_invalid(api, body):
    reply = put_manifest(api, "library/deep", "1", body)
    assert_error(reply, 400, "MANIFEST_INVALID")


def test_manifest_with_duplicate_keys_is_refused(api):
    body = image_manifest(api, "library/dup", seed="dup")
    twice = body[:-1] + b',"schemaVersion":2}'
    assert_error(put_manifest(api, "library/dup", "1", twice), 400, "MANIFEST_INVALID")
    assert_error(api.get("/v2/library/dup/manifests/1"), 404, "MANIFEST_UNKNOWN")


@pytest.mark.parametrize("version", [b"2.0", b"true", b'"2"'])
def test_schema_version_must_be_the_integer_2(api, version):
    body = image_manifest(api, "library/version", seed="version")
    odd = body.replace(b'"schemaVersion":2', b'"schemaVersion":' + version)
    assert odd != body
    assert_error(put_manifest(api, "library/version", "1", odd, OCI_MANIFEST), 400, "MANIFEST_INVALID")


def test_replies_without_a_body_carry_no_json_type(api):
    """Every reply of every API test is checked for this (conftest.check_body_type);
    here the common bodiless answers are named once."""
    start = api.post("/v2/library/empty/blobs/uploads/")
    assert start.status == 202 and start.body == b""
    assert "json" not in start.headers.get("content-type", "")
    cancel = api.delete(start.headers["location"])
    assert cancel.status == 204
    assert "json" not in cancel.headers.get("content-type", "")
