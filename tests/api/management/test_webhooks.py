"""Webhooks: Harbor's policy API, and delivery for real to HTTP receivers these tests
start on 127.0.0.1, through the whole event path (outbox -> forward_events -> the bus
and its rule -> webhook_events -> the deliveries queue -> deliver_webhooks).

Nothing reaches a receiver until the test drains the event path: a push completes
before any delivery attempt exists (the delivery is off the request path)."""
from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib.webhooks.delivery import RetryPolicy
from chalicelib.webhooks.payloads import verify
from tests.api.management.conftest import PASSWORD
from tests.api.management.test_audit import push_pull_delete

SECRET = "receiver-shared-secret"


class Receiver:
    """An HTTP receiver: records every POST; answers the statuses given in turn (then 200)."""

    def __init__(self, statuses: list[int] | None = None):
        self.requests: list[dict] = []
        self.statuses = list(statuses or [])
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        # shutdown() waits for the serving loop's next poll: every 10 ms, not the default 0.5 s
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def events(self) -> list[dict]:
        return [json.loads(r["body"]) for r in self.requests]


@pytest.fixture
def receivers():
    made: list[Receiver] = []

    def make(statuses=None) -> Receiver:
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for r in made:
        r.close()


@pytest.fixture
def quick_retries(world):
    """Retries at once (no delay): the schedule itself is unit-tested (tests/unit/test_webhooks.py)."""
    deliverer = world.svc.webhook_deliverer
    saved = deliverer.retry
    deliverer.retry = RetryPolicy(base=0, max_attempts=4)
    yield
    deliverer.retry = saved


def dead_address() -> str:
    """A port nothing listens on: connections are refused."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


def policy_body(name, address, *, fmt="Default", types=("PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT"), **target):
    return {
        "name": name,
        "event_types": list(types),
        "targets": [{"type": "http", "address": address, "payload_format": fmt, **target}],
        "enabled": True,
    }


def create(admin, project, body) -> int:
    reply = admin.post(f"/projects/{project}/webhook/policies", body)
    assert reply.status == 201, reply.body
    return int(reply.headers["location"].rsplit("/", 1)[1])


# -- the policy API --------------------------------------------------------------------------
def test_policies_are_created_listed_read_updated_and_deleted(world, admin):
    project = world.project()
    body = policy_body("ci", "https://ci.example.com/hook", auth_header="Bearer s3cret", signing_secret=SECRET)
    policy_id = create(admin, project.name, body)

    got = admin.get(f"/projects/{project.name}/webhook/policies/{policy_id}").json()
    assert got["name"] == "ci" and got["enabled"] is True and got["project_id"] == project.project_id
    assert got["event_types"] == ["PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT"]
    [target] = got["targets"]
    # secrets never come back
    assert target["auth_header"] == "******" and target["signing_secret"] == "******"
    assert "s3cret" not in json.dumps(got) and SECRET not in json.dumps(got)
    listed = admin.get(f"/projects/{project.project_id}/webhook/policies")
    assert listed.headers["x-total-count"] == "1" and listed.json()[0]["id"] == policy_id

    # a PUT of what GET answered, disabled: the secrets stay as stored
    got["enabled"] = False
    assert admin.put(f"/projects/{project.name}/webhook/policies/{policy_id}", got).status == 200
    stored = world.svc.webhooks.get(project.name, policy_id)
    assert stored.enabled is False
    assert stored.targets[0].auth_header == "Bearer s3cret" and stored.targets[0].signing_secret == SECRET

    assert admin.post(f"/projects/{project.name}/webhook/policies", body).status == 409  # the same name
    assert admin.delete(f"/projects/{project.name}/webhook/policies/{policy_id}").status == 200
    assert admin.get(f"/projects/{project.name}/webhook/policies/{policy_id}").status == 404
    assert admin.delete(f"/projects/{project.name}/webhook/policies/{policy_id}").status == 404


def test_supported_event_types(world, admin):
    project = world.project()
    got = admin.get(f"/projects/{project.name}/webhook/events").json()
    assert {"PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT"} <= set(got["event_type"])
    assert got["notify_type"] == ["http", "slack"]
    assert {"notify_type": "http", "formats": ["Default", "CloudEvents"]} in got["payload_formats"]


@pytest.mark.parametrize(
    "target, why",
    [
        ({"address": "ftp://example.com/hook"}, "http"),
        ({"address": "not a url"}, "http"),
        ({"address": "https://registry.example.com/api"}, "this registry"),
        ({"address": "https://registry.example.com:443/x"}, "this registry"),
        ({"address": "http://169.254.169.254/latest/meta-data"}, "link-local"),
        ({"address": "https://ok.example.com", "auth_header": "Bearer a\r\nX-Injected: 1"}, "auth_header"),
        ({"address": "https://ok.example.com", "type": "slack", "payload_format": "CloudEvents"}, "payload_format"),
    ],
)
def test_bad_targets_are_refused(world, admin, target, why):
    project = world.project()
    body = {"name": "bad", "event_types": ["PUSH_ARTIFACT"], "targets": [{"type": "http", **target}]}
    reply = admin.post(f"/projects/{project.name}/webhook/policies", body, headers={"Host": "registry.example.com"})
    assert reply.status == 400, reply.body
    assert why in reply.json()["errors"][0]["message"]
    assert world.svc.webhooks.list(project.name) == []  # nothing half-written


def test_unknown_event_types_are_refused(world, admin):
    project = world.project()
    body = policy_body("x", "https://ok.example.com", types=("PUSH_ARTIFACT", "NOT_A_TYPE"))
    assert admin.post(f"/projects/{project.name}/webhook/policies", body).status == 400


def test_project_admins_manage_maintainers_read_developers_neither(world, admin):
    project = world.project()
    policy_id = create(admin, project.name, policy_body("p", "https://ok.example.com"))
    roles = {"padmin": 1, "maint": 4, "dev": 2}
    users = {}
    for label, role in roles.items():
        users[label] = world.user()
        world.member(project.name, users[label].username, role)
    as_ = {label: world.as_(u.username, PASSWORD) for label, u in users.items()}
    path = f"/projects/{project.name}/webhook/policies"
    assert as_["padmin"].post(path, policy_body("q", "https://ok.example.com")).status == 201
    assert as_["maint"].get(f"{path}/{policy_id}").status == 200
    assert as_["maint"].post(path, policy_body("r", "https://ok.example.com")).status == 403
    assert as_["maint"].delete(f"{path}/{policy_id}").status == 403
    assert as_["dev"].get(path).status == 403
    assert as_["dev"].get(f"{path}/{policy_id}/executions").status == 403


# -- delivery ----------------------------------------------------------------------------------
def test_push_pull_and_delete_reach_receivers_in_both_formats_signed(world, admin, receivers):
    project = world.project(public=True)
    default, cloud = receivers(), receivers()
    default_id = create(admin, project.name, policy_body("default", default.url, signing_secret=SECRET))
    cloud_id = create(admin, project.name, policy_body("cloud", cloud.url, fmt="CloudEvents", signing_secret=SECRET))
    world.drain_events()  # anything earlier tests left

    repository = f"{project.name}/app"
    digest = push_pull_delete(world, repository, "1.0")
    # the registry calls are done; no receiver has been called, no delivery exists yet
    assert default.requests == [] and cloud.requests == []
    assert admin.get(f"/projects/{project.name}/webhook/policies/{default_id}/executions").json() == []

    world.drain_events()
    for receiver in (default, cloud):
        assert len(receiver.requests) == 3
        for request in receiver.requests:
            headers = request["headers"]
            assert verify(SECRET, headers["X-Berth-Timestamp"], request["body"], headers["X-Berth-Signature"])
            assert headers["X-Berth-Event-Id"] and headers["X-Berth-Attempt"] == "1"

    by_type = {e["type"]: e for e in default.events()}
    assert set(by_type) == {"PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT"}
    push = by_type["PUSH_ARTIFACT"]
    assert set(push) == {"type", "occur_at", "operator", "event_data"}
    assert push["operator"] == "admin" and isinstance(push["occur_at"], int)
    assert push["event_data"]["repository"] == {
        "name": "app", "namespace": project.name, "repo_full_name": repository, "repo_type": "public",
    }
    assert push["event_data"]["resources"] == [{"digest": digest, "tag": "1.0", "resource_url": f"{repository}:1.0"}]
    assert by_type["PULL_ARTIFACT"]["event_data"]["resources"][0]["digest"] == digest
    assert by_type["DELETE_ARTIFACT"]["event_data"]["resources"][0]["digest"] == digest
    assert all(r["headers"]["Content-Type"] == "application/json" for r in default.requests)

    clouds = {e["type"]: e for e in cloud.events()}
    assert set(clouds) == {"harbor.artifact.pushed", "harbor.artifact.pulled", "harbor.artifact.deleted"}
    pushed = clouds["harbor.artifact.pushed"]
    assert pushed["specversion"] == "1.0" and pushed["source"] == f"/projects/{project.project_id}/webhook/policies/{cloud_id}"
    assert pushed["data"] == push["event_data"] and pushed["operator"] == "admin"
    assert all(r["headers"]["Content-Type"] == "application/cloudevents+json" for r in cloud.requests)
    # the CloudEvent's id is the event's: what the header carries, for de-duplication
    assert {e["id"] for e in cloud.events()} == {r["headers"]["X-Berth-Event-Id"] for r in default.requests}

    # the delivery log, as Harbor's executions and tasks
    runs = admin.get(f"/projects/{project.name}/webhook/policies/{default_id}/executions").json()
    assert len(runs) == 3 and {r["status"] for r in runs} == {"Success"}
    assert {r["extra_attrs"]["event_type"] for r in runs} == {"PUSH_ARTIFACT", "PULL_ARTIFACT", "DELETE_ARTIFACT"}
    [task] = admin.get(f"/projects/{project.name}/webhook/policies/{default_id}/executions/{runs[0]['id']}/tasks").json()
    assert task["status"] == "Success" and task["run_count"] == 1 and task["extra_attrs"]["status_code"] == 200
    assert task["extra_attrs"]["address"] == default.url


def test_a_receiver_that_fails_twice_then_recovers_gets_the_event_again(world, admin, receivers, quick_retries):
    project = world.project()
    flaky = receivers([500, 503])
    policy_id = create(admin, project.name, policy_body("flaky", flaky.url, types=("PUSH_ARTIFACT",)))
    world.drain_events()
    world.push(f"{project.name}/app", "1")
    world.drain_events()

    assert [r["headers"]["X-Berth-Attempt"] for r in flaky.requests] == ["1", "2", "3"]
    assert len({r["headers"]["X-Berth-Event-Id"] for r in flaky.requests}) == 1  # one event, sent again
    [run] = admin.get(f"/projects/{project.name}/webhook/policies/{policy_id}/executions").json()
    assert run["status"] == "Success"
    [task] = admin.get(f"/projects/{project.name}/webhook/policies/{policy_id}/executions/{run['id']}/tasks").json()
    assert task["run_count"] == 3 and task["extra_attrs"]["status_code"] == 200


def test_a_dead_receiver_is_retried_then_failed_and_delays_no_one(world, admin, receivers, quick_retries):
    project = world.project()
    alive = receivers()
    dead_id = create(admin, project.name, policy_body("dead", dead_address(), types=("PUSH_ARTIFACT",)))
    alive_id = create(admin, project.name, policy_body("alive", alive.url, types=("PUSH_ARTIFACT",)))
    world.drain_events()

    url, manifest, headers = _manifest_put(world, f"{project.name}/app")
    reply = world.api.put(url, manifest, headers=headers)
    assert reply.status == 201
    # the push is complete and no delivery has been attempted: there is no execution at all
    for policy_id in (dead_id, alive_id):
        assert admin.get(f"/projects/{project.name}/webhook/policies/{policy_id}/executions").json() == []

    world.drain_events()
    assert len(alive.requests) == 1
    [run] = admin.get(f"/projects/{project.name}/webhook/policies/{dead_id}/executions").json()
    assert run["status"] == "Error" and run["metrics"]["error_task_count"] == 1
    [task] = admin.get(f"/projects/{project.name}/webhook/policies/{dead_id}/executions/{run['id']}/tasks").json()
    assert task["run_count"] == 4 and task["extra_attrs"]["status_code"] == 0
    log = admin.get(f"/projects/{project.name}/webhook/policies/{dead_id}/executions/{run['id']}/tasks/1/log")
    assert log.status == 200 and log.headers["content-type"].startswith("text/plain")
    assert "connection failed" in log.body.decode() and "after 4 attempt(s)" in log.body.decode()


def test_a_disabled_policy_gets_nothing(world, admin, receivers):
    project = world.project()
    receiver = receivers()
    body = {**policy_body("off", receiver.url, types=("PUSH_ARTIFACT",)), "enabled": False}
    create(admin, project.name, body)
    world.push(f"{project.name}/app", "1")
    world.drain_events()
    assert receiver.requests == []


def test_a_job_that_cannot_be_handled_ends_in_the_dead_letter_queue(world, admin, receivers):
    from chalicelib.events.envelope import ARTIFACT_PUSHED, new_event
    from chalicelib.webhooks.delivery import Job
    from chalicelib.webhooks.payloads import ProjectInfo

    project = world.project()
    receiver = receivers()
    policy_id = create(admin, project.name, policy_body("dlq", receiver.url, types=("PUSH_ARTIFACT",)))
    world.drain_events()
    # a job whose execution is not in the log (never written): recording its attempt fails,
    # so deliver_webhooks raises, the message comes back, and after 5 receives SQS moves it aside
    event = new_event(ARTIFACT_PUSHED, "/berth/test", f"{project.name}/app:1",
                      {"repository": f"{project.name}/app", "project": project.name, "reference": "1", "tag": "1",
                       "digest": "sha256:" + "1" * 64, "operator": "admin"}, at=world.svc.clock())
    orphan = Job(ProjectInfo(project.name, project.project_id, False), policy_id, 12345, 1, event)
    world.svc.webhook_jobs.send([orphan])
    for _ in range(7):  # each pass that fails leaves the message for the next (Lambda polls again)
        world.drain_events()

    sqs = world.svc.sqs
    queue_url = world.outputs["WebhookDeliveriesQueueUrl"]
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"])
    dead_letters = sqs.get_queue_url(QueueName=policy["deadLetterTargetArn"].rsplit(":", 1)[1])["QueueUrl"]
    messages = sqs.receive_message(QueueUrl=dead_letters, MaxNumberOfMessages=10).get("Messages", [])
    assert [json.loads(m["Body"])["execution_id"] for m in messages] == [12345]
    assert receiver.requests == []  # an attempt is recorded as running before it is made: none was


def test_the_test_call_sends_to_a_target_now(world, admin, receivers):
    project = world.project()
    receiver = receivers([500])
    path = f"/projects/{project.name}/webhook/policies/test"
    reply = admin.post(path, {"targets": [{"type": "http", "address": receiver.url, "signing_secret": SECRET}]})
    assert reply.status == 200
    [result] = reply.json()
    assert result["status_code"] == 500 and result["address"] == receiver.url
    [request] = receiver.requests
    assert request["headers"]["X-Berth-Test"] == "true"
    assert verify(SECRET, request["headers"]["X-Berth-Timestamp"], request["body"], request["headers"]["X-Berth-Signature"])
    assert json.loads(request["body"])["type"] == "PUSH_ARTIFACT"


def test_a_deleted_projects_policies_go_with_it(world, admin):
    name = world.name("gone")
    assert admin.post("/projects", {"project_name": name}).status == 201
    create(admin, name, policy_body("p", "https://ok.example.com"))
    assert admin.delete(f"/projects/{name}").status == 200
    world.drain_events()
    assert world.svc.webhooks.list(name) == []


def _manifest_put(world, repository: str):
    """A manifest PUT through /v2 as an admin (its blobs uploaded first); the PUT's arguments."""
    from tests.api.helpers import OCI_CONFIG, OCI_LAYER, OCI_MANIFEST, descriptor, digest, encode, with_query
    from tests.api.management.conftest import ADMIN_PASSWORD
    from tests.api.management.test_audit import token

    bearer = {"Authorization": "Bearer " + token(world, "admin", ADMIN_PASSWORD, f"repository:{repository}:pull,push")}
    config, layer = encode({"seed": repository}), b"layer of " + repository.encode()
    for data in (config, layer):
        url = with_query(f"/v2/{repository}/blobs/uploads/", digest=digest(data))
        assert world.api.post(url, data, headers={**bearer, "Content-Type": "application/octet-stream"}).status == 201
    body = encode({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": descriptor(OCI_CONFIG, config),
                   "layers": [descriptor(OCI_LAYER, layer)]})
    return f"/v2/{repository}/manifests/1", body, {**bearer, "Content-Type": OCI_MANIFEST}


def test_quota_warning_and_exceed_reach_receivers(world, admin, receivers):
    """Harbor's QUOTA_WARNING when a push takes usage across the warning bar (85% by default),
    once per crossing, and QUOTA_EXCEED when a push is refused, with the message as Details."""
    from tests.api.management.test_immutable import Registry
    from tests.api.management.test_quotas import image

    project = world.project()
    receiver = receivers()
    create(admin, project.name, policy_body("quota", receiver.url, types=("QUOTA_WARNING", "QUOTA_EXCEED")))
    registry = Registry(world, f"{project.name}/app")
    first, _ = image(registry, "first", b"1" * 2000)
    assert registry.put("first", first).status == 201
    used = admin.get(f"/quotas/{project.project_id}").json()["used"]["storage"]
    second, second_bytes = image(registry, "second", b"2" * 2000)
    hard = int((used + second_bytes) / 0.87)  # the second push crosses 85%, and leaves room
    assert admin.put(f"/quotas/{project.project_id}", {"hard": {"storage": hard}}).status == 200
    world.drain_events()
    assert registry.put("second", second).status == 201  # crosses the bar: a warning
    third, _ = image(registry, "third", b"3")
    assert registry.put("third", third).status == 201  # above the bar already: none
    fourth, _ = image(registry, "fourth", b"4" * 5000)
    assert registry.put("fourth", fourth).status == 403  # over the limit: refused, QUOTA_EXCEED
    world.drain_events()
    events = receiver.events()  # delivered side by side: in either order
    assert sorted(e["type"] for e in events) == ["QUOTA_EXCEED", "QUOTA_WARNING"], events
    [warning] = [e for e in events if e["type"] == "QUOTA_WARNING"]
    [exceeded] = [e for e in events if e["type"] == "QUOTA_EXCEED"]
    assert warning["event_data"]["repository"]["repo_full_name"] == f"{project.name}/app"
    assert warning["event_data"]["resources"][0]["tag"] == "second"
    assert "85%" in warning["event_data"]["custom_attributes"]["Details"]
    assert exceeded["event_data"]["resources"][0]["tag"] == "fourth"
    assert "quota exceeded" in exceeded["event_data"]["custom_attributes"]["Details"]
