"""The management API's own errors, raised by its handlers. dispatch.py maps
them (and the domain errors of chalicelib.errors) to Harbor's wire codes."""
from __future__ import annotations

from chalicelib.errors import BerthError

# Harbor's codes (src/lib/errors) -> status
CODES: dict[str, int] = {
    "BAD_REQUEST": 400,
    "UNAUTHORIZED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "METHOD_NOT_ALLOWED": 405,
    "CONFLICT": 409,
    "PRECONDITION": 412,
    "UNSUPPORTED_MEDIA_TYPE": 415,
    "TOO_MANY_REQUESTS": 429,
    "INTERNAL_SERVER_ERROR": 500,
    "SERVICE_UNAVAILABLE": 503,
}


class BadRequest(BerthError):
    """bad request"""


class Forbidden(BerthError):
    """forbidden"""


class NotFound(BerthError):
    """not found"""


class AlreadyExists(BerthError):
    """conflict"""


class PreconditionFailed(BerthError):
    """precondition failed"""


class UnsupportedMediaType(BerthError):
    """unsupported media type"""
