"""A user's journey through the management API (/v2/api/v2.0) and a real client:
the admin creates a project and a user and makes the user a developer, the user
pushes with skopeo, sees the artifact, its tags and the audit entries through the
API, deletes a tag and sees that too, then pulls and sees the pull counted."""
from __future__ import annotations

import hashlib
import secrets
import time
from urllib.parse import urlencode

import pytest
import requests

from tests.e2e.images import build_oci_layout

pytestmark = pytest.mark.e2e


def api(stack, credentials, method: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f"{stack.api}/v2/api/v2.0{path}", auth=credentials, timeout=60, **kwargs)


def test_create_project_add_member_push_inspect_untag(stack, skopeo, tmp_path):
    admin = stack.credentials
    suffix = secrets.token_hex(4)
    project, username, password = f"journey{suffix}", f"walker{suffix}", "Walker-Passw0rd"

    assert api(stack, admin, "POST", "/projects", json={"project_name": project}).status_code == 201
    assert api(stack, admin, "POST", "/users", json={"username": username, "password": password}).status_code == 201
    member = {"role_id": 2, "member_user": {"username": username}}
    assert api(stack, admin, "POST", f"/projects/{project}/members", json=member).status_code == 201
    user = (username, password)
    assert api(stack, user, "GET", f"/projects/{project}").json()["current_user_role_id"] == 2

    image = build_oci_layout(tmp_path / "layout", (4096, 2048))
    skopeo.run("copy", "--dest-tls-verify=false", "--preserve-digests", "--format", "oci",
               *skopeo.creds_args(stack, "dest", user), image.ref, f"docker://{stack.host}/{project}/app:v1")
    digest = "sha256:" + hashlib.sha256(image.manifest).hexdigest()

    repos = api(stack, user, "GET", f"/projects/{project}/repositories").json()
    assert [(r["name"], r["artifact_count"]) for r in repos] == [(f"{project}/app", 1)]
    artifacts = api(stack, user, "GET", f"/projects/{project}/repositories/app/artifacts").json()
    assert [(a["digest"], [t["name"] for t in a["tags"]]) for a in artifacts] == [(digest, ["v1"])]
    assert artifacts[0]["size"] == len(image.manifest) + len(image.config) + sum(layer.size for layer in image.layers)

    tags = f"/projects/{project}/repositories/app/artifacts/{digest}/tags"
    assert api(stack, user, "POST", tags, json={"name": "v2"}).status_code == 201
    assert [t["name"] for t in api(stack, user, "GET", tags).json()] == ["v1", "v2"]
    # a developer may tag but not untag; the admin may
    assert api(stack, user, "DELETE", f"{tags}/v1").status_code == 403
    assert api(stack, admin, "DELETE", f"{tags}/v1").status_code == 200
    assert [t["name"] for t in api(stack, user, "GET", tags).json()] == ["v2"]
    got = requests.get(f"{stack.api}/v2/{project}/app/manifests/v1", timeout=60)
    assert got.status_code in (401, 404)  # the tag is gone (or the anonymous pull is refused first)

    # the entries of the project's creation, the push and the tags come from their events,
    # moments later (the stream, the bus, the audit queue); the member's from the dispatcher
    expected = {
        (admin[0], "create", "project", project),
        (admin[0], "create", "member", f"{project}/{username}"),
        (username, "push", "artifact", f"{project}/app:v1"),
        (username, "create", "tag", f"{project}/app:v2"),
        (admin[0], "delete", "tag", f"{project}/app:v1"),
    }
    deadline = time.monotonic() + 30
    while True:
        entries = api(stack, user, "GET", f"/projects/{project}/logs?page_size=100").json()
        seen = [(e["username"], e["operation"], e["resource_type"], e["resource"]) for e in entries]
        if expected <= set(seen) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert expected <= set(seen), sorted(expected - set(seen))
    assert len(seen) == len(set(seen))  # each change entered once
    by_user = api(stack, admin, "GET", "/audit-logs?" + urlencode({"q": f"username={username}"})).json()
    assert {e["operation"] for e in by_user} >= {"push", "create"}

    # a pull, recorded as on AWS: from its log line, by record_pulls, moments later
    skopeo.run("copy", "--src-tls-verify=false", *skopeo.creds_args(stack, "src", user),
               f"docker://{stack.host}/{project}/app:v2", f"oci:{tmp_path / 'pulled'}:v2")
    query = "/audit-logs?" + urlencode({"q": f"username={username},operation=pull"})
    deadline = time.monotonic() + 30
    while not (pulls := api(stack, admin, "GET", query).json()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [e["resource"] for e in pulls] == [f"{project}/app:v2"]
    repo = api(stack, user, "GET", f"/projects/{project}/repositories/app").json()
    assert repo["pull_count"] == 1
    pulled = api(stack, user, "GET", f"/projects/{project}/repositories/app/artifacts/{digest}").json()
    assert pulled["pull_time"] >= pulled["push_time"] and not pulled["pull_time"].startswith("0001-")
