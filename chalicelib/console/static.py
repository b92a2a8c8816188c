"""The console's files under /v2/ui/: `ui` redirects to `ui/`, `ui/` is
index.html, `ui/<file>` one of the files in assets/, anything else 404.

The files are read once per container, on the first request, into a table keyed
by file name; a request's name is only ever looked up in that table, never
joined onto a path, so `ui/../app.py` or `ui/%2e%2e/...` cannot reach a file
outside assets/ (they are simply not names in the table).

Every answer carries the console's security headers: a Content-Security-Policy
that allows scripts, styles and fetches from this origin only (no inline code,
no framing), nosniff, DENY framing, same-origin referrers.
"""
from __future__ import annotations

import hashlib
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from chalicelib.web.http import OPERATION_HEADER, Request, Response

ASSET_DIR = Path(__file__).parent / "assets"
INDEX = "index.html"
READ_METHODS = ("GET", "HEAD")
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".json": "application/json",
    ".txt": "text/plain; charset=utf-8",
}
# one directive per line; nothing inline, nothing from another origin, no framing
_CSP_DIRECTIVES = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
]
CONTENT_SECURITY_POLICY = "; ".join(_CSP_DIRECTIVES)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# index.html and the modules it imports must come from the same deployment, so
# every file is revalidated (If-None-Match answers 304 without a body)
CACHE_CONTROL = "no-cache"
_FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")


@dataclass(frozen=True)
class Asset:
    name: str
    body: bytes
    content_type: str
    etag: str


class AssetStore:
    """The files of one directory (not its subdirectories) with a known type,
    read on the first `get` and kept for the life of the container."""

    def __init__(self, directory: Path):
        self._directory = directory
        self._assets: dict[str, Asset] | None = None
        self._lock = threading.Lock()  # the local gateway serves requests in threads

    def get(self, name: str) -> Asset | None:
        if self._assets is None:
            with self._lock:
                if self._assets is None:
                    self._assets = _read(self._directory)
        return self._assets.get(name)


def _read(directory: Path) -> dict[str, Asset]:
    assets = {}
    for path in sorted(directory.iterdir()):
        content_type = CONTENT_TYPES.get(path.suffix)
        if content_type is None or not path.is_file() or not _FILE_NAME.match(path.name):
            continue
        body = path.read_bytes()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        assets[path.name] = Asset(path.name, body, content_type, etag)
    return assets


ASSETS = AssetStore(ASSET_DIR)


def serve(request: Request, assets: AssetStore = ASSETS) -> Response:
    """The answer to a request whose path (below /v2/) is `ui` or starts with `ui/`."""
    response = _answer(request, assets)
    response.headers.update(SECURITY_HEADERS)
    response.headers[OPERATION_HEADER] = "console.get_file"
    return response


def _answer(request: Request, assets: AssetStore) -> Response:
    if request.method not in READ_METHODS:
        return _text(405, "method not allowed", {"Allow": ", ".join(READ_METHODS)})
    if request.path == "ui":
        # relative, so it works on the raw API URL and behind a custom domain alike
        return Response.empty(
            301, {"Location": "ui/", "Cache-Control": CACHE_CONTROL, "Content-Type": "text/plain; charset=utf-8"}
        )
    name = request.path[len("ui/") :] or INDEX
    asset = assets.get(name)
    if asset is None:
        return _text(404, "not found")
    headers = {"Content-Type": asset.content_type, "ETag": asset.etag, "Cache-Control": CACHE_CONTROL}
    if _matches(request.header("If-None-Match"), asset.etag):
        return Response(304, headers, b"")
    headers["Content-Length"] = str(len(asset.body))
    return Response(200, headers, asset.body)


def _matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110's weak comparison, as If-None-Match asks."""
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    return "*" in tags or etag in (t.removeprefix("W/") for t in tags)


def _text(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    body = (message + "\n").encode()
    all_headers = {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(len(body)), "Cache-Control": "no-store"}
    all_headers.update(headers or {})
    return Response(status, all_headers, body)
