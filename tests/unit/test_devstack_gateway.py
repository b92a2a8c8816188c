"""The local API Gateway stand-in, over real HTTP, in front of a throwaway Chalice app."""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import pytest
import requests
from chalice import Chalice, Response

from devstack.gateway import Gateway, Router, parse_proxy_result, serve

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
MiB = 1024 * 1024


def make_app() -> Chalice:
    app = Chalice(app_name="devstack-gateway-test")
    app.api.binary_types = ["*/*"]

    def describe() -> Response:
        request = app.current_request
        event = request.to_original_event()
        body = request.raw_body or b""
        query = request.query_params or {}
        if "sleep" in query:
            time.sleep(float(query["sleep"]))
        context = app.lambda_context
        summary = {
            key: event[key]
            for key in (
                "resource",
                "path",
                "httpMethod",
                "headers",
                "multiValueHeaders",
                "queryStringParameters",
                "multiValueQueryStringParameters",
                "pathParameters",
                "stageVariables",
                "requestContext",
                "isBase64Encoded",
            )
        }
        summary["bodyIsNone"] = event["body"] is None
        summary["bodySize"] = len(body)
        summary["bodySha256"] = hashlib.sha256(body).hexdigest()
        # read again after the sleep: another thread's request must not have replaced it
        summary["sameRequest"] = app.current_request is request
        summary["context"] = {
            "aws_request_id": context.aws_request_id,
            "function_name": context.function_name,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "invoked_function_arn": context.invoked_function_arn,
            "remaining_ms": context.get_remaining_time_in_millis(),
        }
        return Response(body=summary, headers={"Content-Type": "application/json"})

    def special(proxy: str) -> Response | None:
        request = app.current_request
        if proxy == "echo":
            return Response(
                body=request.raw_body or b"",
                headers={"Content-Type": "application/octet-stream"},
            )
        if proxy == "blob":
            headers = {
                "Content-Type": "application/octet-stream",
                "Content-Length": "12345",
                "Docker-Content-Digest": "sha256:" + "0" * 64,
            }
            return Response(
                body=b"" if request.method == "HEAD" else b"x" * 12345, headers=headers
            )
        if proxy == "big":
            size = int(request.query_params["n"])
            return Response(
                body=b"b" * size, headers={"Content-Type": "application/octet-stream"}
            )
        if proxy == "challenge":
            return Response(
                body={
                    "errors": [
                        {"code": "UNAUTHORIZED", "message": "authentication required"}
                    ]
                },
                status_code=401,
                headers={
                    "WWW-Authenticate": 'Bearer realm="http://x/v2/service/token",service="berth"'
                },
            )
        if proxy == "cookies":
            return Response(
                body="", headers={"Set-Cookie": ["a=1", "b=2"], "X-One": "1"}
            )
        return None

    @app.route("/", methods=METHODS, content_types=["*/*"])
    def root() -> Response:
        return describe()

    @app.route("/{proxy+}", methods=METHODS, content_types=["*/*"])
    def greedy() -> Response:
        return special(app.current_request.uri_params["proxy"]) or describe()

    @app.route("/service/token", methods=["GET"], content_types=["*/*"])
    def token() -> Response:
        return describe()

    @app.route("/items/{item}", methods=["GET"], content_types=["*/*"])
    def item(item: str) -> Response:
        return describe()

    @app.route("/cors", methods=["GET"], cors=True)
    def cors() -> dict:
        return {}

    return app


class _RaisingApp:
    def __init__(self) -> None:
        self.routes = {"/{proxy+}": {"GET": object()}}

    def __call__(self, event: dict, context: object) -> dict:
        raise RuntimeError("boom")


def _start(gateway: Gateway):
    server = serve(gateway, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture(scope="module")
def base() -> str:
    server, url = _start(Gateway(make_app()))
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def limited() -> str:
    server, url = _start(
        Gateway(make_app(), apigw_limits=True, integration_timeout=1.0)
    )
    yield url
    server.shutdown()
    server.server_close()


def _raw(url: str, method: str, path: str, headers=(), body=None, chunked=False):
    """One request through http.client, so nothing rewrites what goes out or comes back.

    Sends Accept: */* unless told otherwise: with binary_types ['*/*'] Chalice answers 400
    to a request without an Accept header that matches the response's type.
    """
    conn = http.client.HTTPConnection(urlsplit(url).netloc, timeout=30)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        if not any(name.lower() == "accept" for name, _ in headers):
            conn.putheader("Accept", "*/*")
        for name, value in headers:
            conn.putheader(name, value)
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for piece in body:
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.send(b"0\r\n\r\n")
        else:
            if body is not None:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body)
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def _header(headers, name):
    values = [v for k, v in headers if k.lower() == name.lower()]
    return values[-1] if values else None


# --- stage and routing -------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/v2/", "/v2"])
def test_the_stage_root_reaches_the_app_as_slash(base, path):
    event = requests.get(base + path).json()
    assert event["resource"] == "/"
    assert event["path"] == "/"
    assert event["pathParameters"] is None
    assert event["requestContext"]["stage"] == "v2"
    assert event["requestContext"]["path"] == path
    assert event["requestContext"]["resourcePath"] == "/"


@pytest.mark.parametrize(
    "path", ["/", "/v3/", "/v2x", "/library/app/manifests/1", "/x/v2/"]
)
def test_paths_outside_the_stage_answer_like_api_gateway(base, path):
    response = requests.get(base + path)
    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}


def test_greedy_route_gets_the_rest_of_the_path(base):
    event = requests.get(base + "/v2/library/tools/app/manifests/1").json()
    assert event["resource"] == "/{proxy+}"
    assert event["path"] == "/library/tools/app/manifests/1"
    assert event["pathParameters"] == {"proxy": "library/tools/app/manifests/1"}
    assert event["requestContext"]["path"] == "/v2/library/tools/app/manifests/1"
    assert event["requestContext"]["httpMethod"] == "GET"
    assert event["stageVariables"] is None


def test_greedy_route_keeps_a_trailing_slash(base):
    event = requests.post(base + "/v2/library/app/blobs/uploads/").json()
    assert event["pathParameters"] == {"proxy": "library/app/blobs/uploads/"}
    assert event["httpMethod"] == "POST"


def test_literal_beats_variable_beats_greedy(base):
    assert (
        requests.get(base + "/v2/service/token").json()["resource"] == "/service/token"
    )
    event = requests.get(base + "/v2/items/42").json()
    assert event["resource"] == "/items/{item}"
    assert event["pathParameters"] == {"item": "42"}
    assert requests.get(base + "/v2/items/42/more").json()["resource"] == "/{proxy+}"
    assert requests.get(base + "/v2/service/other").json()["resource"] == "/{proxy+}"


def test_a_method_the_resource_lacks_does_not_fall_back_to_the_greedy_route(base):
    response = requests.post(base + "/v2/service/token")
    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}


def test_path_keeps_the_clients_percent_encoding(base):
    event = requests.get(base + "/v2/library%2Fapp/tags/list").json()
    assert event["path"] == "/library%2Fapp/tags/list"
    assert event["pathParameters"] == {"proxy": "library%2Fapp/tags/list"}


def test_router_ranks_like_api_gateway():
    routes = {
        t: {"GET": None}
        for t in ["/", "/{proxy+}", "/a/{proxy+}", "/a/b", "/{x}/b", "/a/{y}"]
    }
    router = Router(routes)
    assert router.match("/").resource == "/"
    assert router.match("/a/b").resource == "/a/b"
    assert router.match("/a/b/").resource == "/a/b"
    assert router.match("/a/c").resource == "/a/{y}"
    assert router.match("/z/b").resource == "/{x}/b"
    assert router.match("/a/b/c").resource == "/a/{proxy+}"
    assert router.match("/z/c/d").path_parameters == {"proxy": "z/c/d"}
    assert Router({"/a": {"GET": None}}).match("/b") is None


def test_cors_preflight_is_answered_for_cors_routes(base):
    response = requests.options(base + "/v2/cors")
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "GET" in response.headers["Access-Control-Allow-Methods"]


# --- the event ------------------------------------------------------------------------------


def test_query_strings_keep_repeated_keys_and_are_decoded(base):
    event = requests.get(
        base + "/v2/library/app/tags/list?n=1&n=2&last=a%2Fb&empty="
    ).json()
    assert event["queryStringParameters"] == {"n": "2", "last": "a/b", "empty": ""}
    assert event["multiValueQueryStringParameters"] == {
        "n": ["1", "2"],
        "last": ["a/b"],
        "empty": [""],
    }


def test_no_query_string_is_none(base):
    event = requests.get(base + "/v2/x").json()
    assert event["queryStringParameters"] is None
    assert event["multiValueQueryStringParameters"] is None


def test_headers_keep_names_and_repeated_values(base):
    status, _, body = _raw(
        base,
        "GET",
        "/v2/x",
        headers=[
            ("X-Custom-Thing", "one"),
            ("X-Custom-Thing", "two"),
            ("accept", "application/json"),
        ],
    )
    assert status == 200
    event = json.loads(body)
    assert event["multiValueHeaders"]["X-Custom-Thing"] == ["one", "two"]
    assert event["headers"]["X-Custom-Thing"] == "two"
    assert event["headers"]["accept"] == "application/json"
    assert event["headers"]["X-Forwarded-For"] == "127.0.0.1"
    assert event["headers"]["X-Forwarded-Proto"] == "http"
    assert event["requestContext"]["identity"]["sourceIp"] == "127.0.0.1"
    assert event["requestContext"]["requestId"]


def test_an_empty_body_is_none(base):
    event = requests.get(base + "/v2/x").json()
    assert event["bodyIsNone"] is True
    assert event["isBase64Encoded"] is False


def test_lambda_context_is_passed(base):
    context = requests.get(base + "/v2/x").json()["context"]
    assert context["aws_request_id"]
    assert context["function_name"]
    assert context["memory_limit_in_mb"] > 0
    assert context["invoked_function_arn"].startswith("arn:aws:lambda:")
    assert context["remaining_ms"] > 0


# --- bodies -----------------------------------------------------------------------------------


def test_binary_bodies_round_trip_byte_exact(base):
    data = os.urandom(3 * MiB + 7)
    response = requests.put(
        base + "/v2/echo",
        data=data,
        headers={"Content-Type": "application/vnd.oci.image.layer.v1.tar+gzip"},
    )
    assert response.status_code == 200
    assert response.content == data
    event = requests.put(base + "/v2/describe", data=data).json()
    assert event["isBase64Encoded"] is True
    assert event["bodySha256"] == hashlib.sha256(data).hexdigest()


def test_chunked_request_bodies_are_read_to_the_end(base):
    pieces = [os.urandom(n) for n in (1, 65536, 1000, 300000, 5)]
    status, _, body = _raw(
        base,
        "PATCH",
        "/v2/library/app/blobs/uploads/abc",
        headers=[("Content-Type", "application/octet-stream")],
        body=pieces,
        chunked=True,
    )
    assert status == 200
    event = json.loads(body)
    data = b"".join(pieces)
    assert event["bodySize"] == len(data)
    assert event["bodySha256"] == hashlib.sha256(data).hexdigest()
    assert "Transfer-Encoding" not in event["headers"]


def test_multi_value_response_headers_are_all_sent(base):
    status, headers, _ = _raw(base, "GET", "/v2/cookies")
    assert status == 200
    assert [v for k, v in headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    assert _header(headers, "X-One") == "1"


def test_head_sends_the_apps_content_length_and_no_body(base):
    status, headers, body = _raw(base, "HEAD", "/v2/blob")
    assert status == 200
    assert _header(headers, "Content-Length") == "12345"
    assert _header(headers, "Docker-Content-Digest") == "sha256:" + "0" * 64
    assert _header(headers, "x-amzn-Remapped-Content-Length") is None
    assert body == b""


def test_a_failing_handler_is_a_502():
    server, url = _start(Gateway(_RaisingApp()))
    try:
        response = requests.get(url + "/v2/anything")
        assert response.status_code == 502
        assert response.json() == {"message": "Internal server error"}
    finally:
        server.shutdown()
        server.server_close()


def test_a_malformed_proxy_answer_is_rejected():
    with pytest.raises(ValueError):
        parse_proxy_result({"body": "no status"})
    with pytest.raises(ValueError):
        parse_proxy_result({"statusCode": 200, "body": b"bytes are not JSON"})
    assert parse_proxy_result({"statusCode": 204}) == (204, [], b"")


def test_concurrent_requests_each_see_their_own_request(base):
    def one(i: int) -> bool:
        event = requests.get(f"{base}/v2/c/{i}?sleep=0.05&i={i}").json()
        return event["sameRequest"] and event["queryStringParameters"]["i"] == str(i)

    with ThreadPoolExecutor(max_workers=8) as pool:
        assert all(pool.map(one, range(16)))


# --- API Gateway and Lambda limits ---------------------------------------------------------


def test_without_limits_big_bodies_pass(base):
    response = requests.get(base + "/v2/big?n=7000000")
    assert response.status_code == 200
    assert len(response.content) == 7_000_000


def test_request_over_10_mb_is_request_too_long(limited):
    response = requests.put(limited + "/v2/echo", data=b"\0" * (10 * MiB + 1))
    assert response.status_code == 413
    assert response.json() == {"message": "Request Too Long"}


def test_chunked_request_over_10_mb_is_request_too_long(limited):
    pieces = [b"\0" * MiB] * 11
    status, _, body = _raw(limited, "PATCH", "/v2/echo", body=pieces, chunked=True)
    assert status == 413
    assert json.loads(body) == {"message": "Request Too Long"}


def test_event_over_6_mb_is_request_entity_too_large(limited):
    # 5 MiB of bytes is about 6.7 MiB once base64-encoded in the event
    response = requests.put(limited + "/v2/echo", data=b"\0" * (5 * MiB))
    assert response.status_code == 413
    assert response.json() == {"message": "Request Entity Too Large"}
    ok = requests.put(limited + "/v2/echo", data=b"\1" * (4 * MiB))
    assert ok.status_code == 200
    assert len(ok.content) == 4 * MiB


def test_response_over_6_mb_is_request_entity_too_large(limited):
    response = requests.get(limited + "/v2/big?n=5000000")
    assert response.status_code == 413
    assert response.json() == {"message": "Request Entity Too Large"}


def test_head_content_length_is_remapped_with_limits(limited):
    status, headers, body = _raw(limited, "HEAD", "/v2/blob")
    assert status == 200
    assert _header(headers, "Content-Length") == "0"
    assert _header(headers, "x-amzn-Remapped-Content-Length") == "12345"
    assert body == b""


def test_www_authenticate_is_remapped_with_limits(base, limited):
    challenge = 'Bearer realm="http://x/v2/service/token",service="berth"'
    plain = requests.get(base + "/v2/challenge")
    assert plain.status_code == 401
    assert plain.headers["WWW-Authenticate"] == challenge
    remapped = requests.get(limited + "/v2/challenge")
    assert remapped.status_code == 401
    assert "WWW-Authenticate" not in remapped.headers
    assert remapped.headers["x-amzn-Remapped-WWW-Authenticate"] == challenge


def test_integration_timeout_is_a_504(limited):
    response = requests.get(limited + "/v2/slow?sleep=1.5")
    assert response.status_code == 504
    assert response.json() == {"message": "Endpoint request timed out"}


def test_limits_keep_paths_outside_the_stage_forbidden(limited):
    assert requests.put(limited + "/upload", data=b"x").status_code == 403
