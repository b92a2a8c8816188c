"""The management API's own errors, raised by its handlers. dispatch.py maps
them (and the domain errors of chalicelib.errors) to Harbor's wire codes."""
from __future__ import annotations

from chalicelib.errors import BerthError


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
