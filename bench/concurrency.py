"""Section 5: parallel skopeo pulls and pushes against the local stack, with no error allowed.

* pulls: one image pushed once, then pulled by P skopeo processes at the same time, each
  into its own empty layout, every layout verified blob by blob;
* pushes: Q fresh images (random content) pushed at the same time to Q repositories, then
  each pulled back and verified.

The same is run against the distribution registry for reference.
"""
from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench import skopeo
from bench.servers import Distribution
from bench.throughput import build
from bench.util import MiB, fmt_s, log, median


def plan(quick: bool) -> dict:
    return {
        "pulls": 4 if quick else 16,
        "pushes": 2 if quick else 4,
        "layers": [16 * MiB] * 3 if not quick else [4 * MiB] * 3,
    }


def run(workdir: Path, berth: Any, quick: bool = False) -> dict:
    p = plan(quick)
    out = {"plan": p, "results": {}}
    with Distribution(workdir / "distribution") as dist:
        for registry in (berth, dist):
            out["results"][registry.name] = _run_one(workdir / registry.name, registry, p)
    return out


def _run_one(workdir: Path, registry: Any, p: dict) -> dict:
    sizes = {"pull image": p["layers"]}
    image = build(workdir / "pull-image", sizes)["pull image"]
    repo = "library/conc-pull"
    skopeo.push(image, registry, repo)
    log(f"concurrency: {p['pulls']} parallel pulls from {registry.name}")
    pulls = _parallel(p["pulls"], lambda i: _pull(registry, repo, workdir / f"pull{i}", image))
    push_images = [build(workdir / f"push-image{i}", {"x": p["layers"]})["x"] for i in range(p["pushes"])]
    log(f"concurrency: {p['pushes']} parallel pushes to {registry.name}")
    pushes = _parallel(p["pushes"], lambda i: skopeo.push(push_images[i], registry, f"library/conc-push{i}"))
    errors = pulls["errors"] + pushes["errors"]
    for i, pushed in enumerate(push_images):  # what was pushed in parallel reads back intact
        dest = workdir / f"check{i}"
        try:
            skopeo.pull(registry, f"library/conc-push{i}", dest)
            skopeo.verify(dest, pushed)
        except Exception as exc:  # noqa: BLE001 - reported, not raised
            errors.append(f"read-back of conc-push{i}: {exc}")
    shutil.rmtree(workdir, ignore_errors=True)
    return {"pulls": pulls, "pushes": pushes, "errors": errors,
            "image_mb": (sum(layer.size for layer in image.layers) + len(image.config)) / 1e6}


def _pull(registry: Any, repo: str, dest: Path, image: Any) -> float:
    seconds = skopeo.pull(registry, repo, dest)
    skopeo.verify(dest, image)
    shutil.rmtree(dest)
    return seconds


def _parallel(n: int, job) -> dict:
    started = time.perf_counter()
    times, errors = [], []
    with ThreadPoolExecutor(max_workers=n) as pool:
        futures = [pool.submit(job, i) for i in range(n)]
        for future in futures:
            try:
                times.append(future.result())
            except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
                errors.append(str(exc)[:500])
    return {"wall": time.perf_counter() - started, "times": times, "errors": errors}


def render(result: dict) -> str:
    p = result["plan"]
    lines = [
        "| registry | operation | processes | image | wall, all done | median per process | slowest | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, r in result["results"].items():
        for op, count in (("pulls", p["pulls"]), ("pushes", p["pushes"])):
            data = r[op]
            slowest = max(data["times"]) if data["times"] else float("nan")
            lines.append(f"| {name} | parallel {op} | {count} | {r['image_mb']:.1f} MB | {fmt_s(data['wall'])} "
                         f"| {fmt_s(median(data['times']))} | {fmt_s(slowest)} | {len(data['errors'])} |")
    errors = [e for r in result["results"].values() for e in r["errors"]]
    if errors:
        lines += ["", "Errors:", ""] + [f"- `{e}`" for e in errors[:20]]
    return "\n".join(lines)


def berth_errors(result: dict) -> list[str]:
    return result["results"].get("berth", {}).get("errors", ["not run"])
