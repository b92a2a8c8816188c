"""Tag retention on the local stack, end to end: the admin adds a rule in the console
(headless Chromium) on a project skopeo pushed three tags to, runs a dry run (nothing
deleted, its log lists what would go), then a real run: the tags the rule does not retain
are gone for skopeo, and the run's deletions are the dry run's."""
from __future__ import annotations

import secrets

import pytest

from tests.e2e.images import build_oci_layout
from tests.e2e.test_console import api, browser  # noqa: F401 - the console test's browser fixture

pytestmark = pytest.mark.e2e


def test_console_retention_rule_dry_run_then_run(stack, skopeo, browser, tmp_path):  # noqa: F811
    admin, admin_password = stack.credentials
    project = f"ret{secrets.token_hex(4)}"
    assert api(stack, "POST", "/projects", json={"project_name": project, "metadata": {"public": "false"}}).status_code == 201
    for i, tag in enumerate(("v1", "v2", "v3")):
        image = build_oci_layout(tmp_path / tag, (1024 + i,), architecture="amd64")
        skopeo.run("copy", "--dest-tls-verify=false", "--preserve-digests", "--format", "oci", *skopeo.creds_args(stack, "dest"),
                   image.ref, f"docker://{stack.host}/{project}/app:{tag}")

    def artifacts() -> set[str]:
        listed = api(stack, "GET", f"/projects/{project}/repositories/app/artifacts?with_tag=true").json()
        return {t["name"] for a in listed for t in (a.get("tags") or [])}

    b = browser
    with b.evidence_on_failure("retention"):
        b.open(f"#/projects/{project}/retention")
        b.log_in(admin, admin_password)
        b.text_in("#retention-rules", "No retention rules")
        b.choose("#retention-template", "always")
        b.fill("#retention-tag-pattern", "v3")
        b.choose("#retention-untagged", "false")
        b.click("#retention-add-submit")
        b.text_in("#retention-table", "tags matching v3")
        policy_id = api(stack, "GET", f"/projects/{project}").json()["metadata"]["retention_id"]
        assert api(stack, "GET", f"/retentions/{policy_id}").json()["rules"][0]["template"] == "always"

        b.click("#retention-dry-run")
        b.text_in("#retention-runs-table", "dry run")
        b.text_in("#retention-runs-table", "Success")
        assert artifacts() == {"v1", "v2", "v3"}
        b.click("#retention-runs-table button.run-details")
        b.text_in("#retention-tasks", "app")
        b.click("#retention-tasks button.task-log")
        b.text_in("#retention-log", "| DEL |")
        assert b.find("#retention-log").text.count("| DEL |") == 2
        b.click("#retention-run-close")
        b.gone("dialog#retention-run[open]")

        b.click("#retention-run-now")
        b.wait.until(lambda _: len(b.driver.find_elements("css selector", "#retention-runs-table tbody tr")) == 2, "no second run")
        assert artifacts() == {"v3"}
        gone = skopeo.run("inspect", "--tls-verify=false", "--raw", *skopeo.creds_args(stack, ""),
                          f"docker://{stack.host}/{project}/app:v1", check=False)
        assert gone.returncode != 0
        runs = api(stack, "GET", f"/retentions/{policy_id}/executions").json()
        real, dry = runs[0], runs[1]
        assert (real["dry_run"], dry["dry_run"]) == (False, True)
        tasks = [api(stack, "GET", f"/retentions/{policy_id}/executions/{e['id']}/tasks").json()[0] for e in (real, dry)]
        assert [(t["total"], t["retained"]) for t in tasks] == [(3, 1), (3, 1)]

        problems = [e["message"] for e in b.console_log()
                    if "Content Security Policy" in e["message"] or "Uncaught" in e["message"]]
        assert problems == []
