"""A bounded schema-driven fuzz run: schemathesis reads the served OpenAPI
document and sends generated requests (valid and invalid) to every operation,
in process, as a system administrator. No answer may be a 5xx, and every answer
must match the document (status, content type, headers, body schema)."""
from __future__ import annotations

from urllib.parse import quote

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation.modes import GenerationMode

from tests.api.management.conftest import ADMIN_PASSWORD, basic

MAX_EXAMPLES = 10  # per operation and mode: about 500 requests, well under a minute
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


class WsgiAdapter:
    """The Chalice app behind API Gateway, as a WSGI app: each request becomes
    the proxy event tests/api's ApiClient sends through the real handler."""

    def __init__(self, client):
        self.client = client

    def __call__(self, environ, start_response):
        path = environ.get("RAW_URI") or environ.get("REQUEST_URI") or quote(environ.get("PATH_INFO", ""), safe="/%:@")
        path = path.split("?", 1)[0]
        query = environ.get("QUERY_STRING", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        headers = {k[5:].replace("_", "-").title(): v for k, v in environ.items() if k.startswith("HTTP_")}
        if environ.get("CONTENT_TYPE"):
            headers["Content-Type"] = environ["CONTENT_TYPE"]
        reply = self.client.request(environ["REQUEST_METHOD"], path + (f"?{query}" if query else ""), body, headers)
        start_response(f"{reply.status} -", [(k, v) for k, v in reply.headers.items()])
        return [reply.body]


@pytest.fixture(scope="module")
def seeded(world):
    """Something for the generated requests to find: a project with a repository
    and a member, and a robot."""
    world.user("fuzz-user")
    world.project("fuzz", public=True)
    world.member("fuzz", "fuzz-user", 2)
    world.push("fuzz/app", "v1")
    world.push("library/app", "latest")
    world.robot("fuzzbot", [{"kind": "project", "namespace": "fuzz", "access": [{"resource": "repository", "action": "pull"}]}], project="fuzz")
    return world


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Registry URLs are generated too, and a registry is pinged before it is stored: the
    remote client answers "no answer" for any host but this machine's loopback."""
    import ipaddress
    from urllib.parse import urlsplit

    from chalicelib.errors import RemoteRegistryError
    from chalicelib.remote.client import RegistryClient

    send = RegistryClient.send

    def guarded(self, method, url, *args, **kwargs):
        host = urlsplit(url).hostname or ""
        try:
            loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = False
        if not loopback:
            raise RemoteRegistryError(f"{method} {host[:50]}: no answer (not reached from the fuzz run)", retryable=True)
        return send(self, method, url, *args, **kwargs)

    monkeypatch.setattr(RegistryClient, "send", guarded)


@pytest.fixture(scope="module")
def fuzz_schema(seeded):
    return schemathesis.openapi.from_wsgi("/v2/api/v2.0/openapi.json", WsgiAdapter(seeded.api))


def _operations(fuzz_schema):
    return [result.ok() for result in fuzz_schema.get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE], ids=["positive"])
def test_no_server_errors_and_answers_match_the_document(fuzz_schema, mode, checked_replies):
    """Valid requests; the invalid ones: test_fuzz_negative.py (a file of its own, so that
    `make e2e`'s two workers each run one half: each is most of a minute)."""
    fuzz(fuzz_schema, mode, checked_replies)


def fuzz(fuzz_schema, mode, checked_replies):
    """Each operation gets MAX_EXAMPLES generated requests (hypothesis, derandomized
    so a run is repeatable); every failure is reported, not just the first."""
    failures = []
    auth = {"Authorization": basic("admin", ADMIN_PASSWORD)}
    for operation in _operations(fuzz_schema):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True, database=None)
        def run(case):
            case.call_and_validate(headers=auth, checks=CHECKS)

        try:
            run()
        except AssertionError as exc:  # collect, so one run names every broken operation
            failures.append(f"{operation.method.upper()} {operation.path}: {exc}")
    assert not failures, "\n\n".join(failures)
    assert len(checked_replies) >= 2 * len(_operations(fuzz_schema)), "the run sent almost nothing"
