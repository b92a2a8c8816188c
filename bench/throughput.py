"""Section 1: skopeo push and pull against the CNCF distribution registry and Berth's local stack.

Every run builds two fresh images (random bytes, so no registry or client cache can skip
an upload), pushes each to both registries under a fresh repository name, and pulls it
back into an empty OCI layout, which is then verified blob by blob. The order of the two
registries alternates between runs. Reported: medians over the runs, and the ratio
Berth / distribution.

Then one push and pull of each image against a second, instrumented stack
(bench.probe_stack) says where Berth's time goes: inside the handlers, in AWS (moto)
calls, or elsewhere (skopeo, HTTP, the gateway).
"""
from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import skopeo
from bench.servers import BerthStack, Distribution
from bench.util import MiB, fmt_s, log, median, ratio

BIG = "50 MB, 3 layers"
SMALL = "30 small layers"


def image_sizes(quick: bool) -> dict[str, list[int]]:
    return {BIG: [16 * MiB] * 3, SMALL: [32 * 1024] * 30}


@dataclass
class Timings:
    # registry -> image -> "push" | "pull" -> seconds per run
    data: dict[str, dict[str, dict[str, list[float]]]] = field(default_factory=dict)

    def add(self, registry: str, image: str, op: str, seconds: float) -> None:
        self.data.setdefault(registry, {}).setdefault(image, {}).setdefault(op, []).append(seconds)

    def runs(self, registry: str, image: str, op: str) -> list[float]:
        per = self.data.get(registry, {}).get(image, {})
        if op == "push+pull":
            return [a + b for a, b in zip(per.get("push", []), per.get("pull", []))]
        return per.get(op, [])

    def median(self, registry: str, image: str, op: str) -> float:
        return median(self.runs(registry, image, op))


def build(root: Path, sizes: dict[str, list[int]]) -> dict[str, Any]:
    from tests.e2e.images import build_oci_layout

    return {label: build_oci_layout(root / f"img{i}", layer_sizes, tag="latest")
            for i, (label, layer_sizes) in enumerate(sizes.items())}


def run(workdir: Path, berth: BerthStack, runs: int, quick: bool = False) -> dict:
    sizes = image_sizes(quick)
    timings = Timings()
    image_bytes: dict[str, int] = {}
    with Distribution(workdir / "distribution") as dist:
        for registry in (dist, berth):
            _warm_up(workdir / f"warmup-{registry.name}", registry)
        for k in range(runs):
            run_dir = workdir / f"run{k}"
            images = build(run_dir / "images", sizes)
            for label, image in images.items():
                image_bytes[label] = sum(layer.size for layer in image.layers) + len(image.config)
            order = [dist, berth] if k % 2 == 0 else [berth, dist]
            for registry in order:
                for index, (label, image) in enumerate(images.items()):
                    repo = f"library/tp{index}-run{k}"
                    timings.add(registry.name, label, "push", skopeo.push(image, registry, repo))
                    dest = run_dir / f"pull-{registry.name}-{index}"
                    timings.add(registry.name, label, "pull", skopeo.pull(registry, repo, dest))
                    skopeo.verify(dest, image)
                    shutil.rmtree(dest)
            shutil.rmtree(run_dir)
            log("throughput: run {}/{}: {}".format(k + 1, runs, ", ".join(
                f"{r} {img[:6]} {fmt_s(timings.data[r][img]['push'][-1])}/{fmt_s(timings.data[r][img]['pull'][-1])}"
                for r in timings.data for img in timings.data[r])))
    breakdown = _breakdown(workdir / "probe", sizes)
    return {"timings": timings, "runs": runs, "image_bytes": image_bytes, "breakdown": breakdown}


def _warm_up(workdir: Path, registry: Any) -> None:
    """One untimed push and pull of a tiny image: the timed runs then meet a registry that has
    served requests (for Berth, a warm container: secrets and configuration loaded)."""
    image = build(workdir, {"warm-up": [1024]})["warm-up"]
    skopeo.push(image, registry, "library/warm-up")
    skopeo.pull(registry, "library/warm-up", workdir / "pulled")
    shutil.rmtree(workdir)


def _breakdown(workdir: Path, sizes: dict[str, list[int]]) -> dict:
    """One push and one pull of each image against the instrumented stack (warmed up first)."""
    log("throughput: one more push and pull on the instrumented stack (bench.probe_stack)")
    out = {}
    with BerthStack(workdir, probe=True) as stack:
        images = build(workdir / "images", sizes)
        _warm_up(workdir / "warm-up", stack)
        stack.probe()
        for index, (label, image) in enumerate(images.items()):
            repo = f"library/probe{index}"
            wall = skopeo.push(image, stack, repo)
            out[(label, "push")] = {"wall": wall, **stack.probe()}
            dest = workdir / f"pull{index}"
            wall = skopeo.pull(stack, repo, dest)
            out[(label, "pull")] = {"wall": wall, **stack.probe()}
            skopeo.verify(dest, image)
    return out


def target_ratio(result: dict) -> float:
    t = result["timings"]
    return ratio(t.median("berth", BIG, "push+pull"), t.median("distribution", BIG, "push+pull"))


def render(result: dict) -> str:
    t: Timings = result["timings"]
    lines = [
        f"Medians over {result['runs']} runs (wall time of each `skopeo copy`).",
        "",
        "| image | operation | distribution | Berth (local stack) | Berth / distribution |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for image in (BIG, SMALL):
        size = result["image_bytes"].get(image, 0) / 1e6
        for op in ("push", "pull", "push+pull"):
            d, b = t.median("distribution", image, op), t.median("berth", image, op)
            lines.append(f"| {image} ({size:.1f} MB) | {op} | {fmt_s(d)} | {fmt_s(b)} | {ratio(b, d):.2f} |")
    lines += ["", "Every run (seconds, push / pull):", "",
              "| image | registry | " + " | ".join(f"run {i + 1}" for i in range(result["runs"])) + " |",
              "| --- | --- |" + " ---: |" * result["runs"]]
    for image in (BIG, SMALL):
        for registry in ("distribution", "berth"):
            cells = [f"{a:.2f} / {b:.2f}" for a, b in zip(t.runs(registry, image, "push"), t.runs(registry, image, "pull"))]
            lines.append(f"| {image} | {registry} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_breakdown(result: dict) -> str:
    lines = [
        "| image | operation | wall | in Berth's handlers | in AWS (moto) calls | requests (count, handler time) | AWS calls (count, time) |",
        "| --- | --- | ---: | ---: | ---: | --- | --- |",
    ]
    for (image, op), data in result["breakdown"].items():
        handler = sum(v["seconds"] for v in data["requests"].values())
        aws = sum(v["seconds"] for v in data["aws"].values())
        requests = ", ".join(f"{k} ×{v['count']} {v['seconds'] * 1000:.0f} ms"
                             for k, v in sorted(data["requests"].items(), key=lambda kv: -kv[1]["seconds"]))
        calls = ", ".join(f"{k} ×{v['calls']} {v['seconds'] * 1000:.0f} ms"
                          for k, v in sorted(data["aws"].items(), key=lambda kv: -kv[1]["seconds"]))
        lines.append(f"| {image} | {op} | {fmt_s(data['wall'])} | {fmt_s(handler)} | {fmt_s(aws)} "
                     f"| {requests or '-'} | {calls or '-'} |")
    return "\n".join(lines)
