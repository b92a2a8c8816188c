"""A small OCI distribution client over `requests`, for what the real clients cannot do.

It follows the spec literally (POST an upload session, PUT `?digest=` to the
`Location` the registry gave, which may be on another host; PUT manifests with
their exact bytes) and answers a Docker token challenge (`401` with
`WWW-Authenticate: Bearer realm=...`) by fetching a token with the stack's
credentials (none: an anonymous token), as docker and containerd do. A token
is kept per repository and asked for again on every 401, so a token with too
little scope (`error="insufficient_scope"`) is replaced, not re-sent.
"""
from __future__ import annotations

import hashlib
import json
import re
from urllib.parse import urlencode, urljoin

import requests

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST_ACCEPT = (
    f"{OCI_MANIFEST}, {OCI_INDEX}, "
    "application/vnd.docker.distribution.manifest.v2+json, "
    "application/vnd.docker.distribution.manifest.list.v2+json"
)

_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def describe(response: requests.Response) -> str:
    """One line saying which request got which answer, for assertion messages."""
    body = response.content[:2000]
    try:
        text = body.decode()
    except UnicodeDecodeError:
        text = repr(body)
    headers = {k: v for k, v in response.headers.items()
               if k.lower() in ("location", "content-type", "docker-content-digest", "range",
                                "oci-subject", "oci-filters-applied", "www-authenticate",
                                "docker-upload-uuid", "content-length")}
    return (f"{response.request.method} {response.request.url} -> {response.status_code} "
            f"headers={headers} body={text!r}")


class RegistryHTTP:
    def __init__(self, base_url: str, credentials: tuple[str, str] | None = None,
                 timeout: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.timeout = timeout
        self.session = requests.Session()
        self._tokens: dict[str, str] = {}

    # -- plumbing ---------------------------------------------------------------

    def url(self, path: str) -> str:
        return urljoin(self.base_url + "/", path.lstrip("/"))

    def request(self, method: str, path_or_url: str, *, extra_scopes: tuple[str, ...] = (),
                **kwargs) -> requests.Response:
        """`extra_scopes` go into the token request besides the challenge's, as docker
        and skopeo add `repository:<from>:pull` for a cross-repository mount."""
        url = path_or_url if path_or_url.startswith(("http://", "https://")) else self.url(path_or_url)
        kwargs.setdefault("timeout", self.timeout)
        headers = dict(kwargs.pop("headers", None) or {})
        # Like docker and containerd: credentials go to the registry host only, never
        # to the upload host a Location points at (it carries its own signed token).
        same_host = url.startswith(self.base_url + "/")
        scope_key = " ".join((self._scope_key(url), *extra_scopes))
        if same_host and scope_key in self._tokens:
            headers["Authorization"] = f"Bearer {self._tokens[scope_key]}"
        response = self.session.request(method, url, headers=headers, **kwargs)
        if (response.status_code == 401 and same_host
                and self._answer_challenge(response, scope_key, extra_scopes)):
            headers["Authorization"] = f"Bearer {self._tokens[scope_key]}"
            response = self.session.request(method, url, headers=headers, **kwargs)
        return response

    @staticmethod
    def _scope_key(url: str) -> str:
        match = re.search(r"/v2/(.+?)/(?:manifests|blobs|tags|referrers)/", url)
        return match.group(1) if match else ""

    def _answer_challenge(self, response: requests.Response, scope_key: str,
                          extra_scopes: tuple[str, ...] = ()) -> bool:
        """Fetch a token for what the Bearer challenge asks (plus `extra_scopes`)."""
        challenge = response.headers.get("WWW-Authenticate", "")
        if not challenge.lower().startswith("bearer "):
            return False
        params = dict(_CHALLENGE_PARAM.findall(challenge))
        realm = params.pop("realm", None)
        if not realm:
            return False
        query = [(k, v) for k, v in params.items() if k in ("service", "scope")]
        repository = self._scope_key(response.request.url)
        if "scope" not in params and repository:
            query.append(("scope", f"repository:{repository}:pull,push"))
        query += [("scope", scope) for scope in extra_scopes]
        auth = self.credentials if self.credentials else None
        token_response = self.session.get(realm + "?" + urlencode(query), auth=auth,
                                          timeout=self.timeout)
        if token_response.status_code != 200:
            return False
        body = token_response.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            return False
        self._tokens[scope_key] = token
        return True

    # -- operations -------------------------------------------------------------

    def ping(self) -> requests.Response:
        return self.request("GET", "/v2/")

    def upload_blob(self, name: str, data: bytes, *, monolithic_put: bool = True) -> str:
        """Upload `data` to repository `name`; return its digest.

        POST an upload session, then either one PUT carrying the bytes (containerd,
        oras) or one PATCH plus an empty PUT (docker, skopeo).
        """
        digest = sha256_digest(data)
        start = self.request("POST", f"/v2/{name}/blobs/uploads/",
                             headers={"Content-Length": "0"})
        assert start.status_code == 202, describe(start)
        location = start.headers.get("Location")
        assert location, "upload POST gave no Location: " + describe(start)
        location = urljoin(start.url, location)
        if not monolithic_put and data:
            patch = self.request("PATCH", location, data=data, headers={
                "Content-Type": "application/octet-stream",
                "Content-Range": f"0-{len(data) - 1}",
            })
            assert patch.status_code == 202, describe(patch)
            location = urljoin(patch.url, patch.headers["Location"])
            body = b""
        else:
            body = data
        sep = "&" if "?" in location else "?"
        put = self.request("PUT", f"{location}{sep}{urlencode({'digest': digest})}", data=body,
                           headers={"Content-Type": "application/octet-stream"})
        assert put.status_code == 201, describe(put)
        assert put.headers.get("Docker-Content-Digest", digest) == digest, describe(put)
        # the Location of the finished upload is the blob, wherever the PUT went
        blob = self.request("HEAD", urljoin(put.url, put.headers["Location"]))
        assert blob.status_code in (200, 307), "the 201's Location is not the blob: " + describe(blob)
        return digest

    def mount_blob(self, name: str, digest: str, source: str) -> requests.Response:
        query = urlencode({"mount": digest, "from": source})
        # The challenge names only `name`; pulling from `source` is the client's to ask for.
        return self.request("POST", f"/v2/{name}/blobs/uploads/?{query}",
                            headers={"Content-Length": "0"},
                            extra_scopes=(f"repository:{source}:pull",))

    def head_blob(self, name: str, digest: str) -> requests.Response:
        return self.request("HEAD", f"/v2/{name}/blobs/{digest}", allow_redirects=True)

    def get_blob(self, name: str, digest: str) -> requests.Response:
        return self.request("GET", f"/v2/{name}/blobs/{digest}", allow_redirects=True)

    def put_manifest(self, name: str, reference: str, manifest: bytes,
                     media_type: str = OCI_MANIFEST) -> requests.Response:
        return self.request("PUT", f"/v2/{name}/manifests/{reference}", data=manifest,
                            headers={"Content-Type": media_type})

    def get_manifest(self, name: str, reference: str, method: str = "GET") -> requests.Response:
        return self.request(method, f"/v2/{name}/manifests/{reference}",
                            headers={"Accept": MANIFEST_ACCEPT})

    def referrers(self, name: str, digest: str, artifact_type: str | None = None) -> requests.Response:
        path = f"/v2/{name}/referrers/{digest}"
        if artifact_type is not None:
            path += "?" + urlencode({"artifactType": artifact_type})
        return self.request("GET", path)

    def tags(self, name: str) -> list[str]:
        response = self.request("GET", f"/v2/{name}/tags/list")
        assert response.status_code == 200, describe(response)
        return json.loads(response.content).get("tags") or []
