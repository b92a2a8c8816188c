"""Domain events on the local stack, delivered the way AWS delivers them: skopeo pushes
and pulls; the outbox items written with those changes travel the table's stream (moto's,
polled by the stack as Lambda's event source would) to forward_events, onto the EventBridge
bus, through its rules into queues. A rule of this test's own copies every event into a
queue it reads; the audit log's consumer enters the push and the pull."""
from __future__ import annotations

import json
import secrets
import time
from urllib.parse import urlencode

import pytest
import requests

from devstack.resources import client
from tests.e2e.images import build_oci_layout

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def observed(stack):
    """Reads every event that reaches the stack's bus (a rule and a queue of the test's own)."""
    cfn = client("cloudformation", stack.moto)
    outputs = {o["OutputKey"]: o["OutputValue"] for o in cfn.describe_stacks(StackName="berth-dev")["Stacks"][0]["Outputs"]}
    bus = outputs["EventBusName"]
    sqs, events = client("sqs", stack.moto), client("events", stack.moto)
    name = f"e2e-observer-{secrets.token_hex(3)}"
    queue = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventBusName=bus, EventPattern=json.dumps({"source": ["berth"]}))
    events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "observer", "Arn": arn}])
    seen: list[dict] = []

    def wait_for(predicate, timeout: float = 30) -> list[dict]:
        """The events seen so far, once one of them satisfies `predicate` (or time is up)."""
        deadline = time.monotonic() + timeout
        while not any(predicate(e) for e in seen) and time.monotonic() < deadline:
            out = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for message in out.get("Messages", []):
                seen.append(json.loads(message["Body"])["detail"])
                sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        return list(seen)

    return wait_for


def test_a_skopeo_push_and_pull_arrive_on_the_bus_and_in_the_audit_log(stack, skopeo, observed, tmp_path):
    admin = stack.credentials
    project = f"events{secrets.token_hex(4)}"
    image = build_oci_layout(tmp_path / "layout", (4096, 2048))
    # the administrator's push creates the project (the token service's create-on-push)
    skopeo.run("copy", "--dest-tls-verify=false", "--preserve-digests", "--format", "oci",
               *skopeo.creds_args(stack, "dest"), image.ref, f"docker://{stack.host}/{project}/app:v1")
    events = observed(lambda e: e["type"] == "berth.artifact.pushed" and e["subject"] == f"{project}/app:v1")
    mine = [e for e in events if e["data"].get("project") == project or e["subject"] == project]
    [pushed] = [e for e in mine if e["type"] == "berth.artifact.pushed"]
    assert pushed["specversion"] == "1.0" and pushed["source"] == "/berth/dev"
    assert pushed["data"]["digest"] == image.manifest_digest and pushed["data"]["tag"] == "v1"
    assert (pushed["data"]["operator"], pushed["data"]["via"]) == (admin[0], "registry")
    [created] = [e for e in mine if e["type"] == "berth.project.created"]
    assert (created["data"]["operator"], created["data"]["via"]) == (admin[0], "token")
    assert [e["subject"] for e in mine if e["type"] == "berth.repository.created"] == [f"{project}/app"]

    skopeo.run("copy", "--src-tls-verify=false", *skopeo.creds_args(stack, "src"),
               f"docker://{stack.host}/{project}/app:v1", f"oci:{tmp_path / 'pulled'}:v1")
    events = observed(lambda e: e["type"] == "berth.artifact.pulled" and e["subject"] == f"{project}/app:v1")
    assert len([e for e in events if e["type"] == "berth.artifact.pulled" and e["data"]["project"] == project]) == 1

    # the audit log's consumer entered both, once each
    url = f"{stack.api}/v2/api/v2.0/projects/{project}/logs?" + urlencode({"page_size": 100})
    deadline = time.monotonic() + 30
    while True:
        entries = requests.get(url, auth=admin, timeout=60).json()
        operations = sorted(e["operation"] for e in entries if e["resource_type"] == "artifact")
        if operations == ["pull", "push"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert operations == ["pull", "push"]
    assert {e["resource"] for e in entries if e["resource_type"] == "artifact"} == {f"{project}/app:v1"}
