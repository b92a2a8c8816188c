"""A small HTTP proxy in front of a registry that the test switches between passing
requests on and failing them: `mode` "pass", "429" (Docker Hub's rate limit, with its
Retry-After), "503", "garbage" (manifests answered with other bytes than they are named
by), "down" (the connection is closed without an answer) or "cdn" (a blob's GET is
redirected to the registry itself, another origin, as Docker Hub sends clients to its CDN).
It counts what it saw.

`max_body` (bytes, 0: none) makes it refuse a larger request body with 413, as nginx's
`client_max_body_size` in front of a registry does; `bodies` holds the size of every
request body it passed on.
"""
from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self
from urllib.parse import urlsplit

_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authorization", "host"}


class FaultProxy:
    def __init__(self, upstream: str):
        self.upstream = urlsplit(upstream)
        self.mode = "pass"
        self.seen: list[tuple[str, str, str]] = []  # (mode, method, path)
        self.max_body = 0
        self.bodies: list[int] = []  # sizes of the request bodies passed on
        self.refused = 0  # bodies refused as too large
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def requests(self, method: str, fragment: str) -> int:
        return sum(1 for _, m, p in self.seen if m == method and fragment in p)

    def __enter__(self) -> Self:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:  # quiet
                pass

            def _any(self) -> None:
                mode = proxy.mode
                proxy.seen.append((mode, self.command, self.path))
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if mode == "down":
                    self.close_connection = True
                    self.connection.close()
                    return
                if proxy.max_body and length > proxy.max_body:
                    proxy.refused += 1
                    self._answer(413, {"Content-Type": "text/html"},
                                 b"<html><head><title>413 Request Entity Too Large</title></head></html>")
                    return
                proxy.bodies.append(length)
                if mode in ("429", "503") and self.path != "/v2/":
                    self._answer(int(mode), {"Retry-After": "60", "Content-Type": "application/json"},
                                 b'{"errors":[{"code":"TOOMANYREQUESTS","message":"rate limited"}]}')
                    return
                if mode == "cdn" and self.command == "GET" and "/blobs/sha" in self.path:
                    self._answer(307, {"Location": proxy.upstream.geturl().rstrip("/") + self.path}, b"")
                    return
                conn = http.client.HTTPConnection(proxy.upstream.hostname, proxy.upstream.port, timeout=60)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                # the client's Host, as a reverse proxy passes it: the registry's upload
                # Locations then name the proxy, so every chunk comes through it
                headers["Host"] = self.headers.get("Host") or proxy.url.split("://", 1)[1]
                conn.request(self.command, self.path, body=body, headers=headers)
                reply = conn.getresponse()
                data = reply.read()
                out = {k: v for k, v in reply.getheaders() if k.lower() not in _HOP and k.lower() != "content-length"}
                if mode == "garbage" and "/manifests/" in self.path and reply.status == 200:
                    data = b'{"schemaVersion": 2, "not": "the manifest it names"}' if self.command == "GET" else b""
                conn.close()
                self._answer(reply.status, out, data, head=self.command == "HEAD",
                             length=reply.getheader("Content-Length") if self.command == "HEAD" else None)

            def _answer(self, status: int, headers: dict, data: bytes, *, head: bool = False, length=None) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", length if length is not None else str(len(data)))
                self.end_headers()
                if not head:
                    self.wfile.write(data)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = _any

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()
