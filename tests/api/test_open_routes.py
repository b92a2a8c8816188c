"""The routes without the `challenge` authorizer (chalicelib/front.py OPEN_ROUTES):
API Gateway delivers the token service, the management API and the console on resources of
their own (/service/{proxy+}, /api/{proxy+}, /c/login, /ui/{asset}, ...), with the path
parameters of that resource; each must serve exactly what the greedy route serves."""
from __future__ import annotations

import base64

import pytest

from devstack.events import proxy_event, proxy_reply
from tests.api.conftest import Reply


def on_resource(event: dict, resource: str) -> dict:
    """The event API Gateway sends when `resource` (rather than /{proxy+}) matched."""
    path = event["path"].strip("/").split("/")
    template = resource.strip("/").split("/")
    params = {}
    for i, part in enumerate(template):
        if part.endswith("+}"):
            params[part[1:-2]] = "/".join(path[i:])
        elif part.startswith("{"):
            params[part[1:-1]] = path[i]
    event = {**event, "resource": resource, "pathParameters": params or None}
    event["requestContext"] = {**event["requestContext"], "resourcePath": resource}
    return event


def both(api, method: str, url: str, resource: str, **kw) -> tuple[Reply, Reply]:
    """The reply through the greedy route and through `resource`."""
    event = proxy_event(method, url, **kw)
    greedy = api.app(event, None)
    own = api.app(on_resource(event, resource), None)
    return Reply(*proxy_reply(greedy)), Reply(*proxy_reply(own))


BASIC = {"Authorization": "Basic " + base64.b64encode(b"admin:wrong-password").decode()}


@pytest.mark.parametrize(
    "method, url, resource, headers",
    [
        ("GET", "/v2/service/token?service=berth-registry&scope=repository:library/app:pull", "/service/{proxy+}", {}),
        ("GET", "/v2/service/token?service=berth-registry", "/service/{proxy+}", BASIC),
        ("GET", "/v2/api/v2.0/projects", "/api/{proxy+}", {}),
        ("GET", "/v2/api/v2.0/systeminfo", "/api/{proxy+}", BASIC),
        ("POST", "/v2/c/login", "/c/login", {}),
        ("GET", "/v2/ui", "/ui", {}),
        ("GET", "/v2/ui/", "/ui", {}),  # the console's page (API Gateway matches /ui)
        ("GET", "/v2/ui/index.html", "/ui/{asset}", {}),
    ],
)
def test_open_routes_serve_what_the_greedy_route_serves(api, method, url, resource, headers):
    greedy, own = both(api, method, url, resource, headers=headers)
    assert own.status == greedy.status and own.status != 404, (own.status, own.body[:200])
    assert own.status < 500, own.body[:200]  # not checked_replies': these replies bypass ApiClient.request
    assert own.headers.get("content-type") == greedy.headers.get("content-type")
    if "token" not in url:  # tokens differ in their times and ids
        assert own.body == greedy.body


def test_every_open_route_is_a_route_of_the_app():
    from app import app
    from chalicelib.front import OPEN_ROUTES

    for route in OPEN_ROUTES:
        views = app.routes[route]
        assert all(view.authorizer is None for view in views.values()), route
    for route in ("/", "/{proxy+}"):
        assert {view.authorizer.name for view in app.routes[route].values()} == {"challenge"}
