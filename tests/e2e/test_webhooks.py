"""Webhooks on the local stack, end to end: the admin creates a webhook in the console
(headless Chromium) for a receiver this test runs on 127.0.0.1, tests it from the
console, pushes an image with skopeo, and the receiver gets the push, signed, in the
CloudEvents format, delivered by the stack's own queues (moto's SQS polled as Lambda
would); the console's latest deliveries show it; disabled, then deleted, in the console."""
from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib.webhooks.payloads import verify
from tests.e2e.images import build_oci_layout
from tests.e2e.test_console import api, browser  # noqa: F401 - the console test's browser fixture

pytestmark = pytest.mark.e2e
SECRET = "e2e-signing-secret"


@pytest.fixture
def receiver():
    got: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got.append({"headers": dict(self.headers), "body": body})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", got
    server.shutdown()
    server.server_close()


def _wait_for(predicate, what: str, timeout: float = 60):
    """Poll until `predicate()` answers something true (the stack delivers every half second)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.5)
    pytest.fail(f"never happened: {what}")


def test_console_webhook_delivers_a_push(stack, skopeo, browser, receiver, tmp_path):  # noqa: F811
    admin, admin_password = stack.credentials
    url, got = receiver
    project = f"hooks{secrets.token_hex(4)}"
    assert api(stack, "POST", "/projects", json={"project_name": project, "metadata": {"public": "false"}}).status_code == 201
    row = "#webhooks-table tr:has(.webhook-name[data-policy='ci'])"
    b = browser
    try:
        with b.evidence_on_failure("webhooks"):
            b.open(f"#/projects/{project}/webhooks")
            b.log_in(admin, admin_password)
            b.text_in("#webhook-list", "No webhooks.")
            assert b.find("#tab-webhooks").get_attribute("aria-current") == "page"

            # -- create: the API's refusal shows in the form; then a signed CloudEvents target ------
            b.click("#webhook-new")
            b.fill("#webhook-name", "ci")
            b.fill("#webhook-address", f"{stack.api}/hook")  # the registry itself
            b.click("#webhook-create-submit")
            assert "this registry" in b.visible("#webhook-create-error").text
            b.fill("#webhook-address", url)
            b.choose("#webhook-format", "CloudEvents")
            b.fill("#webhook-secret", SECRET)
            b.click("#webhook-create-submit")
            text = b.visible(row).text
            assert "PUSH_ARTIFACT" in text and "CloudEvents" in text and "Enabled" in text
            [policy] = api(stack, "GET", f"/projects/{project}/webhook/policies").json()
            assert policy["targets"][0]["signing_secret"] == "******" and SECRET not in json.dumps(policy)

            # -- test it from the console: the receiver answers at once ------------------------------
            b.click(f"{row} button.webhook-test")
            b.text_in("#messages", "answered 200")
            assert [r["headers"].get("X-Berth-Test") for r in got] == ["true"]

            # -- a push with skopeo reaches the receiver through the stack's queues --------------------
            image = build_oci_layout(tmp_path / "layout", (2048,))
            skopeo.run("copy", "--dest-tls-verify=false", "--preserve-digests", "--format", "oci",
                       *skopeo.creds_args(stack, "dest"), image.ref, f"docker://{stack.host}/{project}/app:v1")
            [push] = _wait_for(lambda: [r for r in got if "X-Berth-Test" not in r["headers"]], "the push delivered")
            assert verify(SECRET, push["headers"]["X-Berth-Timestamp"], push["body"], push["headers"]["X-Berth-Signature"])
            event = json.loads(push["body"])
            assert event["type"] == "harbor.artifact.pushed" and event["id"] == push["headers"]["X-Berth-Event-Id"]
            assert event["data"]["resources"][0]["digest"] == image.manifest_digest
            assert event["data"]["repository"]["repo_full_name"] == f"{project}/app"

            # -- the console's latest deliveries --------------------------------------------------------
            executions = f"/projects/{project}/webhook/policies/{policy['id']}/executions"
            _wait_for(lambda: [e for e in api(stack, "GET", executions).json() if e["status"] == "Success"], "success logged")
            b.click(f"{row} button.webhook-deliveries")
            b.text_in("#webhook-deliveries-table", "PUSH_ARTIFACT")
            assert "Success" in b.find("#webhook-deliveries-table").text

            # -- disabled, then deleted ----------------------------------------------------------------------
            b.click(f"{row} button.webhook-toggle")
            b.confirm()
            b.text_in(f"{row} .webhook-status", "Disabled")
            assert api(stack, "GET", f"/projects/{project}/webhook/policies/{policy['id']}").json()["enabled"] is False
            b.click(f"{row} button.webhook-delete")
            b.confirm()
            b.text_in("#webhook-list", "No webhooks.")

            problems = [e["message"] for e in b.console_log()
                        if "Content Security Policy" in e["message"] or "Uncaught" in e["message"]]
            assert problems == []
    finally:
        api(stack, "DELETE", f"/projects/{project}/repositories/app")
        api(stack, "DELETE", f"/projects/{project}")
