"""The local gateway with --apigw-limits applies infra/apigw-extras.yaml: its challenge
authorizer (the template's own code) and its UNAUTHORIZED gateway response, so a
client finds the Bearer challenge although API Gateway renames the app's headers."""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest
import requests
from chalice import Chalice, Response

from devstack.authorizer import deployed_authorizer
from devstack.gateway import Gateway, serve

TOKEN_SERVICE = "berth-registry"


def make_app() -> Chalice:
    app = Chalice(app_name="devstack-authorizer-test")
    app.api.binary_types = ["*/*"]

    def answer() -> Response:
        # what the registry answers a token it does not accept: its own challenge
        return Response(body='{"errors":[]}', status_code=401,
                        headers={"WWW-Authenticate": 'Bearer realm="app",error="insufficient_scope"'})

    app.route("/", methods=["GET", "HEAD"])(answer)
    app.route("/{proxy+}", methods=["GET", "HEAD", "POST"])(answer)
    return app


@pytest.fixture(scope="module")
def servers():
    started = []

    def start(make_authorizer):
        holder = {}

        def app(environ, start_response):
            return holder["gateway"](environ, start_response)

        server = serve(app, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.server_address[1]}"
        holder["gateway"] = Gateway(make_app(), apigw_limits=True, authorizer=make_authorizer(url))
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return url

    deployed = start(deployed_authorizer)
    raw = start(lambda url: None)
    yield {"deployed": deployed, "raw": raw}
    for server in started:
        server.shutdown()
        server.server_close()


def bearer(exp_in: float) -> str:
    def part(obj):
        return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()

    return "Bearer " + ".".join([part({"alg": "RS256"}), part({"exp": time.time() + exp_in}), "sig"])


def test_a_request_without_a_token_gets_the_gateway_responses_challenge(servers):
    url = servers["deployed"]
    for path in ("/v2/", "/v2/library/app/manifests/1", "/v2/_catalog"):
        reply = requests.get(url + path, timeout=10)
        assert reply.status_code == 401, path
        assert reply.headers["WWW-Authenticate"] == (
            f'Bearer realm="{url}/v2/service/token",service="{TOKEN_SERVICE}"'
        )
        assert reply.headers["Docker-Distribution-API-Version"] == "registry/2.0"
        assert reply.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_a_fresh_token_reaches_the_app_whose_challenge_is_renamed(servers):
    reply = requests.get(servers["deployed"] + "/v2/library/app/manifests/1",
                         headers={"Authorization": bearer(300)}, timeout=10)
    assert reply.status_code == 401
    assert "WWW-Authenticate" not in reply.headers
    assert reply.headers["x-amzn-Remapped-WWW-Authenticate"].startswith('Bearer realm="app"')


def test_an_expired_token_is_answered_by_the_gateway(servers):
    reply = requests.get(servers["deployed"] + "/v2/library/app/manifests/1",
                         headers={"Authorization": bearer(-10)}, timeout=10)
    assert reply.status_code == 401
    assert reply.headers["WWW-Authenticate"].startswith("Bearer realm=")


def test_the_paths_that_authenticate_in_the_app_pass(servers):
    for path in ("/v2/service/token", "/v2/api/v2.0/projects", "/v2/ui/"):
        reply = requests.get(servers["deployed"] + path, timeout=10)
        assert "x-amzn-Remapped-WWW-Authenticate" in reply.headers, path  # the app answered


def test_without_the_extras_the_challenge_is_lost(servers):
    reply = requests.get(servers["raw"] + "/v2/", timeout=10)
    assert reply.status_code == 401
    assert "WWW-Authenticate" not in reply.headers
    assert "x-amzn-Remapped-WWW-Authenticate" in reply.headers
