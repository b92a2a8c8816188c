"""Section 3: cold start of the Lambda handler against its floor, in fresh interpreters.

Each sample is a new ``python bench/coldstart_child.py MODE`` process, pointed at a
running local stack's moto (the first request reads the signing key from SSM there).
One untimed run of each mode first, so every sample finds the same warm file cache and
compiled bytecode (as a Lambda deployment package ships them). Modes alternate.
"""
from __future__ import annotations

import json
import re
import subprocess
from collections import defaultdict
from pathlib import Path

from bench.servers import BerthStack
from bench.util import ROOT, fmt_ms, log, median, python, ratio

CHILD = Path(__file__).with_name("coldstart_child.py")
MODES = ("floor", "ping", "token", "import")


def child_env(stack: BerthStack, token: str) -> dict[str, str]:
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "BERTH_"))}
    env.update({
        "PYTHONPATH": str(ROOT),
        "AWS_ENDPOINT_URL": stack.moto,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "BERTH_AUTH": "token",
        "BERTH_UPLOAD_URL": stack.upload,
        "BENCH_TOKEN": token,
        "BENCH_BASIC": stack.creds or "",
        **stack.env,
    })
    return env


def _sample(mode: str, env: dict, extra: tuple[str, ...] = ()) -> tuple[dict, str]:
    import time

    started = time.perf_counter()
    out = subprocess.run([python(), *extra, str(CHILD), mode], check=False, cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=120)
    wall = time.perf_counter() - started
    if out.returncode != 0:
        raise RuntimeError(f"cold start child ({mode}) failed: {out.stderr[-2000:]}")
    data = json.loads(out.stdout.strip().splitlines()[-1])
    data["process_wall"] = wall
    return data, out.stderr


def run(stack: BerthStack, repeats: int = 7) -> dict:
    log(f"coldstart: {repeats} fresh processes per mode")
    env = child_env(stack, stack.token("repository:library/cold:pull"))
    for mode in MODES:
        _sample(mode, env)  # untimed: bytecode compiled, files cached
    samples: dict[str, list[dict]] = defaultdict(list)
    for _ in range(repeats):
        for mode in MODES:
            samples[mode].append(_sample(mode, env)[0])
        samples["phases"].append(_sample("phases", env)[0])
    _, importtime = _sample("ping", env, ("-X", "importtime"))
    return {"samples": dict(samples), "repeats": repeats, "imports": parse_importtime(importtime)}


def parse_importtime(text: str) -> dict:
    """Self time by top-level package, split into `import app` (with interpreter start) and
    the first request (lazy imports); and the slowest single modules."""
    phase = "startup + import app"
    packages: dict[str, dict[str, int]] = {"startup + import app": defaultdict(int), "first request": defaultdict(int)}
    modules: list[tuple[int, int, str, str]] = []
    app_cumulative = 0
    for line in text.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
        if not found:
            continue
        self_us, cumulative_us, indent, name = int(found[1]), int(found[2]), len(found[3]), found[4]
        packages[phase][name.split(".")[0]] += self_us
        modules.append((self_us, cumulative_us, name, phase))
        if indent == 1 and name == "app":
            app_cumulative = cumulative_us
            phase = "first request"
    return {
        "packages": {p: sorted(v.items(), key=lambda kv: -kv[1]) for p, v in packages.items()},
        "modules": sorted(modules, reverse=True)[:15],
        "app_cumulative_us": app_cumulative,
    }


def summary(result: dict) -> dict[str, dict[str, float]]:
    out = {}
    for mode, samples in result["samples"].items():
        if mode == "phases":
            continue
        out[mode] = {key: median([s[key] for s in samples])
                     for key in ("imports", "first_request", "total", "process_wall", "maxrss_kb")}
    return out


def target_ratio(result: dict) -> tuple[float, float]:
    """(time ratio, memory ratio): the ping cold start against the floor."""
    s = summary(result)
    return ratio(s["ping"]["total"], s["floor"]["total"]), ratio(s["ping"]["maxrss_kb"], s["floor"]["maxrss_kb"])


def render(result: dict) -> str:
    s = summary(result)
    floor = s["floor"]
    labels = {
        "floor": "floor: import boto3 + chalice, create s3, dynamodb, ssm clients",
        "import": "`import app` only",
        "ping": "`import app` + first request: GET /v2/ with a Bearer token",
        "token": "`import app` + first request: token (Basic admin, scrypt check)",
    }
    lines = [
        f"Medians of {result['repeats']} fresh processes each.",
        "",
        ("| what | imports | first request | total in process | process wall (with interpreter start) "
        "| peak RSS | time / floor | RSS / floor |"),
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for mode in ("floor", "import", "ping", "token"):
        m = s[mode]
        lines.append(
            f"| {labels[mode]} | {fmt_ms(m['imports'])} | {fmt_ms(m['first_request'])} | {fmt_ms(m['total'])} "
            f"| {fmt_ms(m['process_wall'])} | {m['maxrss_kb'] / 1024:.1f} MiB "
            f"| {ratio(m['total'], floor['total']):.2f} | {ratio(m['maxrss_kb'], floor['maxrss_kb']):.2f} |"
        )
    return "\n".join(lines)


def phases(result: dict) -> list[tuple[str, float]]:
    samples = result["samples"].get("phases", [])
    if not samples:
        return []
    names = list(samples[0]["phases"])
    return [(name, median([s["phases"][name] for s in samples])) for name in names]


def render_phases(result: dict) -> str:
    rows = phases(result)
    s = summary(result)
    lines = ["The ping's first request, step by step (`bench/coldstart_child.py phases`, medians):", "",
             "| step | time |", "| --- | ---: |"]
    lines += [f"| {name} | {fmt_ms(seconds)} |" for name, seconds in rows]
    lines.append(f"| (the whole first request, for comparison) | {fmt_ms(s['ping']['first_request'])} |")
    return "\n".join(lines)


def render_imports(result: dict) -> str:
    imports = result["imports"]
    lines = [(f"`python -X importtime bench/coldstart_child.py ping`: `import app` takes "
             f"{imports['app_cumulative_us'] / 1000:.0f} ms cumulative. Self time by top-level package:"), "",
             "| phase | top packages (self time) |", "| --- | --- |"]
    for phase, items in imports["packages"].items():
        top = ", ".join(f"{name} {us / 1000:.0f} ms" for name, us in items[:10])
        total = sum(us for _, us in items) / 1000
        lines.append(f"| {phase} ({total:.0f} ms in all) | {top} |")
    lines += ["", "Slowest single modules (self time):", "", "| module | self | cumulative | phase |", "| --- | ---: | ---: | --- |"]
    for self_us, cumulative_us, name, phase in imports["modules"][:12]:
        lines.append(f"| {name} | {self_us / 1000:.1f} ms | {cumulative_us / 1000:.1f} ms | {phase} |")
    return "\n".join(lines)
