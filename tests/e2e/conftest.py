"""Fixtures for the end-to-end tests: the local stack, dockerd, and the real clients.

The tests drive real clients (skopeo, docker, the oras SDK) against the stack
started by `python -m devstack`. Missing tools are a failure, not a skip: CI
installs them (scripts/install-system-deps.sh), and a silently skipped e2e
suite is worse than none.

Credentials: devstack runs with Docker token auth on and prints the
bootstrapped system admin as `username=admin password=...` on its READY line
(BERTH_E2E_USERNAME / BERTH_E2E_PASSWORD override it, for another stack). Every
helper here passes them on by default (`Stack.credentials`, `Skopeo.creds_args`,
`Docker.login`, `oras_client`, `Stack.http`) and takes other credentials, or
none, for the auth tests (tests/e2e/test_auth.py, accounts from
tests/e2e/accounts.py).
"""
from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.e2e.registry_http import RegistryHTTP

REPO_ROOT = Path(__file__).resolve().parents[2]
STACK_READY_TIMEOUT = 60.0
DOCKERD_READY_TIMEOUT = 60.0
DOCKER_CLI = "/usr/bin/docker"  # Debian's docker.io client, matching its dockerd
# Debian's containerd package: the daemon and its ctr client, the same version
CONTAINERD = "/usr/bin/containerd"
CTR = "/usr/bin/ctr"
CONTAINERD_READY_TIMEOUT = 60.0
INSTALL_HINT = "run scripts/install-system-deps.sh (CI does)"

_READY = re.compile(r"^READY\s+(.*)$")
# devstack's banner: "  resources: table X, bucket Y, SSM Z"
_RESOURCES = re.compile(r"^resources:\s+table\s+(\S+),\s+bucket\s+(\S+),\s+SSM\s+(\S+)$")
# "no credentials" for the helpers below, as opposed to the default (the stack's admin)
ANONYMOUS = ()


def _wait_until_ready(what: str, proc: subprocess.Popen, cmd: list[str], timeout: float,
                      log_tail: Callable[[int], str], ready: Callable[[], bool]) -> None:
    """Poll `ready()` until it holds; a daemon that exits or takes longer than `timeout`
    fails the run (never a skip) with its command line and the end of its log."""
    deadline = time.monotonic() + timeout
    while not ready():
        if proc.poll() is not None:
            pytest.fail(f"{what} exited with {proc.returncode}: {' '.join(cmd)}\n{log_tail(60)}", pytrace=False)
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not ready after {timeout:.0f} s: {' '.join(cmd)}\n{log_tail(60)}", pytrace=False)
        time.sleep(0.2)


def require_tool(path_or_name: str) -> str:
    """The tool's path, or a failure (never a skip) saying how to get it."""
    found = path_or_name if os.path.isabs(path_or_name) else shutil.which(path_or_name)
    if not found or not os.access(found, os.X_OK):
        pytest.fail(f"{path_or_name} is required by the e2e tests and is missing: {INSTALL_HINT}",
                    pytrace=False)
    return found


def _kill_group(proc: subprocess.Popen, grace: float) -> bool:
    """SIGTERM the process we started, then SIGKILL its group if needed.

    Returns True when it stopped on SIGTERM alone.
    """
    clean = True
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            clean = False
    # Our child ran in its own session (start_new_session=True), so its process
    # group holds only what it started: reap stragglers (servers it spawned).
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        clean = False
    return clean


# --------------------------------------------------------------------------- stack


@dataclass
class Stack:
    api: str          # http://127.0.0.1:NNNN
    upload: str
    moto: str
    process: subprocess.Popen = field(repr=False)
    log_path: Path = field(repr=False)
    info: dict[str, str] = field(default_factory=dict, repr=False)
    # table / bucket / ssm, from the banner (tests/e2e/accounts.py opens the store with them)
    resources: dict[str, str] = field(default_factory=dict, repr=False)
    _lines: deque = field(default_factory=lambda: deque(maxlen=400), repr=False)

    @property
    def host(self) -> str:
        """What clients put in an image reference: 127.0.0.1:NNNN."""
        return re.sub(r"^https?://", "", self.api).rstrip("/")

    @property
    def credentials(self) -> tuple[str, str] | None:
        user = os.environ.get("BERTH_E2E_USERNAME") or self.info.get("username")
        password = os.environ.get("BERTH_E2E_PASSWORD") or self.info.get("password")
        return (user, password) if user and password else None

    def http(self, credentials: tuple[str, str] | tuple[()] | None = None) -> RegistryHTTP:
        """A RegistryHTTP as the stack's admin, as `credentials`, or anonymous (ANONYMOUS)."""
        creds = self.credentials if credentials is None else credentials
        return RegistryHTTP(self.api, credentials=tuple(creds) if creds else None)

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(list(self._lines)[-lines:])

    def alive(self) -> bool:
        return self.process.poll() is None


def _start_stack(extra_args: list[str], log_dir: Path, name: str):
    log_path = log_dir / f"{name}.log"
    # BERTH_E2E_DEVSTACK_MODULE runs the same suite against another stack with the same CLI.
    module = os.environ.get("BERTH_E2E_DEVSTACK_MODULE", "devstack")
    cmd = [sys.executable, "-m", module, "--api-port", "0", "--upload-port", "0",
           "--moto-port", "0", *extra_args]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True, text=True, bufsize=1)
    lines: deque = deque(maxlen=400)
    ready: dict[str, str] = {}
    ready_event = threading.Event()

    def drain() -> None:
        # Keep reading for the whole session so a chatty server never blocks on a full pipe.
        with open(log_path, "a", encoding="utf-8") as log:
            for line in proc.stdout:
                log.write(line)
                log.flush()
                line = line.rstrip("\n")
                lines.append(line)
                match = _READY.match(line.strip())
                if match and not ready_event.is_set():
                    ready.update(dict(re.findall(r"(\w+)=(\S+)", match.group(1))))
                    ready_event.set()
        ready_event.set()  # EOF: the process is gone

    threading.Thread(target=drain, name=f"{name}-drain", daemon=True).start()
    deadline = time.monotonic() + STACK_READY_TIMEOUT
    while not ready_event.wait(timeout=0.2):
        if time.monotonic() > deadline:
            break
    if not ready:
        _kill_group(proc, grace=5)
        status = (f"exited with {proc.returncode}" if proc.returncode is not None
                  else f"not READY after {STACK_READY_TIMEOUT:.0f} s")
        tail = "\n".join(lines)
        pytest.fail(f"devstack ({' '.join(cmd)}) {status}; output:\n{tail}", pytrace=False)
    missing = [key for key in ("api", "upload", "moto") if key not in ready]
    if missing:
        _kill_group(proc, grace=5)
        pytest.fail(f"devstack READY line lacks {missing}: {ready}", pytrace=False)
    resources: dict[str, str] = {}
    for line in list(lines):
        match = _RESOURCES.match(line.strip())
        if match:
            resources = dict(zip(("table", "bucket", "ssm"), match.groups()))
    stack = Stack(api=ready["api"].rstrip("/"), upload=ready["upload"].rstrip("/"),
                  moto=ready["moto"].rstrip("/"), process=proc, log_path=log_path,
                  info=ready, resources=resources, _lines=lines)
    try:
        yield stack
    finally:
        if not _kill_group(proc, grace=20):
            warnings.warn(f"devstack {name} did not stop on SIGTERM within 20 s; killed", stacklevel=1)


@pytest.fixture(scope="session")
def e2e_logs(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("e2e-logs")


@pytest.fixture(scope="session")
def stack(e2e_logs):
    """The local stack (moto + gateway + upload host), started once per session."""
    yield from _start_stack([], e2e_logs, "devstack")


@pytest.fixture(scope="session")
def limited_stack(e2e_logs):
    """A second stack that behaves like the AWS deployment: API Gateway's 10 MB request
    and Lambda's 6 MB payload limits, API Gateway's response header renaming, and
    infra/apigw-extras.yaml's challenge authorizer and gateway response, which bring the
    Bearer challenge to clients as deployed (tests/e2e/test_first_hour.py logs in through it)."""
    yield from _start_stack(["--apigw-limits"], e2e_logs, "devstack-limited")


# --------------------------------------------------------------------------- skopeo


@dataclass
class Skopeo:
    binary: str
    workdir: Path
    auth_file: Path
    log_dir: Path
    _count: int = 0

    def creds_args(self, stack: Stack, which: str,
                   credentials: tuple[str, str] | tuple[()] | None = None) -> list[str]:
        """`--src-creds`/`--dest-creds`/`--creds` (which: "src", "dest", "") for the
        stack's admin, or for `credentials`; nothing for ANONYMOUS or without auth."""
        creds = stack.credentials if credentials is None else credentials
        if not creds:
            return []
        flag = "--creds" if which == "" else f"--{which}-creds"
        return [flag, f"{creds[0]}:{creds[1]}"]

    def run(self, *args: str, check: bool = True, timeout: float = 300) -> SkopeoResult:
        """Run skopeo with --debug (its log names every HTTP request); on failure the
        assertion shows the tail of that log. stdout is kept as bytes (`--raw`
        manifests must be compared byte for byte)."""
        self._count += 1
        cmd = [self.binary, "--debug", "--insecure-policy", "--tmpdir", str(self.workdir), *args]
        env = dict(os.environ, REGISTRY_AUTH_FILE=str(self.auth_file))
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout, env=env, check=False)
        stderr = proc.stderr.decode(errors="replace")
        log = self.log_dir / f"skopeo-{self._count:03d}-{args[0]}.log"
        log.write_text(f"$ {' '.join(cmd)}\nrc={proc.returncode}\n--- stdout\n"
                       f"{proc.stdout.decode(errors='replace')}\n--- stderr\n{stderr}")
        if check and proc.returncode != 0:
            tail = "\n".join(stderr.splitlines()[-60:])
            raise AssertionError(
                f"skopeo failed (rc={proc.returncode}): {' '.join(cmd)}\n"
                f"full log: {log}\n--- stderr tail\n{tail}\n--- stdout\n"
                f"{proc.stdout[-2000:].decode(errors='replace')}")
        return SkopeoResult(returncode=proc.returncode, stdout=proc.stdout, stderr=stderr, log=log)


@dataclass
class SkopeoResult:
    returncode: int
    stdout: bytes
    stderr: str
    log: Path

    @property
    def text(self) -> str:
        return self.stdout.decode()


@pytest.fixture(scope="session")
def skopeo(tmp_path_factory, e2e_logs) -> Skopeo:
    binary = require_tool("skopeo")
    work = tmp_path_factory.mktemp("skopeo")
    auth = work / "auth.json"
    auth.write_text('{"auths": {}}')  # hermetic: ignore whatever the machine has stored
    tmp = work / "tmp"
    tmp.mkdir()
    return Skopeo(binary=binary, workdir=tmp, auth_file=auth, log_dir=e2e_logs)


# --------------------------------------------------------------------------- dockerd


@dataclass
class Docker:
    """The docker CLI bound to our private dockerd."""

    socket: Path
    config_dir: Path
    process: subprocess.Popen = field(repr=False)
    log_path: Path = field(repr=False)

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def env(self) -> dict[str, str]:
        return dict(os.environ, DOCKER_HOST=self.host, DOCKER_CONFIG=str(self.config_dir))

    def run(self, *args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
        cmd = [DOCKER_CLI, "-H", self.host, *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=self.env, check=False)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"docker failed (rc={proc.returncode}): {' '.join(cmd)}\n--- stdout\n"
                f"{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}\n"
                f"--- dockerd log tail\n{self.log_tail()}")
        return proc

    def login(self, stack: Stack, credentials: tuple[str, str] | None = None) -> None:
        """`docker login` to the stack as its admin, or as `credentials`. The
        arguments go to docker as a list, no shell: a robot's `robot$...` needs no
        quoting here (in a shell it does: 'robot$team+ci')."""
        creds = credentials or stack.credentials
        if creds:
            proc = subprocess.run(
                [DOCKER_CLI, "-H", self.host, "login", "--username", creds[0], "--password-stdin",
                 stack.host], input=creds[1], capture_output=True, text=True, env=self.env,
                timeout=60, check=False)
            assert proc.returncode == 0, (f"docker login {stack.host} as {creds[0]} failed: "
                                          f"{proc.stderr}\n--- dockerd log tail\n{self.log_tail()}")

    def logout(self, stack: Stack) -> None:
        self.run("logout", stack.host)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@pytest.fixture(scope="session")
def dockerd():
    """A private dockerd (vfs storage, no networking setup) on a socket of our own."""
    daemon = require_tool("dockerd")
    require_tool(DOCKER_CLI)
    # A short path: unix socket paths are limited to ~108 bytes.
    root = Path(tempfile.mkdtemp(prefix="berth-dockerd-", dir="/tmp"))
    socket_path = root / "docker.sock"
    config_dir = root / "config"
    config_dir.mkdir()
    (config_dir / "config.json").write_text('{"auths": {}}')
    log_path = root / "dockerd.log"
    cmd = [daemon, "--storage-driver=vfs", "--iptables=false", "--ip6tables=false",
           "--bridge=none", f"--host=unix://{socket_path}", f"--data-root={root / 'root'}",
           f"--exec-root={root / 'exec'}", f"--pidfile={root / 'pid'}"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    docker = Docker(socket=socket_path, config_dir=config_dir, process=proc, log_path=log_path)

    def answers() -> bool:
        return socket_path.exists() and subprocess.run(
            [DOCKER_CLI, "-H", docker.host, "info"], capture_output=True, env=docker.env, timeout=30, check=False
        ).returncode == 0

    try:
        _wait_until_ready("dockerd", proc, cmd, DOCKERD_READY_TIMEOUT, docker.log_tail, answers)
        yield docker
    finally:
        _kill_group(proc, grace=30)
        shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- containerd


# Plugins a private containerd that only pulls, pushes and unpacks does not need: CRI,
# snapshotters other than `native` (overlayfs may not work here; the others are
# never configured), the `opt` plugin (it would create /var/lib/containerd/opt),
# and everything that runs containers (runtimes, tasks, cgroups monitor, restart).
_CONTAINERD_DISABLED_PLUGINS = (
    "io.containerd.grpc.v1.cri",
    "io.containerd.internal.v1.opt",
    "io.containerd.snapshotter.v1.aufs",
    "io.containerd.snapshotter.v1.btrfs",
    "io.containerd.snapshotter.v1.devmapper",
    "io.containerd.snapshotter.v1.zfs",
    "io.containerd.snapshotter.v1.overlayfs",
    "io.containerd.runtime.v1.linux",
    "io.containerd.runtime.v2.task",
    "io.containerd.service.v1.tasks-service",
    "io.containerd.grpc.v1.tasks",
    "io.containerd.monitor.v1.cgroups",
    "io.containerd.internal.v1.restart",
)
# ctr's progress display (stdout, redrawn) and its --debug log (stderr) are long;
# failure messages keep the lines that say what went wrong.
_CTR_NOISE = re.compile(r"level=debug|\|\S*[+-]{3,}|^\s*elapsed:")


@dataclass
class CtrResult:
    returncode: int
    stdout: str
    stderr: str
    log: Path

    @property
    def error_lines(self) -> str:
        """stderr without the --debug chatter: containerd's own error lines."""
        return "\n".join(line for line in self.stderr.splitlines() if "level=debug" not in line)


@dataclass
class Containerd:
    """ctr bound to our private containerd (its own socket, namespace `berth`,
    snapshotter `native`). ctr runs the resolver (containerd/remotes/docker) itself:
    it talks to the registry, the daemon stores content, images and snapshots."""

    socket: Path
    process: subprocess.Popen = field(repr=False)
    log_path: Path = field(repr=False)
    log_dir: Path = field(repr=False)
    namespace: str = "berth"
    snapshotter: str = "native"
    _count: int = 0

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CONTAINERD_")}
        env["CONTAINERD_SNAPSHOTTER"] = self.snapshotter  # also for `images check`
        return env

    def user_args(self, stack: Stack,
                  credentials: tuple[str, str] | tuple[()] | None = None) -> list[str]:
        """`--user name:password` for the stack's admin, or `credentials`; nothing
        for ANONYMOUS."""
        creds = stack.credentials if credentials is None else credentials
        return ["--user", f"{creds[0]}:{creds[1]}"] if creds else []

    def run(self, *args: str, check: bool = True, timeout: float = 300) -> CtrResult:
        """`ctr --debug` against our daemon; the full output goes to a log file (the
        debug log names every registry request and its answer, no Authorization
        header). Passwords given with --user are masked in logs and messages."""
        self._count += 1
        cmd = [CTR, "--debug", "--address", str(self.socket), "--namespace", self.namespace, *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                              env=self.env, check=False)
        shown = " ".join(_mask_user(cmd))
        log = self.log_dir / f"ctr-{self._count:03d}-{'-'.join(args[:2])}.log"
        log.write_text(f"$ {shown}\nrc={proc.returncode}\n--- stdout\n{proc.stdout}\n"
                       f"--- stderr\n{proc.stderr}")
        result = CtrResult(returncode=proc.returncode, stdout=proc.stdout, stderr=proc.stderr, log=log)
        if check and proc.returncode != 0:
            out = "\n".join(line for line in proc.stdout.splitlines() if not _CTR_NOISE.search(line))
            raise AssertionError(
                f"ctr failed (rc={proc.returncode}): {shown}\nfull log: {log}\n"
                f"--- stderr (without debug lines)\n{result.error_lines[-3000:]}\n"
                f"--- stdout (without progress)\n{out[-2000:]}\n"
                f"--- containerd log tail\n{self.log_tail()}")
        return result

    def content(self, digest: str) -> bytes:
        """A blob's bytes from the daemon's content store (`ctr content get`)."""
        cmd = [CTR, "--address", str(self.socket), "--namespace", self.namespace,
               "content", "get", digest]
        proc = subprocess.run(cmd, capture_output=True, timeout=60, env=self.env, check=False)
        assert proc.returncode == 0, f"{' '.join(cmd)}: {proc.stderr.decode(errors='replace')}"
        return proc.stdout

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


def _mask_user(cmd: list[str]) -> list[str]:
    masked = list(cmd)
    for i, arg in enumerate(masked[:-1]):
        if arg in ("--user", "-u") and ":" in masked[i + 1]:
            masked[i + 1] = masked[i + 1].split(":", 1)[0] + ":***"
    return masked


@pytest.fixture(scope="session")
def containerd(e2e_logs):
    """A private containerd (never the host's socket): its own config, root, state and
    sockets in a temporary directory, only the plugins pulling and pushing need."""
    daemon = require_tool(CONTAINERD)
    require_tool(CTR)
    # A short path: unix socket paths are limited to ~108 bytes.
    root = Path(tempfile.mkdtemp(prefix="berth-containerd-", dir="/tmp"))
    socket_path = root / "containerd.sock"
    config = root / "config.toml"
    disabled = ", ".join(f'"{name}"' for name in _CONTAINERD_DISABLED_PLUGINS)
    config.write_text(
        "version = 2\n"
        f'root = "{root / "root"}"\n'
        f'state = "{root / "state"}"\n'
        f"disabled_plugins = [{disabled}]\n"
        "[grpc]\n"
        f'  address = "{socket_path}"\n'
        "[ttrpc]\n"
        f'  address = "{root / "containerd.sock.ttrpc"}"\n'
        "[debug]\n"
        '  level = "debug"\n')
    log_path = e2e_logs / "containerd.log"
    cmd = [daemon, "--config", str(config)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    ctr = Containerd(socket=socket_path, process=proc, log_path=log_path, log_dir=e2e_logs)

    def answers() -> bool:
        return socket_path.exists() and subprocess.run(
            [CTR, "--address", str(socket_path), "version"], capture_output=True, env=ctr.env, timeout=30, check=False
        ).returncode == 0

    try:
        _wait_until_ready("containerd", proc, cmd, CONTAINERD_READY_TIMEOUT, ctr.log_tail, answers)
        yield ctr
    finally:
        _kill_group(proc, grace=30)
        shutil.rmtree(root, ignore_errors=True)


# --------------------------------------------------------------------------- oras


@pytest.fixture(scope="session")
def oras_client():
    """A factory: `oras_client(stack)` gives an oras SDK client for that stack, as its
    admin; `oras_client(stack, (user, password))` as someone else, and
    `oras_client(stack, ANONYMOUS)` without credentials. Its auth backend is
    tests/e2e/oras_auth.py's ScopeAwareTokenAuth (see there why)."""
    from tests.e2e.oras_auth import make_client

    def make(stack: Stack, credentials: tuple[str, str] | tuple[()] | None = None):
        creds = stack.credentials if credentials is None else credentials
        return make_client(stack.host, tuple(creds) if creds else None)

    return make


# --------------------------------------------------------------------------- reports


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        for name in ("stack", "limited_stack"):
            stack = funcargs.get(name)
            if isinstance(stack, Stack):
                state = "running" if stack.alive() else f"exited {stack.process.returncode}"
                report.sections.append(
                    (f"{name} log tail ({state}; full log {stack.log_path})", stack.log_tail()))
