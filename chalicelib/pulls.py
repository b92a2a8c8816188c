"""Pulls: the audit entry of each manifest pull, repositories' pull counts and
artifacts' last pull times, recorded on or off the request path.

A pull is the registry's most frequent request, and writing its audit entry
there costs every pull one more AWS call (a transaction of four items). With
BERTH_PULL_RECORDING=log, the AWS deployment's setting (infra/apigw-extras.yaml),
a pull only writes a structured log line (`"message": "pull"`); a CloudWatch Logs
subscription hands batches of those lines to the `record_pulls` function
(app.py), which writes the entries with BatchWriteItem and adds up the counts, a
few calls per batch instead of one per pull. The default, `inline`, records each
pull in its request through the same `record`.

Delivery is at least once: an entry's id comes from its request, so a batch
delivered twice writes the same items again; only a count can come out high.
"""
from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import logging
import zlib
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

logger = logging.getLogger("berth.pulls")
# the lines are data, not chatter: written whatever BERTH_LOG_LEVEL says
logger.setLevel(logging.INFO)
LOG_MESSAGE = "pull"
_FIELDS = ("username", "repository", "reference", "digest", "source_ip", "time", "request_id")


@dataclass(frozen=True)
class Pull:
    username: str
    repository: str
    reference: str  # as asked: a tag or a digest
    digest: str  # what was served
    source_ip: str
    time: float
    request_id: str

    @classmethod
    def from_dict(cls, data: Any) -> Pull | None:
        if not isinstance(data, dict) or not all(k in data for k in _FIELDS):
            return None
        try:
            values = {k: str(data[k])[:1024] for k in _FIELDS if k != "time"}
            return cls(**values, time=float(data["time"]))
        except (TypeError, ValueError):
            return None


def announce(pull: Pull) -> None:
    """The log line the subscription picks up (and that CloudWatch keeps anyway)."""
    logger.info(LOG_MESSAGE, extra={"pull": asdict(pull)})


def record(svc, pulls: Iterable[Pull]) -> int:
    """Write the pulls' audit entries and add them to the counts; how many pulls."""
    from chalicelib.meta.audit import AuditEntry, entry_id
    from chalicelib.registry.oci.names import project_of

    pulls = list(pulls)
    if not pulls:
        return 0
    entries = []
    repositories: dict[str, tuple[int, int]] = {}
    artifacts: dict[tuple[str, str], int] = {}
    tags: dict[tuple[str, str], int] = {}
    for pull in pulls:
        separator = "@" if ":" in pull.reference else ":"
        seed = hashlib.sha256(f"{pull.request_id}\0{pull.repository}\0{pull.digest}".encode()).digest()
        entries.append(
            AuditEntry(
                username=pull.username,
                operation="pull",
                resource_type="artifact",
                resource=f"{pull.repository}{separator}{pull.reference}",
                project=project_of(pull.repository),
                source_ip=pull.source_ip,
                op_time=pull.time,
                id=entry_id(pull.time, int.from_bytes(seed[:2], "big")),
            )
        )
        count, last = repositories.get(pull.repository, (0, 0))
        repositories[pull.repository] = (count + 1, max(last, int(pull.time)))
        if pull.digest:
            key = (pull.repository, pull.digest)
            artifacts[key] = max(artifacts.get(key, 0), int(pull.time))
        if separator == ":":
            key = (pull.repository, pull.reference)
            tags[key] = max(tags.get(key, 0), int(pull.time))
    svc.audit.record_many(entries)
    svc.meta.record_pulls(repositories, artifacts, tags)
    return len(pulls)


def from_subscription(event: Any) -> list[Pull]:
    """The pulls in a CloudWatch Logs subscription event ({"awslogs": {"data":
    base64 of gzipped JSON}}). Control messages and lines that are not pulls are
    skipped; a line that cannot be read is logged and skipped, never retried forever."""
    try:
        data = event["awslogs"]["data"]
        batch = json.loads(gzip.decompress(base64.b64decode(data)))
    except (KeyError, TypeError, ValueError, binascii.Error, OSError, EOFError, zlib.error):
        logger.error("not a CloudWatch Logs subscription event")
        return []
    if not isinstance(batch, dict) or batch.get("messageType") != "DATA_MESSAGE":
        return []
    pulls = []
    for log_event in batch.get("logEvents") or []:
        pull = _pull_in(log_event.get("message", "") if isinstance(log_event, dict) else "")
        if pull is not None:
            pulls.append(pull)
    return pulls


def _pull_in(message: Any) -> Pull | None:
    line = _json(message)
    # Lambda's JSON log format wraps a line that was JSON already in "message"
    if isinstance(line, dict) and "pull" not in line and isinstance(line.get("message"), (str, dict)):
        inner = line["message"] if isinstance(line["message"], dict) else _json(line["message"])
        if isinstance(inner, dict):
            line = inner
    if not isinstance(line, dict) or line.get("message") != LOG_MESSAGE:
        return None
    pull = Pull.from_dict(line.get("pull"))
    if pull is None:
        logger.error("unreadable pull line", extra={"line": str(message)[:300]})
    return pull


def _json(text: Any) -> Any:
    if not isinstance(text, str) or not text.lstrip().startswith("{"):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None
