"""moto in server mode, in this process, on one loopback port.

Every AWS service Berth uses (S3, DynamoDB, SSM, CloudFormation, Step Functions,
CloudWatch Logs) answers on the same port, so one ``AWS_ENDPOINT_URL`` covers them all,
and presigned S3 URLs come out path-style (``http://127.0.0.1:PORT/<bucket>/<key>?X-Amz-...``)
because the endpoint is an IP address.

This is moto's ``ThreadedMotoServer`` with two differences: the port is bound in the
caller's thread, so a port in use raises OSError here instead of hanging ``start()``;
and DynamoDB requests are served one at a time. moto's DynamoDB is not thread-safe:
``TransactWriteItems`` deep-copies the table's items while other request threads write
to them, and parallel pushes then fail with ``RuntimeError: dictionary changed size
during iteration`` (a 500 that boto's retries used to hide). Real DynamoDB serializes
conflicting writes itself; here one lock does it. S3 stays parallel (blob bytes).
And moto's own answers come at a fraction of its CPU: every shortcut of
devstack/moto_shortcuts.py is installed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any, Self

from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from devstack import moto_shortcuts


class MotoServer:
    """Starts and stops moto's server; ``port=0`` picks a free port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 5000) -> None:
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def start(self) -> str:
        moto_shortcuts.install()
        app = SerializedDynamoDB(DomainDispatcherApplication(create_backend_app))
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


class SerializedDynamoDB:
    """WSGI middleware: one DynamoDB request at a time (see the module's docstring)."""

    TARGET_PREFIX = "DynamoDB_"  # X-Amz-Target of every DynamoDB JSON-protocol call

    def __init__(self, app: Callable) -> None:
        self._app = app
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith(self.TARGET_PREFIX):
            return self._app(environ, start_response)
        with self._lock:
            # the body is produced inside the lock too: a lazy iterable would run outside it
            result: Any = self._app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()


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
