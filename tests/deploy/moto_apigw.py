"""moto in server mode for `chalice deploy`, with the one gap in moto 5.2.1 that stops it
bridged, and named.

**What moto lacks.** Chalice deploys the REST API by ``ImportRestApi`` (first deploy) and
``PutRestApi`` with ``mode=overwrite`` (later ones), sending a Swagger 2.0 document. moto's
``put_rest_api`` refuses any document with a ``swagger`` key
(``InvalidOpenApiDocVersionException``) and its ``import_rest_api`` needs
``info.description``; it reads OpenAPI 3 only. It also reads nothing but the paths, methods and
``x-amazon-apigateway-integration`` from a document: no ``securityDefinitions``, so no
authorizer exists in moto's API after an import (API Gateway creates it from
``x-amazon-apigateway-authorizer``).

**The bridge** (``SwaggerBridge``, WSGI, in front of moto's own app): on those two calls only,
it keeps the document Chalice sent (``documents``, so a test checks the authorizer where
API Gateway reads it) and hands moto the same paths under ``openapi: 3.0.1`` with a
description. Every other call reaches moto unchanged. ``MOTO_LACKS`` names the gap for the
tests' reports.
"""
from __future__ import annotations

import io
import json
import threading
from typing import Any, Self
from urllib.parse import parse_qs

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

MOTO_LACKS = (
    "ImportRestApi/PutRestApi of a Swagger 2.0 document (moto 5.2.1 reads OpenAPI 3 only, and no "
    "securityDefinitions: the authorizer is checked in the document Chalice sent, not in moto's API)"
)


class SwaggerBridge:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.documents: list[dict[str, Any]] = []  # as Chalice sent them, in order

    def __call__(self, environ: dict, start_response: Any) -> Any:
        path, method = environ.get("PATH_INFO", ""), environ.get("REQUEST_METHOD", "")
        mode = parse_qs(environ.get("QUERY_STRING", "")).get("mode", [""])[0]
        is_import = method == "POST" and path == "/restapis" and mode == "import"
        is_put = method == "PUT" and path.startswith("/restapis/") and path.count("/") == 2
        if is_import or is_put:
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length)
            document = json.loads(body)
            if "swagger" in document:
                self.documents.append(document)
                document = {key: value for key, value in document.items() if key != "swagger"}
                document["openapi"] = "3.0.1"
                document["info"] = {"description": "", **document.get("info", {})}
                body = json.dumps(document).encode()
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.app(environ, start_response)


class BridgedMotoServer:
    """moto's server on a free loopback port, behind SwaggerBridge."""

    def __init__(self) -> None:
        self.bridge = SwaggerBridge(DomainDispatcherApplication(create_backend_app))
        self._server = make_server("127.0.0.1", 0, self.bridge, threaded=True)
        self._thread = threading.Thread(target=self._server.serve_forever, name="moto-bridged", daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._thread.join()
        self._server.server_close()
