"""An event as a receiver gets it: the body and headers of one POST.

- `Default`: Harbor's JSON, field for field (src/pkg/notifier/model/event.go):
  type, occur_at, operator, event_data{resources[{digest, tag, resource_url}],
  repository{name, namespace, repo_full_name, repo_type}}.
- `CloudEvents`: CloudEvents 1.0, structured JSON (`application/cloudevents+json`),
  as Harbor sends it: Harbor's type names (`harbor.artifact.pushed`), the policy as
  `source`, the Default payload's `event_data` as `data`, `operator` an extension.
  Its `id` is the Berth event's, so a receiver de-duplicates on it.
- Slack: an incoming-webhook message (`text` and Block Kit `blocks`).

Every POST carries `X-Berth-Event-Id` (the same on every attempt and every
target: receivers de-duplicate on it) and `X-Berth-Attempt`. A target with a
signing secret also gets `X-Berth-Timestamp` (epoch seconds) and
`X-Berth-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`.
"""
from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from chalicelib.events.envelope import ARTIFACT_DELETED, QUOTA_EXCEEDED, QUOTA_WARNING, Event, format_time
from chalicelib.webhooks.targets import CLOUDEVENTS_TYPES, HARBOR_TYPES

EVENT_ID_HEADER = "X-Berth-Event-Id"
ATTEMPT_HEADER = "X-Berth-Attempt"
TIMESTAMP_HEADER = "X-Berth-Timestamp"
SIGNATURE_HEADER = "X-Berth-Signature"
USER_AGENT = "Berth-Webhook/1"


@dataclass(frozen=True)
class ProjectInfo:
    """What a payload tells of the event's project."""

    name: str
    project_id: int
    public: bool


def harbor_payload(event: Event, project: ProjectInfo, registry_host: str) -> dict[str, Any]:
    """Harbor's `Default` payload of a Berth event."""
    data = event.data
    harbor_type = HARBOR_TYPES[event.type]
    repository = str(data.get("repository") or "")
    out: dict[str, Any] = {
        "type": harbor_type,
        "occur_at": int(event.epoch),
        "operator": str(data.get("operator") or ""),
    }
    if repository:
        namespace, _, name = repository.partition("/")
        out["event_data"] = {
            "resources": _resources(event, registry_host),
            "repository": {
                "name": name,
                "namespace": namespace,
                "repo_full_name": repository,
                "repo_type": "public" if project.public else "private",
            },
        }
        if event.type in (QUOTA_WARNING, QUOTA_EXCEEDED):  # Harbor's quota payload: the message as Details
            out["event_data"]["custom_attributes"] = {"Details": str(data.get("details") or "")}
    else:  # quota and replication events: what they carry, as custom attributes
        extra = {k: str(v) for k, v in data.items() if k not in ("operator", "source_ip", "via")}
        out["event_data"] = {"custom_attributes": extra} if extra else {}
    return out


def _resources(event: Event, registry_host: str) -> list[dict[str, str]]:
    data = event.data
    repository, digest = str(data["repository"]), str(data.get("digest") or "")
    if event.type == ARTIFACT_DELETED and data.get("tags"):
        tags = [str(t) for t in data["tags"]]
    else:
        # Harbor names an artifact pulled or pushed by digest with its digest as the tag
        tags = [str(data.get("tag") or digest or data.get("reference") or "")]
    out = []
    for tag in tags:
        url_ref = f"@{digest}" if tag == digest else f":{tag}"
        prefix = f"{registry_host}/" if registry_host else ""
        out.append({"digest": digest, "tag": tag, "resource_url": f"{prefix}{repository}{url_ref}"})
    return out


def cloudevent(event: Event, project: ProjectInfo, policy_id: int, registry_host: str) -> dict[str, Any]:
    default = harbor_payload(event, project, registry_host)
    return {
        "specversion": "1.0",
        "id": event.id,
        "source": f"/projects/{project.project_id}/webhook/policies/{policy_id}",
        "type": CLOUDEVENTS_TYPES[default["type"]],
        "subject": event.subject,
        "time": format_time(event.epoch),
        "datacontenttype": "application/json",
        "data": default.get("event_data", {}),
        "operator": default["operator"],
    }


def slack_message(event: Event, project: ProjectInfo, registry_host: str) -> dict[str, Any]:
    default = harbor_payload(event, project, registry_host)
    resources = (default.get("event_data") or {}).get("resources") or []
    what = ", ".join(r["resource_url"] for r in resources) or project.name
    text = f"{default['type']} of {what} by {default['operator'] or 'unknown'}"
    return {
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": "*Harbor webhook events*"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*event_type:* {default['type']}"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*occur_at:* <!date^{default['occur_at']}^{{date}} {{time}}|{format_time(event.epoch)}>"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*operator:* {default['operator']}"}},
            {"type": "section", "text": {"type": "mrkdwn", "text": "*event_data:*\n```" + json.dumps(default.get("event_data", {}), indent=2) + "```"}},
        ],
    }


def request_for(event: Event, project: ProjectInfo, policy_id: int, target: Any, registry_host: str,
                *, attempt: int, now: float) -> tuple[dict[str, str], bytes]:
    """(headers, body) of the POST to `target` (chalicelib.meta.webhooks.Target)."""
    if target.type == "slack":
        doc, content_type = slack_message(event, project, registry_host), "application/json"
    elif target.payload_format == "CloudEvents":
        doc, content_type = cloudevent(event, project, policy_id, registry_host), "application/cloudevents+json"
    else:
        doc, content_type = harbor_payload(event, project, registry_host), "application/json"
    body = json.dumps(doc, separators=(",", ":")).encode()
    headers = {
        "Content-Type": content_type,
        "User-Agent": USER_AGENT,
        EVENT_ID_HEADER: event.id,
        ATTEMPT_HEADER: str(attempt),
    }
    if target.auth_header:
        headers["Authorization"] = target.auth_header
    if target.signing_secret:
        timestamp = str(int(now))
        headers[TIMESTAMP_HEADER] = timestamp
        headers[SIGNATURE_HEADER] = signature(target.signing_secret, timestamp, body)
    return headers, body


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, header: str) -> bool:
    """What a receiver does (docs/webhooks.md): recompute and compare in constant time."""
    return hmac.compare_digest(signature(secret, timestamp, body), header)
