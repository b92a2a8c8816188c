"""The upload host: the blob-upload routes as a streaming WSGI app.

Same handlers as the Lambda, but request bodies stream straight from the
socket into S3 multipart parts, so no request size limit applies. Runs as the
local stack's second port and, in AWS, as an optional container service
(design.md, "Platform limits"). Not imported by the Lambda.
"""
from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from typing import Any, BinaryIO, cast
from urllib.parse import parse_qs

from werkzeug.wsgi import get_input_stream

from chalicelib.errors import BodyUnreadable
from chalicelib.oci.errcodes import error_response
from chalicelib.registry.dispatch import dispatch
from chalicelib.registry.routes import ROUTES
from chalicelib.web.http import Headers, Request

UPLOAD_ROUTES = tuple(r for r in ROUTES if r.upload_host)
_STATUS_TEXT = {
    200: "OK", 201: "Created", 202: "Accepted", 204: "No Content", 307: "Temporary Redirect", 400: "Bad Request",
    401: "Unauthorized", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 413: "Payload Too Large",
    416: "Range Not Satisfiable", 429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable",
}


def create_upload_app(services: Any = None) -> Callable:
    if services is None:
        from chalicelib.config import Settings
        from chalicelib.services import Services

        services = Services(Settings.from_env())

    def wsgi_app(environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path.startswith("/v2/"):
            with _body_timeout(environ, services.settings.upload_body_timeout):
                response = dispatch(services, _request(environ, path[4:]), UPLOAD_ROUTES)
        elif path in ("/", "/healthz"):
            response = error_response("UNSUPPORTED", "upload host: use the registry's upload URLs", status=200)
        else:
            response = error_response("NAME_UNKNOWN", "no such endpoint", status=404)
        body = b"" if environ.get("REQUEST_METHOD") == "HEAD" else response.body
        status = f"{response.status} {_STATUS_TEXT.get(response.status, 'Unknown')}"
        start_response(status, [(k, v) for k, v in response.headers.items() if not k.startswith("X-Berth-")])
        return [body]

    return wsgi_app


def _request(environ: dict, path: str) -> Request:
    headers = {key[5:].replace("_", "-"): value for key, value in environ.items() if key.startswith("HTTP_")}
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    raw_length = environ.get("CONTENT_LENGTH") or ""
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    length = int(raw_length) if raw_length.isdigit() and not chunked else None
    return Request(
        method=environ.get("REQUEST_METHOD", "GET"),
        path=path,
        query=parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True),
        headers=Headers(headers),
        body=cast(BinaryIO, _ClientBody(get_input_stream(environ, safe_fallback=True))),  # a RawIOBase
        content_length=length,
        source_ip=environ.get("REMOTE_ADDR", ""),
    )


class _ClientBody(io.RawIOBase):
    """The request body, where any failure to read it is the client's: a connection
    closed before the end (werkzeug's ClientDisconnected, gunicorn's NoMoreData), a
    malformed chunked encoding (gunicorn's InvalidChunkSize, ChunkMissingTerminator...),
    or a body that stopped arriving (the socket's timeout). Each becomes BodyUnreadable,
    a 400 BLOB_UPLOAD_INVALID, never a 500; the upload's session is left as it was
    (nothing is saved before its body has been read)."""

    def __init__(self, stream: Any):
        self._stream = stream

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        try:
            return self._stream.read(size)
        except TimeoutError:
            raise BodyUnreadable("the request body stopped arriving") from None
        except Exception as exc:  # noqa: BLE001 - whatever the server's reader raises, the body is unusable
            raise BodyUnreadable(f"the request body could not be read ({type(exc).__name__})") from None


@contextmanager
def _body_timeout(environ: dict, seconds: int):
    """Reads of the body wait at most `seconds` for data (gunicorn hands the worker a
    blocking socket without one); other servers bring their own timeouts."""
    sock = environ.get("gunicorn.socket")
    if sock is None:
        yield
        return
    previous = sock.gettimeout()
    sock.settimeout(seconds)
    try:
        yield
    finally:
        sock.settimeout(previous)
