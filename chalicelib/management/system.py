"""Health, ping, system information and the OpenAPI document: what tools ask
before they log in."""
from __future__ import annotations

import logging

from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.errors import StoreUnavailable
from chalicelib.management.dependencies import ManagementDependencies
from chalicelib.management.schema import array, boolean, string
from chalicelib.management.spec import operation
from chalicelib.web.http import Request, Response

logger = logging.getLogger("berth.management")
VERSION = "berth-0.1.0"

COMPONENT = {
    "type": "object",
    "properties": {"name": string(), "status": string(enum=["healthy", "unhealthy"]), "error": string()},
    "required": ["name", "status"],
}
HEALTH = {
    "type": "object",
    "properties": {"status": string(enum=["healthy", "unhealthy"]), "components": array(COMPONENT)},
    "required": ["status", "components"],
}
GENERAL_INFO = {
    "type": "object",
    "properties": {
        "auth_mode": string(),
        "primary_auth_mode": boolean(),
        "self_registration": boolean(),
        "harbor_version": string(),
        "registry_url": string(),
        "external_url": string(),
        "project_creation_restriction": string(),
        "has_ca_root": boolean(),
        "read_only": boolean(),
        "with_chartmuseum": boolean(),
        "with_notary": boolean(),
        "notification_enable": boolean(),
        "registry_storage_provider_name": string(),
    },
}


@operation("getHealth", "Check the status of Berth's components", "health", response=HEALTH)
def get_health(svc: ManagementDependencies, req: Request) -> Response:
    """Harbor answers 200 with the components' states, healthy or not."""
    checks = {
        "core": lambda: None,
        "database": svc.meta.ping,
        "storage": lambda: svc.s3.head_bucket(Bucket=svc.settings.bucket_name),
    }
    components = []
    for name, check in checks.items():
        try:
            check()
            components.append({"name": name, "status": "healthy"})
        except (StoreUnavailable, ClientError, BotoCoreError) as exc:
            logger.warning("health check failed", extra={"component": name, "error": str(exc)[:300]})
            components.append({"name": name, "status": "unhealthy", "error": type(exc).__name__})
    overall = "healthy" if all(c["status"] == "healthy" for c in components) else "unhealthy"
    return Response.json(200, {"status": overall, "components": components})


@operation("ping", "Ping the API", "ping", response=string(), content_type="text/plain")
def ping(svc: ManagementDependencies, req: Request) -> Response:
    return Response(200, {"Content-Type": "text/plain; charset=utf-8", "Content-Length": "4"}, b"Pong")


@operation("getSystemInfo", "General system information (less of it for anonymous callers)", "systeminfo", response=GENERAL_INFO)
def get_system_info(svc: ManagementDependencies, req: Request) -> Response:
    config = svc.runtime_config
    values = config.values()
    info = {
        "auth_mode": config.auth_mode,
        "primary_auth_mode": False,
        "self_registration": _flag(values.get("self_registration")),
        "harbor_version": VERSION,
    }
    if req.identity is not None:
        external = _external_url(svc, req)
        info.update(
            {
                "registry_url": external.split("://", 1)[-1],
                "external_url": external,
                "project_creation_restriction": values.get("project_creation_restriction") or "adminonly",
                "has_ca_root": False,
                "read_only": False,
                "with_chartmuseum": False,
                "with_notary": False,
                "notification_enable": False,
                "registry_storage_provider_name": "s3",
            }
        )
    return Response.json(200, info)


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "t", "true")


def _external_url(svc: ManagementDependencies, req: Request) -> str:
    if svc.settings.public_url:
        return svc.settings.public_url
    host = req.header("Host") or "localhost"
    return f"{req.scheme}://{host}"
