"""Fixtures for the management API (/v2/api/v2.0): a registry with
BERTH_AUTH=token, bootstrapped (`library`, `admin`), driven through the real
Chalice handler like the rest of tests/api.

One `world` per test module (a stack of its own on the package's moto); tests
in a module share it, so each names what it creates uniquely (`world.name()`).
Every reply is checked: no 5xx, an X-Request-Id, Harbor's error body, and a
status the OpenAPI document declares for the route.
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest

from tests.api.conftest import ApiClient, Reply, check_body_type
from tests.api.helpers import PASSWORD, basic, password_hash
from tests.conftest import create_stack, in_process_delivery, make_services, share_signing_key, stack_env

ADMIN_PASSWORD = "Admin-Passw0rd"
BASE = "/v2/api/v2.0"

_worlds = itertools.count()
_names = itertools.count()




class Harbor:
    """Calls /v2/api/v2.0 as one account (or anonymously), with JSON bodies."""

    def __init__(self, api: ApiClient, username: str | None = None, password: str = PASSWORD):
        self.api = api
        self.username = username
        self.password = password

    def request(self, method: str, path: str, body=None, headers: dict | None = None, raw: bytes | None = None) -> Reply:
        headers = dict(headers or {})
        if self.username is not None:
            headers.setdefault("Authorization", basic(self.username, self.password))
        data = b""
        if raw is not None:
            data = raw
        elif body is not None:
            data = json.dumps(body).encode()
            headers.setdefault("Content-Type", "application/json")
        return self.api.request(method, BASE + path, data, headers)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def head(self, path, **kw):
        return self.request("HEAD", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.request("PUT", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)


class WorldClient(ApiClient):
    """Its requests (and the event deliveries it drains) are served with its world's services."""

    def __init__(self, svc):
        import app as app_module

        super().__init__(app_module.app)
        self.svc = svc

    def request(self, method, url, body=b"", headers=None):
        import app as app_module

        with app_module.serving(self.svc):
            return super().request(method, url, body, headers)

    def drain_events(self) -> int:
        import app as app_module

        with app_module.serving(self.svc):
            return self.delivery.drain() if self.delivery is not None else 0


@dataclass
class World:
    svc: object
    outputs: dict = field(default_factory=dict)
    api: ApiClient = field(init=False)

    def __post_init__(self):
        self.api = WorldClient(self.svc)
        self.api.delivery = in_process_delivery(self.svc.aws_session, self.outputs) if self.outputs else None

    def drain_events(self) -> int:
        """Deliver the domain events written so far to their consumers (the audit log)."""
        return self.api.drain_events()

    def name(self, prefix: str = "t") -> str:
        return f"{prefix}{next(_names)}"

    def as_(self, username: str | None, password: str = PASSWORD) -> Harbor:
        return Harbor(self.api, username, password)

    @property
    def admin(self) -> Harbor:
        return Harbor(self.api, "admin", ADMIN_PASSWORD)

    @property
    def anonymous(self) -> Harbor:
        return Harbor(self.api)

    # -- accounts straight into the store (faster than the API, one shared hash) ------
    def user(self, name: str | None = None, *, sysadmin: bool = False, password: str = PASSWORD, **extra):
        from chalicelib.meta.accounts import User

        return self.svc.accounts.create_user(
            User(username=name or self.name("u"), password_hash=password_hash(password), sysadmin=sysadmin, source="db", **extra)
        )

    def project(self, name: str | None = None, *, public: bool = False, owner: str = "admin"):
        from chalicelib.meta.accounts import Project

        return self.svc.accounts.create_project(Project(name=name or self.name("p"), public=public, owner=owner))

    def member(self, project: str, username: str, role_id: int, entity_type: str = "u"):
        from chalicelib.meta.accounts import Member

        return self.svc.accounts.add_member(project, Member(entity_type=entity_type, entity_name=username, role_id=role_id))

    def robot(self, name: str, permissions: list[dict], *, project: str | None = None, secret: str = PASSWORD, **extra):
        from chalicelib.meta.accounts import Robot, robot_full_name

        return self.svc.accounts.create_robot(
            Robot(
                full_name=robot_full_name(name, project),
                secret_hash=password_hash(secret),
                level="project" if project else "system",
                project=project,
                permissions=permissions,
                **extra,
            )
        )

    # -- the registry's contents, written through the metadata store -----------------
    def push(self, repository: str, tag: str | None = "latest", *, seed: str | None = None, layers: int = 1) -> str:
        """An image (config and layers linked, manifest put) in `repository`; its digest."""
        from tests.api.management.images import push_image

        return push_image(self.svc, repository, tag, seed=seed or f"{repository}:{tag}", layers=layers)

    def push_index(self, repository: str, tag: str | None, children: list[str]) -> str:
        from tests.api.management.images import push_index

        return push_index(self.svc, repository, tag, children)


def make_world(session) -> World:
    from chalicelib.bootstrap import bootstrap
    from chalicelib.config import Settings

    stage = f"mgmt{next(_worlds)}"
    outputs = create_stack(f"berth-{stage}", stage=stage, session=session)
    env = stack_env(outputs, auth="token")
    svc = make_services(Settings.from_env(env), session=session)
    share_signing_key(svc)
    bootstrap(svc, admin_password=ADMIN_PASSWORD)
    return World(svc=svc, outputs=outputs)


def set_config(world: World, key: str, value: str) -> None:
    """A runtime setting in SSM, seen at once (the parameters cache is dropped)."""
    world.svc.ssm.put_parameter(
        Name=f"{world.svc.settings.ssm_prefix}/config/{key}", Value=value, Type="String", Overwrite=True
    )
    world.svc.runtime_config.forget()


def clear_config(world: World, key: str) -> None:
    world.svc.ssm.delete_parameter(Name=f"{world.svc.settings.ssm_prefix}/config/{key}")
    world.svc.runtime_config.forget()


@pytest.fixture(scope="module")
def world(_shared_clients) -> World:
    """The module's world, on the package's shared clients (tests/conftest.py: SharedClients;
    a module that registers hooks on its clients makes its world on `_moto`)."""
    return make_world(_shared_clients)


@pytest.fixture(autouse=True)
def wired(world):
    """The app serves the module's world during each test."""
    import app as app_module

    with app_module.serving(world.svc):
        yield


@pytest.fixture
def api(world):
    return world.api


@pytest.fixture
def admin(world) -> Harbor:
    return world.admin


def _documented(method: str, path: str) -> set[int] | None:
    """The statuses the OpenAPI document declares for this request's route."""
    from chalicelib.management.openapi import document
    from chalicelib.management.routes import ROUTES, match

    route, _, _ = match(ROUTES, method, path[len(BASE) + 1 :] if path != BASE else "")
    if route is None:
        return None
    return {int(s) for s in document()["paths"][route.template][method.lower()]["responses"]}


def check_reply(method: str, url: str, reply: Reply) -> None:
    from chalicelib.management.errors import CODES

    path = urlsplit(url).path
    where = f"{method} {url[:200]} ({reply.status})"
    if reply.status >= 500:
        pytest.fail(f"{where} is a server error: {reply.body[:500]!r}", pytrace=False)
    check_body_type(method, where, reply)
    if not path.startswith(BASE):
        return
    if not reply.headers.get("x-request-id"):
        pytest.fail(f"{where} lacks X-Request-Id", pytrace=False)
    if reply.status >= 400 and method != "HEAD":
        body = json.loads(reply.body)
        entries = body["errors"]
        assert entries and all(set(e) == {"code", "message"} for e in entries), where
        for entry in entries:
            assert CODES[entry["code"]] == reply.status, where
    documented = _documented(method, path)
    if documented is not None and reply.status not in documented:
        pytest.fail(f"{where}: status not in the OpenAPI document ({sorted(documented)})", pytrace=False)


@pytest.fixture(autouse=True)
def checked_replies(monkeypatch):
    replies: list[tuple[str, str, Reply]] = []
    original = ApiClient.request

    def checked(self, method, url, body=b"", headers=None):
        reply = original(self, method, url, body, headers)
        replies.append((method, url, reply))
        check_reply(method, url, reply)
        return reply

    monkeypatch.setattr(ApiClient, "request", checked)
    yield replies
    bad = [(m, u[:200], r.status) for m, u, r in replies if r.status >= 500]
    assert not bad, f"server errors: {bad}"


def codes(reply: Reply) -> list[str]:
    return [e["code"] for e in reply.json()["errors"]]
