"""The web console's files (/v2/ui/...) through the real Chalice handler.

The console is not the OCI API: its replies carry no Docker-Distribution-API-Version
and no OCI error body, so this package checks its own invariant on every reply
instead: no 5xx, and the console's security headers, errors and redirects included.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.api.conftest import ApiClient

SECURITY_HEADERS = ("content-security-policy", "x-content-type-options", "x-frame-options", "referrer-policy")


@pytest.fixture(autouse=True)
def checked_replies(monkeypatch):
    replies = []
    original = ApiClient.request

    def checked(self, method, url, body=b"", headers=None):
        reply = original(self, method, url, body, headers)
        replies.append((method, url, reply))
        where = f"{method} {url[:200]} ({reply.status})"
        assert reply.status < 500, f"{where} is a server error: {reply.body[:500]!r}"
        path = urlsplit(url).path
        if path == "/v2/ui" or (path.startswith("/v2/ui/") and "/" not in path[len("/v2/ui/"):]):
            missing = [h for h in SECURITY_HEADERS if h not in reply.headers]
            assert not missing, f"{where} lacks {missing}"
        return reply

    monkeypatch.setattr(ApiClient, "request", checked)
    return replies
