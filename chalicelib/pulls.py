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

Each pull becomes an `artifact.pulled` domain event (docs/events.md), written to
the outbox in the same BatchWriteItem calls; the audit log's consumer turns it
into the pull's audit entry. Delivery is at least once: an event's id comes from
its request, so a batch delivered twice writes the same items again; only a
count can come out high.

What counts as a pull (docs/decisions/pull-counting.md): a manifest GET, never a
HEAD; and a GET by digest that follows, within REPEAT_WINDOW seconds, a GET by tag
of the same repository by the same client (user, address, User-Agent) that served
that digest or an index listing it, is the same pull (a client resolves the tag,
then fetches the manifest or its platform's manifest by digest), not a second one.
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

from chalicelib.dependencies import DomainDependencies

logger = logging.getLogger("berth.pulls")
# the lines are data, not chatter: written whatever BERTH_LOG_LEVEL says
logger.setLevel(logging.INFO)
LOG_MESSAGE = "pull"
_FIELDS = ("username", "repository", "reference", "digest", "source_ip", "time", "request_id")
# a digest GET this soon after the tag GET that resolved it belongs to the same pull
REPEAT_WINDOW = 30.0
_RECENT_LIMIT = 4096  # tag pulls remembered per process (a warm Lambda instance)


@dataclass(frozen=True)
class Pull:
    username: str
    repository: str
    reference: str  # as asked: a tag or a digest
    digest: str  # what was served
    source_ip: str
    time: float
    request_id: str
    user_agent: str = ""
    # what a GET by tag served: the manifest's digest and, for an index, its children's
    covers: tuple[str, ...] = ()

    @property
    def by_tag(self) -> bool:
        return ":" not in self.reference

    @property
    def client(self) -> tuple[str, str, str, str]:
        return (self.username, self.source_ip, self.user_agent, self.repository)

    @classmethod
    def from_dict(cls, data: Any) -> Pull | None:
        if not isinstance(data, dict) or not all(k in data for k in _FIELDS):
            return None
        try:
            values = {k: str(data[k])[:1024] for k in _FIELDS if k != "time"}
            covers = data.get("covers") or ()
            if not isinstance(covers, (list, tuple)):
                return None
            return cls(
                **values,
                time=float(data["time"]),
                user_agent=str(data.get("user_agent") or "")[:1024],
                covers=tuple(str(c)[:1024] for c in covers[:256]),
            )
        except (TypeError, ValueError):
            return None


class RecentTagPulls:
    """The tag pulls seen lately, per client and repository (bounded, oldest dropped)."""

    def __init__(self, limit: int = _RECENT_LIMIT) -> None:
        self._limit = limit
        self._seen: dict[tuple[str, str, str, str], tuple[float, frozenset[str]]] = {}

    def remember(self, pull: Pull) -> None:
        self._seen.pop(pull.client, None)
        self._seen[pull.client] = (pull.time, frozenset(pull.covers or (pull.digest,)))
        while len(self._seen) > self._limit:
            del self._seen[next(iter(self._seen))]

    def resolved(self, pull: Pull) -> bool:
        """Whether this digest GET fetches what a recent tag GET of the client resolved."""
        seen = self._seen.get(pull.client)
        if seen is None:
            return False
        when, digests = seen
        return 0 <= pull.time - when <= REPEAT_WINDOW and pull.digest in digests


_recent = RecentTagPulls()


def image_pulls(pulls: Iterable[Pull], recent: RecentTagPulls | None = None) -> list[Pull]:
    """The pulls that count: a digest GET after its tag GET is part of that pull."""
    recent = _recent if recent is None else recent
    counted = []
    for pull in sorted(pulls, key=lambda p: p.time):
        if pull.by_tag:
            recent.remember(pull)
        elif recent.resolved(pull):
            continue
        counted.append(pull)
    return counted


def served_digests(digest: str, media_type: str, body: Any) -> tuple[str, ...]:
    """What a GET by tag resolved: the manifest and, for an index, the manifests it lists
    (a client then fetches its platform's one by digest)."""
    from chalicelib.oci.mediatypes import INDEXES

    if media_type.split(";")[0].strip() not in INDEXES or not isinstance(body, (bytes, bytearray)):
        return (digest,) if digest else ()
    try:
        listed = json.loads(body).get("manifests") or []
        children = [m["digest"] for m in listed if isinstance(m, dict) and isinstance(m.get("digest"), str)]
    except (ValueError, AttributeError):
        children = []
    return tuple(([digest] if digest else []) + children[:255])


def announce(pull: Pull) -> None:
    """The log line the subscription picks up (and that CloudWatch keeps anyway)."""
    logger.info(LOG_MESSAGE, extra={"pull": {**asdict(pull), "covers": list(pull.covers)}})


def record(svc: DomainDependencies, pulls: Iterable[Pull]) -> int:
    """Write the events of the pulls that count (image_pulls; the audit log's consumer enters
    them: chalicelib/events/audit.py) and add them to the counts; how many pulls were counted."""
    from chalicelib.events.actor import Actor
    from chalicelib.events.envelope import ARTIFACT_PULLED, reference_of
    from chalicelib.oci.names import project_of

    pulls = image_pulls(pulls)
    if not pulls:
        return 0
    events = []
    repositories: dict[str, tuple[int, int]] = {}
    artifacts: dict[tuple[str, str], int] = {}
    tags: dict[tuple[str, str], int] = {}
    for pull in pulls:
        by_tag = ":" not in pull.reference
        # the event's id comes from its request: a batch delivered twice writes the same items
        seed = hashlib.sha256(f"{pull.request_id}\0{pull.repository}\0{pull.digest}".encode()).hexdigest()
        data = {
            "repository": pull.repository,
            "project": project_of(pull.repository),
            "reference": pull.reference,
            "digest": pull.digest,
            "tag": pull.reference if by_tag else None,
        }
        actor = Actor(pull.username, pull.source_ip, "registry")
        events.append(
            svc.outbox.event(
                ARTIFACT_PULLED, reference_of(pull.repository, pull.reference), data, actor=actor, at=pull.time,
                id=f"{seed[:8]}-{seed[8:12]}-{seed[12:16]}-{seed[16:20]}-{seed[20:32]}",
            )
        )
        count, last = repositories.get(pull.repository, (0, 0))
        repositories[pull.repository] = (count + 1, max(last, int(pull.time)))
        if pull.digest:
            key = (pull.repository, pull.digest)
            artifacts[key] = max(artifacts.get(key, 0), int(pull.time))
        if by_tag:
            key = (pull.repository, pull.reference)
            tags[key] = max(tags.get(key, 0), int(pull.time))
    svc.meta.emit(events)
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
