"""API Gateway REST proxy events for a URL, and their answers, for callers that run
the Lambda handler in-process (the API tests, the benchmarks). The local server's
gateway (gateway.py) builds the same event from a live HTTP request."""
from __future__ import annotations

import base64
import uuid
from typing import Any
from urllib.parse import parse_qs, urlsplit


def proxy_event(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> dict[str, Any]:
    """The event stage `v2` delivers for `url` ("/v2/<rest>?query"): the stage is cut off."""
    parts = urlsplit(url)
    assert parts.path.startswith("/v2/"), url
    rest = parts.path[len("/v2/") :]
    query = parse_qs(parts.query, keep_blank_values=True)
    headers = dict(headers or {})
    if body:
        headers.setdefault("Content-Length", str(len(body)))
    resource = "/{proxy+}" if rest else "/"
    return {
        "resource": resource,
        "path": "/" + rest,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {"proxy": rest} if rest else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": resource,
            "httpMethod": method,
            "stage": "v2",
            "path": parts.path,
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "127.0.0.1"},
        },
        "body": base64.b64encode(body).decode() if body else None,
        "isBase64Encoded": bool(body),
    }


def proxy_reply(out: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    """(status, lower-cased headers, body bytes) of a Lambda proxy answer."""
    headers = {k.lower(): v for k, v in (out.get("headers") or {}).items()}
    for k, v in (out.get("multiValueHeaders") or {}).items():
        headers[k.lower()] = v[-1]
    raw = out.get("body") or b""
    if out.get("isBase64Encoded"):
        raw = base64.b64decode(raw)
    elif isinstance(raw, str):
        raw = raw.encode()
    return out["statusCode"], headers, raw
