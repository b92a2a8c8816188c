"""Small helpers shared by the sections: timing, statistics, processes, ports."""
from __future__ import annotations

import math
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MiB = 1024 * 1024


def log(message: str) -> None:
    """Progress goes to stderr, so stdout can carry a report."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def fmt_s(seconds: float) -> str:
    if math.isnan(seconds):
        return "n/a"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.2f} s"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@contextmanager
def temp_dir(prefix: str = "berth-bench-") -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def run(cmd: Sequence[str], *, timeout: float = 600, env: dict | None = None) -> tuple[float, subprocess.CompletedProcess]:
    """Run a command, return (wall seconds, result); raise with its output on failure."""
    start = time.perf_counter()
    out = subprocess.run(list(cmd), check=False, capture_output=True, text=True, timeout=timeout, env=env)
    elapsed = time.perf_counter() - start
    if out.returncode != 0:
        raise CommandFailed(cmd, out)
    return elapsed, out


class CommandFailed(RuntimeError):
    def __init__(self, cmd: Sequence[str], out: subprocess.CompletedProcess):
        self.cmd, self.out = list(cmd), out
        shown = " ".join(_redact(c) for c in cmd)
        super().__init__(f"{shown} exited {out.returncode}: {(out.stderr or out.stdout).strip()[-2000:]}")


def _redact(arg: str) -> str:
    # credentials travel as user:password in --src-creds/--dest-creds
    return arg.split(":", 1)[0] + ":***" if arg.startswith("admin:") else arg


def stop_process(proc: subprocess.Popen, timeout: float = 15) -> None:
    """SIGTERM the process we started (by its pid), then SIGKILL if it lingers."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


def python() -> str:
    """The interpreter running the benchmark (the project's venv under `make bench`)."""
    return sys.executable


def repo_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env
