"""Debian's docker-registry (the CNCF distribution registry) for tests: plain HTTP on a
free loopback port, storage in a temporary directory, optionally behind htpasswd Basic
auth, and with a `chunk_min` the registry cannot set itself (see `MinChunkProxy`).

Started as bench/servers.py starts it for the benchmark; each instance is its own process.
"""
from __future__ import annotations

import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Self

BINARY = "/usr/bin/docker-registry"

CONFIG = """\
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
  secret: berth-test-not-a-secret
{auth}"""

HTPASSWD = """\
auth:
  htpasswd:
    realm: berth-test
    path: {path}
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Distribution:
    """`with Distribution(tmp, users={"alice": "secret"}) as reg: reg.url` (http://127.0.0.1:N)."""

    def __init__(self, workdir: Path, users: dict[str, str] | None = None):
        self.workdir = Path(workdir)
        self.users = dict(users or {})
        self.proc: subprocess.Popen | None = None
        self.url = ""

    @property
    def host(self) -> str:
        return self.url.split("://", 1)[1]

    def __enter__(self) -> Self:
        if not Path(BINARY).exists():
            raise RuntimeError(f"{BINARY} is missing: run scripts/install-system-deps.sh")
        self.workdir.mkdir(parents=True, exist_ok=True)
        auth = ""
        if self.users:
            import bcrypt

            path = self.workdir / "htpasswd"
            path.write_text("".join(
                f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=4, prefix=b'2a')).decode()}\n"
                for user, password in self.users.items()))
            auth = HTPASSWD.format(path=path)
        port = _free_port()
        config = self.workdir / "config.yml"
        config.write_text(CONFIG.format(root=self.workdir / "data", port=port, auth=auth))
        self.log_path = self.workdir / "registry.log"
        with open(self.log_path, "wb") as out:
            self.proc = subprocess.Popen([BINARY, "serve", str(config)], stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)
        self.url = f"http://127.0.0.1:{port}"
        self._wait()
        return self

    def _wait(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"docker-registry exited: {self.log_path.read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/v2/", timeout=2):
                    return
            except urllib.error.HTTPError as exc:
                if exc.code == 401:
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.__exit__()
        raise RuntimeError(f"docker-registry on {self.url} did not answer within {timeout} s")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
