"""A client of the OCI distribution API of another registry, as docker and skopeo use it.

Auth: the registry's `WWW-Authenticate` challenge decides. `Basic` gets the
credential's user and secret; `Bearer realm=...,service=...` gets a token from the
realm (with the credential as Basic, or anonymously), one token per scope, asked
for again on the next 401 (a token that expired or was too narrow is replaced, not
re-sent). Credentials go to the registry's own origin only, never to a host a
redirect or an upload `Location` points at (S3, an upload host).

Bytes are streamed: `open_blob` answers a response to read in pieces, and
`upload_blob` sends a blob either in chunks of a bounded size (at least the
destination's `OCI-Chunk-Min-Length`: memory stays at one chunk) or, as Harbor does
without `copy_by_chunk`, in one PUT whose body is read from the source while it is
sent (memory: one block), whatever the layer's size.
Every failure is a RemoteRegistryError (chalicelib/errors.py) that says whether
another try could help (no answer, 429, 5xx) or not (401, 403, 404, 4xx).
"""
from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import urlencode, urljoin, urlsplit

from chalicelib.errors import RemoteBodyTooLarge, RemoteNotFound, RemoteRegistryError, RemoteUnauthorized

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
MANIFEST_ACCEPT = ", ".join(MANIFEST_TYPES)
DEFAULT_CHUNK = 8 * 1024 * 1024  # what a chunked upload sends at a time (bounded memory)
MIN_CHUNK = 64 * 1024  # a registry that refuses smaller request bodies (413) cannot be uploaded to
MAX_MANIFEST = 4 * 1024 * 1024  # distribution's own limit on a manifest's size
PAGE = 100
USER_AGENT = "berth-replication/1"

_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')
_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="?next"?')


@dataclass(frozen=True)
class Credential:
    """Harbor's RegistryCredential: type "basic" (a user and a secret, sent as the registry
    asks: Basic, or to its token service)."""

    access_key: str
    access_secret: str
    type: str = "basic"


@dataclass(frozen=True)
class Manifest:
    data: bytes
    media_type: str
    digest: str


class RegistryClient:
    def __init__(
        self,
        url: str,
        credential: Credential | None = None,
        *,
        insecure: bool = False,
        ca_certificate: str = "",
        http: Any = None,
        timeout: float = 30.0,
        chunk_size: int = DEFAULT_CHUNK,
    ):
        self.base = url.rstrip("/")
        self.credential = credential if credential and credential.access_key else None
        self.chunk_size = chunk_size
        self._timeout = timeout
        self._insecure = insecure
        self._ca_certificate = ca_certificate
        self._http = http
        self._origin = _origin(self.base)
        self._scheme = ""  # "basic" or "bearer", once the registry said which
        self._tokens: dict[str, str] = {}

    @property
    def http(self):
        if self._http is None:
            import urllib3

            kwargs: dict[str, Any] = {"num_pools": 8, "maxsize": 8, "retries": False}
            if self._insecure:
                kwargs["cert_reqs"] = "CERT_NONE"
                urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
            elif self._ca_certificate:  # this CA instead of the system's
                kwargs["ca_cert_data"] = self._ca_certificate
            self._http = urllib3.PoolManager(**kwargs)
        return self._http

    # -- what a registry holds ---------------------------------------------------------------
    def ping(self) -> None:
        """The registry answers /v2/ and takes the credential (RemoteUnauthorized if not)."""
        self._call("GET", "/v2/", scope="", ok=(200,))

    def catalog(self) -> Iterator[str]:
        """Every repository, from `/v2/_catalog`, page by page (the Link header's next)."""
        url = f"/v2/_catalog?n={PAGE}"
        while url:
            reply = self._call("GET", url, scope="registry:catalog:*", ok=(200,))
            yield from _json(reply).get("repositories") or []
            url = next_link(reply)

    def tags(self, repository: str) -> list[str]:
        """A repository's tags; [] for a repository the registry does not know."""
        out: list[str] = []
        url = f"/v2/{repository}/tags/list?n={PAGE}"
        while url:
            try:
                reply = self._call("GET", url, scope=_pull(repository), ok=(200,))
            except RemoteNotFound:
                return out
            out.extend(_json(reply).get("tags") or [])
            url = next_link(reply)
        return out

    def get_manifest(self, repository: str, reference: str) -> Manifest:
        reply = self._call(
            "GET", f"/v2/{repository}/manifests/{reference}", scope=_pull(repository),
            headers={"Accept": MANIFEST_ACCEPT}, ok=(200,), stream=True,
        )
        data = _read_limited(reply, MAX_MANIFEST)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if reference.startswith("sha256:") and reference != digest:
            raise RemoteRegistryError(f"{repository}@{reference}: the registry answered bytes of {digest}")
        media_type = (reply.headers.get("Content-Type") or "").split(";")[0].strip()
        if media_type not in MANIFEST_TYPES:
            media_type = json.loads(data).get("mediaType") or media_type
        return Manifest(data, media_type, digest)

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest `reference` names at the registry (HEAD), None if it has no such manifest."""
        try:
            reply = self._call("HEAD", f"/v2/{repository}/manifests/{reference}", scope=_pull(repository),
                               headers={"Accept": MANIFEST_ACCEPT}, ok=(200,))
        except RemoteNotFound:
            return None
        return reply.headers.get("Docker-Content-Digest") or None

    def head_manifest(self, repository: str, reference: str):
        """The headers of a HEAD of the manifest (Docker-Content-Digest, Content-Type, ...),
        None if the registry has no such manifest. Docker Hub counts GETs against its rate
        limit, not HEADs: a proxy cache asks with this."""
        try:
            reply = self._call("HEAD", f"/v2/{repository}/manifests/{reference}", scope=_pull(repository),
                               headers={"Accept": MANIFEST_ACCEPT}, ok=(200,))
        except RemoteNotFound:
            return None
        return reply.headers  # case-insensitive (urllib3's HTTPHeaderDict)

    def put_manifest(self, repository: str, reference: str, manifest: Manifest) -> None:
        self._call("PUT", f"/v2/{repository}/manifests/{reference}", scope=_push(repository),
                   headers={"Content-Type": manifest.media_type}, body=manifest.data, ok=(201, 200))

    def delete_manifest(self, repository: str, digest: str) -> bool:
        try:
            self._call("DELETE", f"/v2/{repository}/manifests/{digest}", scope=_delete(repository), ok=(202, 200))
        except RemoteNotFound:
            return False
        return True

    def delete_tag(self, repository: str, tag: str) -> bool:
        """OCI 1.1's DELETE of a tag, the manifest it names left in place; False if there is
        no such tag. A registry that cannot delete a tag alone (the CNCF registry 2.x takes
        the tag for a digest: 400 DIGEST_INVALID; others 405 or UNSUPPORTED) fails with a
        RemoteRegistryError saying so."""
        try:
            self._call("DELETE", f"/v2/{repository}/manifests/{tag}", scope=_delete(repository), ok=(202, 200))
        except RemoteNotFound:
            return False
        except RemoteRegistryError as exc:
            if exc.status in (400, 405):
                raise RemoteRegistryError(f"the registry cannot delete the tag {tag} of {repository} alone "
                                          f"(OCI's DELETE of a tag): {exc.message}", status=exc.status) from None
            raise
        return True

    def referrers(self, repository: str, digest: str) -> list[dict]:
        """The referrers of `digest` (OCI 1.1's API); [] where the registry has no such API."""
        try:
            reply = self._call("GET", f"/v2/{repository}/referrers/{digest}", scope=_pull(repository), ok=(200,))
        except RemoteNotFound:
            return []
        except RemoteRegistryError as exc:
            if exc.status in (400, 405):  # a registry before OCI 1.1
                return []
            raise
        return _json(reply).get("manifests") or []

    # -- blobs -----------------------------------------------------------------------------
    def blob_size(self, repository: str, digest: str) -> int | None:
        """The blob's size when the registry has it in `repository`, else None."""
        try:
            # a registry on S3 (Berth, distribution's S3 driver) redirects a HEAD to the bucket
            reply = self._call("HEAD", f"/v2/{repository}/blobs/{digest}", scope=_pull(repository), ok=(200,),
                               redirect=True)
        except RemoteNotFound:
            return None
        length = reply.headers.get("Content-Length")
        return int(length) if length and length.isdigit() else 0

    def open_blob(self, repository: str, digest: str):
        """A streamed response of the blob's bytes (redirects followed, without credentials);
        read it with `.stream(n)` or `.read(n)`, then `.release_conn()`."""
        return self._call("GET", f"/v2/{repository}/blobs/{digest}", scope=_pull(repository), ok=(200,),
                          stream=True, redirect=True)

    def mount_blob(self, repository: str, digest: str, source: str) -> bool:
        """Mount `digest` from `source` in this registry; False if the registry would not
        (it opened an upload instead, which is cancelled)."""
        query = urlencode({"mount": digest, "from": source})
        reply = self._call("POST", f"/v2/{repository}/blobs/uploads/?{query}", scope=f"{_push(repository)} {_pull(source)}",
                           ok=(201, 202))
        if reply.status == 201:
            return True
        location = reply.headers.get("Location")
        if location:
            try:
                self._call("DELETE", location, scope=_push(repository), ok=(204, 200, 202, 404))
            except RemoteRegistryError:
                pass  # an abandoned session expires at the registry
        return False

    def upload_blob(self, repository: str, digest: str, source: BinaryIO, size: int, *, chunked: bool = True) -> None:
        """Upload `size` bytes read from `source` as `digest`; the registry verifies the digest.

        `chunked` (Harbor's `copy_by_chunk`): POST, PATCH chunks of a bounded size (each at
        least the registry's OCI-Chunk-Min-Length; the last may be smaller), a closing PUT
        with no body. Not chunked: POST, then one PUT `?digest=` carrying the whole blob,
        streamed from `source` as it is sent (Content-Length `size`), so memory stays at one
        block whatever the size; a registry that refuses that body as too large (413)
        raises RemoteBodyTooLarge: the bytes are gone, the caller reads the source again
        (replication then sends it in chunks: chalicelib/replicator/copier.py)."""
        scope = _push(repository)
        reply = self._call("POST", f"/v2/{repository}/blobs/uploads/", scope=scope, ok=(202,))
        location = self._location(reply)
        if not chunked:
            self._put_whole(location, digest, source, size, scope)
            return
        minimum = reply.headers.get("OCI-Chunk-Min-Length") or ""
        floor = int(minimum) if minimum.isdigit() else 0
        self._patch_chunks(location, digest, source, size, scope, max(self.chunk_size, floor), floor)

    def _put_whole(self, location: str, digest: str, source: BinaryIO, size: int, scope: str) -> None:
        headers = {"Content-Type": "application/octet-stream"}
        if size >= 0:
            headers["Content-Length"] = str(size)
        # else (a size neither the manifest nor the source said): chunked transfer encoding
        try:
            self._call("PUT", _with_digest(location, digest), scope=scope, body=_Exactly(source, size), headers=headers,
                       ok=(201,))
        except RemoteRegistryError as exc:
            if exc.status == 413:
                raise RemoteBodyTooLarge(f"{exc.message}: the registry takes no blob of {size} bytes in one request",
                                         status=413) from None
            raise

    def _patch_chunks(self, location: str, digest: str, source: BinaryIO, size: int, scope: str, chunk: int,
                      floor: int) -> None:
        """PATCH chunks, then the closing PUT. A registry (or the proxy in front of it:
        nginx's client_max_body_size) that refuses a chunk as too large (413) gets the same
        bytes again in chunks of half the size, down to its OCI-Chunk-Min-Length or
        MIN_CHUNK: the session's offset has not moved, and the bytes in hand are all that is
        held, so memory stays at one chunk."""
        headers = {"Content-Type": "application/octet-stream"}
        pending = b""  # bytes read from the source and not yet taken by the registry
        sent = 0
        while sent < size:
            if not pending:
                pending = _read_exactly(source, min(chunk, size - sent))
            data = pending[:chunk]
            try:
                reply = self._call("PATCH", location, scope=scope, body=data, ok=(202,),
                                   headers={**headers, "Content-Range": f"{sent}-{sent + len(data) - 1}"})
            except RemoteRegistryError as exc:
                chunk = self._smaller(exc, len(data), floor)
                continue
            location = self._location(reply)
            sent += len(data)
            pending = pending[len(data):]
        self._call("PUT", _with_digest(location, digest), scope=scope, body=b"", headers=headers, ok=(201,))

    def _smaller(self, exc: RemoteRegistryError, refused: int, floor: int) -> int:
        """The chunk size to try after `refused` bytes were too many (413); any other
        failure, or a chunk already at the least the registry takes, is raised."""
        smaller = max(refused // 2, floor, MIN_CHUNK)
        if exc.status != 413 or smaller >= refused:
            raise exc
        self.chunk_size = smaller  # the next blob to this registry starts there
        return smaller

    # -- plumbing -----------------------------------------------------------------------------
    def _location(self, reply) -> str:
        location = reply.headers.get("Location")
        if not location:
            raise RemoteRegistryError("the registry opened an upload without a Location", status=reply.status)
        return urljoin(self.base + "/", location)

    def _call(self, method: str, path_or_url: str, *, scope: str, ok: tuple[int, ...], headers: dict | None = None,
              body: bytes | _Exactly | None = None, stream: bool = False, redirect: bool = False):
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else self.base + path_or_url
        own = _origin(url) == self._origin
        headers = {"User-Agent": USER_AGENT, **(headers or {})}
        reply = self.send(method, url, headers, body, stream=stream, redirect=redirect,
                          authorization=self._authorization(scope) if own else None)
        if reply.status == 401 and own:
            challenge = reply.headers.get("WWW-Authenticate") or ""
            _drain(reply)
            self._answer(challenge, scope)
            if isinstance(body, _Exactly):  # a streamed body was read as it went: it cannot go again
                raise RemoteRegistryError(f"{method} {_safe(url)}: the registry asked for credentials again "
                                          "while a blob was streamed to it", status=401, retryable=True)
            reply = self.send(method, url, headers, body, stream=stream, redirect=redirect,
                              authorization=self._authorization(scope))
            if reply.status == 401:
                _drain(reply)
                raise RemoteUnauthorized(f"{method} {_safe(url)}: the registry refused the credentials", status=401)
        if reply.status not in ok:
            raise _failure(method, url, reply)
        return reply

    def send(self, method: str, url: str, headers: dict, body: bytes | _Exactly | None = None, *, stream: bool = False,
             redirect: bool = False, authorization: str | None = None):
        """One HTTP request, as given (no challenge answered); no answer is a retryable error."""
        import urllib3

        if authorization:
            headers = {**headers, "Authorization": authorization}
        try:
            return self.http.request(
                method, url, headers=headers, body=body, preload_content=not stream, redirect=redirect,
                retries=urllib3.Retry(total=None, connect=0, read=0, redirect=5 if redirect else 0, status=0,
                                      raise_on_redirect=False, raise_on_status=False),
                timeout=urllib3.Timeout(connect=min(5.0, self._timeout), read=self._timeout),
            )
        except urllib3.exceptions.HTTPError as exc:
            raise RemoteRegistryError(f"{method} {_safe(url)}: no answer ({type(exc).__name__})", retryable=True) from None

    def _authorization(self, scope: str) -> str | None:
        if self._scheme == "basic" and self.credential:
            return basic_authorization(self.credential)
        token = self._tokens.get(scope)
        return f"Bearer {token}" if token else None

    def _answer(self, challenge: str, scope: str) -> None:
        kind = challenge.split(" ", 1)[0].lower()
        if kind == "basic":
            if self.credential is None:
                raise RemoteUnauthorized("the registry needs credentials", status=401)
            self._scheme = "basic"
            return
        if kind != "bearer":
            raise RemoteUnauthorized(f"the registry asks for an unknown kind of auth: {challenge[:80]!r}", status=401)
        self._scheme = "bearer"
        params = dict(_CHALLENGE.findall(challenge))
        realm = params.get("realm", "")
        if not realm.startswith(("http://", "https://")):
            raise RemoteRegistryError(f"the registry's token realm is not a URL: {realm[:100]!r}", status=401)
        query = [("service", params["service"])] if params.get("service") else []
        query += [("scope", s) for s in scope.split()]
        headers = {"User-Agent": USER_AGENT}
        if self.credential:
            headers["Authorization"] = basic_authorization(self.credential)
        url = realm + ("&" if "?" in realm else "?") + urlencode(query)
        reply = self.send("GET", url, headers)
        if reply.status in (401, 403):
            raise RemoteUnauthorized("the registry's token service refused the credentials", status=reply.status)
        if reply.status != 200:
            raise _failure("GET", url, reply)
        answer = _json(reply)
        token = answer.get("token") or answer.get("access_token")
        if not token:
            raise RemoteRegistryError("the registry's token service answered no token", status=reply.status)
        self._tokens[scope] = token


def _pull(repository: str) -> str:
    return f"repository:{repository}:pull"


def _push(repository: str) -> str:
    return f"repository:{repository}:pull,push"


def _delete(repository: str) -> str:
    return f"repository:{repository}:delete"


def basic_authorization(credential: Credential) -> str:
    raw = f"{credential.access_key}:{credential.access_secret}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def _safe(url: str) -> str:
    """A URL for a message: no query (upload state, presigned signatures)."""
    return url.split("?", 1)[0][:200]


def _with_digest(location: str, digest: str) -> str:
    return location + ("&" if "?" in location else "?") + urlencode({"digest": digest})


def next_link(reply) -> str:
    found = _NEXT.search(reply.headers.get("Link") or "")
    return found.group(1) if found else ""


def _json(reply) -> dict:
    try:
        value = json.loads(reply.data)
    except ValueError:
        raise RemoteRegistryError("the registry answered something other than JSON", status=reply.status) from None
    if not isinstance(value, dict):
        raise RemoteRegistryError("the registry answered JSON that is not an object", status=reply.status)
    return value


def _drain(reply) -> None:
    with contextlib.suppress(Exception):  # a connection that broke is closed by the pool anyway
        reply.drain_conn()


def _read_limited(reply, limit: int) -> bytes:
    data = reply.read(limit + 1)
    reply.release_conn()
    if len(data) > limit:
        raise RemoteRegistryError(f"a manifest larger than {limit} bytes")
    return data


def _read_exactly(source: BinaryIO, n: int) -> bytes:
    parts = []
    left = n
    while left > 0:
        piece = source.read(left)
        if not piece:
            raise RemoteRegistryError(f"the source ended {left} bytes early", retryable=True)
        parts.append(piece)
        left -= len(piece)
    return b"".join(parts)


class _Exactly:
    """`size` bytes of `source` as a request body that urllib3 reads block by block while it
    sends them (a monolithic upload: no more than a block held); a source that ends early
    fails the request as a broken copy (retryable), as a short chunk does. A size below 0
    (not known): the source until it ends."""

    def __init__(self, source: BinaryIO, size: int):
        self._source = source
        self._left = size

    def read(self, n: int = -1) -> bytes:
        if self._left < 0:
            return self._source.read(n)
        if self._left == 0:
            return b""
        data = self._source.read(min(n, self._left) if n and n > 0 else self._left)
        if not data:
            raise RemoteRegistryError(f"the source ended {self._left} bytes early", retryable=True)
        self._left -= len(data)
        return data


def _failure(method: str, url: str, reply) -> RemoteRegistryError:
    status = reply.status
    try:
        body = reply.data[:2048]  # an error's body is small (a streamed one is read here)
    except Exception:  # noqa: BLE001 - the body is only for the message
        body = b""
    detail = ""
    try:
        errors = json.loads(body).get("errors") or []
        detail = "; ".join(f"{e.get('code', '')}: {e.get('message', '')}" for e in errors[:3])
    except (ValueError, AttributeError):
        detail = body[:200].decode("utf-8", "replace").strip()
    message = f"{method} {_safe(url)} answered {status}" + (f" ({detail})" if detail else "")
    if status == 404:
        return RemoteNotFound(message, status=status)
    if status == 403:
        return RemoteUnauthorized(message, status=status)
    return RemoteRegistryError(message, status=status, retryable=status == 429 or status >= 500)
