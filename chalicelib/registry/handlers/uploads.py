"""Blob upload sessions: POST, PATCH, PUT, GET and DELETE on .../blobs/uploads/."""
from __future__ import annotations

import dataclasses
import re
from urllib.parse import quote

from chalicelib.errors import (
    BerthError,
    Conflict,
    InvalidDigest,
    InvalidName,
    RangeInvalid,
    SizeInvalid,
    UploadNotFound,
)
from chalicelib.oci.digests import Digest
from chalicelib.oci.names import validate_name
from chalicelib.registry.dependencies import RegistryDependencies
from chalicelib.registry.handlers.common import range_header, write_guard
from chalicelib.registry.upload_service import ContentRange, UploadSession
from chalicelib.web.http import Request, Response

# The failures of a chunk after which the session goes on as it was: their replies carry
# the session's Location and Range (the bytes of a failed chunk are never counted)
_CHUNK_FAILURES = (RangeInvalid, SizeInvalid)


def start_upload(svc: RegistryDependencies, req: Request, name: str) -> Response:
    svc.proxy_cache.refuse_push(name)
    mounted = _try_mount(svc, req, name)
    if mounted is not None:
        return mounted
    digest_arg = req.arg("digest")
    if digest_arg is not None:
        digest = Digest.parse(digest_arg)
        data = req.read_body(svc.settings.max_request_body)
        svc.uploads.put_monolithic(name, digest, data, project=write_guard(svc, name))
        return _created(name, digest)
    session = svc.uploads.start(name)
    # no OCI-Chunk-Min-Length: a chunk of any size is taken, on the API as on the upload host
    return Response.empty(202, _session_headers(svc, session, _api_base(svc, req)))


def get_upload(svc: RegistryDependencies, req: Request, name: str, upload_id: str) -> Response:
    session, api_base = _session(svc, req, name, upload_id)
    return Response.empty(204, _session_headers(svc, svc.uploads.status(session), api_base))


def patch_upload(svc: RegistryDependencies, req: Request, name: str, upload_id: str) -> Response:
    session, api_base = _session(svc, req, name, upload_id)
    before = dataclasses.replace(session)
    try:
        content_range = ContentRange.parse(req.header("Content-Range"))
        svc.uploads.append(session, req.body, req.content_length, content_range)
    except _CHUNK_FAILURES as exc:
        raise _with_session_headers(svc, exc, before, api_base) from None
    return Response.empty(202, _session_headers(svc, session, api_base))


def complete_upload(svc: RegistryDependencies, req: Request, name: str, upload_id: str) -> Response:
    session, api_base = _session(svc, req, name, upload_id)
    digest_arg = req.arg("digest")
    if not digest_arg:
        raise InvalidDigest("the digest parameter is required to complete an upload")
    digest = Digest.parse(digest_arg)
    before = dataclasses.replace(session)
    try:
        content_range = ContentRange.parse(req.header("Content-Range"))
        svc.uploads.complete(
            session, digest, req.body, req.content_length, content_range, project=write_guard(svc, name)
        )
    except _CHUNK_FAILURES as exc:
        raise _with_session_headers(svc, exc, before, api_base) from None
    return _created(name, digest, api_base)


def cancel_upload(svc: RegistryDependencies, req: Request, name: str, upload_id: str) -> Response:
    session, _ = _session(svc, req, name, upload_id)
    svc.uploads.cancel(session)
    return Response.empty(204)


# -- helpers -----------------------------------------------------------------
def _try_mount(svc: RegistryDependencies, req: Request, name: str) -> Response | None:
    """Cross-repository mount; None means fall back to a new session.

    The caller must be allowed to pull from the source; if not, or if the source
    lacks the blob, the client simply uploads (as the spec's fallback says).
    """
    mount, source = req.arg("mount"), req.arg("from")
    if not mount or not source:
        return None
    if req.identity is not None and not req.identity.can("repository", source, "pull"):
        return None
    try:
        digest = Digest.parse(mount)
        validate_name(source)
    except (InvalidDigest, InvalidName):
        return None
    link = svc.meta.get_link(source, str(digest))
    if link is None:
        return None
    try:
        # only while the blob's record is live and names the same bytes: a garbage
        # collection deleting it wins, and the client uploads instead
        svc.meta.link_blob(name, str(digest), link.size, int(svc.clock()), key=link.key, project=write_guard(svc, name))
    except Conflict:
        return None
    return _created(name, digest)


def _created(name: str, digest: Digest, api_base: str = "") -> Response:
    """`api_base`: the registry's own URL when the upload finished on a separate upload
    host, so that the blob's Location does not resolve against that host."""
    return Response.empty(
        201, {"Location": f"{api_base}/v2/{name}/blobs/{digest}", "Docker-Content-Digest": str(digest)}
    )


# an absolute http(s) base URL, nothing more (it is echoed into Location headers)
_BASE_URL = re.compile(r"https?://(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def _api_base(svc: RegistryDependencies, req: Request) -> str:
    """Where this API is, for sessions that continue on a separate upload host ("" when
    uploads stay on the API, where relative Locations are right): the configured public
    URL, else the Host this POST reached the API on (API Gateway routes by it). It is
    signed into the session's state, never read from the upload URL's query."""
    if not svc.settings.upload_url:
        return ""
    base = svc.settings.public_url or f"{req.scheme}://{req.header('Host') or ''}"
    return base if _BASE_URL.fullmatch(base) else ""


def _session(svc: RegistryDependencies, req: Request, name: str, upload_id: str) -> tuple[UploadSession, str]:
    """The session as its signed URL describes it (there is no other record of it), and
    the API's base URL its state carries ("" without one)."""
    token = req.arg("_state")
    if not token:
        raise UploadNotFound(f"upload {upload_id[:64]!r} is unknown: use the Location it was given", detail={"upload": upload_id[:64]})
    expires_at, state, api_base = svc.upload_tokens.verify(token, upload_id, name, svc.clock())
    session = UploadSession.from_state(upload_id, name, expires_at, state)
    return session, api_base if _BASE_URL.fullmatch(api_base) else ""


def upload_location(svc: RegistryDependencies, session: UploadSession, api_base: str = "") -> str:
    token = svc.upload_tokens.issue(session.id, session.name, session.expires_at, session.state(), api_base)
    return f"{svc.settings.upload_url}/v2/{session.name}/blobs/uploads/{session.id}?_state={quote(token)}"


def _session_headers(svc: RegistryDependencies, session: UploadSession, api_base: str = "") -> dict[str, str]:
    return {
        "Location": upload_location(svc, session, api_base),
        "Range": range_header(session.offset),
        "Docker-Upload-UUID": session.id,
        "Blob-Upload-Session-ID": session.id,
    }


def _with_session_headers(svc: RegistryDependencies, exc: BerthError, session: UploadSession, api_base: str = "") -> BerthError:
    offset = getattr(exc, "offset", None)
    offset = session.offset if offset is None else offset
    exc.headers = {**_session_headers(svc, session, api_base), "Range": range_header(offset)}  # type: ignore[attr-defined]
    return exc
