"""Debian's docker-registry (the CNCF distribution registry) as a local peer: the other
side of replication and proxy-cache tests, and the benchmark's reference registry.

Plain HTTP on a free loopback port; storage in `workdir` on local disk, or, given
`s3_endpoint`, its S3 driver on a new bucket of that (moto) endpoint; optionally behind
htpasswd Basic auth (`users`). Each instance is its own process:

    with Distribution(tmp, users={"alice": "secret"}) as registry:
        registry.url   # http://127.0.0.1:N
        registry.host  # 127.0.0.1:N
"""
from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Self

BINARY = "/usr/bin/docker-registry"

_CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
{storage}
http:
  addr: 127.0.0.1:{port}
  secret: berth-local-not-a-secret
{auth}"""

_DISK = """\
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true"""

_S3 = """\
storage:
  s3:
    region: us-east-1
    regionendpoint: {endpoint}
    bucket: {bucket}
    accesskey: testing
    secretkey: testing
    secure: false
    v4auth: true
  delete:
    enabled: true"""

_HTPASSWD = """\
auth:
  htpasswd:
    realm: berth-local
    path: {path}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Distribution:
    def __init__(self, workdir: Path, users: dict[str, str] | None = None, s3_endpoint: str = "") -> None:
        self.workdir = Path(workdir)
        self.users = dict(users or {})
        self.s3_endpoint = s3_endpoint
        self.name = "distribution-s3" if s3_endpoint else "distribution"
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.log_path = self.workdir / "registry.log"

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1]

    def __enter__(self) -> Self:
        if not Path(BINARY).exists():
            raise RuntimeError(f"{BINARY} is missing: run scripts/install-system-deps.sh")
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = None
        if self.s3_endpoint:
            storage = _S3.format(endpoint=self.s3_endpoint, bucket=_new_bucket(self.s3_endpoint, "distribution"))
            # the S3 driver will not start while AWS_CA_BUNDLE is set (the endpoint is plain HTTP)
            env = {k: v for k, v in os.environ.items() if k != "AWS_CA_BUNDLE"}
        else:
            storage = _DISK.format(root=self.workdir / "data")
        port = _free_port()
        config = self.workdir / "config.yml"
        config.write_text(_CONFIG.format(storage=storage, port=port, auth=self._auth()))
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen([BINARY, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, env=env)
        self.url = f"http://127.0.0.1:{port}"
        self._wait()
        return self

    def _auth(self) -> str:
        if not self.users:
            return ""
        import bcrypt

        path = self.workdir / "htpasswd"
        path.write_text("".join(
            f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4, prefix=b'2a')).decode()}\n"
            for user, password in self.users.items()))
        return _HTPASSWD.format(path=path)

    def _wait(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/v2/", timeout=2):
                    return
            except urllib.error.HTTPError as exc:
                if exc.code == 401:  # behind auth: it answers
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.__exit__()
        raise RuntimeError(f"docker-registry on {self.url} did not answer within {timeout} s")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _new_bucket(endpoint: str, name: str) -> str:
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing")
    client.create_bucket(Bucket=name)
    return name
