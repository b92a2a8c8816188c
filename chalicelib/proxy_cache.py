"""Proxy cache projects (Harbor's): a project created with a `registry_id` stands in for
that upstream registry. `<project>/<repository>` pulls `<repository>` from the upstream
(`library/<name>` on Docker Hub for a one-part name) on its first pull and from the cache
afterwards; clients may not push into it (docs/proxy-cache.md).

- Manifests by tag: served from the cache while the tag was checked less than
  `proxy_cache_check_interval` seconds ago (a runtime setting); otherwise one HEAD asks
  the upstream which digest the tag names. Unchanged: the cache is served (and the check's
  time kept on the tag). Moved, or never cached: the manifest is fetched by that digest,
  verified (its bytes hash to it, it parses as a manifest) and stored as any pushed one,
  with its tag, in one transaction. An upstream that answers 429, 5xx, nothing or
  garbage never fails a pull the cache can serve: the cached manifest is served and the
  condition logged, counted (metric `ProxyStaleServed`) and sent as a domain event
  (`berth.proxy.stale_served`).
- Manifests by digest are immutable: fetched once, verified, then always served from the
  cache (an index's children are fetched only when a client asks for them: only the
  requested platform's).
- Blobs: fetched once on their first GET or HEAD, streamed into S3 by the upload service
  (multipart, hashed on the way, linked only once the digest matches), then served by
  presigned redirect like every other blob. One too big to copy within the request is
  copied by the app's `proxy_fill` function in the background while the client is sent to
  the upstream's CDN or asked to retry (docs/decisions/proxy-cache-big-layers.md).

Which project is a proxy is remembered per process for PROJECT_TTL seconds: a pull costs
no extra read for it. Nothing here imports the HTTP adapters: the handlers call it.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO, cast
from urllib.parse import urlsplit

from chalicelib import artifacts
from chalicelib.dependencies import DomainDependencies
from chalicelib.errors import (
    BlobNotFound,
    Denied,
    InvalidDigest,
    InvalidManifest,
    ManifestNotFound,
    QuotaExceeded,
    RemoteNotFound,
    RemoteRegistryError,
    SizeInvalid,
    UnsupportedDigest,
    UpstreamFilling,
    UpstreamInvalid,
    UpstreamRateLimited,
    UpstreamUnavailable,
)
from chalicelib.meta.registry import Referrer
from chalicelib.oci.digests import Digest

logger = logging.getLogger("berth.proxy_cache")

FILL_SECONDS = 900  # a background copy's claim: the proxy_fill function's timeout
PROJECT_TTL = 60.0  # seconds a project's proxy state (and its upstream client) is reused
DOCKER_HUB_HOSTS = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "hub.docker.com"})
STALE_METRIC = "ProxyStaleServed"


def upstream_repository(repository: str, upstream_url: str, upstream_type: str = "") -> str:
    """The upstream's name of a repository below the project: Docker Hub keeps its official
    images under `library/` (`nginx` is `library/nginx`), as docker itself assumes."""
    host = (urlsplit(upstream_url).hostname or "").lower()
    if (upstream_type == "docker-hub" or host in DOCKER_HUB_HOSTS) and "/" not in repository:
        return f"library/{repository}"
    return repository


@dataclass
class Upstream:
    project: str
    registry_id: int
    url: str
    type: str
    client: Any  # chalicelib.remote.client.RegistryClient

    def name_of(self, repository_path: str) -> str:
        """`<project>/<path>` here is the upstream's `<path>` (with Docker Hub's library/)."""
        return upstream_repository(repository_path.split("/", 1)[1], self.url, self.type)


@dataclass(frozen=True)
class CachedManifest:
    digest: str
    media_type: str
    size: int
    body: bytes | None  # None: in S3 (larger than the item allows)


class ProxyCache:
    """One per process (chalicelib/services.py): it remembers projects and upstream clients."""

    def __init__(self, svc: DomainDependencies, clock: Callable[[], float] = time.monotonic, client_factory: Callable | None = None):
        self._svc = svc
        self._clock = clock
        self._client_factory = client_factory or _client_for
        self._projects: dict[str, tuple[float, Upstream | None]] = {}

    # -- which projects are proxies --------------------------------------------------------
    def upstream_of(self, repository: str) -> Upstream | None:
        """The upstream `repository`'s project stands in for, None for a normal project."""
        project = repository.split("/", 1)[0]
        if "/" not in repository or self._svc.settings.auth != "token":
            return None
        now = self._clock()
        known = self._projects.get(project)
        if known is not None and now - known[0] < PROJECT_TTL:
            return known[1]
        upstream = self._load(project)
        self._projects[project] = (now, upstream)
        return upstream

    def _load(self, project: str) -> Upstream | None:
        record = self._svc.accounts.get_project(project)
        registry_id = int(getattr(record, "registry_id", 0) or 0) if record else 0
        if not registry_id:
            return None
        registry = self._svc.registries.get(registry_id)
        if registry is None:
            # the registry was deleted: the project still serves what it cached, fetches nothing
            logger.error("proxy cache project names a missing registry", extra={"project": project, "registry_id": registry_id})
            return Upstream(project, registry_id, "", "", _NoUpstream(registry_id))
        return Upstream(project, registry_id, registry.url, registry.type, self._client_factory(self._svc, registry))

    def refuse_push(self, repository: str) -> None:
        if self.upstream_of(repository) is not None:
            raise Denied(f"{repository.split('/', 1)[0]} is a proxy cache project: it can only be pulled from")

    # -- manifests -----------------------------------------------------------------------------
    def manifest_by_tag(self, upstream: Upstream, repository: str, tag: str, cached: Any) -> CachedManifest | None:
        """What to serve for `tag` (`cached`: the tag record here, or None); None when the
        upstream has no such tag and nothing is cached."""
        svc = self._svc
        now = int(svc.clock())
        interval = int(svc.runtime_config.typed("proxy_cache_check_interval"))
        if cached is not None and now - (cached.checked or 0) < interval:
            return _from_tag(cached)
        remote = upstream.name_of(repository)
        try:
            headers = upstream.client.head_manifest(remote, tag)
            if headers is None:
                if cached is not None:
                    # the upstream dropped the tag: what was pulled through stays pullable
                    return self._stale(upstream, repository, tag, cached, "the upstream no longer has the tag")
                return None
            digest = headers.get("Docker-Content-Digest") or ""
            if cached is not None and digest == cached.digest:
                svc.meta.mark_tag_checked(repository, tag, cached.digest, now)
                return _from_tag(cached)
            fetched = self._fetch(upstream, repository, digest or tag, tag=tag)
        except (RemoteRegistryError, UpstreamInvalid) as exc:
            if cached is not None:
                return self._stale(upstream, repository, tag, cached, _reason(exc))
            raise _no_cache(exc, f"{repository}:{tag}") from None
        return fetched

    def manifest_by_digest(self, upstream: Upstream, repository: str, digest: str) -> CachedManifest:
        """A manifest by digest that is not cached yet: fetched, verified, cached."""
        try:
            return self._fetch(upstream, repository, digest, tag=None)
        except RemoteNotFound:
            raise ManifestNotFound(f"manifest {digest} is not in {repository} nor upstream", detail={"digest": digest}) from None
        except (RemoteRegistryError, UpstreamInvalid) as exc:
            raise _no_cache(exc, f"{repository}@{digest}") from None

    def _fetch(self, upstream: Upstream, repository: str, reference: str, *, tag: str | None) -> CachedManifest:
        """GET the manifest upstream, verify it, store it (and `tag`) as a push would."""
        from chalicelib.meta.registry import ManifestRecord
        from chalicelib.oci.manifests import parse_manifest

        svc = self._svc
        if ":" in reference:
            try:
                reference = str(Digest.parse(reference))
            except Exception:  # noqa: BLE001 - InvalidDigest: whatever the upstream put in its header
                raise UpstreamInvalid(f"the upstream named the manifest by a digest that is none: {reference[:80]!r}") from None
        try:
            manifest = upstream.client.get_manifest(upstream.name_of(repository), reference)  # checks a digest reference
        except ValueError:  # its bytes are not JSON
            raise UpstreamInvalid(f"the upstream answered a manifest for {reference} that is not JSON") from None
        try:
            parsed = parse_manifest(manifest.data, manifest.media_type)
        except InvalidManifest as exc:
            raise UpstreamInvalid(f"the upstream answered an invalid manifest for {reference}: {exc.message}") from None
        if len(manifest.data) > svc.settings.max_manifest_bytes:
            raise UpstreamInvalid(f"the upstream's manifest for {reference} is larger than this registry takes")
        now = int(svc.clock())
        # its blobs and children are fetched when a client first asks for them
        record = ManifestRecord.of(manifest.digest, manifest.data, parsed, now)
        if record.body is None:
            svc.blobs.put_manifest(manifest.digest, manifest.data)
        try:
            # the same write as a push's: the project's quota is charged (docs/proxy-cache.md)
            artifacts.cache_manifest(svc, repository, record, tag, declared_sizes(manifest.data), project=upstream.project)
        except QuotaExceeded as exc:
            # the pull still gets the upstream's (verified) manifest; the cache keeps nothing of it
            logger.warning("proxy cache did not cache a manifest: the project's quota is full",
                           extra={"repository": repository, "reference": reference, "reason": exc.message})
            return CachedManifest(record.digest, record.media_type, record.size, manifest.data)
        if tag is not None:
            # marks the tag as the cache's: its pulls check freshness, other tags' pulls read no project
            svc.meta.mark_tag_checked(repository, tag, record.digest, now)
        logger.info("proxy cache fetched a manifest",
                    extra={"repository": repository, "reference": reference, "digest": manifest.digest})
        return CachedManifest(record.digest, record.media_type, record.size, manifest.data)

    def _stale(self, upstream: Upstream, repository: str, tag: str, cached: Any, reason: str) -> CachedManifest:
        """Serve what the cache has; say so in the log, a metric and a domain event."""
        from chalicelib import observability
        from chalicelib.events.envelope import PROXY_STALE_SERVED, reference_of

        svc = self._svc
        logger.warning("proxy cache served a cached manifest: the upstream failed",
                       extra={"repository": repository, "tag": tag, "digest": cached.digest, "reason": reason,
                              "registry_id": upstream.registry_id})
        observability.count(STALE_METRIC)
        try:
            data = {"repository": repository, "project": upstream.project, "tag": tag, "digest": cached.digest,
                    "registry_id": upstream.registry_id, "reason": reason}
            svc.meta.emit([svc.outbox.event(PROXY_STALE_SERVED, reference_of(repository, tag), data)])
        except Exception:
            logger.exception("proxy cache: the stale-serve event was not written")
        return _from_tag(cached)

    # -- referrers -----------------------------------------------------------------------------
    def referrers(self, upstream: Upstream, repository: str, subject: str, cached: list[Referrer]) -> list[Referrer]:
        """The referrers of `subject`: what is cached, or, with nothing cached, what the upstream
        lists (OCI 1.1's referrers API; nothing where it has none). A referrer the upstream
        lists is fetched, verified and cached when a client asks for it by digest. An upstream
        that fails answers what is cached (nothing)."""
        if cached:
            return cached
        try:
            listed = upstream.client.referrers(upstream.name_of(repository), subject)
        except (RemoteRegistryError, UpstreamInvalid, ValueError) as exc:
            logger.warning("proxy cache: the upstream's referrers were not read",
                           extra={"repository": repository, "subject": subject, "reason": _reason(exc)})
            return []
        return [r for r in (_referrer(item) for item in listed[:1000]) if r is not None]

    # -- blobs ---------------------------------------------------------------------------------
    def fetch_blob(self, upstream: Upstream, repository: str, digest: str) -> str | None:
        """Make the blob servable here: linked from bytes the bucket has already, or fetched
        from the upstream, streamed into S3 and verified by the upload service; None then.

        A blob larger than `proxy_cache_inline_copy_bytes` cannot be copied within API
        Gateway's 29 s: its copy starts in the background (`start_fill`, the app's
        `proxy_fill`), and meanwhile the client is sent where the upstream itself sent us
        (its CDN), when that needs no credentials: that URL is returned. Otherwise
        UpstreamFilling: 503 with Retry-After, until the copy is done
        (docs/decisions/proxy-cache-big-layers.md)."""
        svc = self._svc
        if svc.meta.link_existing(repository, digest, int(svc.clock()), project=upstream.project) is not None:
            return None
        reply = self._open(upstream, repository, digest)
        length = _length(reply)
        limit = int(svc.runtime_config.typed("proxy_cache_inline_copy_bytes"))
        if length is None or length <= limit:
            self._copy(upstream, repository, digest, reply, length)
            return None
        elsewhere = _credential_free(reply, upstream.url)
        reply.close()  # unread: the connection is not reused
        started = self.start_fill(upstream, repository, digest)
        logger.info("proxy cache copies a big blob in the background",
                    extra={"repository": repository, "digest": digest, "size": length, "started": started,
                           "redirected": bool(elsewhere)})
        if elsewhere:
            return elsewhere
        raise UpstreamFilling(f"blob {digest} ({length} bytes) is being copied from the upstream; try again shortly",
                              detail={"digest": digest})

    def start_fill(self, upstream: Upstream, repository: str, digest: str) -> bool:
        """Start the background copy of a big blob unless one is under way; whether this
        call started it. One copy at a time per digest, for at most FILL_SECONDS."""
        svc = self._svc
        now = int(svc.clock())
        if not svc.meta.claim_fill(digest, now, now + FILL_SECONDS):
            return False
        try:
            svc.functions.invoke(FunctionName=svc.settings.function_name("proxy_fill"), InvocationType="Event",
                                 Payload=json.dumps({"repository": repository, "digest": digest}).encode())
        except Exception as exc:
            svc.meta.end_fill(digest)
            logger.exception("proxy cache could not start a background copy", extra={"digest": digest})
            raise UpstreamUnavailable(f"blob {digest} is not cached and its copy could not start "
                                      f"({type(exc).__name__})") from None
        return True

    def fill(self, repository: str, digest: str) -> dict:
        """The background copy (the app's proxy_fill, up to 15 minutes): the blob from the
        upstream into S3 and linked, whatever its size; the claim ends either way."""
        svc = self._svc
        try:
            upstream = self.upstream_of(repository)
            if upstream is None:
                return {"skipped": f"{repository} is not a proxy cache project"}
            # a blob the bucket has is linked as its record names it (never re-recorded)
            if svc.meta.link_existing(repository, digest, int(svc.clock()), project=upstream.project) is None:
                reply = self._open(upstream, repository, digest)
                self._copy(upstream, repository, digest, reply, _length(reply))
        finally:
            svc.meta.end_fill(digest)
        return {"repository": repository, "digest": digest, "size": svc.meta.blob_size(digest)}

    def _open(self, upstream: Upstream, repository: str, digest: str) -> Any:
        try:
            return upstream.client.open_blob(upstream.name_of(repository), digest)
        except RemoteNotFound:
            raise BlobNotFound(f"blob {digest} is not in {repository} nor upstream", detail={"digest": digest}) from None
        except RemoteRegistryError as exc:
            raise _no_cache(exc, f"{repository}@{digest}") from None

    def _copy(self, upstream: Upstream, repository: str, digest: str, reply: Any, length: int | None) -> None:
        svc = self._svc
        try:
            session = svc.uploads.start(repository)
            body = cast(BinaryIO, _Reading(reply, digest))  # read() is all the upload service calls
            svc.uploads.complete(session, Digest.parse(digest), body, length, None,
                                 project=upstream.project)
        except (InvalidDigest, SizeInvalid) as exc:  # the upload service discarded the bytes
            raise UpstreamInvalid(f"the upstream sent other bytes than {digest}: {exc.message}") from None
        finally:
            reply.release_conn()
        logger.info("proxy cache fetched a blob", extra={"repository": repository, "digest": digest, "size": length})


def _length(reply: Any) -> int | None:
    length = reply.headers.get("Content-Length")
    return int(length) if length and length.isdigit() else None


def _credential_free(reply: Any, upstream_url: str) -> str | None:
    """Where the upstream redirected the blob's GET, if that is another origin: our
    credentials were not sent there (urllib3 drops Authorization across origins), so the
    client may fetch it as it is (Docker Hub, ghcr and ECR send presigned CDN URLs)."""
    history = getattr(getattr(reply, "retries", None), "history", None) or ()
    target = history[-1].redirect_location if history else None
    if not target or not target.startswith(("https://", "http://")):
        return None
    ours, theirs = urlsplit(upstream_url), urlsplit(target)
    if (ours.scheme, ours.hostname, ours.port) == (theirs.scheme, theirs.hostname, theirs.port):
        return None
    return target


class _Reading:
    """The upstream's blob as the upload service reads it; a broken connection is the
    upstream's fault (503), not the client's."""

    def __init__(self, reply: Any, digest: str):
        self._reply = reply
        self._digest = digest

    def read(self, n: int = -1) -> bytes:
        try:
            return self._reply.read(n if n and n > 0 else None)
        except Exception as exc:  # noqa: BLE001 - urllib3's many read failures: the connection broke
            raise UpstreamUnavailable(f"the upstream broke off while sending {self._digest} ({type(exc).__name__})") from None


class _NoUpstream:
    """The client of a registry that was deleted: every call fails as an unreachable one."""

    def __init__(self, registry_id: int):
        self._message = f"the upstream registry {registry_id} no longer exists"

    def __getattr__(self, name: str):
        def fail(*args: Any, **kwargs: Any):
            raise RemoteRegistryError(self._message, retryable=True)

        return fail


def _referrer(item: Any) -> Referrer | None:
    """An upstream's referrer descriptor, if it is one, as a record (the fields of the wrong
    type left out, media types cut to 255 characters)."""
    if not isinstance(item, dict) or not isinstance(item.get("mediaType"), str) or not isinstance(item.get("size"), int):
        return None
    try:
        digest = str(Digest.parse(str(item.get("digest"))))
    except (InvalidDigest, UnsupportedDigest):  # whatever the upstream wrote
        return None
    artifact_type = item.get("artifactType")
    annotations = item.get("annotations")
    if not (isinstance(annotations, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in annotations.items())):
        annotations = None
    return Referrer(digest, item["mediaType"][:255], item["size"],
                    artifact_type[:255] if isinstance(artifact_type, str) else None, annotations)


def declared_sizes(data: bytes) -> dict[str, int]:
    """{digest: size} of the config and layers a manifest declares (its bytes were verified
    against their digest; a client checks each blob's size against these when it pulls)."""
    import json

    try:
        doc = json.loads(data)
    except ValueError:
        return {}
    found = [doc.get("config"), *(doc.get("layers") or [])] if isinstance(doc, dict) else []
    out = {}
    for item in found:
        if isinstance(item, dict) and isinstance(item.get("digest"), str) and isinstance(item.get("size"), int) and item["size"] >= 0:
            out[item["digest"]] = item["size"]
    return out


def _from_tag(tag: Any) -> CachedManifest:
    return CachedManifest(tag.digest, tag.media_type, tag.size, tag.body)


def _reason(exc: Exception) -> str:
    if isinstance(exc, RemoteRegistryError):
        return f"{exc.status or 'no answer'}: {exc.message}"[:300]
    return str(getattr(exc, "message", exc))[:300]


def _no_cache(exc: Exception, what: str) -> Exception:
    """The client's error when the upstream failed and nothing valid is cached."""
    if isinstance(exc, UpstreamInvalid):
        return exc
    if isinstance(exc, RemoteNotFound):
        return ManifestNotFound(f"{what} is not cached and the upstream does not have it")
    status = getattr(exc, "status", 0)
    message = f"{what} is not cached and the upstream failed ({_reason(exc)})"
    if status == 429:
        return UpstreamRateLimited(message)
    if isinstance(exc, RemoteRegistryError) and not exc.retryable and not status:
        # an answer that is not what was asked for: other bytes than the digest, no JSON, too large
        return UpstreamInvalid(message)
    # 5xx, no answer, or 401/403/4xx (the upstream refused our credentials): not the client's doing
    return UpstreamUnavailable(message)


def _client_for(svc: DomainDependencies, registry: Any):
    from chalicelib.remote.client import Credential, RegistryClient

    secret = svc.registries.secret(registry) if registry.access_key else ""
    credential = Credential(registry.access_key, secret) if registry.access_key else None
    return RegistryClient(registry.url, credential, insecure=registry.insecure, ca_certificate=registry.ca_certificate,
                          timeout=10.0)
