"""The registries under test, each started (and stopped) by the benchmark.

* ``Distribution``: Debian's ``docker-registry`` (CNCF distribution 2.8), plain HTTP on a
  free loopback port, no auth; storage on local disk in a temporary directory (the floor),
  or, given ``s3_endpoint``, its S3 driver on a bucket of the Berth stack's own moto server
  (the fair peer: both registries pay the same emulated S3).
* ``BerthStack``: ``python -m devstack`` with every port picked by the OS (moto, the API
  and the upload host in one Python process), auth on; the admin password comes from
  its READY line.
"""
from __future__ import annotations

import re
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Self

from bench.util import ROOT, log, python, repo_env, stop_process
from devstack.distribution import Distribution as _Distribution


class Distribution(_Distribution):
    """devstack/distribution.py's registry, without auth (`creds` None), announced in the log."""

    creds: str | None = None

    def __enter__(self) -> Self:
        super().__enter__()
        log(f"{self.name} registry on {self.host} (pid {self.proc.pid})")
        return self


class BerthStack:
    name = "berth"

    def __init__(self, workdir: Path, extra_args: tuple[str, ...] = (), *, probe: bool = False) -> None:
        """`probe`: run it under bench.probe_stack, which accounts AWS and handler time."""
        self.workdir = workdir
        self.extra_args = extra_args
        self.module = "bench.probe_stack" if probe else "devstack"
        self.probe_path = workdir / "probe.json"
        self.proc: subprocess.Popen | None = None
        self.host = ""
        self.api = self.upload = self.moto = ""
        self.password = ""
        self.creds: str | None = None
        self.env: dict[str, str] = {}
        self.banner: list[str] = []

    def __enter__(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.workdir / "devstack.log"
        cmd = [python(), "-m", self.module, "--api-port", "0", "--upload-port", "0", "--moto-port", "0",
               *self.extra_args]
        self._log = open(self.log_path, "wb")
        env = repo_env(BENCH_PROBE_OUT=str(self.probe_path))
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=self._log,
                                     stdin=subprocess.DEVNULL, text=True)
        ready = self._read_banner(timeout=90)
        fields = dict(part.split("=", 1) for part in ready.split()[1:])
        self.api, self.upload, self.moto = fields["api"], fields["upload"], fields["moto"]
        self.password = fields["password"]
        self.creds = f"{fields['username']}:{self.password}"
        self.host = self.api.removeprefix("http://")
        for line in self.banner:
            found = re.search(r"resources: table (\S+), bucket (\S+), SSM (\S+)", line)
            if found:
                self.env = {"BERTH_TABLE": found[1].rstrip(","), "BERTH_BUCKET": found[2].rstrip(","),
                            "BERTH_SSM_PREFIX": found[3]}
        # keep draining stdout so the stack never blocks on a full pipe
        threading.Thread(target=self._drain, daemon=True).start()
        log(f"Berth local stack on {self.host} (uploads {self.upload}, moto {self.moto}, pid {self.proc.pid})")
        return self

    def _read_banner(self, timeout: float) -> str:
        assert self.proc is not None and self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.banner.append(line.rstrip("\n"))
            if line.startswith("READY "):
                return line.strip()
        stop_process(self.proc)
        raise RuntimeError(f"devstack did not start: {self.log_path.read_text()[-3000:]}")

    def _drain(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for _ in self.proc.stdout:
            pass

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            stop_process(self.proc)
        self._log.close()

    def probe(self) -> dict:
        """With probe=True: the AWS calls and handler time since the last call (and reset them)."""
        import json
        import signal

        assert self.proc is not None
        self.probe_path.unlink(missing_ok=True)
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while not self.probe_path.exists():
            if time.monotonic() > deadline:
                raise RuntimeError("the probed stack did not write its totals")
            time.sleep(0.05)
        return json.loads(self.probe_path.read_text())

    def token(self, scope: str) -> str:
        """A token from the stack's token service, as admin."""
        import base64
        import json

        request = urllib.request.Request(
            f"{self.api}/v2/service/token?service=berth-registry&scope={scope}",
            headers={"Authorization": "Basic " + base64.b64encode(self.creds.encode()).decode()},
        )
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.loads(reply.read())["token"]


def _wait_http(url: str, proc: subprocess.Popen, log_path: Path, ok: tuple[int, ...], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: the server exited: {log_path.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:
                if reply.status in ok:
                    return
        except urllib.error.HTTPError as exc:
            if exc.code in ok:
                return
        except OSError:
            pass
        time.sleep(0.1)
    stop_process(proc)
    raise RuntimeError(f"{url} did not answer within {timeout} s")
