"""Domain errors.

Storage and metadata code raise these; only the API layer
(`chalicelib.oci.errcodes`) turns them into wire codes and statuses.
Each carries a human message and, optionally, a `detail` object for clients.
"""
from __future__ import annotations

from typing import Any


class BerthError(Exception):
    def __init__(self, message: str = "", detail: Any = None):
        super().__init__(message or self.__class__.__doc__ or self.__class__.__name__)
        self.message = message or (self.__class__.__doc__ or "").strip()
        self.detail = detail


class InvalidName(BerthError):
    """invalid repository name"""


class InvalidReference(BerthError):
    """invalid tag or digest"""


class InvalidDigest(BerthError):
    """provided digest did not match uploaded content"""


class UnsupportedDigest(InvalidDigest):
    """digest algorithm not supported"""


class RepositoryNotFound(BerthError):
    """repository name not known to registry"""


class BlobNotFound(BerthError):
    """blob unknown to registry"""


class ManifestNotFound(BerthError):
    """manifest unknown"""


class UploadNotFound(BerthError):
    """blob upload unknown to registry"""


class UploadInvalid(BerthError):
    """blob upload invalid"""


class BodyUnreadable(UploadInvalid):
    """the request body could not be read to its end"""


class UploadGone(UploadInvalid):
    """the upload's multipart upload no longer exists (completed or aborted)"""


class RangeInvalid(BerthError):
    """requested range not satisfiable"""

    def __init__(self, message: str = "", detail: Any = None, *, offset: int | None = None):
        # offset: where the upload really is, when the request's view was stale (None: as the request saw it)
        super().__init__(message, detail)
        self.offset = offset


class SizeInvalid(BerthError):
    """provided length did not match content length"""


class PayloadTooLarge(BerthError):
    """request body too large"""


class InvalidManifest(BerthError):
    """manifest invalid"""


class ManifestBlobUnknown(BerthError):
    """manifest references a manifest or blob unknown to registry"""


class Unsupported(BerthError):
    """the operation is unsupported"""


class Conflict(BerthError):
    """a concurrent change won; retry"""


class Unauthorized(BerthError):
    """authentication required"""


class Denied(BerthError):
    """requested access to the resource is denied"""


class UpstreamRateLimited(BerthError):
    """a proxy cache's upstream registry answered 429 and nothing valid is cached"""


class UpstreamUnavailable(BerthError):
    """a proxy cache's upstream registry failed or cannot be reached, and nothing valid is cached"""


class UpstreamFilling(UpstreamUnavailable):
    """a proxy cache is copying a blob too big to copy within the request: ask again later"""

    def __init__(self, message: str = "", detail: Any = None, *, retry_after: int = 10):
        super().__init__(message, detail)
        self.headers = {"Retry-After": str(retry_after)}


class UpstreamInvalid(BerthError):
    """a proxy cache's upstream registry answered content that is not what it named (never cached)"""


class ProjectGone(Denied):
    """the project was deleted: a token issued before may not write into it"""


class TagImmutable(Denied):
    """the tag is immutable (a rule of its project protects it): it is neither moved nor deleted"""


class QuotaExceeded(Denied):
    """the project's storage quota would be exceeded"""


class InvalidRule(BerthError):
    """a rule, pattern or schedule that cannot be used"""


class InvalidPagination(BerthError):
    """invalid number of results requested"""


class ManifestReferenced(BerthError):
    """the manifest is listed by an index; delete the index first"""


class StoreUnavailable(Exception):
    """A store cannot be read: its backend refused or cannot be reached (the health check)."""


class IdentityProviderUnavailable(Exception):
    """An external identity provider (LDAP) cannot answer: a 503, not a wrong password."""


class LoginThrottled(BerthError):
    """Too many failed logins (chalicelib/auth/throttle.py): try again after `retry_after` seconds."""

    def __init__(self, message: str = "", detail: Any = None, *, retry_after: int = 1):
        super().__init__(message or f"too many failed logins; retry in {retry_after} seconds", detail)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class RemoteRegistryError(Exception):
    """Another registry (chalicelib/remote/) could not be used. Not a BerthError: what it
    means to a caller depends on the entry point (a 400 "unhealthy" registry for the
    management API, a failed task for replication), so each maps it where it calls."""

    def __init__(self, message: str = "", *, status: int = 0, retryable: bool = False):
        self.message = message or (self.__class__.__doc__ or "").strip().splitlines()[0]
        super().__init__(self.message)
        self.status = status  # the remote's HTTP status; 0: no answer (refused, timed out, broken)
        self.retryable = retryable  # worth another try later (no answer, 429, 5xx)


class RemoteUnauthorized(RemoteRegistryError):
    """the remote registry refused the credentials"""


class RemoteNotFound(RemoteRegistryError):
    """the remote registry does not have it"""


class RemoteBodyTooLarge(RemoteRegistryError):
    """the remote registry refused a blob sent in one request as too large (413)"""
