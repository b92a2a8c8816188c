"""Harbor's webhook vocabulary and the rules a policy's targets must follow.

Event types are Harbor's names (`PUSH_ARTIFACT`); each maps from the Berth domain
event that raises it (docs/events.md). A target is refused (ValueError, its
message for the 400) when its address is not http(s), points at the registry
itself (a push would notify the registry of itself, in a loop) or at the cloud's
instance metadata, or when its auth header could not be sent as one header.
"""
from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from chalicelib.events.envelope import (
    ARTIFACT_DELETED,
    ARTIFACT_PULLED,
    ARTIFACT_PUSHED,
    QUOTA_EXCEEDED,
    QUOTA_WARNING,
    REPLICATION_COMPLETED,
)

PUSH_ARTIFACT = "PUSH_ARTIFACT"
PULL_ARTIFACT = "PULL_ARTIFACT"
DELETE_ARTIFACT = "DELETE_ARTIFACT"
# Berth's domain event -> Harbor's event type
HARBOR_TYPES = {
    ARTIFACT_PUSHED: PUSH_ARTIFACT,
    ARTIFACT_PULLED: PULL_ARTIFACT,
    ARTIFACT_DELETED: DELETE_ARTIFACT,
    QUOTA_EXCEEDED: "QUOTA_EXCEED",
    QUOTA_WARNING: "QUOTA_WARNING",
    REPLICATION_COMPLETED: "REPLICATION",
}
EVENT_TYPES = tuple(HARBOR_TYPES.values())  # what /webhook/events lists, in Harbor's order of the UI
# Harbor's CloudEvents `type` of each (src/pkg/notifier/formats/cloudevents.go)
CLOUDEVENTS_TYPES = {
    PUSH_ARTIFACT: "harbor.artifact.pushed",
    PULL_ARTIFACT: "harbor.artifact.pulled",
    DELETE_ARTIFACT: "harbor.artifact.deleted",
    "QUOTA_EXCEED": "harbor.quota.exceeded",
    "QUOTA_WARNING": "harbor.quota.warned",
    "REPLICATION": "harbor.replication.status.changed",
}
NOTIFY_TYPES = ("http", "slack")
PAYLOAD_FORMATS = {"http": ("Default", "CloudEvents"), "slack": ("Default",)}
MAX_ADDRESS = 2048
MAX_HEADER = 4096
_HEADER_VALUE = re.compile(r"^[\x20-\x7e]*$")  # visible ASCII and spaces: no CR/LF, no controls


def check_address(address: str, registry_url: str) -> str:
    """The address, if a receiver may be sent to it."""
    if not address or len(address) > MAX_ADDRESS:
        raise ValueError(f"address must be an http(s) URL of at most {MAX_ADDRESS} characters")
    try:
        parts = urlsplit(address)
        port = parts.port
    except ValueError:
        raise ValueError("address is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("address must be an http:// or https:// URL")
    if any(c.isspace() for c in address):
        raise ValueError("address must not contain spaces")
    if _same_origin(parts.scheme, parts.hostname, port, registry_url):
        raise ValueError("address points at this registry: its events would notify it in a loop")
    try:
        ip = ipaddress.ip_address(parts.hostname.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None and ip.is_link_local:
        raise ValueError("address is link-local (instance metadata is not a receiver)")
    return address


def check_auth_header(value: str) -> str:
    if len(value) > MAX_HEADER or not _HEADER_VALUE.match(value):
        raise ValueError(f"auth_header must be one line of visible ASCII, at most {MAX_HEADER} characters")
    return value


def check_format(notify_type: str, payload_format: str) -> str:
    if notify_type not in NOTIFY_TYPES:
        raise ValueError(f"type must be one of {', '.join(NOTIFY_TYPES)}")
    formats = PAYLOAD_FORMATS[notify_type]
    chosen = payload_format or "Default"
    if chosen not in formats:
        raise ValueError(f"payload_format of a {notify_type} target must be one of {', '.join(formats)}")
    return chosen


def _same_origin(scheme: str, host: str, port: int | None, registry_url: str) -> bool:
    """The registry's own host and port (the scheme's default port if none is named): a
    receiver on another port of the same machine is another service (the local stack's)."""
    if not registry_url:
        return False
    try:
        own = urlsplit(registry_url)
        own_port = own.port
    except ValueError:
        return False
    if not own.hostname or own.hostname.lower().rstrip(".") != host.lower().rstrip("."):
        return False
    defaults = {"http": 80, "https": 443}
    return (port or defaults[scheme]) == (own_port or defaults.get(own.scheme, 443))


def safe_address(address: str) -> str:
    """The address as the delivery log shows it: without a password in its user info."""
    parts = urlsplit(address)
    if parts.password is None:
        return address
    netloc = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{parts.username}:***@{netloc}").geturl()
