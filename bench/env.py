"""What the numbers were measured on."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata

from bench.util import ROOT


def _first(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=20, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired):
        return "n/a"
    text = (out.stdout or out.stderr).strip()
    return text.splitlines()[0] if text else "n/a"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "n/a"


def _memory() -> str:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal"):
                    return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "n/a"


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def collect() -> dict[str, str]:
    dirty = _first(["git", "status", "--porcelain"])
    changed = 0
    try:
        changed = len(subprocess.run(["git", "status", "--porcelain"], check=False, capture_output=True, text=True,
                                     cwd=ROOT, timeout=20).stdout.splitlines())
    except (OSError, subprocess.TimeoutExpired):
        pass
    return {
        "CPUs (os.cpu_count)": str(os.cpu_count()),
        "usable CPUs (sched_getaffinity)": str(len(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else "n/a",
        "CPU model": _cpu_model(),
        "memory": _memory(),
        "OS": f"{platform.system()} {platform.release()} ({platform.machine()})",
        "Python": sys.version.split()[0],
        "boto3 / botocore": f"{_version('boto3')} / {_version('botocore')}",
        "chalice": _version("chalice"),
        "moto": _version("moto"),
        "aws-lambda-powertools": _version("aws-lambda-powertools"),
        "skopeo": _first(["skopeo", "--version"]),
        "distribution": _first(["/usr/bin/docker-registry", "--version"]),
        "git commit": _first(["git", "rev-parse", "--short", "HEAD"])
        + (f" plus {changed} uncommitted changes in the working tree" if dirty not in ("", "n/a") else ""),
    }


def render(info: dict[str, str]) -> str:
    return "\n".join(["| | |", "| --- | --- |", *(f"| {k} | {v} |" for k, v in info.items())])
