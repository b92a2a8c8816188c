"""Section 6: webhook delivery latency on the local stack, from an event to its receiver.

A project with one webhook policy (CloudEvents, PULL_ARTIFACT) whose target is a receiver
this process runs on 127.0.0.1; one image pushed; then N pulls of it through /v2, one
after another. Each pull is an event (recorded off the request path from the pull's log
line, docs/architecture.md); its CloudEvent's `time` is the pull's, so a receiver's clock
at arrival minus that time is the whole path: the pull recording, the outbox, the table's
stream (polled every 0.5 s locally), forward_events, the bus and its rule, the webhook
events queue, webhook_events, the deliveries queue, deliver_webhooks and the POST.
Locally, the stack's pollers stand in for Lambda's event sources: the numbers show the
path's own cost plus their half-second polls, not AWS's.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from bench.util import fmt_s, log


def percentile(values: list[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


class Receiver:
    def __init__(self):
        self.arrivals: list[tuple[float, dict]] = []
        arrivals = self.arrivals

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                arrivals.append((time.time(), json.loads(body)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _push(berth, auth, repository: str) -> None:
    token = requests.get(f"{berth.api}/v2/service/token", auth=auth, timeout=60,
                         params={"service": "berth-registry", "scope": f"repository:{repository}:pull,push"}).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    config, layer = json.dumps({"architecture": "amd64", "os": "linux"}).encode(), secrets.token_bytes(1024)
    for data in (config, layer):
        reply = requests.post(f"{berth.api}/v2/{repository}/blobs/uploads/", params={"digest": _digest(data)}, data=data,
                              headers={**bearer, "Content-Type": "application/octet-stream"}, timeout=60)
        reply.raise_for_status()
    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": _digest(config), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": _digest(layer), "size": len(layer)}],
    }).encode()
    requests.put(f"{berth.api}/v2/{repository}/manifests/v1", data=manifest, timeout=60,
                 headers={**bearer, "Content-Type": "application/vnd.oci.image.manifest.v1+json"}).raise_for_status()


def run(berth, quick: bool) -> dict:
    events = 20 if quick else 100
    user, _, password = berth.creds.partition(":")
    auth = (user, password)
    api = f"{berth.api}/v2/api/v2.0"
    project = f"hookbench{secrets.token_hex(3)}"
    receiver = Receiver()
    try:
        requests.post(f"{api}/projects", json={"project_name": project}, auth=auth, timeout=60).raise_for_status()
        policy = {"name": "bench", "event_types": ["PULL_ARTIFACT"],
                  "targets": [{"type": "http", "address": receiver.url, "payload_format": "CloudEvents"}]}
        requests.post(f"{api}/projects/{project}/webhook/policies", json=policy, auth=auth, timeout=60).raise_for_status()
        repository = f"{project}/app"
        _push(berth, auth, repository)
        token = requests.get(f"{berth.api}/v2/service/token", auth=auth, timeout=60,
                             params={"service": "berth-registry", "scope": f"repository:{repository}:pull"}).json()["token"]
        accept = "application/vnd.oci.image.manifest.v1+json"
        log(f"webhooks: {events} pulls, each an event for the receiver")
        for _ in range(events):
            reply = requests.get(f"{berth.api}/v2/{repository}/manifests/v1", timeout=60,
                                 headers={"Authorization": f"Bearer {token}", "Accept": accept})
            reply.raise_for_status()
        deadline = time.monotonic() + 120
        while len(receiver.arrivals) < events and time.monotonic() < deadline:
            time.sleep(0.2)
        latencies = [arrived - _epoch(doc["time"]) for arrived, doc in receiver.arrivals]
        # where the time goes: until webhook_events logged the execution (the event path up to
        # the webhook consumer), and from there to the receiver (the delivery itself)
        [policy_id] = [p["id"] for p in requests.get(f"{api}/projects/{project}/webhook/policies", auth=auth, timeout=60).json()]
        runs = requests.get(f"{api}/projects/{project}/webhook/policies/{policy_id}/executions",
                            params={"page_size": 100}, auth=auth, timeout=60).json()
        started = {r["extra_attrs"]["event_id"]: _epoch(r["start_time"]) for r in runs}
        upstream = [started[doc["id"]] - _epoch(doc["time"]) for _, doc in receiver.arrivals if doc["id"] in started]
        delivery = [arrived - started[doc["id"]] for arrived, doc in receiver.arrivals if doc["id"] in started]
    finally:
        receiver.close()
        requests.delete(f"{api}/projects/{project}/repositories/app", auth=auth, timeout=60)
        requests.delete(f"{api}/projects/{project}", auth=auth, timeout=60)
    return {
        "events": events,
        "delivered": len(latencies),
        "p50": percentile(latencies, 50),
        "p99": percentile(latencies, 99),
        "max": max(latencies) if latencies else float("nan"),
        "upstream_p50": percentile(upstream, 50),
        "delivery_p50": percentile(delivery, 50),
        "delivery_p99": percentile(delivery, 99),
    }


def _epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text).timestamp()


def render(result: dict) -> str:
    return "\n".join([
        "Pulls of one image on the local stack, each an event delivered to a webhook receiver on",
        "127.0.0.1 (CloudEvents); latency = arrival at the receiver − the event's `time`. The local",
        "stack polls the stream and each queue every 0.5 s, as Lambda's event sources stand in.",
        "",
        "| events | delivered | p50 | p99 | max |",
        "| ---: | ---: | ---: | ---: | ---: |",
        (f"| {result['events']} | {result['delivered']} | {fmt_s(result['p50'])} | {fmt_s(result['p99'])} "
         f"| {fmt_s(result['max'])} |"),
        "",
        "Where it goes (medians): from the event to `webhook_events` logging its execution (the pull's",
        f"recording, the stream, the bus, the queue) {fmt_s(result['upstream_p50'])}; from there to the receiver",
        (f"(the deliveries queue, `deliver_webhooks`, the POST) {fmt_s(result['delivery_p50'])} "
         f"(p99 {fmt_s(result['delivery_p99'])})."),
    ])
