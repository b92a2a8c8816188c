"""A registry client for the deployment tests: ApiClient (API Gateway proxy events through
the real handler) with a bearer token, asserting the status of each step."""
from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import urlencode

from tests.api.conftest import ApiClient

MiB = 1024 * 1024
ADMIN_PASSWORD = "Admin-Passw0rd"
OCTET = {"Content-Type": "application/octet-stream"}
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def digest(data: bytes, algorithm: str = "sha256") -> str:
    return f"{algorithm}:{hashlib.new(algorithm, data).hexdigest()}"


def with_query(url: str, **params: str) -> str:
    return url + ("&" if "?" in url else "?") + urlencode(params)


class Run:
    """Drives the app through ApiClient with a bearer token, asserting each status."""

    def __init__(self, api: ApiClient):
        self.api = api
        self.token = ""

    def call(self, method: str, url: str, status: int, body: bytes = b"", headers: dict | None = None, auth=True):
        headers = dict(headers or {})
        if auth and self.token:
            headers.setdefault("Authorization", f"Bearer {self.token}")
        reply = self.api.request(method, url, body, headers)
        assert reply.status == status, (method, url[:120], reply.status, reply.body[:300])
        return reply

    def login(self, *scopes: str, user: str = "admin", password: str = ADMIN_PASSWORD) -> None:
        query = urlencode([("service", "berth-registry")] + [("scope", s) for s in scopes])
        basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        reply = self.call("GET", f"/v2/service/token?{query}", 200, headers={"Authorization": basic}, auth=False)
        self.token = reply.json()["token"]

    def push_blob(self, name: str, data: bytes) -> str:
        d = digest(data)
        self.call("POST", with_query(f"/v2/{name}/blobs/uploads/", digest=d), 201, data, OCTET)
        return d

    def chunked(self, name: str, chunks: list[bytes], final: bytes = b"", algorithm: str = "sha256", status=201):
        loc = self.call("POST", f"/v2/{name}/blobs/uploads/", 202).headers["location"]
        for chunk in chunks:
            loc = self.call("PATCH", loc, 202, chunk, OCTET).headers["location"]
        data = b"".join(chunks) + final
        d = digest(data, algorithm) if status == 201 else digest(b"something else")
        self.call("PUT", with_query(loc, digest=d), status, final, OCTET)
        return d, loc

    def open_session(self, name: str, chunks: list[bytes]) -> str:
        loc = self.call("POST", f"/v2/{name}/blobs/uploads/", 202).headers["location"]
        for chunk in chunks:
            loc = self.call("PATCH", loc, 202, chunk, OCTET).headers["location"]
        return loc

    def manifest(self, name: str, ref: str, config: str, layers: list[tuple[str, int]], subject=None) -> tuple[str, bytes]:
        doc = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config[0], "size": config[1]},
            "layers": [
                {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": n} for d, n in layers
            ],
        }
        if subject is not None:
            doc["subject"] = subject
        body = json.dumps(doc, separators=(",", ":")).encode()
        self.call("PUT", f"/v2/{name}/manifests/{ref}", 201, body, {"Content-Type": OCI_MANIFEST})
        return digest(body), body
