"""The first hour with Berth (issue 13), as a newcomer lives it with real clients:

- the data outlives a restart (and a crash) of the stack over the same folder;
- every command the banner prints works when copied as printed;
- `docker login` works through `--apigw-limits` (the deployment's challenge authorizer);
- one `docker pull` is one pull in the pull count and the audit log.
"""
from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import DOCKER_CLI, _start_stack
from tests.e2e.images import build_oci_layout
from tests.e2e.registry_http import describe

pytestmark = pytest.mark.e2e

running_stack = contextlib.contextmanager(_start_stack)


def wait_for(what: str, condition, timeout: float = 60.0):
    """Poll `condition()` until it returns something true; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not after {timeout:.0f} s", pytrace=False)
        time.sleep(0.2)


def management(stack, path: str) -> requests.Response:
    return requests.get(f"{stack.api}/v2/api/v2.0{path}", auth=stack.credentials, timeout=30)


def pull_count(stack, project: str, repository: str) -> int:
    reply = management(stack, f"/projects/{project}/repositories/{repository}")
    assert reply.status_code == 200, describe(reply)
    return reply.json()["pull_count"]


# ---------------------------------------------------------------- data that lasts


def push_oci(skopeo, stack, tmp_path: Path, name: str, tag: str, seed: int):
    layout = build_oci_layout(tmp_path / f"layout-{seed}", (64 * 1024, 3000), tag=tag, seed=seed)
    skopeo.run("copy", "--dest-tls-verify=false", *skopeo.creds_args(stack, "dest"),
               f"oci:{layout.path}:{tag}", f"docker://{stack.host}/{name}:{tag}")
    return layout


def test_the_data_outlives_a_restart_and_a_crash(skopeo, e2e_logs, tmp_path):
    data = tmp_path / "data"
    args = ["--data-dir", str(data)]
    with running_stack(args, e2e_logs, "restart-1") as first:
        password = first.credentials[1]
        before = push_oci(skopeo, first, tmp_path, "keep/app", "v1", seed=1301)
        assert "kept in" in first.log_tail() and str(data) in first.log_tail()
    # stopped with SIGTERM: everything is saved at shutdown

    with running_stack(args, e2e_logs, "restart-2") as second:
        assert second.credentials[1] == password, "the admin password changed across a restart"
        assert "restored" in second.log_tail()
        got = second.http().get_manifest("keep/app", "v1")
        assert got.status_code == 200, describe(got)
        assert got.headers["Docker-Content-Digest"] == before.manifest_digest
        out = tmp_path / "pulled"
        skopeo.run("copy", "--src-tls-verify=false", *skopeo.creds_args(second, "src"),
                   f"docker://{second.host}/keep/app:v1", f"oci:{out}:v1")
        index = json.loads((out / "index.json").read_text())
        assert index["manifests"][0]["digest"] == before.manifest_digest
        # the project created by the push is still there, with its member
        assert management(second, "/projects/keep").status_code == 200

        # a crash: the second push is on disk within seconds, then the stack is killed
        after = push_oci(skopeo, second, tmp_path, "keep/app", "v2", seed=1302)
        wait_for("the push saved to the data folder",
                 lambda: after.manifest_digest in (data / "dev" / "dynamodb.json").read_text())
        os.killpg(second.process.pid, signal.SIGKILL)
        second.process.wait(timeout=30)

    with running_stack(args, e2e_logs, "restart-3") as third:
        for tag, layout in (("v1", before), ("v2", after)):
            got = third.http().get_manifest("keep/app", tag)
            assert got.status_code == 200, describe(got)
            assert got.headers["Docker-Content-Digest"] == layout.manifest_digest

    with running_stack([*args, "--fresh"], e2e_logs, "restart-fresh") as fresh:
        assert management(fresh, "/projects/keep").status_code == 404
        assert fresh.credentials[1] != password  # a new admin, a new password
        assert (data / "dev.previous" / "dynamodb.json").exists()


# ---------------------------------------------------------------- the banner's commands


def banner_commands(stack) -> list[str]:
    lines = stack.log_tail(400).splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("Try it"))
    commands = []
    for line in lines[start + 1:]:
        if not line.startswith("    "):
            break
        commands.append(line.strip())
    return commands


def test_every_command_the_banner_prints_works_as_printed(stack, dockerd, tmp_path):
    commands = banner_commands(stack)
    assert any(c.startswith("docker login") for c in commands)
    assert any(c.startswith("docker push") for c in commands)
    assert any(c.startswith("skopeo copy") for c in commands)
    # a shell as the reader's: `docker` is the CLI that matches the private dockerd
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").symlink_to(DOCKER_CLI)
    auth = tmp_path / "containers-auth.json"
    auth.write_text('{"auths": {}}')
    env = dict(dockerd.env, PATH=f"{bin_dir}:{os.environ['PATH']}", REGISTRY_AUTH_FILE=str(auth))
    for command in commands:
        done = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=300, check=False)
        assert done.returncode == 0, f"$ {command}\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    got = stack.http().get_manifest("library/hello", "copy")
    assert got.status_code == 200, describe(got)


def test_a_busy_port_names_the_flag(stack):
    port = stack.api.rsplit(":", 1)[1]
    done = subprocess.run(
        [sys.executable, "-m", "devstack", "--api-port", port, "--upload-port", "0", "--moto-port", "0"],
        cwd=Path(__file__).resolve().parents[2], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1
    assert "--api-port" in done.stderr and f":{port}" in done.stderr, done.stderr


# ---------------------------------------------------------------- --apigw-limits


def test_docker_logs_in_and_pushes_through_apigw_limits(limited_stack, dockerd, tmp_path):
    # the challenge comes from the gateway response, unrenamed, as deployed
    ping = requests.get(f"{limited_stack.api}/v2/", timeout=30)
    assert ping.status_code == 401
    assert ping.headers["WWW-Authenticate"].startswith(f'Bearer realm="{limited_stack.api}/v2/service/token"')
    dockerd.login(limited_stack)
    remote = f"{limited_stack.host}/library/limited:1"
    (tmp_path / "hello.txt").write_text("through the limits\n")
    subprocess.run(f"tar -c hello.txt | {DOCKER_CLI} -H {dockerd.host} import - {remote}", shell=True,
                   cwd=tmp_path, env=dockerd.env, check=True, capture_output=True)
    dockerd.run("push", remote)
    dockerd.run("rmi", remote)
    dockerd.run("pull", remote)


# ---------------------------------------------------------------- pull counting


def settle_pulls(stack, name: str) -> None:
    """Wait until every pull made so far is recorded: the log subscription delivers
    lines in order, so once a later pull of `name` counts, the earlier ones do too."""
    repository = name.split("/", 1)[1]
    already = pull_count(stack, "library", repository)
    anonymous = stack.http(())
    assert anonymous.get_manifest(name, "1").status_code == 200
    wait_for("the marker pull recorded", lambda: pull_count(stack, "library", repository) > already)


def test_one_docker_pull_is_one_pull(stack, dockerd, tmp_path):
    dockerd.login(stack)
    remote = f"{stack.host}/library/counted:1"
    marker = f"{stack.host}/library/countmarker:1"
    (tmp_path / "hello.txt").write_text("count me once\n")
    for ref in (remote, marker):
        subprocess.run(f"tar -c hello.txt | {DOCKER_CLI} -H {dockerd.host} import - {ref}", shell=True,
                       cwd=tmp_path, env=dockerd.env, check=True, capture_output=True)
        dockerd.run("push", ref)
        dockerd.run("rmi", ref)
    settle_pulls(stack, "library/countmarker")
    assert pull_count(stack, "library", "counted") == 0

    dockerd.run("pull", remote)
    settle_pulls(stack, "library/countmarker")
    assert pull_count(stack, "library", "counted") == 1

    def pull_entries() -> list[dict]:
        logs = management(stack, "/projects/library/logs?q=" + requests.utils.quote("operation=pull") + "&page_size=100")
        assert logs.status_code == 200, describe(logs)
        return [e for e in logs.json() if e["resource"].startswith("library/counted")]

    # the count is written with the pull's event; its audit entry comes after, from the
    # audit log's consumer of that event
    wait_for("the pull's audit entry", lambda: pull_entries() != [])
    entries = pull_entries()
    assert len(entries) == 1, entries
    # docker resolves the tag with a HEAD (not a pull) and fetches the manifest by digest
    assert re.fullmatch(r"library/counted[:@].+", entries[0]["resource"]), entries
