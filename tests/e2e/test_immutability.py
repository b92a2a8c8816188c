"""Tag immutability on the local stack, end to end: the admin adds a rule in the console
(headless Chromium); skopeo may push the protected tag's manifest again but not another
one over it (DENIED), nor delete it; the management API refuses the tag's deletion with
Harbor's 412; disabled in the console, the tag moves again."""
from __future__ import annotations

import secrets

import pytest

from tests.e2e.images import build_oci_layout
from tests.e2e.test_console import api, browser  # noqa: F401 - the console test's browser fixture

pytestmark = pytest.mark.e2e


def test_console_rule_protects_a_tag_from_skopeo(stack, skopeo, browser, tmp_path):  # noqa: F811
    admin, admin_password = stack.credentials
    project = f"imm{secrets.token_hex(4)}"
    assert api(stack, "POST", "/projects", json={"project_name": project, "metadata": {"public": "false"}}).status_code == 201
    first = build_oci_layout(tmp_path / "first", (2048,), architecture="amd64")
    second = build_oci_layout(tmp_path / "second", (3072,), architecture="arm64")
    dest = f"docker://{stack.host}/{project}/app:release-1"

    def push(image, check=True):
        return skopeo.run("copy", "--dest-tls-verify=false", "--preserve-digests", "--format", "oci",
                          *skopeo.creds_args(stack, "dest"), image.ref, dest, check=check)

    push(first)
    b = browser
    with b.evidence_on_failure("immutability"):
        b.open(f"#/projects/{project}/immutability")
        b.log_in(admin, admin_password)
        b.text_in("#immutability-list", "No rules")
        # the project's storage, each blob once, on its header (no limit set)
        b.text_in("#project-quota", "storage")
        assert "of unlimited" in b.find("#project-quota").text
        b.fill("#rule-repo-pattern", "**")
        b.fill("#rule-tag-pattern", "release-*")
        b.click("#rule-add-submit")
        b.text_in("#immutability-table", "tags matching release-*")
        [rule] = api(stack, "GET", f"/projects/{project}/immutabletagrules", headers={"X-Is-Resource-Name": "true"}).json()
        assert rule["tag_selectors"][0]["pattern"] == "release-*" and rule["disabled"] is False

        push(first)  # the same manifest again: fine
        refused = push(second, check=False)
        assert refused.returncode != 0 and "denied" in refused.stderr.lower(), refused.stderr[-2000:]
        inspected = skopeo.run("inspect", "--tls-verify=false", "--raw", *skopeo.creds_args(stack, ""), dest)
        assert inspected.stdout == first.manifest
        deleted = skopeo.run("delete", "--tls-verify=false", *skopeo.creds_args(stack, ""), dest, check=False)
        assert deleted.returncode != 0
        tag = f"/projects/{project}/repositories/app/artifacts/release-1/tags/release-1"
        reply = api(stack, "DELETE", tag)
        assert reply.status_code == 412 and reply.json()["errors"][0]["code"] == "PRECONDITION"

        # -- disabled in the console: the tag moves again --------------------------------------
        b.click("#immutability-table button.toggle-rule")
        b.text_in("#immutability-table", "disabled")
        push(second)
        assert skopeo.run("inspect", "--tls-verify=false", "--raw", *skopeo.creds_args(stack, ""), dest).stdout == second.manifest
        b.click("#immutability-table button.remove-rule")
        b.confirm()
        b.text_in("#immutability-list", "No rules")

        problems = [e["message"] for e in b.console_log()
                    if "Content Security Policy" in e["message"] or "Uncaught" in e["message"]]
        assert problems == []
