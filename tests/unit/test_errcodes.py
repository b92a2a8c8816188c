"""The wire error table: every domain error has a code, one body shape for all."""
from __future__ import annotations

import json

import pytest

from chalicelib import errors
from chalicelib.oci.errcodes import CODES, classify, error_response, response_for

# domain error -> (wire code, status). A new domain error must be added here.
EXPECTED = {
    errors.InvalidName: ("NAME_INVALID", 400),
    errors.InvalidReference: ("MANIFEST_INVALID", 400),
    errors.InvalidDigest: ("DIGEST_INVALID", 400),
    errors.UnsupportedDigest: ("DIGEST_INVALID", 400),
    errors.RepositoryNotFound: ("NAME_UNKNOWN", 404),
    errors.BlobNotFound: ("BLOB_UNKNOWN", 404),
    errors.ManifestNotFound: ("MANIFEST_UNKNOWN", 404),
    errors.UploadNotFound: ("BLOB_UPLOAD_UNKNOWN", 404),
    errors.UploadInvalid: ("BLOB_UPLOAD_INVALID", 400),
    errors.UploadGone: ("BLOB_UPLOAD_INVALID", 400),
    errors.BodyUnreadable: ("BLOB_UPLOAD_INVALID", 400),
    errors.RangeInvalid: ("BLOB_UPLOAD_INVALID", 416),
    errors.SizeInvalid: ("SIZE_INVALID", 400),
    errors.PayloadTooLarge: ("SIZE_INVALID", 413),
    errors.InvalidManifest: ("MANIFEST_INVALID", 400),
    errors.ManifestBlobUnknown: ("MANIFEST_BLOB_UNKNOWN", 404),
    errors.Unsupported: ("UNSUPPORTED", 405),
    errors.Conflict: ("TOOMANYREQUESTS", 429),
    errors.LoginThrottled: ("TOOMANYREQUESTS", 429),
    errors.Unauthorized: ("UNAUTHORIZED", 401),
    errors.Denied: ("DENIED", 403),
    errors.UpstreamRateLimited: ("TOOMANYREQUESTS", 429),
    errors.UpstreamUnavailable: ("UNAVAILABLE", 503),
    errors.UpstreamFilling: ("UNAVAILABLE", 503),
    errors.UpstreamInvalid: ("UNAVAILABLE", 502),
    errors.ProjectGone: ("DENIED", 403),
    errors.TagImmutable: ("DENIED", 403),
    errors.QuotaExceeded: ("DENIED", 403),
    errors.InvalidRule: ("UNSUPPORTED", 400),
    errors.InvalidPagination: ("PAGINATION_NUMBER_INVALID", 400),
    errors.ManifestReferenced: ("DENIED", 412),
}

DOMAIN_ERRORS = sorted(
    (
        value
        for value in vars(errors).values()
        if isinstance(value, type) and issubclass(value, errors.BerthError) and value is not errors.BerthError
    ),
    key=lambda cls: cls.__name__,
)

# distribution-spec "Error Codes", plus distribution's pagination code
SPEC_CODES = {
    "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID", "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID", "NAME_UNKNOWN", "SIZE_INVALID", "UNAUTHORIZED",
    "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS",
}


def _body(response) -> dict:
    return json.loads(response.body)


def test_every_domain_error_is_in_the_expected_table():
    assert set(DOMAIN_ERRORS) == set(EXPECTED)


@pytest.mark.parametrize("error_type", DOMAIN_ERRORS, ids=lambda c: c.__name__)
def test_every_domain_error_maps_to_a_known_code(error_type):
    code, status = classify(error_type())
    assert code in CODES
    assert code != "UNKNOWN"
    assert (code, status) == EXPECTED[error_type]


def test_the_table_covers_the_spec():
    assert SPEC_CODES <= set(CODES)
    assert "UNKNOWN" in CODES
    for code, (status, message) in CODES.items():
        assert 400 <= status <= 599, code
        assert message, code


def test_subclasses_inherit_their_parents_code():
    class StaleLink(errors.BlobNotFound):
        pass

    assert classify(StaleLink()) == ("BLOB_UNKNOWN", 404)


def test_anything_else_is_unknown_500():
    assert classify(errors.BerthError("?")) == ("UNKNOWN", 500)
    response = response_for(errors.BerthError())
    assert response.status == 500
    assert _body(response) == {"errors": [{"code": "UNKNOWN", "message": "unknown error"}]}


@pytest.mark.parametrize("error_type", DOMAIN_ERRORS, ids=lambda c: c.__name__)
def test_response_body_shape(error_type):
    response = response_for(error_type("something went wrong", detail={"digest": "sha256:x"}))
    code, status = EXPECTED[error_type]
    assert response.status == status
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Content-Length"] == str(len(response.body))
    assert _body(response) == {
        "errors": [{"code": code, "message": "something went wrong", "detail": {"digest": "sha256:x"}}]
    }


@pytest.mark.parametrize("error_type", DOMAIN_ERRORS, ids=lambda c: c.__name__)
def test_detail_is_omitted_when_absent_and_message_defaults(error_type):
    entry = _body(response_for(error_type()))["errors"][0]
    assert set(entry) == {"code", "message"}
    assert entry["message"]  # the class's own description


@pytest.mark.parametrize("detail", [{}, [], "", 0, False])
def test_falsy_detail_is_still_sent(detail):
    entry = _body(response_for(errors.InvalidName("bad", detail=detail)))["errors"][0]
    assert entry["detail"] == detail


@pytest.mark.parametrize("code", sorted(CODES))
def test_error_response_for_every_code(code):
    status, message = CODES[code]
    response = error_response(code)
    assert response.status == status
    assert _body(response) == {"errors": [{"code": code, "message": message}]}


def test_error_response_overrides():
    response = error_response("NAME_UNKNOWN", "no such endpoint", status=410, detail={"x": 1}, headers={"X-A": "b"})
    assert response.status == 410
    assert response.headers["X-A"] == "b"
    assert _body(response) == {"errors": [{"code": "NAME_UNKNOWN", "message": "no such endpoint", "detail": {"x": 1}}]}


def test_unknown_code_is_a_programming_error():
    with pytest.raises(KeyError):
        error_response("TAG_INVALID_TYPO")


def test_headers_carried_by_the_error_are_sent_and_explicit_ones_win():
    exc = errors.RangeInvalid("out of order", offset=10)
    exc.headers = {"Range": "0-9", "Location": "/v2/a/blobs/uploads/u"}  # type: ignore[attr-defined]
    response = response_for(exc, headers={"Location": "/elsewhere"})
    assert response.status == 416
    assert response.headers["Range"] == "0-9"
    assert response.headers["Location"] == "/elsewhere"
    assert exc.offset == 10
