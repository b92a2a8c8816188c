"""moto in server mode, in this process, on one loopback port.

Every AWS service Berth uses (S3, DynamoDB, SSM, CloudFormation, Step Functions,
CloudWatch Logs) answers on the same port, so one ``AWS_ENDPOINT_URL`` covers them all,
and presigned S3 URLs come out path-style (``http://127.0.0.1:PORT/<bucket>/<key>?X-Amz-...``)
because the endpoint is an IP address.

This is moto's ``ThreadedMotoServer`` with one difference: the port is bound in the
caller's thread, so a port in use raises OSError here instead of hanging ``start()``.
"""

from __future__ import annotations

import threading
from typing import Self

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server


class MotoServer:
    """Starts and stops moto's server; ``port=0`` picks a free port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 5000) -> None:
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> str:
        app = DomainDispatcherApplication(create_backend_app)
        self._server = make_server(self._host, self._port, app, threaded=True)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="moto", daemon=True
        )
        self._thread.start()
        self.url = http_url(self._host, self._server.server_address[1])
        return self.url

    def stop(self) -> None:
        if self._server is None:
            return
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
        self._server.server_close()
        self._server = self._thread = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def http_url(host: str, port: int) -> str:
    """The URL clients should dial for a server bound to ``host:port``.

    A wildcard bind address is reached on loopback; an IPv6 literal needs brackets.
    """
    if host in ("", "0.0.0.0"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}"
