"""Fixtures for the Docker token auth tests: a registry with BERTH_AUTH=token,
bootstrapped (signing key, `library`, `admin`), driven through the real Chalice
handler like the rest of tests/api.

One `world` per test module (a stack of its own on the package's moto): the
accounts a module needs are created once, with one scrypt hash shared by all
of them, and the token service's credential cache keeps logins cheap.
"""
from __future__ import annotations

import itertools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import jwt
import pytest

from tests.api.conftest import API_VERSION, ApiClient, Reply, _check_reply, check_body_type
from tests.api.helpers import OCI_MANIFEST, PASSWORD, basic, digest, encode, password_hash, with_query
from tests.conftest import create_stack, in_process_delivery, make_services, share_signing_key, stack_env

ADMIN_PASSWORD = "Admin-Passw0rd"
SERVICE = "berth-registry"
TOKEN_URL = "/v2/service/token"

_worlds = itertools.count()




def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def unverified_claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


class WorldClient(ApiClient):
    """An ApiClient whose requests the app serves with its world's services (module-scoped
    set-up runs outside any one test's wiring)."""

    def __init__(self, svc):
        super().__init__(_app())
        self.svc = svc

    def request(self, method, url, body=b"", headers=None):
        import app as app_module

        with app_module.serving(self.svc):
            return super().request(method, url, body, headers)


@dataclass
class World:
    svc: object
    outputs: dict[str, str]
    api: ApiClient = field(init=False)

    delivery: object = field(init=False, default=None)

    def __post_init__(self):
        self.api = WorldClient(self.svc)

    def drain_events(self) -> int:
        """Deliver the domain events written so far to their consumers (the audit log's: a
        project created on push is entered from its event)."""
        import app as app_module

        if self.delivery is None:
            self.delivery = in_process_delivery(self.svc.aws_session, self.outputs)
        with app_module.serving(self.svc):
            return self.delivery.drain()

    # -- accounts ------------------------------------------------------------------
    def user(self, name: str, *, sysadmin: bool = False, password: str = PASSWORD):
        from chalicelib.meta.accounts import User

        return self.svc.accounts.create_user(
            User(username=name, password_hash=password_hash(password), sysadmin=sysadmin, source="db")
        )

    def project(self, name: str, *, public: bool = False):
        from chalicelib.meta.accounts import Project

        return self.svc.accounts.create_project(Project(name=name, public=public, owner="admin"))

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

    # -- the token service ---------------------------------------------------------
    def token_reply(self, scopes: Iterable[str] = (), user: str | None = None, password: str = PASSWORD, **params) -> Reply:
        query = [("service", SERVICE)] + [("scope", s) for s in scopes] + list(params.items())
        headers = {"Authorization": basic(user, password)} if user is not None else {}
        return self.api.get(f"{TOKEN_URL}?{urlencode(query)}", headers=headers)

    def token(self, scopes: Iterable[str] = (), user: str | None = None, password: str = PASSWORD) -> str:
        reply = self.token_reply(scopes, user, password)
        assert reply.status == 200, (reply.status, reply.body[:300])
        return reply.json()["token"]

    def post_token(self, form: dict[str, str] | list[tuple[str, str]]) -> Reply:
        return self.api.post(
            TOKEN_URL, urlencode(form).encode(), headers={"Content-Type": "application/x-www-form-urlencoded"}
        )

    def admin_token(self, *scopes: str) -> str:
        return self.token(scopes, "admin", ADMIN_PASSWORD)

    # -- the registry, with a token ------------------------------------------------
    def push_blob(self, token: str, name: str, data: bytes) -> Reply:
        return self.api.post(
            with_query(f"/v2/{name}/blobs/uploads/", digest=digest(data)),
            data,
            headers={**bearer(token), "Content-Type": "application/octet-stream"},
        )

    def image(self, token: str, name: str, seed: str) -> tuple[bytes, list[Reply]]:
        """Push a config and a layer to `name`; (manifest bytes, the blob replies)."""
        config = encode({"architecture": "amd64", "os": "linux", "seed": seed})
        layer = f"layer {seed}".encode() * 20
        replies = [self.push_blob(token, name, data) for data in (config, layer)]
        manifest = encode(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(config), "size": len(config)},
                "layers": [
                    {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest(layer), "size": len(layer)}
                ],
            }
        )
        return manifest, replies

    def put_manifest(self, token: str, name: str, reference: str, body: bytes) -> Reply:
        return self.api.put(
            f"/v2/{name}/manifests/{reference}", body, headers={**bearer(token), "Content-Type": OCI_MANIFEST}
        )

    def push_image(self, token: str, name: str, tag: str) -> str:
        """Push an image that must succeed; returns its digest."""
        body, replies = self.image(token, name, f"{name}:{tag}")
        assert [r.status for r in replies] == [201, 201], [(r.status, r.body[:200]) for r in replies]
        reply = self.put_manifest(token, name, tag, body)
        assert reply.status == 201, (reply.status, reply.body[:300])
        return digest(body)

    def admin_push(self, name: str, tag: str = "latest") -> str:
        return self.push_image(self.admin_token(f"repository:{name}:pull,push"), name, tag)

    def stored_image(self, name: str, tag: str = "latest") -> str:
        """An image in `name` (an existing project's) written straight into the stores, as a
        push leaves it (tests/api/management/images.py): the modules' set-ups, whose tests
        are about what a token lets a caller do with it, not the push (a push through /v2
        costs ten times as much: the tests that push do)."""
        from tests.api.management.images import push_image

        return push_image(self.svc, name, tag, seed=f"{name}:{tag}")

    def signing_key(self):
        from chalicelib.auth.tokens import SigningKey

        return SigningKey.from_pem(self.svc.secrets.get("token-signing-key"))


def _app():
    import app as app_module

    return app_module.app


def make_world(session, *, before_bootstrap=None, own_key: bool = False) -> World:
    """A fresh stack from infra/berth.yaml with BERTH_AUTH=token, bootstrapped: with the
    run's one signing key (tests/conftest.py: share_signing_key), or with `own_key` one
    bootstrap makes."""
    from chalicelib.bootstrap import bootstrap
    from chalicelib.config import Settings

    stage = f"auth{next(_worlds)}"
    outputs = create_stack(f"berth-{stage}", stage=stage, session=session)
    env = stack_env(outputs, auth="token")
    settings = Settings.from_env(env)
    assert settings.auth == "token"
    svc = make_services(settings, session=session)
    if before_bootstrap is not None:
        before_bootstrap(svc)
    if not own_key:
        share_signing_key(svc)
    bootstrap(svc, admin_password=ADMIN_PASSWORD)
    return World(svc=svc, outputs=outputs)


@pytest.fixture(scope="module")
def world(_shared_clients) -> World:
    """The module's world, on the package's shared clients (tests/conftest.py: SharedClients;
    a module that registers hooks on its clients makes its world on `_moto`)."""
    return make_world(_shared_clients)


def without_login_throttling(svc) -> None:
    """For modules that send many wrong credentials on purpose from one address
    to test what a refusal says (throttling has tests of its own: test_identity.py)."""
    svc.ssm.put_parameter(
        Name=f"{svc.settings.ssm_prefix}/config/login_throttle_enabled", Value="false", Type="String", Overwrite=True
    )
    svc.runtime_config.forget()


@pytest.fixture(autouse=True)
def wired(world):
    """The app serves the module's world during each test."""
    import app as app_module

    with app_module.serving(world.svc):
        yield


@pytest.fixture
def api(world):
    return world.api


@pytest.fixture(autouse=True)
def checked_replies(monkeypatch):
    """As tests/api/conftest.py's: no reply is a 5xx and every reply carries the API
    version header. The token service's POST answers OAuth2 errors
    ({"error", "error_description"}), not the OCI error body."""
    replies: list[tuple[str, str, Reply]] = []
    original = ApiClient.request

    def checked(self, method, url, body=b"", headers=None):
        reply = original(self, method, url, body, headers)
        replies.append((method, url, reply))
        where = f"{method} {url[:200]} ({reply.status})"
        if reply.status >= 500:
            pytest.fail(f"{where} is a server error: {reply.body[:500]!r}", pytrace=False)
        if urlsplit(url).path.startswith("/v2/service/"):
            if reply.headers.get("docker-distribution-api-version") != API_VERSION:
                pytest.fail(f"{where} lacks Docker-Distribution-API-Version", pytrace=False)
            check_body_type(method, where, reply)
            if reply.status >= 400:
                body = json.loads(reply.body)
                assert "errors" in body or "error" in body, where
        else:
            _check_reply(method, url, reply)
        return reply

    monkeypatch.setattr(ApiClient, "request", checked)
    yield replies
    bad = [(m, u[:200], r.status) for m, u, r in replies if r.status >= 500]
    assert not bad, f"server errors: {bad}"
