"""Adapters: what Berth knows of each type of remote registry (Harbor's adapter types).

Each adapter answers Harbor's RegistryInfo, checks the registry (ping: it answers and
takes the credential), lists what it holds (repositories, and each one's artifacts with
their tags) and hands out the OCI client that moves the bytes.

- `docker-registry`: any registry of the OCI distribution API (the CNCF registry,
  Debian's docker-registry, zot...): repositories from `/v2/_catalog`, artifacts from
  tag lists (an untagged manifest is not listed, as in Harbor).
- `harbor`: Harbor's `/api/v2.0` lists projects, repositories and artifacts (untagged
  ones included); Berth is one (its API is at `/v2/api/v2.0`, found by the ping).
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from chalicelib.errors import RemoteNotFound, RemoteRegistryError, RemoteUnauthorized
from chalicelib.remote.client import USER_AGENT, Credential, RegistryClient, basic_authorization, next_link

DOCKER_REGISTRY = "docker-registry"
HARBOR = "harbor"
TYPES = (DOCKER_REGISTRY, HARBOR)
PAGE = 100


@dataclass(frozen=True)
class RemoteArtifact:
    repository: str
    digest: str  # "" when the adapter lists tags only (docker-registry): resolved when copied
    tags: tuple[str, ...] = ()
    media_type: str = ""
    labels: tuple[str, ...] = ()  # label names (Harbor lists them; a docker-registry has none)


@dataclass
class Adapter:
    url: str
    credential: Credential | None = None
    insecure: bool = False
    ca_certificate: str = ""
    http: object = None
    client: RegistryClient = field(init=False)

    type = ""

    def __post_init__(self):
        self.client = RegistryClient(self.url, self.credential, insecure=self.insecure,
                                     ca_certificate=self.ca_certificate, http=self.http)

    def info(self) -> dict:
        return {
            "type": self.type,
            "description": "",
            "supported_resource_filters": [
                {"type": "name", "style": "input", "values": []},
                {"type": "tag", "style": "input", "values": []},
            ],
            "supported_triggers": ["manual", "scheduled"],
        }

    def ping(self) -> None:
        self.client.ping()

    def repositories(self) -> Iterator[str]:
        raise NotImplementedError

    def artifacts(self, repository: str) -> list[RemoteArtifact]:
        raise NotImplementedError


class DockerRegistryAdapter(Adapter):
    type = DOCKER_REGISTRY

    def repositories(self) -> Iterator[str]:
        return self.client.catalog()

    def artifacts(self, repository: str) -> list[RemoteArtifact]:
        return [RemoteArtifact(repository, "", (tag,)) for tag in sorted(self.client.tags(repository))]


class HarborAdapter(Adapter):
    """Harbor's API with Basic auth (what Harbor's own adapter sends); the distribution API
    through the same client as docker-registry's."""

    type = HARBOR

    def __post_init__(self):
        super().__post_init__()
        self._api = ""

    def info(self) -> dict:
        return {**super().info(), "supported_copy_by_chunk": True}

    def ping(self) -> None:
        self.api_base()
        if self.credential:  # a list only a caller who logged in sees: the credential works
            self._get("/projects", {"page": 1, "page_size": 1})
        self.client.ping()

    def api_base(self) -> str:
        """Harbor's API at `<url>/api/v2.0`; Berth's at `<url>/v2/api/v2.0` (its stage)."""
        if not self._api:
            for base in (f"{self.url.rstrip('/')}/api/v2.0", f"{self.url.rstrip('/')}/v2/api/v2.0"):
                reply = self._raw("GET", base + "/ping")
                if reply.status == 200:
                    self._api = base
                    break
            else:
                raise RemoteRegistryError(f"{self.url} has no Harbor API at /api/v2.0", status=404)
        return self._api

    def repositories(self) -> Iterator[str]:
        for project in self._pages("/projects"):
            name = project.get("name", "")
            for repository in self._pages(f"/projects/{quote(name, safe='')}/repositories"):
                yield repository["name"]

    def artifacts(self, repository: str) -> list[RemoteArtifact]:
        project, _, rest = repository.partition("/")
        path = f"/projects/{quote(project, safe='')}/repositories/{quote(quote(rest, safe=''), safe='')}/artifacts"
        out = []
        try:
            for artifact in self._pages(path, {"with_tag": "true", "with_label": "true"}):
                tags = tuple(t["name"] for t in artifact.get("tags") or [])
                labels = tuple(label["name"] for label in artifact.get("labels") or [] if label.get("name"))
                out.append(RemoteArtifact(repository, artifact["digest"], tags, artifact.get("manifest_media_type", ""),
                                          labels))
        except RemoteNotFound:
            return []
        return out

    def _pages(self, path: str, query: dict | None = None) -> Iterator[dict]:
        page = 1
        while True:
            reply = self._get(path, {**(query or {}), "page": page, "page_size": PAGE})
            items = json.loads(reply.data)
            if not isinstance(items, list):
                raise RemoteRegistryError(f"{path}: Harbor answered something other than a list")
            yield from items
            if len(items) < PAGE and not next_link(reply):
                return
            page += 1

    def _get(self, path: str, query: dict):
        url = f"{self.api_base()}{path}?{urlencode(query)}"
        reply = self._raw("GET", url)
        if reply.status == 200:
            return reply
        if reply.status in (401, 403):
            raise RemoteUnauthorized(f"GET {url.split('?')[0]}: the registry refused the credentials", status=reply.status)
        if reply.status == 404:
            raise RemoteNotFound(f"GET {url.split('?')[0]} answered 404", status=404)
        raise RemoteRegistryError(f"GET {url.split('?')[0]} answered {reply.status}", status=reply.status,
                                  retryable=reply.status == 429 or reply.status >= 500)

    def _raw(self, method: str, url: str):
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        authorization = basic_authorization(self.credential) if self.credential else None
        return self.client.send(method, url, headers, authorization=authorization)

ADAPTERS: dict[str, type[Adapter]] = {DOCKER_REGISTRY: DockerRegistryAdapter, HARBOR: HarborAdapter}


def adapter_for(type_: str, url: str, credential: Credential | None = None, *, insecure: bool = False,
                ca_certificate: str = "", http=None) -> Adapter:
    try:
        cls = ADAPTERS[type_]
    except KeyError:
        raise ValueError(f"registry type {type_[:64]!r} is not one of {', '.join(TYPES)}") from None
    return cls(url, credential, insecure, ca_certificate, http)
