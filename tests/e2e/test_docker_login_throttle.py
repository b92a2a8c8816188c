"""`docker login` after failed logins: the registry answers 429 with Retry-After and
docker shows why ("too many failed logins"), even for the right password; another
account from the same place is not held back (docs/security.md).

The wait doubles with each failure (1 s, 2 s, 4 s, ...): the test lowers the free
failures to 1 through the configuration API and waits out each Retry-After the
registry names, until the wait is long enough for docker to meet it."""
from __future__ import annotations

import secrets
import time

import pytest
import requests

from tests.e2e.accounts import admin_store, create_user
from tests.e2e.registry_http import describe

pytestmark = pytest.mark.e2e

PASSWORD = "Throttle-Passw0rd"


def _configure(stack, values: dict) -> None:
    reply = requests.put(f"{stack.api}/v2/api/v2.0/configurations", json=values, auth=stack.credentials, timeout=60)
    assert reply.status_code == 200, describe(reply)


def _token(stack, username: str, password: str) -> requests.Response:
    return requests.get(f"{stack.api}/v2/service/token", params={"service": "berth-registry"},
                        auth=(username, password), timeout=30)


def test_docker_login_after_failed_logins_is_refused_with_a_clear_error(dockerd, stack):
    svc = admin_store(stack)
    name = f"throttled{secrets.token_hex(3)}"
    other = f"bystander{secrets.token_hex(3)}"
    create_user(svc, name, PASSWORD)
    create_user(svc, other, PASSWORD)
    _configure(stack, {"login_failures_before_delay": 1})
    try:
        wait = 0
        for _ in range(40):  # each failure doubles the wait: until it outlasts a docker login
            reply = _token(stack, name, "not-the-password")
            if reply.status_code == 401:
                continue  # counted
            assert reply.status_code == 429, describe(reply)
            assert reply.json()["errors"][0]["code"] == "TOOMANYREQUESTS"
            wait = int(reply.headers["Retry-After"])
            if wait >= 16:
                break
            time.sleep(wait)
        assert wait >= 16, "the wait never grew"
        login = _docker_login(dockerd, stack, name, PASSWORD)
        assert login.returncode != 0, login.stdout
        assert "too many failed logins" in login.stderr, login.stderr
        assert "toomanyrequests" in login.stderr.lower(), login.stderr
        # another account from the same address logs in
        assert _docker_login(dockerd, stack, other, PASSWORD).returncode == 0
        dockerd.logout(stack)
    finally:
        _configure(stack, {"login_failures_before_delay": 5})  # the default


def _docker_login(dockerd, stack, username: str, password: str):
    import subprocess

    from tests.e2e.conftest import DOCKER_CLI

    return subprocess.run(
        [DOCKER_CLI, "-H", dockerd.host, "login", "--username", username, "--password-stdin", stack.host],
        input=password, capture_output=True, text=True, env=dockerd.env, timeout=60, check=False,
    )
