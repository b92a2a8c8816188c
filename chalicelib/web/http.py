"""The request and response every API sees (OCI, token service, management,
console), independent of transport.

The front door (`chalicelib.front`, on Lambda) and the upload host's WSGI app both
build a `Request`; handlers read the body as a stream, so the upload host can pass
gigabytes through without holding them.
"""
from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO

# names the operation a response answered; read (and removed) by the observability
# middleware, for logs and metrics
OPERATION_HEADER = "X-Berth-Operation"


class Headers:
    """Case-insensitive, read-only view of request headers."""

    def __init__(self, items: Mapping[str, str] | None = None):
        self._items = {k.lower(): v for k, v in (items or {}).items()}

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._items.get(name.lower(), default)

    def __contains__(self, name: str) -> bool:
        return name.lower() in self._items


@dataclass
class Request:
    method: str
    path: str  # below /v2/, without leading slash: "" for the ping, "library/app/tags/list"
    query: Mapping[str, list[str]] = field(default_factory=dict)
    headers: Headers = field(default_factory=Headers)
    body: BinaryIO = field(default_factory=io.BytesIO)
    content_length: int | None = None  # None: unknown (chunked transfer encoding)
    source_ip: str = ""
    request_id: str = ""
    # who is asking (chalicelib.auth.access.Identity), set by the dispatcher
    identity: Any = None
    # the web-console session the caller came with (chalicelib.auth.sessions), if any
    session: Any = None

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def args(self, name: str) -> list[str]:
        return list(self.query.get(name) or [])

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def scheme(self) -> str:
        """What the client used, as the gateway in front says (API Gateway: always https)."""
        return (self.header("X-Forwarded-Proto") or "https").split(",")[0].strip().lower()

    def read_body(self, limit: int) -> bytes:
        from chalicelib.errors import PayloadTooLarge

        if self.content_length is not None and self.content_length > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
        data = self.body.read(limit + 1)
        if len(data) > limit:
            raise PayloadTooLarge(f"request body is larger than {limit} bytes")
        return data


@dataclass
class Response:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    @classmethod
    def json(cls, status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
        body = json.dumps(payload, separators=(",", ":")).encode()
        all_headers = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        all_headers.update(headers or {})
        return cls(status, all_headers, body)

    @classmethod
    def empty(cls, status: int, headers: dict[str, str] | None = None) -> Response:
        all_headers = {"Content-Length": "0"}
        all_headers.update(headers or {})
        return cls(status, all_headers, b"")
