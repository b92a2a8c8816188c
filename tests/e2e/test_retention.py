"""Tag retention on the local stack, end to end: the admin adds a rule in the console
(headless Chromium) on a project skopeo pushed three tags to, runs a dry run (nothing
deleted, its log lists what would go), then a real run: the tags the rule does not retain
are gone for skopeo, and the run's deletions are the dry run's. Runs happen after the
request that started them (the app's run_schedule, invoked asynchronously): the console
shows a run's status until it is done, and a run through the API answers 201 at once and
finishes in the background."""
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
        # the run goes on after the request; the table looks again until it is done
        b.text_in("#retention-runs-table tbody tr:first-child .run-status", "Success")
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


def test_a_run_through_the_api_finishes_in_the_background(stack, skopeo, tmp_path):
    """POST /retentions/{id}/executions answers 201 with the run recorded; the run itself is
    the app's run_schedule function's (moto's Lambda runs the asynchronous invocation), and
    its status moves from Running to Success with its per-repository tasks."""
    import time

    project = f"ret{secrets.token_hex(4)}"
    reply = api(stack, "POST", "/projects", json={"project_name": project, "metadata": {"public": "false"}})
    assert reply.status_code == 201
    for i, tag in enumerate(("old", "new")):
        image = build_oci_layout(tmp_path / tag, (2048 + i,), architecture="amd64")
        for repository in ("app", "tools/cli"):
            skopeo.run("copy", "--dest-tls-verify=false", "--preserve-digests", "--format", "oci",
                       *skopeo.creds_args(stack, "dest"), image.ref, f"docker://{stack.host}/{project}/{repository}:{tag}")
    pid = api(stack, "GET", f"/projects/{project}").json()["project_id"]
    rule = {"action": "retain", "template": "always", "params": {},
            "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "new"}],
            "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}}
    created = api(stack, "POST", "/retentions", json={"algorithm": "or", "rules": [rule], "scope": {"level": "project", "ref": pid},
                                                       "trigger": {"kind": "Schedule", "settings": {"cron": ""}}})
    assert created.status_code == 201
    policy_id = created.headers["Location"].rsplit("/", 1)[1]

    started = api(stack, "POST", f"/retentions/{policy_id}/executions", json={"dry_run": False})
    assert started.status_code == 201
    execution_id = int(started.headers["Location"].rsplit("/", 1)[1])
    seen = []
    deadline = time.monotonic() + 120
    while True:
        [execution] = [e for e in api(stack, "GET", f"/retentions/{policy_id}/executions").json() if e["id"] == execution_id]
        seen.append(execution["status"])
        if execution["status"] != "Running":
            break
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.2)
    assert seen[-1] == "Success" and set(seen) <= {"Running", "Success"}, seen
    assert execution["end_time"] >= execution["start_time"]
    tasks = api(stack, "GET", f"/retentions/{policy_id}/executions/{execution_id}/tasks").json()
    assert sorted((t["repository"], t["status"], t["total"], t["retained"]) for t in tasks) == [
        ("app", "Success", 2, 1), ("tools/cli", "Success", 2, 1)]
    for repository in ("app", "tools%252Fcli"):
        listed = api(stack, "GET", f"/projects/{project}/repositories/{repository}/artifacts?with_tag=true").json()
        assert [t["name"] for a in listed for t in (a.get("tags") or [])] == ["new"]
