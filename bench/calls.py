"""Section 2: AWS calls per registry operation, counted exactly (botocore events), in-process.

Each operation is replayed as the requests a client sends (skopeo's sequence, with one HEAD
per blob where skopeo sends two), through the real Chalice handler and upload host, on moto.
"Warm" runs in a container that has served a request before; "cold" in a new one.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.inproc import InProcessRegistry, Tally, bearer, blobs_of
from bench.util import MiB, log, temp_dir

S3_PUT_LIMIT = 5 * 1024**3  # the largest single PutObject


@dataclass
class Row:
    operation: str
    image: str
    warm: Tally
    cold: Tally | None
    minimum: int
    why: str
    requests: str


def image_specs(quick: bool) -> dict[str, list[int]]:
    """The images of the throughput section (sizes of the layers)."""
    big = [16 * MiB] * 3 if not quick else [6 * MiB] * 3
    return {"3 layers, random": big, "30 small layers": [32 * 1024] * 30}


def build_images(root: Path, specs: dict[str, list[int]]) -> dict[str, Any]:
    from tests.e2e.images import build_oci_layout

    return {label: build_oci_layout(root / f"img{i}", sizes, tag="latest") for i, (label, sizes) in enumerate(specs.items())}


def run(quick: bool = False) -> dict:
    log("calls: AWS calls per operation, in-process on moto")
    rows: list[Row] = []
    with temp_dir() as tmp:
        images = build_images(tmp, image_specs(quick))
        with InProcessRegistry() as reg:
            rows += _token_rows(reg)
            for index, (label, image) in enumerate(images.items()):
                rows += _image_rows(reg, f"library/calls{index}", label, image)
            rows += _misc_rows(reg, "library/calls0")
            rows += _pull_recording_rows(reg, "library/calls0")
            steps = _blob_steps(reg, "library/steps", quick)
            sizes = {label: (len(img.layers), sum(layer.size for layer in img.layers)) for label, img in images.items()}
    return {"rows": rows, "images": sizes, "steps": steps}


def _blob_steps(reg: InProcessRegistry, name: str, quick: bool) -> list[tuple[str, str, Tally]]:
    """The calls of each request of one blob upload, for a small and a multipart-sized blob."""
    import hashlib
    import os

    out = []
    auth = bearer(reg.token(f"repository:{name}:pull,push"))
    for label, size in (("32 KiB blob", 32 * 1024), (f"{(6 if quick else 16)} MiB blob", (6 if quick else 16) * MiB)):
        data = os.urandom(size)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        with reg.counter.measure() as t:
            reg.request("HEAD", f"/v2/{name}/blobs/{digest}", headers=auth)
        out.append((label, "HEAD blob (404)", t))
        with reg.counter.measure() as t:
            start = reg.request("POST", f"/v2/{name}/blobs/uploads/", headers=auth)
        out.append((label, "POST upload", t))
        with reg.counter.measure() as t:
            patch = reg.request("PATCH", start.headers["location"], data, {"Content-Type": "application/octet-stream"})
        out.append((label, "PATCH (whole blob)", t))
        with reg.counter.measure() as t:
            done = reg.request("PUT", f"{patch.headers['location']}&digest={digest}", b"", {})
        out.append((label, "PUT ?digest=", t))
        _ok(done)
        with reg.counter.measure() as t:
            reg.request("HEAD", f"/v2/{name}/blobs/{digest}", headers=auth)
        out.append((label, "HEAD blob (307)", t))
        with reg.counter.measure() as t:
            reg.request("GET", f"/v2/{name}/blobs/{digest}", headers=auth)
        out.append((label, "GET blob (307)", t))
    return out


def _token_rows(reg: InProcessRegistry) -> list[Row]:
    scope = "repository:library/calls0:pull"
    reg.new_container()
    with reg.counter.measure() as cold:
        reg.token(scope)
    with reg.counter.measure() as warm:
        reg.token(scope)
    return [Row("token issue (Basic, one repository scope)", "-", warm, cold, 1,
                "the user's password hash and their role in the project must be read: user, project and "
                "member items fit one BatchGetItem; the signing key is kept per container",
                "GET /v2/service/token")]


def _image_rows(reg: InProcessRegistry, name: str, label: str, image: Any) -> list[Row]:
    n = len(image.layers)
    blobs = n + 1
    scope_push = f"repository:{name}:pull,push"
    scope_pull = f"repository:{name}:pull"
    rows = []

    reg.new_container()
    reg.token(scope_pull)  # warm the container (secrets, runtime configuration)
    with reg.counter.measure() as push:
        auth = bearer(reg.token(scope_push))
        reg.push_image(name, "1", image, auth)
    bytes_writes = sum(_min_writes(layer.size) for layer in image.layers) + _min_writes(len(image.config))
    rows.append(Row(
        f"push of a new {n}-layer image", label, push, None, 1 + 2 * blobs + bytes_writes + 3,
        f"token 1; per blob ({blobs} with the config): HEAD 1 GetItem, the bytes written once "
        "(one PutObject when the client sends Content-Length), one TransactWriteItems for link + blob "
        "record, with the upload state carried in the signed upload URL (no session item); "
        "manifest PUT: 1 BatchGetItem for the references + 1 TransactWriteItems, and 1 write of the push's "
        "audit entry (Harbor's audit log)",
        f"token, {blobs} × (HEAD, POST, PATCH, PUT), PUT manifest"))

    with reg.counter.measure() as again:
        auth = bearer(reg.token(scope_push))
        for digest, _ in blobs_of(image):
            reply = reg.request("HEAD", f"/v2/{name}/blobs/{digest}", headers=auth)
            assert reply.status == 307, reply
        reg.put_manifest(name, "2", image, auth)
    rows.append(Row(
        f"push of a {n}-layer image whose blobs all exist", label, again, None, 1 + blobs + 3,
        "token 1; HEAD per blob 1 GetItem each; manifest PUT: 1 BatchGetItem + 1 TransactWriteItems + 1 audit entry",
        f"token, {blobs} × HEAD, PUT manifest"))

    with reg.counter.measure() as warm:
        auth = bearer(reg.token(scope_pull))
        reg.pull_image(name, "1", auth)
    reg.new_container()
    with reg.counter.measure() as cold:
        auth = bearer(reg.token(scope_pull))
        reg.pull_image(name, "1", auth)
    rows.append(Row(
        f"pull by tag of a {n}-layer image (token included)", label, warm, cold, n + 3,
        "token 1; manifest by tag 1 GetItem (the tag item carries the manifest); config and each layer "
        "1 GetItem each for the repository link; presigning is local",
        f"token, GET manifest, {blobs} × GET blob (307)"))
    return rows


def _misc_rows(reg: InProcessRegistry, name: str) -> list[Row]:
    rows = []
    auth = bearer(reg.token(f"repository:{name}:pull"))
    catalog = bearer(reg.token("registry:catalog:*"))
    cases = [
        ("tag list page (n=100)", "GET", f"/v2/{name}/tags/list?n=100", auth, 1,
         "one Query on the repository's partition, T# range, Limit n+1"),
        ("catalog page (n=100), as admin", "GET", "/v2/_catalog?n=100", catalog, 1,
         "one Query on the CATALOG partition, Limit n+1, for a caller who sees every project"),
        ("manifest HEAD by tag", "HEAD", f"/v2/{name}/manifests/1", auth, 1, "one GetItem of the tag item"),
        ("ping with a token (GET /v2/)", "GET", "/v2/", auth, 0, "the JWT is verified with the public key"),
    ]
    for label, method, url, headers, minimum, why in cases:
        reg.new_container()
        with reg.counter.measure() as cold:
            _ok(reg.request(method, url, headers=headers))
        with reg.counter.measure() as warm:
            _ok(reg.request(method, url, headers=headers))
        rows.append(Row(label, "-", warm, cold, minimum, why, f"{method} {url.split('?')[0].replace(name, '<name>')}"))
    return rows


def _pull_recording_rows(reg: InProcessRegistry, name: str, pulls: int = 50) -> list[Row]:
    """What the pulls' log lines cost when the subscription delivers them to record_pulls
    (chalicelib/pulls.py): a batch of `pulls` pulls of one tag."""
    import logging

    from devstack.log_subscription import PullLineCollector, subscription_event

    auth = bearer(reg.token(f"repository:{name}:pull"))
    collector = PullLineCollector()
    logging.getLogger("berth.pulls").addHandler(collector)
    try:
        for _ in range(pulls):
            _ok(reg.request("GET", f"/v2/{name}/manifests/1", headers=auth))
    finally:
        logging.getLogger("berth.pulls").removeHandler(collector)
    event = subscription_event(collector.take())
    with reg.counter.measure() as warm:
        recorded = reg.app_module.record_pulls(event, None)["recorded"]
    if recorded != pulls:
        raise RuntimeError(f"record_pulls recorded {recorded} of {pulls} pulls")
    minimum = math.ceil(pulls / 25) + 3
    return [Row(
        f"recording {pulls} pulls of one tag (record_pulls, off the request path)", "-", warm, None, minimum,
        "1 outbox item per pull (its artifact.pulled event; the audit consumer enters it) in BatchWriteItem "
        "calls of 25; "
        "one UpdateItem each for the repository's pull count, the artifact's and the tag's last pull time",
        f"{pulls} pull lines in one subscription batch")]


def _min_writes(size: int) -> int:
    return max(1, math.ceil(size / S3_PUT_LIMIT))


def _ok(reply: Any) -> None:
    if reply.status >= 300:
        raise RuntimeError(f"{reply.status}: {reply.body[:300]!r}")


def render(result: dict) -> str:
    lines = [
        "| operation | image | calls, warm | calls, cold | minimum | met | AWS calls (warm) | cold adds |",
        "| --- | --- | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for r in result["rows"]:
        cold_total = str(r.cold.total) if r.cold else "-"
        adds = cold_adds(r) if r.cold else "-"
        met = "yes" if r.warm.total <= r.minimum else f"no (+{r.warm.total - r.minimum})"
        lines.append(f"| {r.operation} | {r.image} | {r.warm.total} | {cold_total} | {r.minimum} | {met} "
                     f"| {r.warm.describe()} | {adds} |")
    lines += ["", "Why each minimum:", ""]
    seen = set()
    for r in result["rows"]:
        key = r.operation.split(" of a")[0]
        if key in seen:
            continue
        seen.add(key)
        lines.append(f"- **{r.operation}** ({r.requests}): {r.why}.")
    return "\n".join(lines)


def cold_adds(row: Row) -> str:
    """The calls a cold container makes on top of the warm ones."""
    if row.cold is None:
        return "-"
    extra = row.cold.calls - row.warm.calls
    return ", ".join(f"{s}.{o}" + (f" ×{k}" if k > 1 else "") for (s, o), k in sorted(extra.items())) or "nothing"


def render_steps(result: dict) -> str:
    lines = ["| blob | request | calls | AWS calls |", "| --- | --- | ---: | --- |"]
    for label, step, tally in result["steps"]:
        lines.append(f"| {label} | {step} | {tally.total} | {tally.describe()} |")
    return "\n".join(lines)


def pull_rows(result: dict) -> list[Row]:
    return [r for r in result["rows"] if r.operation.startswith("pull by tag")]
