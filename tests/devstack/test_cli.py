"""``python -m devstack`` as a subprocess, the way end-to-end tests start it."""

from __future__ import annotations

import queue
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import boto3
import pytest
import requests

REPO_ROOT = Path(__file__).resolve().parents[2]

TINY_APP = textwrap.dedent(
    """
    import json
    import os

    import boto3
    from chalice import Chalice

    app = Chalice(app_name="tiny")
    app.api.binary_types = ["*/*"]
    NAMES = ["BERTH_TABLE", "BERTH_BUCKET", "BERTH_SSM_PREFIX", "BERTH_UPLOAD_URL",
             "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_DEFAULT_REGION", "AWS_REGION"]


    @app.route("/", methods=["GET"], content_types=["*/*"])
    def ping():
        env = {name: os.environ.get(name) for name in NAMES}
        # the default client must reach moto through AWS_ENDPOINT_URL alone
        boto3.client("s3").head_bucket(Bucket=os.environ["BERTH_BUCKET"])
        return env


    def create_upload_app():
        def upload(environ, start_response):
            body = json.dumps({"upload": environ["PATH_INFO"]}).encode()
            start_response("200 OK", [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(body)))])
            return [body]
        return upload
    """
)


def _read_until_ready(stream, timeout: float) -> list[str]:
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    while True:
        line = lines.get(timeout=timeout)
        if line is None:
            raise AssertionError("devstack exited before READY:\n" + "".join(seen))
        seen.append(line)
        if line.startswith("READY "):
            return seen


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("tinyapp")
    (workdir / "tinyapp.py").write_text(TINY_APP)
    errors = open(workdir / "stderr.log", "w+")  # noqa: SIM115 - read after the process ends
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "devstack",
            "--api-port",
            "0",
            "--upload-port",
            "0",
            "--moto-port",
            "0",
            "--stage",
            "citest",
            "--app",
            "tinyapp:app",
            "--upload-app",
            "tinyapp:create_upload_app",
        ],
        cwd=REPO_ROOT,
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": f"{workdir}:{REPO_ROOT}",
            "AWS_PROFILE": "must-not-be-used",
            "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:9",
        },
        stdout=subprocess.PIPE,
        stderr=errors,
        text=True,
    )
    try:
        banner = _read_until_ready(process.stdout, timeout=60)
        ready = dict(part.split("=", 1) for part in banner[-1].split()[1:])
        yield process, banner, ready, errors
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        errors.close()


def test_ready_line_names_the_real_ports(stack):
    _, banner, ready, _ = stack
    assert set(ready) == {"api", "upload", "moto", "username", "password"}
    assert ready["username"] == "admin" and len(ready["password"]) >= 12
    for url in (ready["api"], ready["upload"], ready["moto"]):
        assert url.startswith("http://127.0.0.1:")
        assert not url.endswith(":0")
    assert banner[0].startswith(f"Berth is running: registry {ready['api']} ")
    assert any(line.strip().startswith("skopeo copy ") and "--dest-creds admin:" in line for line in banner)
    assert any("docker push" in line for line in banner)


def test_the_app_gets_its_environment_and_reaches_moto(stack):
    _, _, ready, _ = stack
    response = requests.get(
        ready["api"] + "/v2/", headers={"Accept": "*/*"}, timeout=10
    )
    assert response.status_code == 200, response.text
    env = response.json()
    assert env["AWS_ENDPOINT_URL"] == ready["moto"]
    assert env["BERTH_UPLOAD_URL"] == ready["upload"]
    assert env["BERTH_SSM_PREFIX"] == "/berth/citest"
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWS_DEFAULT_REGION"] == env["AWS_REGION"] == "us-east-1"
    s3 = boto3.client(
        "s3",
        endpoint_url=ready["moto"],
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    s3.head_bucket(Bucket=env["BERTH_BUCKET"])


def test_the_upload_port_serves_the_upload_app(stack):
    _, _, ready, _ = stack
    response = requests.patch(ready["upload"] + "/uploads/abc", data=b"x", timeout=10)
    assert response.json() == {"upload": "/uploads/abc"}


def test_outside_the_stage_is_api_gateways_403(stack):
    _, _, ready, _ = stack
    assert requests.get(ready["api"] + "/", timeout=10).status_code == 403


def test_a_tls_probe_gets_an_http_answer(stack):
    # docker, podman and skopeo try TLS first; the plain-HTTP answer sends them to http://
    _, _, ready, _ = stack
    host, port = ready["api"].removeprefix("http://").split(":")
    # a ClientHello's first bytes; what follows holds a 0x0a byte (as cipher suite lists do:
    # 0x000a is one), which ends the "request line" the HTTP server reads
    hello = bytes.fromhex("160301") + (200).to_bytes(2, "big") + bytes.fromhex("010000c40303") + bytes(range(194))
    with socket.create_connection((host, int(port)), timeout=10) as probe:
        probe.sendall(hello)
        answer = b""
        while chunk := probe.recv(4096):
            answer += chunk
    # the request line cannot be read: Python's server answers its HTML error page, 400
    assert b"Error code: 400" in answer


def test_sigterm_stops_it_cleanly_and_quietly(stack):
    process, _, _, errors = stack
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=15) == 0
    errors.seek(0)
    log = errors.read()
    assert "Traceback" not in log
    assert '"GET /v2/' not in log  # no per-request lines without --verbose
    assert "Bad request" not in log and "400" not in log  # the TLS probe was answered quietly
