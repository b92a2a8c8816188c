"""Webhook delivery logic without AWS: the retry schedule, the payloads, the
signature, the target rules, the execution ids, and one delivery attempt's
decisions (with a real HTTP receiver on 127.0.0.1)."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib.events.envelope import ARTIFACT_DELETED, ARTIFACT_PULLED, ARTIFACT_PUSHED, TAG_DELETED, new_event
from chalicelib.meta.webhooks import Policy, Target
from chalicelib.webhooks import targets
from chalicelib.webhooks.delivery import Deliverer, Job, RetryPolicy
from chalicelib.webhooks.fanout import execution_id
from chalicelib.webhooks.payloads import ProjectInfo, harbor_payload, request_for, signature, verify
from chalicelib.webhooks.sender import HttpSender, Outcome

DIGEST = "sha256:" + "a" * 64
PROJECT = ProjectInfo("library", 1, False)


def event(type=ARTIFACT_PUSHED, **data):
    fields = {"repository": "library/team/app", "project": "library", "reference": "1.0", "tag": "1.0",
              "digest": DIGEST, "operator": "alice", "source_ip": "10.0.0.1", "via": "registry", **data}
    return new_event(type, "/berth/test", "library/team/app:1.0", fields, at=1_800_000_000.25)


# -- the retry schedule ----------------------------------------------------------------------
def test_backoff_doubles_with_jitter_within_half_and_whole():
    retry = RetryPolicy(base=4, cap=300)
    for failed, ceiling in ((1, 4), (2, 8), (3, 16), (7, 256), (8, 300), (20, 300)):
        assert retry.delay(failed, rand=lambda: 0.0) == round(ceiling / 2)
        assert retry.delay(failed, rand=lambda: 1.0) == ceiling


def test_retries_stop_after_max_attempts_or_past_the_window():
    retry = RetryPolicy(base=10, cap=300, max_attempts=5, window=600)
    assert retry.next_delay(1, first_at=0, now=0, rand=lambda: 0.5) == 8
    assert retry.next_delay(5, first_at=0, now=0) is None  # attempts used up
    assert retry.next_delay(2, first_at=0, now=590, rand=lambda: 0.5) is None  # would land past the window


# -- payloads ----------------------------------------------------------------------------------
def test_default_payload_is_harbors_field_for_field():
    doc = harbor_payload(event(), PROJECT, "registry.example.com")
    assert doc == {
        "type": "PUSH_ARTIFACT",
        "occur_at": 1_800_000_000,
        "operator": "alice",
        "event_data": {
            "resources": [{"digest": DIGEST, "tag": "1.0", "resource_url": "registry.example.com/library/team/app:1.0"}],
            "repository": {"name": "team/app", "namespace": "library", "repo_full_name": "library/team/app",
                           "repo_type": "private"},
        },
    }


def test_a_pull_by_digest_names_the_digest_as_tag_and_a_delete_its_tags():
    pulled = harbor_payload(event(ARTIFACT_PULLED, tag=None, reference=DIGEST), PROJECT, "r.example")
    assert pulled["type"] == "PULL_ARTIFACT"
    assert pulled["event_data"]["resources"] == [{"digest": DIGEST, "tag": DIGEST, "resource_url": f"r.example/library/team/app@{DIGEST}"}]
    deleted = harbor_payload(event(ARTIFACT_DELETED, tag=None, tags=["1.0", "latest"]), PROJECT, "")
    assert [r["tag"] for r in deleted["event_data"]["resources"]] == ["1.0", "latest"]


def test_cloudevents_and_slack_requests():
    target = Target("http", "https://h.example", payload_format="CloudEvents")
    headers, body = request_for(event(), PROJECT, 7, target, "r.example", attempt=2, now=1_800_000_001)
    doc = json.loads(body)
    assert headers["Content-Type"] == "application/cloudevents+json"
    assert doc["specversion"] == "1.0" and doc["type"] == "harbor.artifact.pushed"
    assert doc["source"] == "/projects/1/webhook/policies/7" and doc["id"] == headers["X-Berth-Event-Id"]
    assert headers["X-Berth-Attempt"] == "2" and "X-Berth-Signature" not in headers
    _, slack = request_for(event(), PROJECT, 7, Target("slack", "https://hooks.slack.example/x"), "r.example", attempt=1, now=0)
    message = json.loads(slack)
    assert "PUSH_ARTIFACT" in message["text"] and message["blocks"][0]["type"] == "section"


def test_the_signature_is_hmac_sha256_over_timestamp_dot_body():
    target = Target("http", "https://h.example", auth_header="Bearer t", signing_secret="k")
    headers, body = request_for(event(), PROJECT, 1, target, "", attempt=1, now=1_800_000_005.9)
    assert headers["X-Berth-Timestamp"] == "1800000005" and headers["Authorization"] == "Bearer t"
    expected = hmac.new(b"k", b"1800000005." + body, hashlib.sha256).hexdigest()
    assert headers["X-Berth-Signature"] == f"sha256={expected}" == signature("k", "1800000005", body)
    assert verify("k", "1800000005", body, headers["X-Berth-Signature"])
    assert not verify("k", "1800000005", body + b" ", headers["X-Berth-Signature"])
    assert not verify("other", "1800000005", body, headers["X-Berth-Signature"])


# -- target rules -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "address",
    ["https://ci.example.com/hook", "http://10.0.0.5:8080/x", "http://[::1]:9000/",
     "http://registry.example.com:8080/"],  # another port of the registry's host: another service
)
def test_good_addresses(address):
    assert targets.check_address(address, "https://registry.example.com") == address


@pytest.mark.parametrize(
    "address",
    ["", "ftp://x.example", "https://", "http://x.example:notaport/", "https://REGISTRY.example.com/v2/",
     "https://registry.example.com:443/", "http://169.254.169.254/", "http://a b.example/"],
)
def test_bad_addresses(address):
    with pytest.raises(ValueError):
        targets.check_address(address, "https://registry.example.com")


def test_auth_headers_are_one_line():
    assert targets.check_auth_header("Basic dXNlcjpwYXNz") == "Basic dXNlcjpwYXNz"
    for bad in ("a\r\nb", "a\nb", "x\x00", "é", "x" * 5000):
        with pytest.raises(ValueError):
            targets.check_auth_header(bad)


def test_a_password_in_an_address_is_not_shown():
    assert targets.safe_address("https://bob:pw@h.example/x") == "https://bob:***@h.example/x"
    assert targets.safe_address("https://h.example/x") == "https://h.example/x"


def test_only_the_types_a_policy_may_name_map():
    assert set(targets.HARBOR_TYPES) >= {ARTIFACT_PUSHED, ARTIFACT_PULLED, ARTIFACT_DELETED}
    assert TAG_DELETED not in targets.HARBOR_TYPES


# -- execution ids ---------------------------------------------------------------------------------
def test_execution_ids_follow_time_are_stable_and_json_safe():
    first, later = event(), new_event(ARTIFACT_PUSHED, "/b", "s", {}, at=1_800_000_100)
    assert execution_id(first, 3) == execution_id(first, 3)
    # the log is per policy, so only the order in time matters
    assert execution_id(later, 3) > execution_id(first, 3)
    assert execution_id(first, 3) < 2**53


# -- one attempt ---------------------------------------------------------------------------------
class FakeLog:
    """The store's two calls a delivery makes, kept in memory."""

    def __init__(self, policy: Policy | None):
        self.policy = policy
        self.tasks: dict[int, dict] = {}

    def get(self, project, policy_id):
        return self.policy

    def record_task(self, project, policy_id, execution_id, task, state):
        self.tasks.setdefault(task, {}).update(state)


class FakeQueue:
    def __init__(self):
        self.sent: list[tuple[Job, int]] = []

    def send(self, jobs, delay=0):
        self.sent.extend((j, delay) for j in jobs)


class FixedSender:
    def __init__(self, *outcomes: Outcome):
        self.outcomes = list(outcomes)
        self.calls = []

    def post(self, url, headers, body, *, verify_tls=True):
        self.calls.append((url, headers, body, verify_tls))
        return self.outcomes.pop(0)


def deliverer(policy, sender, queue=None, **kw):
    log = FakeLog(policy)
    return Deliverer(log, sender, queue or FakeQueue(), "r.example", clock=lambda: 1_800_000_000.0,
                     retry=RetryPolicy(base=4, max_attempts=3), rand=lambda: 0.0, **kw), log


POLICY = Policy("library", "p", (Target("http", "https://h.example", skip_cert_verify=True),), ("PUSH_ARTIFACT",), policy_id=5)


def job(attempt=1):
    return Job(PROJECT, 5, 99, 1, event(), attempt=attempt, first_at=1_800_000_000.0 if attempt > 1 else 0)


def test_a_5xx_is_queued_again_with_backoff_and_a_4xx_is_final():
    queue = FakeQueue()
    d, log = deliverer(POLICY, FixedSender(Outcome(503, 12, "HTTP 503")), queue)
    first = job()
    assert d.deliver(first) == "Running"
    [(again, delay)] = queue.sent
    assert again.attempt == 2 and delay == 2 and again.event.id == first.event.id
    assert log.tasks[1]["status"] == "Running" and "retry in 2 s" in log.tasks[1]["status_message"]

    d, log = deliverer(POLICY, FixedSender(Outcome(404, 3, "HTTP 404")))
    assert d.deliver(job()) == "Error" and "not retried" in log.tasks[1]["status_message"]


def test_the_last_attempt_is_recorded_as_failed_and_tls_skipping_is_honoured():
    sender = FixedSender(Outcome(0, 5000, "timed out after 5 s"))
    d, log = deliverer(POLICY, sender)
    assert d.deliver(job(attempt=3)) == "Error"
    assert log.tasks[1]["run_count"] == 3 and log.tasks[1]["status_code"] == 0
    assert sender.calls[0][3] is False  # skip_cert_verify


def test_a_disabled_or_deleted_policy_stops_its_jobs():
    disabled = Policy(**{**POLICY.__dict__, "enabled": False})
    for policy in (disabled, None):
        sender = FixedSender()
        d, log = deliverer(policy, sender)
        assert d.deliver(job()) == "Stopped" and log.tasks[1]["status"] == "Stopped" and sender.calls == []


@pytest.fixture
def slow_receiver():
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            release.wait(5)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    release.set()
    server.shutdown()
    server.server_close()


def test_a_receiver_that_never_answers_is_a_retryable_timeout(slow_receiver):
    outcome = HttpSender(timeout=0.3).post(slow_receiver, {"Content-Type": "application/json"}, b"{}")
    assert outcome.status_code == 0 and outcome.retryable and "timed out" in outcome.error


# -- fan-out ---------------------------------------------------------------------------------------
class FakeStores:
    """The fan-out's reads and writes, in memory, counted."""

    def __init__(self, policies):
        self.policies = policies
        self.runs: dict[int, object] = {}
        self.reads: list[str] = []

    def list(self, project):
        self.reads.append(f"policies {project}")
        return self.policies

    def get_project(self, name):
        from chalicelib.meta.accounts import Project

        self.reads.append(f"project {name}")
        return Project(name=name, public=True, project_id=9)

    def start_execution(self, run):
        if run.execution_id in self.runs:
            return False
        self.runs[run.execution_id] = run
        return True

    def execution(self, project, policy_id, execution_id):
        return self.runs.get(execution_id)


def test_fan_out_reads_a_projects_policies_once_per_batch_and_queues_each_target():
    from chalicelib.webhooks.fanout import consume

    two_targets = Policy("library", "p", (Target("http", "https://a.example"), Target("slack", "https://b.example")),
                         ("PUSH_ARTIFACT",), policy_id=5)
    pulls_only = Policy("library", "q", (Target("http", "https://c.example"),), ("PULL_ARTIFACT",), policy_id=6)
    stores, queue = FakeStores([two_targets, pulls_only]), FakeQueue()
    pushes = [event() for _ in range(3)]
    assert consume([*pushes, pushes[0]], stores, stores, queue, clock=lambda: 1.0) == 6
    assert stores.reads == ["policies library", "project library"]
    assert sorted((j.policy_id, j.task) for j, _ in queue.sent) == [(5, 1), (5, 1), (5, 1), (5, 2), (5, 2), (5, 2)]
    assert {j.project.project_id for j, _ in queue.sent} == {9}

    # the same event again: its execution exists; only tasks still Pending are queued again
    run = stores.runs[execution_id(pushes[0], 5)]
    run.tasks["1"]["status"] = "Success"
    again = FakeQueue()
    assert consume([pushes[0]], stores, stores, again, clock=lambda: 2.0) == 1
    assert [(j.task, j.event.id) for j, _ in again.sent] == [(2, pushes[0].id)]
