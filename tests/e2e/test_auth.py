"""Docker token auth with real clients: who may push and pull where.

Accounts (tests/e2e/accounts.py writes them into the stack's store; there is
no management API yet):

* `team`, a private project: `dev1` is a developer there (push, pull),
  `guest1` a guest (pull only), and `robot$team+ci` a project robot with
  pull and push;
* `vault`, another private project nobody here belongs to;
* `library`, the public project devstack bootstraps: anyone may pull, only
  its members (here: the admin) may push.

The clients: docker (login/logout through a private dockerd), skopeo with
`--creds`/`--src-creds`/`--dest-creds`, and the oras SDK. A refused request is
asserted on the client's own error and, where it is a push, on the registry
not having the tag afterwards.
"""
from __future__ import annotations

import base64
import json
import re
import secrets
from dataclasses import dataclass

import pytest
import requests

from tests.e2e.accounts import (
    DEVELOPER,
    GUEST,
    add_member,
    admin_store,
    create_project,
    create_project_robot,
    create_user,
)
from tests.e2e.conftest import ANONYMOUS
from tests.e2e.images import MiB, build_docker_archive, build_oci_layout, read_oci_layout
from tests.e2e.registry_http import describe

pytestmark = pytest.mark.e2e

TEAM = "team"
VAULT = "vault"
ROBOT = "robot$team+ci"
# Small images keep this file fast; one layer still needs two requests' worth of upload.
DOCKER_LAYERS = (256 * 1024, 2000)
OCI_LAYERS = (1 * MiB + 3, 4096)
# What clients print when the registry (or its token service) says no.
DENIED = re.compile(r"unauthorized|denied|authentication required|insufficient_scope", re.IGNORECASE)


@dataclass(frozen=True)
class Accounts:
    dev: tuple[str, str]
    guest: tuple[str, str]
    robot: tuple[str, str]


@pytest.fixture(scope="module")
def accounts(stack) -> Accounts:
    svc = admin_store(stack)
    create_project(svc, TEAM, public=False)
    create_project(svc, VAULT, public=False)
    dev = ("dev1", "Dev1-" + secrets.token_urlsafe(12))
    guest = ("guest1", "Guest1-" + secrets.token_urlsafe(12))
    for (username, password), role in ((dev, DEVELOPER), (guest, GUEST)):
        create_user(svc, username, password)
        add_member(svc, TEAM, username, role)
    robot_secret = "Robot1" + secrets.token_urlsafe(24)
    robot = create_project_robot(svc, TEAM, "ci", robot_secret, actions=("pull", "push"))
    assert robot.full_name == ROBOT
    return Accounts(dev=dev, guest=guest, robot=(ROBOT, robot_secret))


def _token_access(stack, scope: str, credentials: tuple[str, str] | None) -> list[str]:
    """The actions a token from the token service grants on `scope`'s repository."""
    response = requests.get(f"{stack.api}/v2/service/token",
                            params={"service": "berth-registry", "scope": scope},
                            auth=credentials, timeout=30)
    assert response.status_code == 200, describe(response)
    token = response.json()["token"]
    payload = token.split(".")[1]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    name = scope.split(":")[1]
    return sorted(a for entry in claims.get("access") or [] if entry["name"] == name
                  for a in entry.get("actions") or [])


def test_token_service_grants_follow_roles(stack, accounts):
    """The token service's answer, before any client: what each account gets."""
    admin = stack.credentials
    team, vault, library = (f"repository:{p}/x:pull,push" for p in (TEAM, VAULT, "library"))
    assert _token_access(stack, team, admin) == ["pull", "push"]
    assert _token_access(stack, team, accounts.dev) == ["pull", "push"]
    assert _token_access(stack, team, accounts.guest) == ["pull"]
    assert _token_access(stack, team, accounts.robot) == ["pull", "push"]
    assert _token_access(stack, team, None) == []
    assert _token_access(stack, vault, accounts.dev) == []
    assert _token_access(stack, vault, accounts.robot) == []
    assert _token_access(stack, library, None) == ["pull"]
    assert _token_access(stack, library, accounts.dev) == ["pull"]

    wrong = requests.get(f"{stack.api}/v2/service/token", params={"scope": team},
                         auth=(accounts.dev[0], "not-the-password"), timeout=30)
    assert wrong.status_code == 401, describe(wrong)


# --------------------------------------------------------------------------- docker


def _load(dockerd, tmp_path, name: str, remote: str) -> tuple[str, object]:
    local = f"berth-e2e/{name}:1"
    archive = build_docker_archive(tmp_path / f"{name}.tar", [local], DOCKER_LAYERS)
    dockerd.run("load", "-i", str(archive.path))
    dockerd.run("tag", local, remote)
    return local, archive


def _pushed_digest(output: str) -> str:
    match = re.search(r"digest: (sha256:[0-9a-f]{64})", output)
    assert match, output
    return match.group(1)


def _refused(proc, what: str) -> None:
    output = f"{proc.stdout}\n{proc.stderr}"
    assert proc.returncode != 0, f"{what} succeeded but must be refused:\n{output}"
    assert DENIED.search(output), f"{what} failed for another reason than auth:\n{output}"


def test_docker_login_push_pull_logout(dockerd, stack, accounts, tmp_path):
    """admin pushes to library; dev1 logs in, pushes to and pulls from team; after
    `docker logout` the team image is refused and the library one still pulls."""
    public_ref = f"{stack.host}/library/auth-public:1"
    private_ref = f"{stack.host}/{TEAM}/app:1"
    public_local, public = _load(dockerd, tmp_path, "auth-public", public_ref)
    private_local, private = _load(dockerd, tmp_path, "auth-private", private_ref)
    try:
        dockerd.login(stack)  # the admin
        dockerd.run("push", public_ref)

        dockerd.login(stack, accounts.dev)
        digest = _pushed_digest(dockerd.run("push", private_ref).stdout)
        dockerd.run("rmi", private_ref, private_local)
        pulled = dockerd.run("pull", private_ref)
        assert digest in pulled.stdout, pulled.stdout
        inspect = json.loads(dockerd.run("image", "inspect", private_ref).stdout)[0]
        assert inspect["Id"] == private.image_id
        assert f"{stack.host}/{TEAM}/app@{digest}" in inspect["RepoDigests"]

        dockerd.logout(stack)
        assert stack.host not in json.loads((dockerd.config_dir / "config.json").read_text()).get("auths", {})
        dockerd.run("rmi", private_ref, public_ref, public_local)

        _refused(dockerd.run("pull", private_ref, check=False), "anonymous docker pull from a private project")
        gone = dockerd.run("image", "inspect", private_ref, check=False)
        assert gone.returncode != 0, "the refused pull left an image behind"

        pulled = dockerd.run("pull", public_ref)  # anonymous, public project
        inspect = json.loads(dockerd.run("image", "inspect", public_ref).stdout)[0]
        assert inspect["Id"] == public.image_id

        # Anonymous pushes are refused even to the public project.
        dockerd.run("tag", public_ref, f"{stack.host}/library/auth-anonymous:1")
        _refused(dockerd.run("push", f"{stack.host}/library/auth-anonymous:1", check=False),
                 "anonymous docker push")
    finally:
        dockerd.run("logout", stack.host, check=False)
        dockerd.run("rmi", "-f", public_ref, private_ref, public_local, private_local,
                    f"{stack.host}/library/auth-anonymous:1", check=False)


def test_docker_login_as_robot(dockerd, stack, accounts, tmp_path):
    """`docker login -u 'robot$team+ci'` (quoted in a shell: `$team` would expand);
    the robot pushes to and pulls from its project, not another private one."""
    ref = f"{stack.host}/{TEAM}/robot-docker:1"
    elsewhere = f"{stack.host}/{VAULT}/robot-docker:1"
    local, archive = _load(dockerd, tmp_path, "auth-robot", ref)
    dockerd.run("tag", local, elsewhere)
    try:
        dockerd.login(stack, accounts.robot)
        digest = _pushed_digest(dockerd.run("push", ref).stdout)
        dockerd.run("rmi", ref, local)
        assert digest in dockerd.run("pull", ref).stdout
        assert json.loads(dockerd.run("image", "inspect", ref).stdout)[0]["Id"] == archive.image_id

        _refused(dockerd.run("push", elsewhere, check=False), "robot push to another private project")
    finally:
        dockerd.run("logout", stack.host, check=False)
        dockerd.run("rmi", "-f", ref, elsewhere, local, check=False)
    missing = stack.http().get_manifest(f"{VAULT}/robot-docker", "1")
    assert missing.status_code == 404, describe(missing)


# --------------------------------------------------------------------------- skopeo


@pytest.fixture(scope="module")
def small_image(tmp_path_factory):
    return build_oci_layout(tmp_path_factory.mktemp("auth-src") / "layout", OCI_LAYERS)


def _copy_in(skopeo, stack, image, repo: str, credentials, *, check: bool = True):
    return skopeo.run("copy", "--dest-tls-verify=false", "--preserve-digests", "--format", "oci",
                      *skopeo.creds_args(stack, "dest", credentials), image.ref,
                      f"docker://{stack.host}/{repo}", check=check)


def _copy_out(skopeo, stack, repo: str, dest, credentials, *, check: bool = True):
    return skopeo.run("copy", "--src-tls-verify=false", "--preserve-digests",
                      *skopeo.creds_args(stack, "src", credentials), f"docker://{stack.host}/{repo}",
                      f"oci:{dest}:latest", check=check)


def _skopeo_refused(result, what: str) -> None:
    assert result.returncode != 0, f"{what} succeeded but must be refused (log {result.log})"
    tail = "\n".join(result.stderr.splitlines()[-15:])
    assert DENIED.search(tail), f"{what} failed for another reason than auth (log {result.log}):\n{tail}"


def _absent(stack, repo: str, tag: str) -> None:
    got = stack.http().get_manifest(repo, tag)  # as the admin
    assert got.status_code == 404, describe(got)


def test_skopeo_developer_copies_in_and_out(skopeo, stack, accounts, small_image, tmp_path):
    repo = f"{TEAM}/skopeo:1"
    _copy_in(skopeo, stack, small_image, repo, accounts.dev)

    info = json.loads(skopeo.run("inspect", "--tls-verify=false", *skopeo.creds_args(stack, "", accounts.dev),
                                 f"docker://{stack.host}/{repo}").text)
    assert info["Digest"] == small_image.manifest_digest

    _copy_out(skopeo, stack, repo, tmp_path / "pulled", accounts.dev)
    pulled = read_oci_layout(tmp_path / "pulled")  # verifies every blob against its digest
    assert pulled.manifest == small_image.manifest
    assert pulled.layer_digests == small_image.layer_digests


def test_skopeo_anonymous_reads_library_not_team(skopeo, stack, accounts, small_image, tmp_path):
    _copy_in(skopeo, stack, small_image, f"{TEAM}/anon:1", stack.credentials)
    _copy_in(skopeo, stack, small_image, "library/anon:1", stack.credentials)

    _skopeo_refused(_copy_out(skopeo, stack, f"{TEAM}/anon:1", tmp_path / "team", ANONYMOUS, check=False),
                    "anonymous copy out of a private project")
    _skopeo_refused(skopeo.run("inspect", "--raw", "--tls-verify=false", f"docker://{stack.host}/{TEAM}/anon:1",
                               check=False), "anonymous inspect in a private project")

    _copy_out(skopeo, stack, "library/anon:1", tmp_path / "library", ANONYMOUS)
    assert read_oci_layout(tmp_path / "library").manifest == small_image.manifest

    # Anonymous pushes are refused, to the public project too.
    _skopeo_refused(_copy_in(skopeo, stack, small_image, "library/anon-push:1", ANONYMOUS, check=False),
                    "anonymous push to library")
    _absent(stack, "library/anon-push", "1")


def test_skopeo_robot_pushes_to_its_project_only(skopeo, stack, accounts, small_image, tmp_path):
    _copy_in(skopeo, stack, small_image, f"{TEAM}/robot:1", accounts.robot)
    _copy_out(skopeo, stack, f"{TEAM}/robot:1", tmp_path / "pulled", accounts.robot)
    assert read_oci_layout(tmp_path / "pulled").manifest == small_image.manifest

    _skopeo_refused(_copy_in(skopeo, stack, small_image, f"{VAULT}/robot:1", accounts.robot, check=False),
                    "robot push to another private project")
    _absent(stack, f"{VAULT}/robot", "1")
    # and the public project is not the robot's to push to either
    _skopeo_refused(_copy_in(skopeo, stack, small_image, "library/robot:1", accounts.robot, check=False),
                    "robot push to library")
    _absent(stack, "library/robot", "1")


def test_skopeo_guest_pulls_but_cannot_push(skopeo, stack, accounts, small_image, tmp_path):
    _copy_in(skopeo, stack, small_image, f"{TEAM}/guest:1", accounts.dev)

    _copy_out(skopeo, stack, f"{TEAM}/guest:1", tmp_path / "pulled", accounts.guest)
    assert read_oci_layout(tmp_path / "pulled").manifest == small_image.manifest

    _skopeo_refused(_copy_in(skopeo, stack, small_image, f"{TEAM}/guest-push:1", accounts.guest, check=False),
                    "guest push")
    _absent(stack, f"{TEAM}/guest-push", "1")
    # Not even a new tag on an image the guest can read.
    _skopeo_refused(_copy_in(skopeo, stack, small_image, f"{TEAM}/guest:2", accounts.guest, check=False),
                    "guest tagging")
    _absent(stack, f"{TEAM}/guest", "2")


def test_skopeo_user_outside_project_is_refused(skopeo, stack, accounts, small_image, tmp_path):
    """dev1 is nobody in `vault`: neither push nor pull (the registry says the same
    as for a repository that does not exist)."""
    _copy_in(skopeo, stack, small_image, f"{VAULT}/kept:1", stack.credentials)
    _skopeo_refused(_copy_out(skopeo, stack, f"{VAULT}/kept:1", tmp_path / "out", accounts.dev, check=False),
                    "pull from a project dev1 is not a member of")
    _skopeo_refused(_copy_in(skopeo, stack, small_image, f"{VAULT}/dev1:1", accounts.dev, check=False),
                    "push to a project dev1 is not a member of")
    _absent(stack, f"{VAULT}/dev1", "1")


# --------------------------------------------------------------------------- oras


def test_oras_with_credentials_pushes_and_pulls(stack, oras_client, accounts, tmp_path):
    client = oras_client(stack, accounts.dev)
    payload = tmp_path / "payload.bin"
    payload.write_bytes(secrets.token_bytes(300 * 1024))
    target = f"{stack.host}/{TEAM}/oras:1"
    response = client.push(target=target, files=[str(payload)], disable_path_validation=True, quiet=True)
    assert response.status_code == 201, describe(response)

    # a second repository with the same client: its cached token is for team/oras only
    other = f"{stack.host}/{TEAM}/oras-second:1"
    response = client.push(target=other, files=[str(payload)], disable_path_validation=True, quiet=True)
    assert response.status_code == 201, describe(response)

    for ref, out in ((target, "out"), (other, "out-second")):
        files = client.pull(target=ref, outdir=str(tmp_path / out))
        assert len(files) == 1
        with open(files[0], "rb") as f:
            assert f.read() == payload.read_bytes()


@pytest.mark.parametrize("project", [TEAM, "library"])
def test_oras_without_credentials_cannot_push(stack, oras_client, accounts, tmp_path, project):
    client = oras_client(stack, ANONYMOUS)
    payload = tmp_path / "payload.bin"
    payload.write_bytes(secrets.token_bytes(4096))
    target = f"{stack.host}/{project}/oras-anonymous:1"
    try:
        response = client.push(target=target, files=[str(payload)], disable_path_validation=True, quiet=True)
    except ValueError as exc:  # oras-py raises this when the upload POST gets no Location
        assert DENIED.search(str(exc)), f"anonymous oras push failed for another reason: {exc!r}"
    else:
        assert response.status_code in (401, 403), describe(response)
    _absent(stack, f"{project}/oras-anonymous", "1")
