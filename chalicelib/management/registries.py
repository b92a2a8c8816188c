"""/registries and /replication/adapters, adapterinfos: Harbor's registry endpoints,
the remote registries that replication copies from and to. System administrators only.

As in Harbor, a registry is checked before it is stored (create and update ping it:
it must answer and take the credential; 400 "the registry is unhealthy: <why>" if not),
its access secret is never answered ("*****" when one is set), and one that a
replication policy uses cannot be deleted (412). The secret is kept in SSM as a
SecureString (chalicelib/meta/registries.py).
"""
from __future__ import annotations

from dataclasses import replace

from chalicelib.errors import RemoteRegistryError
from chalicelib.management import paging
from chalicelib.management.access import require_admin
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.errors import AlreadyExists, BadRequest, NotFound, PreconditionFailed
from chalicelib.management.schema import DATE_TIME, array, boolean, integer, obj, string
from chalicelib.management.spec import PAGING, Param, operation
from chalicelib.management.times import iso
from chalicelib.meta.registries import NameTaken, Registry
from chalicelib.remote import adapters
from chalicelib.replication.remotes import adapter_of
from chalicelib.web.http import Request, Response

MASK = "*****"  # Harbor's mask of a set access secret
MAX_NAME = 64
MAX_URL = 1024
MAX_SECRET = 4096
MAX_CA = 64 * 1024

CREDENTIAL = {
    "type": "object",
    "properties": {
        "type": string(description="Credential type: basic"),
        "access_key": string(description="The user name"),
        "access_secret": string(description='The password or token; answered as "*****" when set'),
    },
}
CREDENTIAL_IN = obj({
    "type": string(enum=["basic", ""]),
    "access_key": string(maxLength=255),
    "access_secret": string(maxLength=MAX_SECRET),
})
REGISTRY = {
    "type": "object",
    "properties": {
        "id": integer(),
        "url": string(),
        "name": string(),
        "credential": CREDENTIAL,
        "type": string(description=f"One of {', '.join(adapters.TYPES)}"),
        "insecure": boolean(),
        "ca_certificate": string(nullable=True),
        "description": string(),
        "status": string(description="healthy, unhealthy or unknown: the last check"),
        "creation_time": DATE_TIME,
        "update_time": DATE_TIME,
    },
}
# POST carries a Registry as GET answers it; the read-only fields are ignored
REGISTRY_IN = obj(
    {
        "id": integer(),
        "url": string(minLength=1, maxLength=MAX_URL),
        "name": string(minLength=1, maxLength=MAX_NAME),
        "credential": CREDENTIAL_IN,
        "type": string(enum=list(adapters.TYPES)),
        "insecure": boolean(),
        "ca_certificate": string(maxLength=MAX_CA, nullable=True),
        "description": string(maxLength=1024),
        "status": string(),
        "creation_time": string(),
        "update_time": string(),
    },
    required=("name", "url", "type"),
)
REGISTRY_UPDATE = obj({
    "name": string(minLength=1, maxLength=MAX_NAME, nullable=True),
    "description": string(maxLength=1024, nullable=True),
    "url": string(minLength=1, maxLength=MAX_URL, nullable=True),
    "credential_type": string(enum=["basic", ""], nullable=True),
    "access_key": string(maxLength=255, nullable=True),
    "access_secret": string(maxLength=MAX_SECRET, nullable=True),
    "insecure": boolean(nullable=True),
    "ca_certificate": string(maxLength=MAX_CA, nullable=True),
})
REGISTRY_PING = obj({
    "id": integer(nullable=True),
    "type": string(enum=list(adapters.TYPES), nullable=True),
    "url": string(minLength=1, maxLength=MAX_URL, nullable=True),
    "credential_type": string(enum=["basic", ""], nullable=True),
    "access_key": string(maxLength=255, nullable=True),
    "access_secret": string(maxLength=MAX_SECRET, nullable=True),
    "insecure": boolean(nullable=True),
    "ca_certificate": string(maxLength=MAX_CA, nullable=True),
})
FILTER_STYLE = {"type": "object", "properties": {"type": string(), "style": string(), "values": array(string())}}
REGISTRY_INFO = {
    "type": "object",
    "properties": {
        "type": string(),
        "description": string(),
        "supported_resource_filters": array(FILTER_STYLE),
        "supported_triggers": array(string()),
        "supported_copy_by_chunk": boolean(),
    },
}
PROVIDER_INFO = {
    "type": "object",
    "properties": {
        "endpoint_pattern": {"type": "object", "properties": {
            "endpoint_type": string(),
            "endpoints": array({"type": "object", "properties": {"key": string(), "value": string()}}),
        }},
        "credential_pattern": {"type": "object", "properties": {
            k: string() for k in ("access_key_type", "access_key_data", "access_secret_type", "access_secret_data")}},
    },
}
NAME_PARAM = Param("name", string(), 'Deprecated, use "q" instead: the registry\'s name')


# -- rendering ----------------------------------------------------------------------------
def render(registry: Registry) -> dict:
    out = {
        "id": registry.registry_id,
        "url": registry.url,
        "name": registry.name,
        "type": registry.type,
        "insecure": registry.insecure,
        "description": registry.description,
        "status": registry.status,
        "creation_time": iso(registry.created),
        "update_time": iso(registry.updated),
    }
    if registry.credential_type or registry.access_key or registry.has_secret:
        out["credential"] = {
            "type": registry.credential_type or "basic",
            "access_key": registry.access_key,
            "access_secret": MASK if registry.has_secret else "",
        }
    if registry.ca_certificate:
        out["ca_certificate"] = registry.ca_certificate
    return out


# -- registries -------------------------------------------------------------------------------
@operation(
    "ListRegistries",
    "The remote registries (access secrets read as *****)",
    "registry",
    response={"type": "array", "items": REGISTRY},
    params=(*PAGING, NAME_PARAM),
    errors=(400, 403),
    paged=True,
)
def list_registries(svc: ManagementDependencies, req: Request) -> Response:
    require_admin(req)
    page = paging.page_args(req)
    conditions = paging.query_args(req, ("name", "type", "url", "status"), {"name": "name"})
    fields = {"name": lambda r: r.name, "type": lambda r: r.type, "url": lambda r: r.url, "status": lambda r: r.status}
    found = paging.filtered(svc.registries.list(), conditions, fields)
    order = paging.sort_args(req, ("name", "id", "creation_time", "update_time"), "id")
    found = paging.sorted_by(found, order, {"name": lambda r: r.name, "id": lambda r: r.registry_id,
                                            "creation_time": lambda r: r.created, "update_time": lambda r: r.updated})
    return paging.paged(req, found, render, page)


@operation(
    "CreateRegistry",
    "Add a remote registry: it must answer and take the credential",
    "registry",
    ok=201,
    body=REGISTRY_IN,
    location=True,
    errors=(400, 403, 409),
)
def create_registry(svc: ManagementDependencies, req: Request, body: dict) -> Response:
    require_admin(req)
    credential = body.get("credential") or {}
    registry = Registry(
        name=_name(body["name"]),
        type=body["type"],
        url=check_url(body["url"]),
        insecure=bool(body.get("insecure", False)),
        description=body.get("description", ""),
        credential_type="basic" if credential.get("access_key") else "",
        access_key=credential.get("access_key", ""),
        ca_certificate=_ca(body.get("ca_certificate")),
    )
    secret = credential.get("access_secret", "") if registry.access_key else ""
    _check_health(svc, registry, secret)
    try:
        created = svc.registries.create(replace(registry, status="healthy"), secret)
    except NameTaken:
        raise AlreadyExists(f"a registry named {registry.name} exists already") from None
    return Response.empty(201, {"Location": f"{paging.API_BASE}/registries/{created.registry_id}"})


@operation("GetRegistry", "One remote registry (its access secret reads as *****)", "registry",
           response=REGISTRY, errors=(400, 403, 404))
def get_registry(svc: ManagementDependencies, req: Request, registry_id: int) -> Response:
    require_admin(req)
    return Response.json(200, render(find(svc, registry_id)))


@operation(
    "UpdateRegistry",
    "Change a remote registry; a field left out (or null) keeps its value; a new URL without a new secret drops the secret",
    "registry",
    body=REGISTRY_UPDATE,
    errors=(400, 403, 404, 409),
)
def update_registry(svc: ManagementDependencies, req: Request, registry_id: int, body: dict) -> Response:
    require_admin(req)
    current = find(svc, registry_id)
    given = {k: v for k, v in body.items() if v is not None}
    updated = replace(
        current,
        name=_name(given["name"]) if "name" in given else current.name,
        description=given.get("description", current.description),
        url=check_url(given["url"]) if "url" in given else current.url,
        insecure=given.get("insecure", current.insecure),
        ca_certificate=_ca(given["ca_certificate"]) if "ca_certificate" in given else current.ca_certificate,
        access_key=given.get("access_key", current.access_key),
    )
    secret: str | None = given.get("access_secret")
    if updated.url != current.url and secret is None and current.has_secret:
        secret = ""  # as Harbor: a secret is never sent to a new address it was not given for
    if given.get("credential_type") == "" or not updated.access_key:
        updated, secret = replace(updated, credential_type="", access_key=""), ""
    else:
        updated = replace(updated, credential_type="basic")
    effective = svc.registries.secret(current) if secret is None else secret
    _check_health(svc, updated, effective)
    try:
        svc.registries.update(current, replace(updated, status="healthy"), secret)
    except KeyError:
        raise NotFound(f"registry {registry_id} not found") from None
    except NameTaken:
        raise AlreadyExists(f"a registry named {updated.name} exists already") from None
    return Response.empty(200)


@operation("DeleteRegistry", "Remove a remote registry (and its stored secret) that no replication policy uses",
           "registry", errors=(400, 403, 404, 412))
def delete_registry(svc: ManagementDependencies, req: Request, registry_id: int) -> Response:
    require_admin(req)
    registry = find(svc, registry_id)
    users = [p.name for p in svc.replication_policies.list() if p.remote_registry_id == registry_id]
    if users:
        raise PreconditionFailed(f"registry {registry.name} is used by replication policies: {', '.join(users[:5])}")
    proxies = [p.name for p in svc.accounts.all_projects() if p.registry_id == registry_id]
    if proxies:
        # Harbor's words, and the projects that use it
        raise PreconditionFailed(
            f"the registry {registry_id} is referenced by proxy cache project, cannot delete it ({', '.join(proxies[:5])})"
        )
    svc.registries.delete(registry)
    return Response.empty(200)


@operation("PingRegistry", "Check that a registry answers and takes the credential (a stored one, by id, or one given)",
           "registry", body=REGISTRY_PING, errors=(400, 403, 404))
def ping_registry(svc: ManagementDependencies, req: Request, body: dict) -> Response:
    require_admin(req)
    given = {k: v for k, v in body.items() if v is not None}
    secret = ""
    if "id" in given:
        # a stored registry's address and TLS settings stand: its saved secret goes nowhere else
        registry = find(svc, given["id"])
        secret = svc.registries.secret(registry)
        registry = replace(registry, type=given.get("type", registry.type))
    else:
        if not given.get("type") or not given.get("url"):
            raise BadRequest("type or url cannot be empty")
        registry = Registry(name="", type=given["type"], url=check_url(given["url"]),
                            insecure=bool(given.get("insecure", False)), ca_certificate=_ca(given.get("ca_certificate")))
    if given.get("credential_type") == "":
        registry, secret = replace(registry, access_key="", credential_type=""), ""
    if given.get("access_key"):
        registry = replace(registry, access_key=given["access_key"], credential_type="basic")
    if "access_secret" in given:
        secret = given["access_secret"]
    try:
        _check_health(svc, registry, secret)
    except BadRequest:
        if registry.registry_id:
            svc.registries.set_status(registry.registry_id, "unhealthy")
        raise
    if registry.registry_id:
        svc.registries.set_status(registry.registry_id, "healthy")
    return Response.empty(200)


@operation("GetRegistryInfo", "What a registry supports: its resource filters and triggers", "registry",
           response=REGISTRY_INFO, errors=(400, 403, 404))
def get_registry_info(svc: ManagementDependencies, req: Request, registry_id: int) -> Response:
    require_admin(req)
    return Response.json(200, adapter(svc, find(svc, registry_id)).info())


@operation("ListRegistryProviderTypes", "The registry types replication can use", "registry",
           response=array(string()), errors=(403,))
def list_registry_provider_types(svc: ManagementDependencies, req: Request) -> Response:
    require_admin(req)
    return Response.json(200, list(adapters.TYPES))


@operation("ListRegistryProviderInfos", "Each registry type's endpoint and credential patterns (none is fixed)",
           "registry", response={"type": "object", "additionalProperties": PROVIDER_INFO}, errors=(403,))
def list_registry_provider_infos(svc: ManagementDependencies, req: Request) -> Response:
    require_admin(req)
    # as Harbor: docker-registry and harbor take any URL and a user and secret, so no pattern
    return Response.json(200, {t: {} for t in adapters.TYPES})


# -- helpers (replication's handlers use them too) ------------------------------------------------
def find(svc: ManagementDependencies, registry_id: int) -> Registry:
    registry = svc.registries.get(registry_id)
    if registry is None:
        raise NotFound(f"registry {registry_id} not found")
    return registry


def adapter(svc: ManagementDependencies, registry: Registry, secret: str | None = None) -> adapters.Adapter:
    return adapter_of(svc, registry, secret)


def check_url(raw: str) -> str:
    """Harbor's rule: trimmed, http:// when no scheme is given, http or https only, and
    scheme, host and path kept (no user info, query or fragment: nothing smuggled along)."""
    from urllib.parse import urlsplit

    value = raw.strip().rstrip("/")
    if not value:
        raise BadRequest("url cannot be empty")
    if "://" not in value:
        value = "http://" + value
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise BadRequest(f"invalid URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise BadRequest(f"invalid HTTP scheme: {parts.scheme[:20]}")
    if not parts.hostname or "@" in parts.netloc:
        raise BadRequest("the URL must name a host (and no user: give credentials in credential)")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}{parts.path.rstrip('/')}"


def _name(raw: str) -> str:
    name = raw.strip()
    if not name:
        raise BadRequest("name cannot be empty")
    return name


def _ca(raw: str | None) -> str:
    if not raw:
        return ""
    try:
        from cryptography.x509 import load_pem_x509_certificates

        load_pem_x509_certificates(raw.encode())
    except ValueError:
        raise BadRequest("ca_certificate is not a PEM-encoded certificate") from None
    return raw


def _check_health(svc: ManagementDependencies, registry: Registry, secret: str) -> None:
    try:
        adapter(svc, registry, secret).ping()
    except RemoteRegistryError as exc:
        raise BadRequest(f"the registry is unhealthy: {exc.message}") from None
