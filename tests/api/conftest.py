"""API-level tests: API Gateway proxy events through the real Chalice handler.

The OCI protocol's tests (`api`, `services`) run on production's `Services` over the
in-memory twins of its stores (`graph`: tests/memory_graph.py, each twin proven by its
contract suite in tests/contract): no moto, a test takes milliseconds. A test that reads
S3, DynamoDB or SSM itself, counts AWS calls or checks an S3 presigned URL takes `aws_api`
and `aws_services` instead: AWS on moto (in-process), with the resources of
infra/berth.yaml (`aws_env`). The auth/ and management/ packages build worlds of their
own on moto."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from devstack import schedules
from devstack.events import proxy_event, proxy_reply
from tests.conftest import (
    REGION,
    SharedClients,
    create_stack,
    empty_stack,
    in_process_moto,
    make_services,
    memory_services,
    session_signing_key_pem,
)
from tests.memory_graph import MemoryGraph


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self):
        return json.loads(self.body)

    @property
    def error_codes(self) -> list[str]:
        return [e["code"] for e in self.json()["errors"]]


class ApiClient:
    """Sends requests as API Gateway (REST, stage v2) would deliver them."""

    def __init__(self, app):
        self.app = app

    def request(self, method: str, url: str, body: bytes = b"", headers: dict | None = None) -> Reply:
        return Reply(*proxy_reply(self.app(proxy_event(method, url, body, headers), None)))

    def get(self, url, **kw):
        return self.request("GET", url, **kw)

    def head(self, url, **kw):
        return self.request("HEAD", url, **kw)

    def put(self, url, body=b"", **kw):
        return self.request("PUT", url, body, **kw)

    def post(self, url, body=b"", **kw):
        return self.request("POST", url, body, **kw)

    def patch(self, url, body=b"", **kw):
        return self.request("PATCH", url, body, **kw)

    def delete(self, url, **kw):
        return self.request("DELETE", url, **kw)


@pytest.fixture(scope="package")
def _moto():
    """One in-process moto for the package. Package scope: the mock and the environment
    end with tests/api, before other suites (e2e) that talk to a real endpoint."""
    yield from in_process_moto()


@pytest.fixture(scope="package")
def _shared_clients(_moto):
    """The package's session, making each client once for all the per-test graphs."""
    return SharedClients(_moto)


STACK = "berth-t"


@pytest.fixture(scope="package")
def _stack(_shared_clients) -> dict[str, str]:
    """The stack (infra/berth.yaml) of the tests that take `aws_env`: one per worker,
    emptied before each test (`empty_stack`), since creating one per test cost about as
    much as the test. The modules that share a `world` (auth/, management/) have stacks
    of their own."""
    return create_stack(STACK, stage="t", session=_shared_clients)


@pytest.fixture
def aws_env(_stack, _shared_clients, monkeypatch):
    """The package's stack as create_stack leaves it, so tests share no state: emptied
    before the test (a failed test's leftovers go too), then given a new upload-token key."""
    outputs = _stack
    empty_stack(_shared_clients, STACK, outputs)
    _shared_clients.client("ssm", region_name=REGION).put_parameter(
        Name=f"{outputs['SsmPrefix']}/upload-token-key", Value=os.urandom(32).hex(), Type="SecureString"
    )
    monkeypatch.setenv("BERTH_TABLE", outputs["TableName"])
    monkeypatch.setenv("BERTH_BUCKET", outputs["BucketName"])
    monkeypatch.setenv("BERTH_SSM_PREFIX", outputs["SsmPrefix"])
    monkeypatch.setenv("BERTH_UPLOAD_URL", "")
    # the protocol tests run on an open registry; auth has tests of its own
    monkeypatch.setenv("BERTH_AUTH", "none")
    for name, value in schedules.environment(outputs["Stage"]).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("BERTH_FUNCTION_PREFIX", f"berth-{outputs['Stage']}-")
    yield outputs


@pytest.fixture
def aws_services(aws_env, _shared_clients):
    """The test's object graph on moto (tests/conftest.py: make_services), served by the
    app for the test's length: for the tests that read S3, DynamoDB or SSM themselves."""
    import app as app_module
    from chalicelib.config import Settings

    with app_module.serving(make_services(Settings.from_env(), session=_shared_clients)) as svc:
        yield svc


@pytest.fixture
def aws_api(aws_services):
    import app as app_module

    return ApiClient(app_module.app)


@pytest.fixture
def graph() -> MemoryGraph:
    """The test's stores in memory (tests/memory_graph.py), as new as an emptied stack with
    its secrets (the upload-token key, the token service's key); an open registry, as
    `aws_env`'s."""
    from chalicelib.config import Settings
    from chalicelib.secrets import TOKEN_SIGNING_KEY, UPLOAD_TOKEN_KEY

    graph = MemoryGraph(settings=Settings(table_name="memory", bucket_name="memory", ssm_prefix="/berth/memory",
                                          region=REGION, auth="none"))
    graph.secrets.parameters[UPLOAD_TOKEN_KEY] = os.urandom(32).hex()
    graph.secrets.parameters[TOKEN_SIGNING_KEY] = session_signing_key_pem()  # as share_signing_key's
    return graph


@pytest.fixture
def services(graph):
    """The test's object graph: production's `Services` on `graph`'s stores
    (tests/conftest.py: memory_services), served by the app for the test's length."""
    import app as app_module

    with app_module.serving(memory_services(graph)) as svc:
        yield svc


@pytest.fixture
def api(services):
    import app as app_module

    return ApiClient(app_module.app)


API_VERSION = "registry/2.0"
# codes any route may answer besides the ones it declares in routes.ROUTES
GENERAL_CODES = {"UNAUTHORIZED", "DENIED", "UNKNOWN", "TOOMANYREQUESTS"}


def _check_reply(method: str, url: str, reply: Reply) -> None:
    from chalicelib.registry import routes as route_table

    where = f"{method} {url[:200]} ({reply.status})"
    if reply.status >= 500:
        pytest.fail(f"{where} is a server error: {reply.body[:500]!r}", pytrace=False)
    if reply.headers.get("docker-distribution-api-version") != API_VERSION:
        pytest.fail(f"{where} lacks Docker-Distribution-API-Version", pytrace=False)
    check_body_type(method, where, reply)
    if reply.status < 400 or method == "HEAD":
        return
    codes = reply.error_codes  # every error carries the OCI error body
    route, _, _ = route_table.match(route_table.ROUTES, method, urlsplit(url).path[len("/v2/") :])
    if route is not None:
        undeclared = [c for c in codes if c not in route.errors and c not in GENERAL_CODES]
        if undeclared:
            pytest.fail(f"{where} answered {undeclared}, not declared for {route.name} in routes.py", pytrace=False)


def check_body_type(method: str, where: str, reply: Reply) -> None:
    """A reply without a body names no JSON type (Harbor's clients parse every
    application/json body), and every JSON body parses (issue 10, bad input)."""
    content_type = reply.headers.get("content-type", "")
    if method == "HEAD":
        return  # HEAD carries the headers its GET would have
    if not reply.body and "json" in content_type:
        pytest.fail(f"{where} has no body but Content-Type {content_type}", pytrace=False)
    if reply.body and content_type.split(";")[0].strip() == "application/json":
        try:
            json.loads(reply.body)
        except ValueError:
            pytest.fail(f"{where} says JSON but its body is not: {reply.body[:200]!r}", pytrace=False)


@pytest.fixture(autouse=True)
def checked_replies(monkeypatch):
    """Every reply in every test: no 5xx (the registry answers 5xx only for
    real server faults, design.md), the API version header on all responses,
    errors included, and error codes that the route table declares."""
    replies: list[tuple[str, str, Reply]] = []
    original = ApiClient.request

    def checked(self, method, url, body=b"", headers=None):
        reply = original(self, method, url, body, headers)
        replies.append((method, url, reply))
        _check_reply(method, url, reply)
        return reply

    monkeypatch.setattr(ApiClient, "request", checked)
    yield replies
    bad = [(m, u[:200], r.status) for m, u, r in replies if r.status >= 500]
    assert not bad, f"server errors: {bad}"
