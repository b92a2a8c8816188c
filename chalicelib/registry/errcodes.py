"""The wire error table (distribution-spec "Error Codes") and the one error writer.

Domain errors map to a code and a status here and nowhere else; anything
unexpected becomes UNKNOWN/500 and is logged by the caller.
"""
from __future__ import annotations

from chalicelib import errors
from chalicelib.registry.http import OciResponse

ERROR_HEADER = "X-Berth-Error"

# code -> (status, default message)
CODES: dict[str, tuple[int, str]] = {
    "BLOB_UNKNOWN": (404, "blob unknown to registry"),
    "BLOB_UPLOAD_INVALID": (400, "blob upload invalid"),
    "BLOB_UPLOAD_UNKNOWN": (404, "blob upload unknown to registry"),
    "DIGEST_INVALID": (400, "provided digest did not match uploaded content"),
    "MANIFEST_BLOB_UNKNOWN": (404, "manifest references a manifest or blob unknown to registry"),
    "MANIFEST_INVALID": (400, "manifest invalid"),
    "MANIFEST_UNKNOWN": (404, "manifest unknown to registry"),
    "NAME_INVALID": (400, "invalid repository name"),
    "NAME_UNKNOWN": (404, "repository name not known to registry"),
    "SIZE_INVALID": (400, "provided length did not match content length"),
    "UNAUTHORIZED": (401, "authentication required"),
    "DENIED": (403, "requested access to the resource is denied"),
    "UNSUPPORTED": (405, "the operation is unsupported"),
    "TOOMANYREQUESTS": (429, "too many requests"),
    "UNKNOWN": (500, "unknown error"),
    # not in the OCI table; distribution answers these for a bad `n`
    "PAGINATION_NUMBER_INVALID": (400, "invalid number of results requested"),
}

# domain error -> (code, status); the status may differ from the code's usual one
_BY_ERROR: list[tuple[type[errors.BerthError], str, int]] = [
    (errors.InvalidName, "NAME_INVALID", 400),
    (errors.RepositoryNotFound, "NAME_UNKNOWN", 404),
    (errors.InvalidDigest, "DIGEST_INVALID", 400),
    (errors.InvalidReference, "MANIFEST_INVALID", 400),
    (errors.BlobNotFound, "BLOB_UNKNOWN", 404),
    (errors.ManifestNotFound, "MANIFEST_UNKNOWN", 404),
    (errors.UploadNotFound, "BLOB_UPLOAD_UNKNOWN", 404),
    (errors.UploadInvalid, "BLOB_UPLOAD_INVALID", 400),
    (errors.RangeInvalid, "BLOB_UPLOAD_INVALID", 416),
    (errors.SizeInvalid, "SIZE_INVALID", 400),
    (errors.PayloadTooLarge, "SIZE_INVALID", 413),
    (errors.InvalidManifest, "MANIFEST_INVALID", 400),
    (errors.ManifestBlobUnknown, "MANIFEST_BLOB_UNKNOWN", 404),
    (errors.Unsupported, "UNSUPPORTED", 405),
    (errors.InvalidPagination, "PAGINATION_NUMBER_INVALID", 400),
    (errors.Conflict, "TOOMANYREQUESTS", 429),
    (errors.Unauthorized, "UNAUTHORIZED", 401),
    (errors.Denied, "DENIED", 403),
]


def classify(exc: errors.BerthError) -> tuple[str, int]:
    for error_type, code, status in _BY_ERROR:
        if isinstance(exc, error_type):
            return code, status
    return "UNKNOWN", 500


def error_response(code: str, message: str | None = None, *, status: int | None = None, detail=None, headers=None) -> OciResponse:
    default_status, default_message = CODES[code]
    entry = {"code": code, "message": message or default_message}
    if detail is not None:
        entry["detail"] = detail
    # read (and removed) by the observability middleware, for logs and metrics
    return OciResponse.json(status or default_status, {"errors": [entry]}, {**(headers or {}), ERROR_HEADER: code})


def response_for(exc: errors.BerthError, headers: dict[str, str] | None = None) -> OciResponse:
    code, status = classify(exc)
    merged = dict(getattr(exc, "headers", None) or {})
    merged.update(headers or {})
    return error_response(code, exc.message, status=status, detail=exc.detail, headers=merged)
