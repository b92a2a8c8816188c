"""skopeo copy, timed: push an OCI layout to a registry, pull it back into a new layout."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.util import run

SKOPEO = "skopeo"


def push(image: Any, registry: Any, repo: str, tag: str = "1") -> float:
    """Seconds for `skopeo copy oci:<layout>:<tag> docker://<host>/<repo>:<tag>`."""
    cmd = [SKOPEO, "copy", "--quiet", "--dest-tls-verify=false"]
    if registry.creds:
        cmd.append(f"--dest-creds={registry.creds}")
    cmd += [image.ref, f"docker://{registry.host}/{repo}:{tag}"]
    seconds, _ = run(cmd)
    return seconds


def pull(registry: Any, repo: str, dest: Path, tag: str = "1") -> float:
    """Seconds for `skopeo copy docker://<host>/<repo>:<tag> oci:<dest>:<tag>` into an empty layout."""
    cmd = [SKOPEO, "copy", "--quiet", "--src-tls-verify=false"]
    if registry.creds:
        cmd.append(f"--src-creds={registry.creds}")
    cmd += [f"docker://{registry.host}/{repo}:{tag}", f"oci:{dest}:{tag}"]
    seconds, _ = run(cmd)
    return seconds


def verify(dest: Path, image: Any, tag: str = "1") -> None:
    """The pulled layout holds exactly the pushed image (every blob's digest and size checked)."""
    from tests.e2e.images import read_oci_layout

    got = read_oci_layout(dest, tag)
    if got.manifest_digest != image.manifest_digest or got.layer_digests != image.layer_digests:
        raise RuntimeError(f"{dest}: pulled {got.manifest_digest}, pushed {image.manifest_digest}")


def version() -> str:
    _, out = run([SKOPEO, "--version"])
    return out.stdout.strip()


COMMANDS = [
    "skopeo copy --quiet --dest-tls-verify=false [--dest-creds=admin:<password>] oci:<layout>:latest docker://<host>/<repo>:1",
    "skopeo copy --quiet --src-tls-verify=false [--src-creds=admin:<password>] docker://<host>/<repo>:1 oci:<new dir>:1",
]
