"""The upload host's container start command (uploadhost/Dockerfile's CMD), run as a process:
gunicorn serving chalicelib.uploadhost against a moto server holding the resources of
infra/berth.yaml, bootstrapped. The API (in-process, through the real handler) opens the
session and points the client at the upload host, where a chunked PATCH, a PATCH and the
closing PUT carry a blob larger than one S3 part; the API then serves it."""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests

from tests.deploy.conftest import FAKE_ENV, ROOT, UNSET
from tests.deploy.registry import ADMIN_PASSWORD, MiB, digest, with_query

GUNICORN = Path(sys.executable).parent / "gunicorn"
START_TIMEOUT = 30.0
BODY_TIMEOUT = 2


def dockerfile() -> tuple[list[str], dict[str, str]]:
    """The CMD (exec form) and the ENV settings of uploadhost/Dockerfile."""
    text = (ROOT / "uploadhost" / "Dockerfile").read_text()
    command = json.loads(re.search(r"^CMD (\[.*\])$", text, re.MULTILINE).group(1))
    env = dict(re.findall(r"(\w+)=(\S+)", " ".join(re.findall(r"^ENV ((?:.*\\\n)*.*)$", text, re.MULTILINE)).replace("\\\n", " ")))
    return command, env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def aws(tmp_path_factory):
    """A moto server with the stage's resources, bootstrapped; the environment pointed at it."""
    from chalicelib.bootstrap import bootstrap
    from chalicelib.config import Settings
    from chalicelib.services import Services
    from devstack.motoserver import MotoServer
    from devstack.resources import provision

    with pytest.MonkeyPatch.context() as mp, MotoServer("127.0.0.1", 0) as moto:
        for name in UNSET:
            mp.delenv(name, raising=False)
        for name, value in FAKE_ENV.items():
            mp.setenv(name, value)
        env = provision(moto.url, "uploadhost")
        mp.setenv("AWS_ENDPOINT_URL", moto.url)
        for name, value in {**env, "BERTH_AUTH": "token"}.items():
            mp.setenv(name, value)
        for name in ("BERTH_PUBLIC_URL", "BERTH_UPLOAD_URL", "BERTH_OCI_PREFIX", "BERTH_ADMIN_PASSWORD"):
            mp.delenv(name, raising=False)
        bootstrap(Services(Settings.from_env()), admin_password=ADMIN_PASSWORD)
        yield {**env, "AWS_ENDPOINT_URL": moto.url}


@pytest.fixture(scope="module")
def upload_host(aws, tmp_path_factory):
    """The Dockerfile's CMD, with gunicorn from the virtual environment, on a loopback port."""
    command, image_env = dockerfile()
    assert command[0] == "gunicorn" and command[-1] == "chalicelib.uploadhost:create_upload_app()"
    assert image_env["PORT"] == "8080"
    port = free_port()
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path_factory.mktemp("home")),
        **image_env,
        **FAKE_ENV,
        **aws,
        "BERTH_AUTH": "token",
        # a body that stops arriving is given up on after this long (test_a_stalled_body...)
        "BERTH_UPLOAD_BODY_TIMEOUT": str(BODY_TIMEOUT),
        # the image binds 0.0.0.0:$PORT; here only loopback
        "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port}",
    }
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with log.open("wb") as out:
        process = subprocess.Popen([str(GUNICORN), *command[1:]], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            assert process.poll() is None, f"gunicorn exited: {log.read_text()[-2000:]}"
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except (requests.ConnectionError, requests.Timeout):  # not listening yet, or a loaded machine
                pass
            assert time.monotonic() < deadline, f"gunicorn did not answer: {log.read_text()[-2000:]}"
            time.sleep(0.1)
        yield url, process, log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def api(aws, upload_host, monkeypatch):
    """The API in-process, sending clients to the upload host."""
    import app as app_module
    from chalicelib.config import Settings
    from chalicelib.services import Services
    from tests.api.conftest import ApiClient
    from tests.deploy.registry import Run

    monkeypatch.setenv("BERTH_UPLOAD_URL", upload_host[0])
    with app_module.serving(Services(Settings.from_env())):
        yield Run(ApiClient(app_module.app))


def test_health_check(upload_host):
    url, _, _ = upload_host
    reply = requests.get(f"{url}/healthz", timeout=5)
    assert reply.status_code == 200 and reply.headers["Server"].startswith("gunicorn")


def test_push_through_the_upload_host_process(api, upload_host):
    url, process, log = upload_host
    name = "library/big"
    api.login(f"repository:{name}:pull,push")
    location = api.call("POST", f"/v2/{name}/blobs/uploads/", 202).headers["location"]
    assert location.startswith(url + "/v2/") and "_state=" in location

    data = os.urandom(6 * MiB + 777)
    first, second, last = data[: 4 * MiB], data[4 * MiB : 6 * MiB], data[6 * MiB :]
    octet = {"Content-Type": "application/octet-stream"}  # no Authorization: another host

    def chunks():  # chunked transfer encoding, as docker sends a layer
        for start in range(0, len(first), 256 * 1024):
            yield first[start : start + 256 * 1024]

    reply = requests.patch(location, data=chunks(), headers=octet, timeout=60)
    assert reply.status_code == 202, reply.text
    assert reply.headers["Range"] == f"0-{len(first) - 1}"
    location = urljoin(location, reply.headers["Location"])  # clients resolve it against the upload host
    reply = requests.patch(location, data=second, headers={**octet, "Content-Range": f"{len(first)}-{6 * MiB - 1}"}, timeout=60)
    assert reply.status_code == 202, reply.text
    d = digest(data)
    reply = requests.put(with_query(urljoin(location, reply.headers["Location"]), digest=d), data=last, headers=octet, timeout=60)
    assert reply.status_code == 201, reply.text
    assert reply.headers["Docker-Content-Digest"] == d

    # the API serves what the upload host stored: a presigned redirect to the moto server
    presigned = api.call("GET", f"/v2/{name}/blobs/{d}", 307).headers["location"]
    assert requests.get(presigned, timeout=60).content == data
    assert process.poll() is None
    assert b"PATCH /v2/library/big/blobs/uploads/" in log.read_bytes()  # the access log is on


def test_upload_host_serves_only_upload_routes(upload_host):
    url, _, _ = upload_host
    reply = requests.get(f"{url}/v2/library/big/tags/list", timeout=5)
    assert reply.status_code in (404, 405)
    assert reply.json()["errors"]


# -- bad input (issue 10): answered 400, never 500, and the session survives -------------
def _session(api, name: str) -> tuple[str, str, str]:
    """(host, port, path with query) of a new upload session on the upload host."""
    api.login(f"repository:{name}:pull,push")
    location = api.call("POST", f"/v2/{name}/blobs/uploads/", 202).headers["location"]
    parts = urlsplit(location)
    return parts.hostname, parts.port, f"{parts.path}?{parts.query}"


def _raw(host: str, port: int, data: bytes, *, close_write: bool = False, pause: bool = False) -> bytes:
    """Send raw bytes, optionally half-close (a client that went away) or stop sending
    (a stalled client); the server's whole answer."""
    with socket.create_connection((host, port), timeout=BODY_TIMEOUT * 15) as sock:
        sock.sendall(data)
        if close_write:
            sock.shutdown(socket.SHUT_WR)
        answer = b""
        while b"\r\n\r\n" not in answer or not _complete(answer):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
        return answer


def _complete(answer: bytes) -> bool:
    head, _, body = answer.partition(b"\r\n\r\n")
    length = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    return length is None or len(body) >= int(length.group(1))


def _status_and_body(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


@pytest.mark.parametrize(
    "case",
    ["disconnect mid-body", "malformed chunk size", "chunk without its terminator", "stalled body"],
)
def test_a_broken_body_is_answered_400_and_the_session_survives(api, upload_host, case):
    url, process, _ = upload_host
    host, port, target = _session(api, f"library/broken-{case.split()[0]}")
    head = f"PATCH {target} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/octet-stream\r\n"
    if case == "disconnect mid-body":
        answer = _raw(host, port, (head + "Content-Length: 1000\r\n\r\n").encode() + b"x" * 100, close_write=True)
    elif case == "malformed chunk size":
        answer = _raw(host, port, (head + "Transfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n").encode())
    elif case == "chunk without its terminator":
        answer = _raw(host, port, (head + "Transfer-Encoding: chunked\r\n\r\n3\r\nabcXY0\r\n\r\n").encode())
    else:  # headers and a part of the body, then nothing: the server's timeout ends it
        answer = _raw(host, port, (head + "Content-Length: 1000\r\n\r\n").encode() + b"x" * 100)
    status, body = _status_and_body(answer)
    assert status == 400, answer[:500]
    # a body cut short is also a size that does not match its Content-Length
    wanted = {"BLOB_UPLOAD_INVALID", "SIZE_INVALID"} if case == "disconnect mid-body" else {"BLOB_UPLOAD_INVALID"}
    assert body["errors"][0]["code"] in wanted
    # the session is as it was: a whole chunk now goes in at offset 0
    reply = requests.patch(f"{url}{target}", data=b"y" * 10, headers={"Content-Type": "application/octet-stream"}, timeout=30)
    assert reply.status_code == 202, reply.text
    assert reply.headers["Range"] == "0-9"
    assert process.poll() is None
