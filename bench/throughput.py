"""Section 1: skopeo push and pull, side by side in one run: Berth's local stack, the CNCF
distribution registry with its S3 driver on the same moto server (the fair peer: both pay
moto), and the CNCF registry on local disk (the floor).

Every run builds two fresh images (random bytes, so no registry or client cache can skip
an upload), pushes each to every registry under a fresh repository name, and pulls it
back into an empty OCI layout, which is then verified blob by blob. The registries' order
rotates between runs. Reported: medians over the runs, and Berth's ratio to each peer.

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
DISK, S3, BERTH = "distribution", "distribution-s3", "berth"
REGISTRIES = (BERTH, S3, DISK)
# issue 12's targets: (image, peer, at most this ratio of Berth's push+pull time to the peer's)
TARGETS = ((BIG, S3, 0.5), (BIG, DISK, 1.5), (SMALL, DISK, 2.0))


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
    with Distribution(workdir / "distribution") as dist, Distribution(workdir / "distribution-s3", s3_endpoint=berth.moto) as dist_s3:
        registries = [berth, dist_s3, dist]
        for registry in registries:
            _warm_up(workdir / f"warmup-{registry.name}", registry)
        for k in range(runs):
            run_dir = workdir / f"run{k}"
            images = build(run_dir / "images", sizes)
            for label, image in images.items():
                image_bytes[label] = sum(layer.size for layer in image.layers) + len(image.config)
            order = registries[k % 3 :] + registries[: k % 3]
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


def target_ratio(result: dict, image: str = BIG, peer: str = DISK) -> float:
    """Berth's push+pull time over the peer's, medians."""
    t = result["timings"]
    return ratio(t.median(BERTH, image, "push+pull"), t.median(peer, image, "push+pull"))


def targets(result: dict) -> list[tuple[str, float, float, bool]]:
    """(what, measured ratio, target, met) for each of issue 12's throughput targets."""
    out = []
    for image, peer, limit in TARGETS:
        r = target_ratio(result, image, peer)
        peer_name = "the CNCF registry on the same moto S3" if peer == S3 else "the CNCF registry on local disk"
        out.append((f"{image}: push+pull at most {limit} × {peer_name}", r, limit, r <= limit))
    return out


def render(result: dict) -> str:
    t: Timings = result["timings"]
    lines = [
        f"Medians over {result['runs']} runs (wall time of each `skopeo copy`).",
        "",
        ("| image | operation | distribution, local disk | distribution, S3 on moto | Berth (local stack) "
         "| Berth / disk | Berth / S3 peer |"),
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for image in (BIG, SMALL):
        size = result["image_bytes"].get(image, 0) / 1e6
        for op in ("push", "pull", "push+pull"):
            d, s3, b = (t.median(r, image, op) for r in (DISK, S3, BERTH))
            lines.append(f"| {image} ({size:.1f} MB) | {op} | {fmt_s(d)} | {fmt_s(s3)} | {fmt_s(b)} "
                         f"| {ratio(b, d):.2f} | {ratio(b, s3):.2f} |")
    lines += ["", "Targets (push+pull, medians):", ""]
    for what, r, limit, met in targets(result):
        lines.append(f"- {what}: measured {r:.2f} × — {'met' if met else '**missed**'}")
    lines += ["", "Every run (seconds, push / pull):", "",
              "| image | registry | " + " | ".join(f"run {i + 1}" for i in range(result["runs"])) + " |",
              "| --- | --- |" + " ---: |" * result["runs"]]
    for image in (BIG, SMALL):
        for registry in (DISK, S3, BERTH):
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
