"""The wire error table (distribution-spec "Error Codes") and the one error writer.

Domain errors map to a code and a status here and nowhere else; faults from below
the domain (chalicelib/web/faults.py) likewise; anything unexpected becomes
UNKNOWN/500. The registry and the token service both answer in this body.
"""
from __future__ import annotations

from chalicelib import errors
from chalicelib.web import faults
from chalicelib.web.http import Response

ERROR_HEADER = "X-Berth-Error"
# every answer under /v2 carries it, errors included (the registry and the token service)
API_VERSION_HEADER = {"Docker-Distribution-API-Version": "registry/2.0"}
RETRY_AFTER = "Retry-After"

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
    # not in the OCI table; distribution's own (registry/api/errcode): a proxy cache's upstream failed
    "UNAVAILABLE": (503, "service unavailable"),
    # not in the OCI table; distribution answers these for a bad `n`
    "PAGINATION_NUMBER_INVALID": (400, "invalid number of results requested"),
}

# how each fault below the domain is answered in this body (chalicelib/web/faults.py)
_FAULTS = {
    faults.Fault.THROTTLED: ("TOOMANYREQUESTS", "storage is busy; retry", 429),
    faults.Fault.UNAVAILABLE: ("UNKNOWN", "storage unavailable; retry", 503),
    faults.Fault.IDENTITY_PROVIDER: ("UNKNOWN", "the identity provider is unavailable; retry later", 503),
    faults.Fault.INTERNAL: ("UNKNOWN", "internal error", 500),
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
    # Harbor refuses it with 412 too; DENIED tells clients a retry will not help
    (errors.ManifestReferenced, "DENIED", 412),
    (errors.InvalidPagination, "PAGINATION_NUMBER_INVALID", 400),
    (errors.Conflict, "TOOMANYREQUESTS", 429),
    (errors.LoginThrottled, "TOOMANYREQUESTS", 429),
    (errors.Unauthorized, "UNAUTHORIZED", 401),
    # a project's rules refuse the write: a retry will not help
    (errors.TagImmutable, "DENIED", 403),
    (errors.QuotaExceeded, "DENIED", 403),
    (errors.Denied, "DENIED", 403),
    # rules and schedules come through the management API; the OCI API takes none
    (errors.InvalidRule, "UNSUPPORTED", 400),
    # a proxy cache with nothing valid cached (chalicelib/proxy_cache.py): the upstream's fault, not the client's
    (errors.UpstreamRateLimited, "TOOMANYREQUESTS", 429),
    (errors.UpstreamUnavailable, "UNAVAILABLE", 503),
    (errors.UpstreamInvalid, "UNAVAILABLE", 502),
]


def classify(exc: errors.BerthError) -> tuple[str, int]:
    for error_type, code, status in _BY_ERROR:
        if isinstance(exc, error_type):
            return code, status
    return "UNKNOWN", 500


def error_response(code: str, message: str | None = None, *, status: int | None = None, detail=None, headers=None) -> Response:
    default_status, default_message = CODES[code]
    entry = {"code": code, "message": message or default_message}
    if detail is not None:
        entry["detail"] = detail
    if code == "TOOMANYREQUESTS":
        # every 429 is a "retry": say when (a lost race, throttling)
        headers = {RETRY_AFTER: "1", **(headers or {})}
    # read (and removed) by the observability middleware, for logs and metrics
    return Response.json(status or default_status, {"errors": [entry]}, {**(headers or {}), ERROR_HEADER: code})


def response_for(exc: errors.BerthError, headers: dict[str, str] | None = None) -> Response:
    code, status = classify(exc)
    merged = dict(getattr(exc, "headers", None) or {})
    merged.update(headers or {})
    return error_response(code, exc.message, status=status, detail=exc.detail, headers=merged)


def fault_response(exc: Exception, **context: str) -> Response:
    """A fault from below the domain (AWS, configuration, LDAP), logged once."""
    fault = faults.classify(exc)
    faults.log(fault, exc, **context)
    if fault is faults.Fault.MISCONFIGURED:
        return error_response("UNKNOWN", f"server misconfigured: {exc}")
    code, message, status = _FAULTS[fault]
    return error_response(code, message, status=status, headers=faults.RETRY_AFTER if fault.name in faults.RETRYABLE else None)
